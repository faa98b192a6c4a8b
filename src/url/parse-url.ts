/**
 * Raw request path → delivery request (url-api.md §1):
 * /[<cloud>/]image/<type>/[s--<sig>--/][<component>/]*[v<digits>/]<public_id>[.<ext>]
 * `/iu/` is short for `/image/upload/`. The query string is ignored by the caller.
 */
import { Errors } from '../errors.ts';
import { looksLikeComponent } from '../plan/parse.ts';
import { FORMAT_BY_EXTENSION, OUTPUT_BY_URL_EXTENSION, type OutputFormat } from '../formats.ts';

export const DELIVERY_TYPES = ['upload', 'fetch', 'private', 'authenticated'] as const;
export type DeliveryType = (typeof DELIVERY_TYPES)[number];

export interface DeliveryUrl {
  readonly cloud?: string;
  readonly type: DeliveryType;
  readonly signature?: string;
  /** Component segments as written. */
  readonly components: readonly string[];
  readonly version?: string;
  /** Decoded public id without the format extension (or the remote URL for fetch). */
  readonly publicId: string;
  /** Extension as written (lower-cased), if it names an image format (src/formats.ts). */
  readonly ext?: string;
  readonly extFormat?: OutputFormat;
  /** The text a signature covers: components and public id as written, without version. */
  readonly signedText: string;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new Errors.BAD_URL('malformed percent-encoding in public id');
  }
}

/** `path` is the URL path (no query). Returns undefined when it is not a delivery URL at all. */
export function parseDeliveryUrl(path: string): DeliveryUrl | undefined {
  const segs = path.split('/');
  // segs[0] is '' (leading slash)
  let i = 1;
  let cloud: string | undefined;
  let type: DeliveryType;
  const isImage = (k: number) => segs[k] === 'image' || segs[k] === 'iu';
  if (!isImage(i)) {
    if (!isImage(i + 1) || !segs[i]) return undefined;
    cloud = segs[i];
    i++;
  }
  if (segs[i] === 'iu') {
    type = 'upload';
    i++;
  } else {
    i++;
    const t = segs[i];
    if (!t) return undefined;
    if (!(DELIVERY_TYPES as readonly string[]).includes(t)) {
      if (['video', 'raw'].includes(segs[i - 1])) return undefined;
      throw new Errors.BAD_URL(`unsupported delivery type "${t}"`);
    }
    type = t as DeliveryType;
    i++;
  }
  let signature: string | undefined;
  const sm = /^s--([A-Za-z0-9_-]{8}|[A-Za-z0-9_-]{32})--$/.exec(segs[i] ?? '');
  if (sm) {
    signature = sm[1];
    i++;
  }
  const signedStart = i;
  const components: string[] = [];
  while (i < segs.length - 1 && !/^v\d+$/.test(segs[i]) && (looksLikeComponent(segs[i]) || (segs[i] === '' && i > signedStart))) {
    // An empty segment between components (a doubled slash) is tolerated and skipped.
    if (segs[i] !== '') components.push(segs[i]);
    i++;
  }
  let version: string | undefined;
  const rawSigned: string[] = segs.slice(signedStart, i);
  if (i < segs.length - 1 && /^v\d+$/.test(segs[i])) {
    version = segs[i].slice(1);
    i++;
  }
  const rest = segs.slice(i);
  rawSigned.push(...rest);
  if (rest.length === 0 || rest.join('') === '') throw new Errors.BAD_URL('missing public id');

  if (type === 'fetch') {
    // The remote URL follows raw; the format comes from f_ (or the remote extension).
    const remote = rest.join('/');
    const extm = /\.([a-z0-9]{2,5})$/i.exec(remote.split(/[?#]|%3F/i)[0]);
    const ext = extm?.[1].toLowerCase();
    return { cloud, type, signature, components, version, publicId: remote, ext, extFormat: ext ? OUTPUT_BY_URL_EXTENSION.get(ext) : undefined, signedText: rawSigned.join('/') };
  }

  for (const s of rest) {
    const d = decode(s);
    if (d === '' || d === '.' || d === '..' || d.includes('\0') || d.includes('/') || d.includes('\\')) {
      throw new Errors.BAD_URL('invalid public id');
    }
  }
  const last = rest[rest.length - 1];
  let idLast = last;
  let ext: string | undefined;
  const dot = last.lastIndexOf('.');
  if (dot > 0) {
    const e = last.slice(dot + 1).toLowerCase();
    if (FORMAT_BY_EXTENSION.has(e)) {
      ext = e;
      idLast = last.slice(0, dot);
    }
  }
  const publicId = [...rest.slice(0, -1), idLast].map(decode).join('/');
  return { cloud, type, signature, components, version, publicId, ext, extFormat: ext ? OUTPUT_BY_URL_EXTENSION.get(ext) : undefined, signedText: rawSigned.join('/') };
}
