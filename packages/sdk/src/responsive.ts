/**
 * Responsive markup for applications: `srcset`/`sizes` attribute values, a complete `<img>`
 * tag, and what a page must send so that browsers give Aperture the client hints that
 * `w_auto`/`dpr_auto` read (url-api.md §4).
 */
import { url, type UrlOptions } from './url.ts';
import { transformationString, type TransformationOptions } from './transformation.ts';

/** Widths used when a srcset is asked for without `widths` or `breakpoints`. */
export const DEFAULT_WIDTHS: readonly number[] = [320, 640, 960, 1280, 1600, 1920];

export interface SrcsetOptions extends UrlOptions {
  /** Candidate widths in pixels. */
  widths?: readonly number[];
  /** The body of a `w_auto:breakpoints:json` response, or its array. */
  breakpoints?: { breakpoints: readonly number[] } | readonly number[];
}

export type SizesRule = { media?: string; size: string | number };

export type AttributeValue = string | number | boolean | null | undefined;

export interface ImageTagOptions extends SrcsetOptions {
  /** Required: `''` marks a decorative image. */
  alt: string;
  sizes?: string | readonly SizesRule[];
  /** Extra or overriding attributes (`class`, `loading: 'eager'`, `fetchpriority`, …). */
  attributes?: Readonly<Record<string, AttributeValue>>;
}

// Keys that place the URL rather than transform the image: they stay at the top level when a
// srcset entry moves the transformation into a chained component.
const DELIVERY_KEYS = new Set([
  'host', 'cloud', 'signer', 'secure', 'format', 'type', 'resource_type', 'resourceType', 'version',
  'force_version', 'forceVersion', 'sign_url', 'signUrl', 'long_url_signature', 'longUrlSignature', 'shorten',
]);

function candidateWidths(o: SrcsetOptions): number[] {
  const bp = o.breakpoints;
  const raw = o.widths ?? (bp ? (Array.isArray(bp) ? bp : (bp as { breakpoints: readonly number[] }).breakpoints) : DEFAULT_WIDTHS);
  for (const w of raw) {
    if (!Number.isInteger(w) || w < 1) throw new TypeError(`srcset width must be a positive integer, got ${w}`);
  }
  return [...new Set(raw)].sort((a, b) => a - b);
}

function isNumeric(v: unknown): v is number | string {
  return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v));
}

function urlOptionsOf(o: SrcsetOptions): UrlOptions {
  const { widths: _w, breakpoints: _b, ...rest } = o as SrcsetOptions & { alt?: unknown; sizes?: unknown; attributes?: unknown };
  delete (rest as Record<string, unknown>).alt;
  delete (rest as Record<string, unknown>).sizes;
  delete (rest as Record<string, unknown>).attributes;
  return rest;
}

/**
 * The URL of one srcset candidate. A single component gets the width itself (height scaled to
 * keep the ratio), so the server does one resize; with chained components, a raw
 * transformation, or a height but no numeric width, the width goes in a last `c_scale,w_N`
 * component like the official SDK's srcset.
 */
function candidateUrl(publicId: string, o: UrlOptions, width: number): string {
  const rec = o as Record<string, unknown>;
  const chained = Array.isArray(rec.transformation) || rec.raw_transformation != null || rec.rawTransformation != null;
  const height = rec.height;
  if (!chained && !(height != null && !isNumeric(rec.width)) && rec.size == null) {
    const next: Record<string, unknown> = { ...rec, width };
    if (isNumeric(height) && isNumeric(rec.width) && Number(rec.width) > 0) {
      next.height = Math.round(Number(height) * width / Number(rec.width));
    }
    return url(publicId, next as UrlOptions);
  }
  const delivery: Record<string, unknown> = {};
  const component: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) (DELIVERY_KEYS.has(k) ? delivery : component)[k] = v;
  if (delivery.type === 'fetch' && component.fetch_format == null && component.fetchFormat == null) {
    component.fetch_format = delivery.format;
    delete delivery.format;
  }
  delivery.raw_transformation = transformationString([component as TransformationOptions, { crop: 'scale', width }]);
  return url(publicId, delivery as UrlOptions);
}

