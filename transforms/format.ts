/**
 * `f_<fmt>` — output format (Cloudinary `fetch_format`): the output formats of src/formats.ts
 * by any of their extensions (jpg/jpeg/jpe, png, webp, avif, gif, tif/tiff).
 * Overrides the URL extension; read by the encoder (last component that sets it wins).
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import {
  FORMATS, FORMAT_BY_EXTENSION, NEGOTIATED, OTHER_DELIVERY_FORMATS, OUTPUT_BY_EXTENSION,
  type AcceptedFormats, type NegotiatedFormat, type OutputFormat,
} from '../src/formats.ts';

/**
 * `f_auto[:animated|:image]`: the format is picked per request from `Accept` (AVIF, then WebP,
 * then JPEG/PNG/GIF) and per image from its content (see src/render/auto-encode.ts).
 * `accept` is filled in by `resolve`; before that it is undefined.
 */
export type FormatRequest =
  | { kind: 'fixed'; format: OutputFormat }
  | { kind: 'auto'; still: boolean; accept?: AcceptedFormats };

/** A negotiated format's MIME type in Accept, with its q value. `*\/*` alone admits none (url-api.md §3). */
const ACCEPT_RE: readonly (readonly [NegotiatedFormat, RegExp])[] = NEGOTIATED.map((f) =>
  [f, new RegExp(`${FORMATS[f].mime.replace(/[/+.]/g, '\\$&')}\\s*(?:;\\s*q\\s*=\\s*([0-9.]+))?`)] as const);

export function acceptedModern(accept: string | undefined): AcceptedFormats {
  const acc = {} as Record<NegotiatedFormat, boolean>;
  const a = accept?.toLowerCase();
  for (let i = 0; i < ACCEPT_RE.length; i++) {
    const m = a ? ACCEPT_RE[i][1].exec(a) : null;
    acc[ACCEPT_RE[i][0]] = !!m && (m[1] === undefined || Number(m[1]) > 0);
  }
  return acc;
}

declare module './types.ts' {
  interface PlanValues { format: FormatRequest }
}

export const format = defineTransform({
  key: 'f', planKey: 'format', name: 'format', phase: 'output',
  parse(raw): FormatRequest {
    if (raw === 'auto' || raw === 'auto:animated') return { kind: 'auto', still: false };
    if (raw === 'auto:image') return { kind: 'auto', still: true };
    if (raw.startsWith('auto:')) throw new Errors.INVALID_PARAM('format', raw);
    const f = OUTPUT_BY_EXTENSION.get(raw);
    if (f) return { kind: 'fixed', format: f };
    // Formats Cloudinary delivers that we cannot encode get a clear 400 of their own.
    if (FORMAT_BY_EXTENSION.has(raw) || OTHER_DELIVERY_FORMATS.has(raw)) throw new Errors.UNSUPPORTED(`f_${raw}`, 'this output format is not supported');
    throw new Errors.INVALID_PARAM('format', raw);
  },
  canonical(v) {
    if (v.kind === 'fixed') return v.format;
    let acc = '';
    if (v.accept) {
      acc = ':';
      for (const f of NEGOTIATED) if (v.accept[f]) acc += f;
    }
    return `auto${v.still ? ':image' : ''}${acc}`;
  },
  dynamic: (v) => v.kind === 'auto',
  resolve(v, rc) {
    rc.vary.add('Accept');
    return { ...v, accept: acceptedModern(rc.hints.accept) } as FormatRequest;
  },
});
