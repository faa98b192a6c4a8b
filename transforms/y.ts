/** `y_<px|fraction>` — vertical offset for crop/gravity (Cloudinary `y`). Geometry-owned. */
import { defineTransform } from './types.ts';
import { type Dim, dimCanonical, parseOffset } from './args.ts';

declare module './types.ts' {
  interface PlanValues { y: Dim }
}

export const y = defineTransform({
  key: 'y', planKey: 'y', name: 'y', phase: 'geometry',
  computes: 'value',
  parse: (raw) => parseOffset('y', raw),
  canonical: dimCanonical,
});
