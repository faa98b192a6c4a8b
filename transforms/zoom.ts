/**
 * `z_<factor>` — zoom for `c_crop`/`c_thumb` (Cloudinary `zoom`), 0.01..100: the region taken
 * around the gravity point is the requested size divided by the factor. Geometry-owned.
 */
import { defineTransform } from './types.ts';
import { parseNumberIn } from './args.ts';

declare module './types.ts' {
  interface PlanValues { zoom: number }
}

export const zoom = defineTransform({
  key: 'z', planKey: 'zoom', name: 'zoom', phase: 'geometry',
  computes: 'value',
  parse: (raw) => parseNumberIn('zoom', raw, 0.01, 100),
  canonical: String,
});
