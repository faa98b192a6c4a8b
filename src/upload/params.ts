/**
 * Upload API parameters (upload-api.md "Upload parameters served"): the names each call takes,
 * and their parsing. A parameter a call does not take is a 400 naming it, never ignored.
 */
import { Errors } from '../errors.ts';
import { OUTPUT_BY_EXTENSION } from '../formats.ts';
import type { Params } from './auth.ts';

/** Sent by the SDKs with every call; not options. */
const PROTOCOL = ['api_key', 'timestamp', 'signature', 'signature_algorithm', 'resource_type', 'cloud_name', 'type'];

export const CALL_PARAMS = {
  upload: ['file', 'public_id', 'folder', 'use_filename', 'unique_filename', 'filename_override', 'overwrite', 'invalidate',
    'tags', 'context', 'eager', 'eager_async', 'responsive_breakpoints', 'format', 'transformation', 'upload_preset'],
  explicit: ['public_id', 'eager', 'eager_async', 'responsive_breakpoints', 'tags', 'context', 'invalidate', 'overwrite'],
  rename: ['from_public_id', 'to_public_id', 'overwrite', 'invalidate', 'to_type'],
  destroy: ['public_id', 'invalidate'],
} as const satisfies Record<string, readonly string[]>;
export type ApiCall = keyof typeof CALL_PARAMS;

const bad = (m: string) => new Errors.BAD_API_PARAM(m);

/** Throws for any parameter `call` does not take; `type` must be `upload`. */
export function checkParamNames(call: ApiCall, params: Params): void {
  const allowed = new Set<string>([...PROTOCOL, ...CALL_PARAMS[call]]);
  for (const k of Object.keys(params)) if (!allowed.has(k)) throw bad(`Unsupported parameter ${k.slice(0, 64)} for ${call}`);
  for (const k of ['type', 'to_type']) if (params[k] !== undefined && params[k] !== 'upload') throw bad(`Only ${k}=upload is supported, got ${params[k].slice(0, 32)}`);
  if (params.resource_type !== undefined && params.resource_type !== 'image') throw bad(`Only resource_type=image is supported, got ${params.resource_type.slice(0, 32)}`);
}

export function bool(params: Params, name: string, def: boolean): boolean {
  const v = params[name];
  if (v === undefined || v === '') return def;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw bad(`Invalid value for ${name}: ${v.slice(0, 32)} (expected true or false)`);
}

/** Longest public id, in bytes (a file name under S3's 1,024-byte key limit, with room for the folder). */
const MAX_ID_BYTES = 512;

/**
 * A public id we can store and serve: `/`-separated non-empty segments, none starting with a dot
 * (no `..`, no hidden files, no `.meta`), no control characters, backslashes, `?`, `#` or `%`,
 * at most 512 bytes.
 */
export function checkPublicId(id: string, name = 'public_id'): string {
  const bytes = Buffer.byteLength(id);
  if (!id) throw bad(`Missing required parameter - ${name}`);
  if (bytes > MAX_ID_BYTES) throw bad(`${name} is too long (${bytes} bytes, at most ${MAX_ID_BYTES})`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\?#%]/.test(id)) throw bad(`${name} has a character that cannot be in a public id: ${JSON.stringify(id.slice(0, 64))}`);
  if (id.split('/').some((s) => s === '' || s.startsWith('.') || s.trim() !== s)) throw bad(`${name} has an empty, dotted or space-padded segment: ${JSON.stringify(id.slice(0, 64))}`);
  return id;
}

/** `a,b` (the SDKs join arrays with commas). */
export function tagsOf(v: string | undefined): string[] {
  if (!v) return [];
  const tags = v.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of tags) if (t.length > 255) throw bad('A tag is longer than 255 characters');
  return [...new Set(tags)];
}

/** `k=v|k2=v2`, with `\=` and `\|` escaping (Cloudinary's context syntax). */
export function contextOf(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!v) return out;
  for (const pair of v.split(/(?<!\\)\|/)) {
    const [k, ...rest] = pair.split(/(?<!\\)=/);
    const key = k.replace(/\\([=|])/g, '$1').trim();
    if (!key) throw bad(`Invalid context: ${pair.slice(0, 64)}`);
    out[key] = rest.join('=').replace(/\\([=|])/g, '$1');
  }
  return out;
}

