/**
 * `w_<px>` | `w_<fraction>` — output width (Cloudinary `width`). Pixels 1..65535, or a decimal
 * 0 < f <= 1 as a fraction of the input width. Owned by the geometry step.
 */
import { defineTransform } from './types.ts';
import { type Dim, dimCanonical, parseDim } from './args.ts';
import { Errors } from '../src/errors.ts';

declare module './types.ts' {
  interface PlanValues { width: Dim }
}

export const width = defineTransform({
  key: 'w',
  planKey: 'width',
  name: 'width',
  phase: 'geometry',
  parse(raw) {
    if (raw.startsWith('auto')) throw new Errors.UNSUPPORTED(`w_${raw}`, 'automatic width is not supported yet');
    return parseDim('width', raw, 65535);
  },
  canonical: dimCanonical,
});
