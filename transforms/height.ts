/**
 * `h_<px>` | `h_<fraction>` — output height (Cloudinary `height`). Pixels 1..65535, or a
 * decimal 0 < f <= 1 as a fraction of the input height. Owned by the geometry step.
 */
import { defineTransform } from './types.ts';
import { type Dim, dimCanonical, parseDim } from './args.ts';

declare module './types.ts' {
  interface PlanValues { height: Dim }
}

export const height = defineTransform({
  key: 'h',
  planKey: 'height',
  name: 'height',
  phase: 'geometry',
  computes: 'value',
  parse: (raw) => parseDim('height', raw, 65535),
  canonical: dimCanonical,
});