/** `"<url> 320w, <url> 640w, …"` for the given widths, breakpoints, or {@link DEFAULT_WIDTHS}. */
export function srcset(publicId: string, options: SrcsetOptions = {}): string {
  const o = urlOptionsOf(options);
  return candidateWidths(options).map((w) => `${candidateUrl(publicId, o, w)} ${w}w`).join(', ');
}

/**
 * A `sizes` attribute value. Rules are tried in order by the browser, so a rule without a
 * media condition ends the list; numbers are CSS pixels.
 */
export function sizes(rules: string | readonly SizesRule[]): string {
  if (typeof rules === 'string') return rules.trim();
  const out: string[] = [];
  for (const r of rules) {
    const size = typeof r.size === 'number' ? `${r.size}px` : r.size.trim();
    if (!r.media) {
      out.push(size);
      break;
    }
    const media = r.media.trim();
    out.push(`${/^\(|^(not|only|screen|print|all)\b/.test(media) ? media : `(${media})`} ${size}`);
  }
  return out.join(', ');
}

/** `&`, `<`, `>`, `"` and `'` as character references: safe in any quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const FIXED_BOX_CROPS = new Set(['fill', 'lfill', 'fill_pad', 'crop', 'thumb', 'pad', 'lpad', 'mpad', 'scale', 'auto']);

function parseRatio(ar: unknown): number | null {
  if (ar == null) return null;
  const m = /^(\d+(?:\.\d+)?)(?::(\d+(?:\.\d+)?))?$/.exec(String(ar));
  if (!m) return null;
  const r = m[2] ? Number(m[1]) / Number(m[2]) : Number(m[1]);
  return r > 0 && Number.isFinite(r) ? r : null;
}

/**
 * The CSS box of the delivered image when the options fix it (both sides in pixels with a
 * crop mode that yields that box, or one side plus `aspect_ratio`), so the browser can reserve
 * the space before the image arrives. Null when the source's own shape decides.
 */
export function knownDimensions(o: UrlOptions): { width: number; height: number } | null {
  const rec = o as Record<string, unknown>;
  if (Array.isArray(rec.transformation) || rec.raw_transformation != null || rec.rawTransformation != null) return null;
  const isPx = (v: unknown): boolean => isNumeric(v) && Number(v) >= 1 && Number.isInteger(Number(v));
  const w = rec.width, h = rec.height, crop = (rec.crop ?? 'scale') as string;
  const ratio = parseRatio(rec.aspect_ratio ?? rec.aspectRatio);
  if (isPx(w) && isPx(h) && FIXED_BOX_CROPS.has(crop)) return { width: Number(w), height: Number(h) };
  if (ratio && FIXED_BOX_CROPS.has(crop) && crop !== 'scale') {
    if (isPx(w) && h == null) return { width: Number(w), height: Math.round(Number(w) / ratio) };
    if (isPx(h) && w == null) return { width: Math.round(Number(h) * ratio), height: Number(h) };
  }
  return null;
}

function attrs(list: Array<[string, AttributeValue]>): string {
  return list
    .filter(([, v]) => v !== undefined && v !== null && v !== false)
    .map(([k, v]) => {
      if (!/^[a-zA-Z_:][-a-zA-Z0-9_:.]*$/.test(k)) throw new TypeError(`invalid attribute name: ${k}`);
      return v === true ? k : `${k}="${escapeHtml(String(v))}"`;
    })
    .join(' ');
}

/**
 * An `<img>` tag. `src` is the image at the options' own width, or, without one, at the
 * largest candidate up to 1024 px (the fallback for browsers without srcset). A srcset is
 * emitted when `widths` or `breakpoints` are given; its `sizes` defaults to `100vw`.
 * `width`/`height` attributes come from {@link knownDimensions}; `loading="lazy"` and
 * `decoding="async"` are defaults that `attributes` can override.
 */
