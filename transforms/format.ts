/**
 * `f_<fmt>` — output format (Cloudinary `fetch_format`): jpg/jpeg, png, webp, avif, gif, tiff.
 * Overrides the URL extension; read by the encoder (last component that sets it wins).
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';

export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type FormatRequest = { kind: 'fixed'; format: OutputFormat };

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
    if (raw === 'auto' || raw.startsWith('auto:')) throw new Errors.UNSUPPORTED(`f_${raw}`, 'automatic format is not supported yet');
    const f = FORMAT_BY_NAME[raw];
    if (f) return { kind: 'fixed', format: f };
    if (NOT_ENCODABLE.has(raw)) throw new Errors.UNSUPPORTED(`f_${raw}`, 'this output format is not supported');
    throw new Errors.INVALID_PARAM('format', raw);
  },
  canonical: (v) => v.format,
});

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif', tiff: 'image/tiff',
};
export const EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', tiff: 'tif',
};
