/**
 * SVG sanitization, run in a worker thread (svg.ts starts it and queues the jobs) so that no
 * document, however large or hostile, holds the event loop.
 *
 * The sanitizer is one left-to-right scan that re-serializes what it understood: every tag it
 * emits is well formed with double-quoted, escaped attribute values, every text run is
 * escaped, and open elements are closed in order. So librsvg parses exactly the tree the
 * scanner saw; markup the scanner did not recognise reaches it only as escaped text. Each step
 * moves past what it read (lookaheads are bounded or resume where they stopped), so the time
 * is linear in the input: the regex sanitizer it replaces was quadratic (150,000 spaces inside
 * `<svg>` held the event loop for 7.8 s).
 *
 * What survives: elements and attributes, text, CDATA (as text), numeric character references
 * and the five predefined entities. What does not:
 * - the XML declaration, processing instructions (`<?xml-stylesheet?>`), comments, DOCTYPE with
 *   its internal subset (so no entity is declared), and references to undeclared entities;
 * - `script`, `foreignObject`, XInclude `include` (and `handler`, `listener`, `iframe`,
 *   `audio`, `video`) with everything inside them;
 * - event handler attributes (`on*`) and `xml:base`;
 * - references that leave the document: an `href`/`src` other than `#fragment` or a raster
 *   `data:image/(png|jpeg|gif|webp)` URL becomes `#`, and such a `url(...)` in any attribute or
 *   `<style>` text becomes `none` (a nested `data:image/svg+xml` would reach librsvg unsanitized);
 *   CSS escapes (`\`) are removed from attribute values and `<style>` text, and `@import` is
 *   disabled, so neither can be spelled another way;
 * - text outside the root element, and nesting deeper than libxml2's default limit (256).
 *
 * Protocol: in `{ id, bytes }` (a copy of the source bytes); out `{ id, bytes }` (sanitized
 * UTF-8) or `{ id, error: { code, message } }` with code `too_large` | `not_svg` | `corrupt`.
 * A gzip stream (`.svgz`; libvips inflates those and hands them to librsvg) is inflated here,
 * bounded by the byte limit, and sanitized like any other document.
 */
import { gunzipSync } from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';

export interface SvgWorkerData {
  readonly role: 'aperture-svg';
  /** Largest document accepted (inflated size for gzip). */
  readonly maxBytes: number;
  /**
   * For tests: an Int32Array on a SharedArrayBuffer. Before each job the worker adds 1 to
   * [1] (and notifies), then waits while [0] is 0.
   */
  readonly latch?: Int32Array;
}

export type SvgErrorCode = 'too_large' | 'not_svg' | 'corrupt';
export type SvgRequest = { id: number; bytes: Uint8Array };
export type SvgReply = { id: number; bytes: Uint8Array } | { id: number; error: { code: SvgErrorCode; message: string } };

/** libxml2's default depth limit: librsvg refuses deeper documents anyway. */
export const MAX_DEPTH = 256;

class SvgError extends Error {
  constructor(readonly code: SvgErrorCode, message: string) {
    super(message);
  }
}

const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** Elements dropped with their whole content (compared by local name, case-insensitively). */
const DROPPED = new Set(['script', 'foreignobject', 'include', 'handler', 'listener', 'iframe', 'audio', 'video']);
/** A reference that stays inside the document or is a raster image in a data URL. */
const SAFE_REF = /^(?:#|data:image\/(?:png|jpeg|jpg|gif|webp)[;,])/i;
/** The longest entity or character reference looked for after `&`. */
const MAX_REF = 32;

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)
    || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e || c >= 0x80;
}
function isNameStart(c: number): boolean {
  return isNameChar(c) && !(c >= 0x30 && c <= 0x39) && c !== 0x2d && c !== 0x2e;
}
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function localName(qname: string): string {
  return qname.slice(qname.lastIndexOf(':') + 1).toLowerCase();
}

