/** `x_<px|fraction>` — horizontal offset for crop/gravity (Cloudinary `x`). Geometry-owned. */
import { defineTransform } from './types.ts';
import { type Dim, dimCanonical, parseOffset } from './args.ts';

declare module './types.ts' {
  interface PlanValues { x: Dim }
}

export const x = defineTransform({
  key: 'x', planKey: 'x', name: 'x', phase: 'geometry',
  computes: 'value',
  parse: (raw) => parseOffset('x', raw),
  canonical: dimCanonical,
});