export function imageTag(publicId: string, options: ImageTagOptions): string {
  const o = urlOptionsOf(options);
  const rec = o as Record<string, unknown>;
  const responsive = options.widths != null || options.breakpoints != null;
  let src: string;
  let set: string | undefined;
  if (responsive) {
    const widths = candidateWidths(options);
    set = widths.map((w) => `${candidateUrl(publicId, o, w)} ${w}w`).join(', ');
    if (rec.width != null) {
      src = url(publicId, o);
    } else {
      const fallback = [...widths].reverse().find((w) => w <= 1024) ?? widths[0];
      src = candidateUrl(publicId, o, fallback);
    }
  } else {
    src = url(publicId, o);
  }
  const dims = knownDimensions(o);
  const sizesValue = options.sizes != null ? sizes(options.sizes) : (set ? '100vw' : undefined);
  const extra = options.attributes ?? {};
  const base: Array<[string, AttributeValue]> = [
    ['src', src], ['srcset', set], ['sizes', sizesValue], ['alt', options.alt],
    ['width', dims?.width], ['height', dims?.height], ['loading', 'lazy'], ['decoding', 'async'],
  ];
  const merged = base.map(([k, v]): [string, AttributeValue] => [k, Object.hasOwn(extra, k) ? extra[k] : v]);
  const seen = new Set(base.map(([k]) => k));
  for (const [k, v] of Object.entries(extra)) if (!seen.has(k)) merged.push([k, v]);
  return `<img ${attrs(merged)}>`;
}

/** The hints Aperture reads, as the page has to delegate them. */
const HINTS = ['sec-ch-width', 'sec-ch-dpr', 'sec-ch-viewport-width'] as const;

function originOf(host: string, secure = true): string {
  return /^https?:\/\//i.test(host) ? new URL(host).origin : `${secure ? 'https' : 'http'}://${host}`;
}

/**
 * `<meta http-equiv="delegate-ch" …>` for the page's `<head>`: without it (or the headers of
 * {@link clientHintsHeaders}) browsers send client hints only to the page's own origin, and
 * `w_auto`/`dpr_auto` on the Aperture host fall back to their defaults.
 */
export function clientHintsMeta(host: string, secure = true): string {
  const origin = originOf(host, secure);
  const content = HINTS.map((h) => `${h} ${origin}`).join('; ');
  return `<meta http-equiv="delegate-ch" content="${escapeHtml(content)}">`;
}

/** The equivalent response headers for the page (not the images): `Accept-CH` + `Permissions-Policy`. */
export function clientHintsHeaders(host: string, secure = true): { 'Accept-CH': string; 'Permissions-Policy': string } {
  const origin = originOf(host, secure);
  return {
    'Accept-CH': 'Sec-CH-Width, Sec-CH-DPR, Sec-CH-Viewport-Width',
    'Permissions-Policy': HINTS.map((h) => `${h.replace(/^sec-/, '')}=(self "${origin}")`).join(', '),
  };
}

/**
 * The URL of the server's breakpoint list for an image (`w_auto:breakpoints…:json`), whose body
 * {@link srcset} accepts as `breakpoints`. Parameters are the server's defaults when omitted.
 */
export function breakpointsUrl(
  publicId: string,
  options: UrlOptions & { minWidth?: number; maxWidth?: number; bytesStepKb?: number; maxImages?: number } = {},
): string {
  const { minWidth, maxWidth, bytesStepKb, maxImages, ...rest } = options;
  const parts = [minWidth, maxWidth, bytesStepKb, maxImages];
  let spec = 'auto:breakpoints';
  if (parts.some((p) => p != null)) {
    const defaults = [50, 1000, 20, 20];
    spec += '_' + parts.map((p, i) => p ?? defaults[i]).join('_');
  }
  return url(publicId, { crop: 'scale', ...rest, width: `${spec}:json` });
}