/** A code point XML allows in a document (Char production). */
function xmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Character data with references resolved: numeric references and the predefined entities
 * become their characters, other entity references are dropped (no entity is declared), and
 * a `&` that starts no reference stays a literal `&`. Linear: the next `;` is searched for
 * again only once the scan has passed the last one found.
 */
export function decodeReferences(raw: string): string {
  let amp = raw.indexOf('&');
  if (amp === -1) return raw;
  let out = '';
  /** Start of the input not yet copied to `out` (a literal `&` is copied with its run). */
  let copied = 0;
  let nextSemi = -1;
  while (amp !== -1) {
    if (nextSemi !== -2 && nextSemi <= amp) {
      const found = raw.indexOf(';', amp + 1);
      nextSemi = found === -1 ? -2 : found;
    }
    const ref = nextSemi > amp && nextSemi - amp - 1 <= MAX_REF ? raw.slice(amp + 1, nextSemi) : '';
    let replacement: string | undefined;
    if (ref.startsWith('#')) {
      const cp = /^#x[0-9a-f]+$/i.test(ref) ? parseInt(ref.slice(2), 16) : /^#[0-9]+$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
      replacement = xmlChar(cp) ? String.fromCodePoint(cp) : '';
    } else if (/^[A-Za-z_][\w.-]*$/.test(ref)) {
      replacement = Object.hasOwn(PREDEFINED, ref) ? PREDEFINED[ref] : '';
    }
    if (replacement === undefined) {
      amp = raw.indexOf('&', amp + 1);
      continue;
    }
    out += raw.slice(copied, amp) + replacement;
    copied = nextSemi + 1;
    amp = raw.indexOf('&', copied);
  }
  return out + raw.slice(copied);
}