export interface EagerSpec { readonly transformation: string; readonly format?: string }

/** `c_fill,w_100/jpg|w_200`: transformations separated by `|`, each optionally ending in `/<ext>`. */
export function eagerOf(v: string | undefined): EagerSpec[] {
  if (!v) return [];
  return v.split('|').filter(Boolean).map((t) => {
    const slash = t.lastIndexOf('/');
    const last = t.slice(slash + 1);
    if (OUTPUT_BY_EXTENSION.has(last)) return { transformation: t.slice(0, Math.max(0, slash)), format: last };
    return { transformation: t };
  });
}

export interface BreakpointRequest {
  readonly createDerived: boolean;
  readonly bytesStep: number;
  readonly minWidth: number;
  readonly maxWidth: number;
  readonly maxImages: number;
  readonly transformation: string;
  readonly format?: string;
}

/** `responsive_breakpoints`: a JSON object or list of them (Cloudinary's field names and defaults). */
export function breakpointsOf(v: string | undefined): BreakpointRequest[] {
  if (!v) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw bad('Invalid responsive_breakpoints: not JSON');
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length > 10) throw bad('Invalid responsive_breakpoints: at most 10 requests');
  return list.map((o: unknown) => {
    if (!o || typeof o !== 'object') throw bad('Invalid responsive_breakpoints: each entry must be an object');
    const r = o as Record<string, unknown>;
    const int = (k: string, d: number, lo: number, hi: number) => {
      const x = r[k] ?? d;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) throw bad(`Invalid responsive_breakpoints.${k}: ${String(x).slice(0, 20)}`);
      return x;
    };
    const minWidth = int('min_width', 50, 1, 65535), maxWidth = int('max_width', 1000, 1, 65535);
    if (minWidth > maxWidth) throw bad('Invalid responsive_breakpoints: min_width is above max_width');
    const t = r.transformation ?? '';
    if (typeof t !== 'string') throw bad('Invalid responsive_breakpoints.transformation: must be a string');
    const f = r.format;
    if (f !== undefined && (typeof f !== 'string' || !OUTPUT_BY_EXTENSION.has(f))) throw bad(`Invalid responsive_breakpoints.format: ${String(f).slice(0, 20)}`);
    return {
      createDerived: r.create_derived === undefined ? true : r.create_derived === true,
      bytesStep: int('bytes_step', 20_000, 1_000, 10_000_000), minWidth, maxWidth, maxImages: int('max_images', 20, 1, 100),
      transformation: t, ...(f ? { format: f as string } : {}),
    };
  });
}

export interface Incoming { readonly transformation: string; readonly format?: string }

/**
 * Upload's incoming `transformation` (components separated by `/`, as in a delivery URL, no
 * version or signature segment) and `format` (an output extension): what to render before
 * storing; undefined when neither is given.
 */
export function incomingOf(transformation: string | undefined, format: string | undefined): Incoming | undefined {
  const t = (transformation ?? '').trim().replace(/^\/+|\/+$/g, '');
  const f = format?.trim().toLowerCase() || undefined;
  if (f !== undefined && !OUTPUT_BY_EXTENSION.has(f)) {
    throw bad(`Invalid format ${JSON.stringify(f.slice(0, 16))}: expected one of ${[...OUTPUT_BY_EXTENSION.keys()].join(', ')}`);
  }
  if (t) {
    if (t.length > 2000) throw bad('Invalid transformation: longer than 2000 characters');
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x20\x7f\\?#]/.test(t)) throw bad(`Invalid transformation ${JSON.stringify(t.slice(0, 64))}: spaces, control characters, \\, ? and # are not allowed`);
    for (const c of t.split('/')) {
      if (c === '' || c === '.' || c === '..' || /^v\d+$/.test(c) || c.startsWith('s--')) throw bad(`Invalid transformation ${JSON.stringify(t.slice(0, 64))}: component ${JSON.stringify(c.slice(0, 32))} is not a transformation`);
    }
  }
  if (!t && f === undefined) return undefined;
  return { transformation: t, ...(f !== undefined ? { format: f } : {}) };
}
