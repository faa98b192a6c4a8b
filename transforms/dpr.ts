/**
 * `dpr_<n>` — device pixel ratio (Cloudinary `dpr`), 0.1..cap: multiplies pixel sizes (or the
 * whole image when no size is given). `dpr_auto` comes from client hints. Geometry-owned.
 */
import { defineTransform } from './types.ts';
import { parseNumberIn } from './args.ts';
import { Errors } from '../src/errors.ts';

declare module './types.ts' {
  interface PlanValues { dpr: number }
}

export const dpr = defineTransform({
  key: 'dpr', planKey: 'dpr', name: 'dpr', phase: 'geometry',
  parse(raw) {
    if (raw === 'auto') throw new Errors.UNSUPPORTED('dpr_auto', 'automatic DPR is not supported yet');
    return parseNumberIn('dpr', raw, 0.1, 10);
  },
  canonical: (v) => String(v),
});