function escapeText(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function escapeAttr(s: string): string {
  return escapeText(s).replaceAll('"', '&quot;').replaceAll('\t', '&#9;').replaceAll('\n', '&#10;').replaceAll('\r', '&#13;');
}

/**
 * CSS text with every `url(...)` that leaves the document replaced by `none` (an unclosed one
 * ends the text), CSS escapes removed and `@import` disabled. Linear: each search resumes
 * after the previous match.
 */
export function neutralizeCss(v: string): string {
  if (v.includes('\\')) v = v.replaceAll('\\', '');
  if (/@import/i.test(v)) v = v.replace(/@import/gi, '@x-blocked-import');
  const re = /url\(/gi;
  let out = '';
  let i = 0;
  for (;;) {
    re.lastIndex = i;
    const m = re.exec(v);
    if (!m) return out + v.slice(i);
    out += v.slice(i, m.index);
    const close = v.indexOf(')', m.index + 4);
    if (close === -1) return `${out}none`;
    const arg = v.slice(m.index + 4, close).trim().replace(/^["']|["']$/g, '').trim();
    out += SAFE_REF.test(arg) ? v.slice(m.index, close + 1) : 'none';
    i = close + 1;
  }
}

/** The value an attribute keeps (undefined: the attribute is dropped). Input is decoded. */
function attributeValue(qname: string, value: string): string | undefined {
  const local = localName(qname);
  if (local.startsWith('on') || qname.toLowerCase() === 'xml:base') return undefined;
  if (local === 'href' || local === 'src') return SAFE_REF.test(value.trim()) ? value.trim() : '#';
  return neutralizeCss(value);
}

/** Sanitize an SVG document (see the module comment). Throws SvgError('corrupt') when nested too deep. */
export function sanitizeSvgText(s: string): string {
  const n = s.length;
  const out: string[] = [];
  /** Open elements we emitted: qualified name and local name. */
  const stack: Array<{ qname: string; local: string }> = [];
  /** How many of each name are open: an end tag nothing opened is dropped without a search. */
  const open = new Map<string, number>();
  /** Open `style` elements: text anywhere inside one is treated as CSS. */
  let styleOpen = 0;
  let rootDone = false;
  /** Inside a dropped element: depth of elements still open there. */
  let skip = 0;
  let i = 0;

  const text = (raw: string) => {
    if (skip || !stack.length) return; // dropped content, or outside the root element
    const decoded = decodeReferences(raw);
    out.push(escapeText(styleOpen ? neutralizeCss(decoded) : decoded));
  };
  /** Position after the next `>` from `from` (n when there is none). */
  const pastGt = (from: number) => {
    const gt = s.indexOf('>', from);
    return gt === -1 ? n : gt + 1;
  };
  const readName = (from: number) => {
    let j = from;
    if (j < n && isNameStart(s.charCodeAt(j))) while (j < n && isNameChar(s.charCodeAt(j))) j++;
    return j;
  };

  /** Where the text not yet emitted starts (a `<` that opens no markup stays in it). */
  let textStart = 0;
  /** Set when markup was read: the text then starts where it ended. */
  let afterMarkup = false;
  while (i < n) {
    if (afterMarkup) { textStart = i; afterMarkup = false; }
    const lt = s.indexOf('<', i);
    if (lt === -1) break;
    const next = s.charCodeAt(lt + 1);
    if (next !== 0x21 && next !== 0x3f && next !== 0x2f && !isNameStart(next)) { i = lt + 1; continue; }
    if (lt > textStart) text(s.slice(textStart, lt));
    i = lt;
    afterMarkup = true;
    if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i + 4);
      i = end === -1 ? n : end + 3;
    } else if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i + 9);
      text(s.slice(i + 9, end === -1 ? n : end).replaceAll('&', '&amp;'));
      i = end === -1 ? n : end + 3;
    } else if (s.startsWith('<?', i)) {
      const end = s.indexOf('?>', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (s.startsWith('<!', i)) {
      // DOCTYPE (with its internal subset) or another declaration: skipped, quotes and
      // brackets respected, in one pass.
      let j = i + 2, depth = 0, quote = 0;
      for (; j < n; j++) {
        const c = s.charCodeAt(j);
        if (quote) { if (c === quote) quote = 0; continue; }
        if (c === 0x22 || c === 0x27) quote = c;
        else if (c === 0x5b) depth++;
        else if (c === 0x5d) depth = Math.max(0, depth - 1);
        else if (c === 0x3e && depth === 0) break;
      }
      i = j + 1;
    } else if (s.charCodeAt(i + 1) === 0x2f) {
      const end = readName(i + 2);
      const qname = s.slice(i + 2, end);
      i = pastGt(end);
      if (skip) { skip--; continue; }
      // Close up to the matching open element (each pop undoes one push: linear overall).
      if (!open.get(qname)) continue;
      for (;;) {
        const top = stack.pop()!;
        open.set(top.qname, open.get(top.qname)! - 1);
        if (top.local === 'style') styleOpen--;
        out.push(`</${top.qname}>`);
        if (top.qname === qname) break;
      }
      if (!stack.length) rootDone = true;
    } else {
      const end = readName(i + 1);
      const qname = s.slice(i + 1, end);
      // Attributes: name = "value" | 'value'.
      const attrs: string[] = [];
      const seen = new Set<string>();
      let j = end, selfClose = false, ok = true;
      for (;;) {
        while (j < n && isSpace(s.charCodeAt(j))) j++;
        if (j >= n) { ok = false; break; }
        if (s.charCodeAt(j) === 0x3e) { j++; break; }
        if (s.startsWith('/>', j)) { selfClose = true; j += 2; break; }
        const nameEnd = readName(j);
        if (nameEnd === j) { ok = false; break; }
        const aname = s.slice(j, nameEnd);
        j = nameEnd;
        while (j < n && isSpace(s.charCodeAt(j))) j++;
        if (s.charCodeAt(j) !== 0x3d) { ok = false; break; }
        j++;
        while (j < n && isSpace(s.charCodeAt(j))) j++;
        const q = s.charCodeAt(j);
        if (q !== 0x22 && q !== 0x27) { ok = false; break; }
        const close = s.indexOf(q === 0x22 ? '"' : "'", j + 1);
        if (close === -1) { ok = false; j = n; break; }
        const raw = s.slice(j + 1, close).replace(/[\t\n\r]/g, ' ');
        j = close + 1;
        if (seen.has(aname)) continue;
        seen.add(aname);
        const v = skip ? undefined : attributeValue(aname, decodeReferences(raw));
        if (v !== undefined) attrs.push(` ${aname}="${escapeAttr(v)}"`);
      }
      if (!ok) { i = pastGt(j); continue; } // a malformed tag is dropped whole
      i = j;
      if (skip) { if (!selfClose) skip++; continue; }
      if (rootDone) continue; // a second root element
      const local = localName(qname);
      if (DROPPED.has(local)) { if (!selfClose) skip = 1; continue; }
      out.push(`<${qname}${attrs.join('')}${selfClose ? '/>' : '>'}`);
      if (selfClose) { if (!stack.length) rootDone = true; continue; }
      if (stack.length >= MAX_DEPTH) throw new SvgError('corrupt', `SVG elements nest deeper than ${MAX_DEPTH}`);
      stack.push({ qname, local });
      open.set(qname, (open.get(qname) ?? 0) + 1);
      if (local === 'style') styleOpen++;
    }
  }
  if (afterMarkup) textStart = i;
  if (textStart < n) text(s.slice(textStart));
  while (stack.length) out.push(`</${stack.pop()!.qname}>`);
  return out.join('');
}

/** Inflate a gzip stream of at most `maxBytes` inflated. */
function inflate(bytes: Uint8Array, maxBytes: number): Buffer {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new SvgError('too_large', `compressed SVG inflates to more than ${maxBytes} bytes (APERTURE_MAX_SVG_BYTES)`);
    throw new SvgError('corrupt', `compressed SVG does not inflate: ${(e as Error).message}`);
  }
}

/** The sanitized UTF-8 bytes of an SVG source (gzip-compressed or not). */
export function sanitizeSvgBytes(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length > maxBytes) throw new SvgError('too_large', `SVG source is ${bytes.length} bytes, limit ${maxBytes} (APERTURE_MAX_SVG_BYTES)`);
  let doc = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (doc[0] === 0x1f && doc[1] === 0x8b) {
    doc = inflate(doc, maxBytes);
    if (!/<svg/i.test(doc.toString('latin1'))) throw new SvgError('not_svg', 'gzip-compressed data that is not SVG');
  }
  const clean = sanitizeSvgText(doc.toString('utf8'));
  // Its own ArrayBuffer (Buffer.from would take small ones from the shared pool), so the
  // reply can transfer it.
  const out = Buffer.alloc(Buffer.byteLength(clean));
  out.write(clean);
  return out;
}

function reply(request: SvgRequest, data: SvgWorkerData): SvgReply {
  try {
    return { id: request.id, bytes: sanitizeSvgBytes(request.bytes, data.maxBytes) };
  } catch (e) {
    if (e instanceof SvgError) return { id: request.id, error: { code: e.code, message: e.message } };
    return { id: request.id, error: { code: 'corrupt', message: `SVG could not be sanitized: ${e instanceof Error ? e.message : String(e)}` } };
  }
}

const data = workerData as SvgWorkerData | undefined;
if (parentPort && data?.role === 'aperture-svg') {
  const port = parentPort;
  port.on('message', (request: SvgRequest) => {
    const latch = data.latch;
    if (latch) {
      Atomics.add(latch, 1, 1);
      Atomics.notify(latch, 1);
      Atomics.wait(latch, 0, 0);
    }
    const r = reply(request, data);
    port.postMessage(r, 'bytes' in r && r.bytes.length ? [r.bytes.buffer as ArrayBuffer] : []);
  });
}
