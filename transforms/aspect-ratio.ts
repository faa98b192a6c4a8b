/**
 * `ar_<w:h>` | `ar_<decimal>` — aspect ratio (Cloudinary `aspect_ratio`), 0.01..100. With one of
 * w/h it derives the other; alone with a cropping mode it crops the largest region of that ratio.
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { numberCanonical } from './args.ts';

declare module './types.ts' {
  interface PlanValues { aspectRatio: number }
}

export const aspectRatio = defineTransform({
  key: 'ar', planKey: 'aspectRatio', name: 'aspect ratio', phase: 'geometry',
  computes: 'value',
  parse(raw) {
    let v: number;
    const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(raw);
    if (m) v = Number(m[1]) / Number(m[2]);
    else if (/^\d*\.?\d+$/.test(raw)) v = Number(raw);
    else throw new Errors.INVALID_PARAM('aspect ratio', raw);
    if (!Number.isFinite(v) || v < 0.01 || v > 100) throw new Errors.INVALID_PARAM('aspect ratio', raw);
    return v;
  },
  canonical: numberCanonical,
});
