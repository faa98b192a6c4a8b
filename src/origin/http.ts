/**
 * Remote origin: loads `fetch` sources (and auto-upload mappings) over HTTP(S) with undici.
 *
 * Safety: every hop (the URL and each redirect target) is re-validated for scheme, port
 * (APERTURE_FETCH_PORTS, 80 and 443 by default), allow-list and IP literal before it is requested; host names are resolved by the SSRF guard inside the
 * socket's own `lookup`, so the address judged is the address connected. HTTPS origins are
 * verified against Node's CAs, plus APERTURE_FETCH_CA when set (an internal or self-signed CA). Bodies are read
 * against a byte cap and three timeouts (connect, headers, idle body) plus an overall deadline.
 *
 * It serves two kinds of source: `fetch` URLs, and `upload` ids under a folder mapped to a
 * remote base URL (remote-mapping.ts). Both share one HTTP client and one set of entries.
 *
 * Caching: entries live in the shared source cache (source-cache.ts), whose `fetch()` makes
 * identical concurrent loads share one origin request. Freshness follows the origin's
 * Cache-Control; a stale entry with a validator is revalidated (If-None-Match /
 * If-Modified-Since) and a 304 keeps the bytes.
 *
 * Status mapping (decided here, see url-api.md §5): 404 and 410 → NOT_FOUND, as do the other
 * 4xx except 408/429, because Cloudinary answers 404 for any fetch source it cannot load and
 * the client cannot fix an origin's 401/403 by retrying; 408, 429 and 5xx → ORIGIN_FAILED
 * (502, transient); timeouts → TIMEOUT (504); refused targets → FORBIDDEN (403).
 */
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent } from 'undici';
import type { Config } from '../config.ts';
import { Errors, isHttpError, type HttpError } from '../errors.ts';
import { guardedLookup, isHostAllowed, refuseLiteral, type Resolver } from '../security/ssrf.ts';
import type { Origin, OriginFactory, Source, SourceRef } from './types.ts';
import { createSourceCache, type SourceCache } from './source-cache.ts';
import { resolveRemoteMapping } from './remote-mapping.ts';

export interface HttpOriginOptions {
  /** Host name resolver used by the SSRF guard (default: the system's dns.lookup). */
  resolver?: Resolver;
  /** How long a NOT_FOUND / TOO_LARGE outcome is remembered (default APERTURE_FETCH_NEGATIVE_TTL_MS; 0 = never). */
  negativeTtlMs?: number;
  /** The clock freshness and negative entries are judged by (default Date.now; tests advance their own). */
  now?: () => number;
  /** The shared source cache (default: one of its own of APERTURE_SOURCE_CACHE_BYTES). */
  cache?: SourceCache;
}

export interface HttpOrigin extends Origin {
  /** Load an absolute URL already normalised (normalizeFetchUrl, resolveRemoteMapping). */
  loadUrl(url: string): Promise<Source>;
  close(): Promise<void>;
}

const USER_AGENT = 'Aperture/0.1 (image transformation; +fetch)';
/** Freshness when the origin says nothing at all: short, since we cannot revalidate cheaply. */
const DEFAULT_TTL_MS = 5 * 60_000;
const MAX_HEURISTIC_TTL_MS = 24 * 3600_000;
/** A slow-drip body never trips the idle body timeout; this caps the whole load. */
const DEADLINE_FACTOR = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

interface Stored {
  readonly kind: 'ok';
  readonly buffer: Buffer;
  readonly identity: string;
  readonly etag?: string;
  readonly lastModified?: string;
  /** Where the bytes really came from, after redirects; validators belong to this URL. */
  readonly finalUrl: string;
  readonly expiresAt: number;
  readonly lifetimeMs: number;
  /** False for no-store/private answers: handed to the callers waiting now, then forgotten. */
  readonly store: boolean;
}

interface Failed {
  readonly kind: 'failed';
  readonly error: () => HttpError;
  readonly expiresAt: number;
}

type Entry = Stored | Failed;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One round of percent-decoding that never throws. A run of escapes that is not UTF-8 is read
 * as Latin-1: the Node SDK escapes each non-ASCII character by its char code (`ä` → `%E4`).
 */
function percentDecode(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replaceAll('%', ''), 'hex');
    try { return strictUtf8.decode(bytes); } catch { return bytes.toString('latin1'); }
  });
}

