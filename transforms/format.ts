/**
 * `f_<fmt>` — output format (Cloudinary `fetch_format`): jpg/jpeg, png, webp, avif, gif, tiff.
 * Overrides the URL extension; read by the encoder (last component that sets it wins).
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { own } from './args.ts';

export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/**
 * `f_auto[:animated|:image]`: the format is picked per request from `Accept` (AVIF, then WebP,
 * then JPEG/PNG/GIF) and per image from its content (see src/render/auto-encode.ts).
 * `accept` is filled in by `resolve`; before that it is undefined.
 */
export type FormatRequest =
  | { kind: 'fixed'; format: OutputFormat }
  | { kind: 'auto'; still: boolean; accept?: { avif: boolean; webp: boolean } };

/** Which modern formats an Accept header admits. `*\/*` alone admits neither (url-api.md §3). */
const AVIF_RE = /image\/avif\s*(?:;\s*q\s*=\s*([0-9.]+))?/;
const WEBP_RE = /image\/webp\s*(?:;\s*q\s*=\s*([0-9.]+))?/;

export function acceptedModern(accept: string | undefined): { avif: boolean; webp: boolean } {
  if (!accept) return { avif: false, webp: false };
  const a = accept.toLowerCase();
  const admits = (re: RegExp) => {
    const m = re.exec(a);
    return !!m && (m[1] === undefined || Number(m[1]) > 0);
  };
  return { avif: admits(AVIF_RE), webp: admits(WEBP_RE) };
}

/** Extension or f_ token → format. */
export const FORMAT_BY_NAME: Readonly<Record<string, OutputFormat>> = {
  jpg: 'jpeg', jpeg: 'jpeg', jpe: 'jpeg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', tif: 'tiff', tiff: 'tiff',
};
/** Formats Cloudinary delivers that we cannot encode (recognised so they get a clear 400). */
const NOT_ENCODABLE = new Set(['jxl', 'heic', 'heif', 'bmp', 'ico', 'jp2', 'wdp', 'jxr', 'pdf', 'svg', 'eps', 'psd', 'ai', 'tga', 'mp4', 'webm', 'mov', 'ogv', 'flv', 'm3u8', 'mpd', 'mp3', 'wav', 'glb', 'usdz', 'gltf', 'djvu', 'arw', 'cr2', 'dng', 'eps3', 'avi', 'mkv', 'ts', 'h264', 'wmv']);

declare module './types.ts' {
  interface PlanValues { format: FormatRequest }
}

export const format = defineTransform({
  key: 'f', planKey: 'format', name: 'format', phase: 'output',
  parse(raw): FormatRequest {
    if (raw === 'auto' || raw === 'auto:animated') return { kind: 'auto', still: false };
    if (raw === 'auto:image') return { kind: 'auto', still: true };
    if (raw.startsWith('auto:')) throw new Errors.INVALID_PARAM('format', raw);
    const f = own(FORMAT_BY_NAME, raw);
    if (f) return { kind: 'fixed', format: f };
    if (NOT_ENCODABLE.has(raw)) throw new Errors.UNSUPPORTED(`f_${raw}`, 'this output format is not supported');
    throw new Errors.INVALID_PARAM('format', raw);
  },
  canonical(v) {
    if (v.kind === 'fixed') return v.format;
    const acc = v.accept ? `:${v.accept.avif ? 'avif' : ''}${v.accept.webp ? 'webp' : ''}` : '';
    return `auto${v.still ? ':image' : ''}${acc}`;
  },
  dynamic: (v) => v.kind === 'auto',
  resolve(v, rc) {
    rc.vary.add('Accept');
    return { ...v, accept: acceptedModern(rc.hints.accept) } as FormatRequest;
  },
});

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif', tiff: 'image/tiff',
};
export const EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', tiff: 'tif',
};