function parseRemote(text: string, shown: string): URL {
  let u: URL;
  try { u = new URL(text); } catch { throw new Errors.BAD_URL(`unparsable fetch URL: ${shown}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Errors.BAD_URL(`fetch source must be an http(s) URL: ${shown}`);
  if (u.username || u.password) throw new Errors.BAD_URL('fetch URL must not carry credentials');
  u.hash = '';
  return u;
}

/**
 * The remote URL of a fetch delivery URL, given as it appears in the delivery path (still
 * percent-encoded; do not decode it first). The SDKs escape every character but
 * `[A-Za-z0-9_.\-/:]` (so `?` arrives as `%3F`, `&` as `%26`, `%` as `%25`) and one round of
 * decoding is the exact inverse; hand-written URLs with `%3F` for `?` (url-api.md §1) decode
 * the same way. A `https:/host` collapsed by a proxy gets its slash back. Only http(s)
 * without credentials is accepted (Errors.BAD_URL otherwise).
 */
export function normalizeFetchUrl(raw: string): string {
  const shown = raw.length > 200 ? raw.slice(0, 200) + '…' : raw;
  const text = percentDecode(raw.trim()).replace(/^(https?):\/+/i, (_m, scheme: string) => `${scheme.toLowerCase()}://`);
  if (!/^https?:\/\//i.test(text)) throw new Errors.BAD_URL(`fetch source must be an http(s) URL: ${shown}`);
  return parseRemote(text, shown).href;
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function parseCacheControl(value: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!value) return out;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (key) out.set(key, eq < 0 ? '' : part.slice(eq + 1).trim().replace(/^"|"$/g, ''));
  }
  return out;
}

function seconds(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * How long a response may be reused, per RFC 9111 for a shared cache: `private` and
 * `no-store` are not stored, `no-cache` is stored but revalidated every time.
 */
function freshness(h: IncomingHttpHeaders, now: number): { store: boolean; lifetimeMs: number } {
  const cc = parseCacheControl(header(h, 'cache-control'));
  if (cc.has('no-store') || cc.has('private')) return { store: false, lifetimeMs: 0 };
  if (cc.has('no-cache')) return { store: true, lifetimeMs: 0 };
  const date = Date.parse(header(h, 'date') ?? '') || now;
  const maxAge = seconds(cc.get('s-maxage')) ?? seconds(cc.get('max-age'));
  let lifetime: number;
  if (maxAge !== undefined) {
    lifetime = maxAge * 1000;
  } else if (header(h, 'expires') !== undefined) {
    lifetime = (Date.parse(header(h, 'expires') ?? '') || 0) - date;
  } else {
    const lm = Date.parse(header(h, 'last-modified') ?? '');
    lifetime = lm ? Math.min(MAX_HEURISTIC_TTL_MS, (date - lm) / 10) : DEFAULT_TTL_MS;
  }
  lifetime -= (seconds(header(h, 'age')) ?? 0) * 1000;
  return { store: true, lifetimeMs: Math.max(0, Math.floor(lifetime)) };
}

function identityOf(url: string, h: IncomingHttpHeaders, buffer: Buffer): string {
  const etag = header(h, 'etag');
  if (etag) return `${url}#etag:${etag}`;
  const lm = header(h, 'last-modified');
  if (lm) return `${url}#lm:${lm}`;
  return `${url}#sha1:${createHash('sha1').update(buffer).digest('hex')}`;
}

/** The port of `u` when the port policy refuses it (explicit or the scheme's default). */
function refusedPort(u: URL, allowed: Config['fetchPorts']): number | undefined {
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return allowed === '*' || allowed.includes(port) ? undefined : port;
}

/**
 * TLS trust for HTTPS origins: with APERTURE_FETCH_CA, Node's default CAs plus that file. The
 * `ca` option of tls.connect replaces the default list, so the defaults are passed along.
 */
function trustedCas(extra: string): { ca?: string[] } {
  if (!extra) return {};
  const tlsWithStore = tls as typeof tls & { getCACertificates?: (type: 'default') => string[] };
  // Node >= 22.15 reports the effective default list (with NODE_EXTRA_CA_CERTS); Node 20 the bundled one.
  const defaults = tlsWithStore.getCACertificates?.('default') ?? [...tls.rootCertificates];
  return { ca: [...defaults, extra] };
}

type Hop =
  | { kind: 'body'; headers: IncomingHttpHeaders; buffer: Buffer; finalUrl: string }
  | { kind: 'not-modified'; headers: IncomingHttpHeaders }
  | { kind: 'too-large'; detail: string }
  | { kind: 'gone' };

export function createHttpOrigin(config: Config, opts: HttpOriginOptions = {}): HttpOrigin {
  const allow = config.fetchAllow;
  const negativeTtlMs = opts.negativeTtlMs ?? config.fetchNegativeTtlMs;
  const clock = opts.now ?? Date.now;
  const agent = new Agent({
    connect: { timeout: config.fetchTimeoutMs, lookup: guardedLookup(allow, opts.resolver), ...trustedCas(config.fetchCa) },
    headersTimeout: config.fetchTimeoutMs,
    bodyTimeout: config.fetchTimeoutMs,
  });

  const cache = (opts.cache ?? createSourceCache(config.sourceCacheBytes))
    .scope<Entry>('http', (e) => (e.kind === 'ok' ? e.buffer.length : 0));
  /** The load of one URL's entry, and whether the cache may keep what it gives. */
  const loaderOf = (url: string) => async (stale: Entry | undefined, signal: AbortSignal) => {
    const entry = await fetchEntry(url, stale?.kind === 'ok' ? stale : undefined, signal);
    const keep = entry.kind === 'ok'
      ? entry.store && (entry.lifetimeMs > 0 || entry.etag !== undefined || entry.lastModified !== undefined)
      : negativeTtlMs > 0;
    return { value: entry, keep };
  };

  function checkTarget(href: string, redirect: boolean): URL {
    let u: URL;
    try { u = new URL(href); } catch { throw new Errors.ORIGIN_FAILED(`bad redirect target ${href.slice(0, 200)}`); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new Errors.FORBIDDEN(`${redirect ? 'redirect to ' : ''}${u.protocol} URL refused`);
    }
    if (u.username || u.password) throw new Errors.FORBIDDEN('URL with credentials refused');
    const port = refusedPort(u, config.fetchPorts);
    if (port !== undefined) throw new Errors.FORBIDDEN(`${redirect ? 'redirect to ' : ''}port ${port} is not an allowed fetch port (APERTURE_FETCH_PORTS)`);
    const literal = refuseLiteral(u.hostname, allow);
    if (literal) throw new Errors.FORBIDDEN(literal);
    if (allow.length > 0 && !isHostAllowed(u.hostname, allow)) {
      throw new Errors.FORBIDDEN(`host ${u.hostname} is not in the fetch allow-list`);
    }
    return u;
  }

  function networkError(e: unknown, url: string, deadline: AbortSignal): HttpError {
    if (isHttpError(e)) return e;
    const cause = (e as { cause?: unknown } | undefined)?.cause;
    if (isHttpError(cause)) return cause;
    const code = (e as { code?: unknown } | undefined)?.code;
    let err: HttpError;
    if (deadline.aborted || (typeof code === 'string' && TIMEOUT_CODES.has(code))) {
      err = new Errors.TIMEOUT(`origin ${new URL(url).host} too slow`);
    } else {
      err = new Errors.ORIGIN_FAILED(`cannot load ${new URL(url).host}${typeof code === 'string' ? ` (${code})` : ''}`);
    }
    (err as Error & { cause?: unknown }).cause = e;
    return err;
  }

  /** The body, or why it was cut off: stops reading as soon as the cap is passed. */
  async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, length: number | undefined, url: string): Promise<Buffer | string> {
    const max = config.maxSourceBytes;
    if (length !== undefined && length > max) {
      body.destroy();
      return `${url} is ${length} bytes, over the ${max} byte limit`;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += chunk.length;
      if (total > max) {
        body.destroy();
        return `${url} is over the ${max} byte limit`;
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  async function download(url: string, stale: Stored | undefined, signal: AbortSignal, deadline: AbortSignal): Promise<Hop> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const target = checkTarget(current, hop > 0);
      const headers: Record<string, string> = {
        'user-agent': USER_AGENT,
        accept: 'image/*',
        'accept-encoding': 'identity',
      };
      const conditional = stale !== undefined && stale.finalUrl === target.href;
      if (conditional && stale.etag) headers['if-none-match'] = stale.etag;
      if (conditional && stale.lastModified) headers['if-modified-since'] = stale.lastModified;
      try {
        const res = await agent.request({
          origin: target.origin, path: target.pathname + target.search, method: 'GET', headers, signal,
        });
        const status = res.statusCode;
        if (REDIRECTS.has(status)) {
          await res.body.dump();
          const location = header(res.headers, 'location');
          if (!location) throw new Errors.ORIGIN_FAILED(`redirect ${status} without Location from ${target.host}`);
          if (hop >= config.fetchMaxRedirects) throw new Errors.ORIGIN_FAILED(`more than ${config.fetchMaxRedirects} redirects`);
          try { current = new URL(location, target).href; } catch { throw new Errors.ORIGIN_FAILED(`bad redirect target from ${target.host}`); }
          continue;
        }
        if (status === 304 && conditional) {
          await res.body.dump();
          return { kind: 'not-modified', headers: res.headers };
        }
        if (status === 200 || status === 203) {
          const cl = header(res.headers, 'content-length');
          const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
          const buffer = await readCapped(res.body, length, url);
          if (typeof buffer === 'string') return { kind: 'too-large', detail: buffer };
          return { kind: 'body', headers: res.headers, buffer, finalUrl: target.href };
        }
        await res.body.dump();
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'gone' };
        throw new Errors.ORIGIN_FAILED(`${target.host} answered ${status}`);
      } catch (e) {
        throw networkError(e, url, deadline);
      }
    }
  }

  async function fetchEntry(url: string, stale: Stored | undefined, cacheSignal: AbortSignal): Promise<Entry> {
    const deadline = AbortSignal.timeout(config.fetchTimeoutMs * DEADLINE_FACTOR);
    const hop = await download(url, stale, AbortSignal.any([cacheSignal, deadline]), deadline);
    const now = clock();
    if (hop.kind === 'too-large') {
      const { detail } = hop;
      return { kind: 'failed', error: () => new Errors.TOO_LARGE(detail), expiresAt: now + negativeTtlMs };
    }
    if (hop.kind === 'gone') {
      return { kind: 'failed', error: () => new Errors.NOT_FOUND(url), expiresAt: now + negativeTtlMs };
    }
    if (hop.kind === 'not-modified' && stale) {
      const said = header(hop.headers, 'cache-control') !== undefined || header(hop.headers, 'expires') !== undefined;
      const f = said ? freshness(hop.headers, now) : { store: true, lifetimeMs: stale.lifetimeMs };
      return { ...stale, expiresAt: now + f.lifetimeMs, lifetimeMs: f.lifetimeMs, store: f.store };
    }
    if (hop.kind !== 'body') throw new Errors.ORIGIN_FAILED('unexpected 304');
    const f = freshness(hop.headers, now);
    const entry: Stored = {
      kind: 'ok',
      buffer: hop.buffer,
      identity: identityOf(url, hop.headers, hop.buffer),
      etag: header(hop.headers, 'etag'),
      lastModified: header(hop.headers, 'last-modified'),
      finalUrl: hop.finalUrl,
      expiresAt: now + f.lifetimeMs,
      lifetimeMs: f.lifetimeMs,
      store: f.store,
    };
    return entry;
  }

  async function loadUrl(id: string): Promise<Source> {
    const shown = id.length > 200 ? id.slice(0, 200) + '…' : id;
    // Not normalizeFetchUrl again: a second decoding round would change a normalised URL.
    const url = parseRemote(id, shown).href;
    const key = cache.key(url);
    const known = cache.peek(key);
    let entry: Entry | undefined;
    try {
      entry = await cache.fetch(key, loaderOf(url), { forceRefresh: known !== undefined && known.expiresAt <= clock() });
    } catch (e) {
      // lru-cache rejects with its own abort reason when close() cancels a load.
      if (isHttpError(e)) throw e;
      entry = undefined;
    }
    if (entry === undefined) throw new Errors.ORIGIN_FAILED(`load of ${new URL(url).host} was cancelled`);
    if (entry.kind === 'failed') throw entry.error();
    return {
      buffer: entry.buffer,
      identity: entry.identity,
      name: url,
      maxAgeMs: entry.store ? Math.max(0, entry.expiresAt - clock()) : 0,
    };
  }

  /** The remote URL of an `upload` id under a mapped folder (throws BAD_URL for dot segments). */
  const mapped = (ref: SourceRef) => (ref.type === 'upload'
    ? resolveRemoteMapping(ref.ext ? `${ref.publicId}.${ref.ext}` : ref.publicId, config.remoteMappings)
    : undefined);

  return {
    name: 'http',
    matches: (ref) => ref.type === 'fetch' || mapped(ref) !== undefined,
    async load(ref) {
      if (ref.type === 'fetch') return loadUrl(normalizeFetchUrl(ref.publicId));
      const remote = mapped(ref);
      if (remote === undefined) throw new Errors.NOT_FOUND(ref.publicId);
      return loadUrl(remote);
    },
    loadUrl,
    async close(): Promise<void> {
      // Aborts the loads in flight: their callers get ORIGIN_FAILED at once.
      cache.clear();
      await agent.close();
    },
  };
}

/** `fetch` sources and remote-mapped `upload` folders: one HTTP origin serves both. */
export const httpOrigins: OriginFactory = (s) => [createHttpOrigin(s.config, {
  cache: s.cache,
  now: s.now,
  ...(s.resolver ? { resolver: s.resolver } : {}),
  ...(s.negativeTtlMs !== undefined ? { negativeTtlMs: s.negativeTtlMs } : {}),
})];
