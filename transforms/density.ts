/**
 * `dn_<dpi>` — density (Cloudinary `density`, 1-1200): vector input (SVG; PDF where libvips
 * reads it) is rendered at that density instead of 72 DPI, so its pixel size scales by
 * dpi/72 (the `load` hook); every output also records the density in its metadata (the
 * `encode` hook), which is all it changes for raster input.
 */
import { defineTransform } from './types.ts';
import { parseIntIn } from './args.ts';

declare module './types.ts' {
  interface PlanValues { density: number }
}

export const density = defineTransform({
  key: 'dn', planKey: 'density', name: 'density', phase: 'input',
  parse: (raw) => parseIntIn('density', raw, 1, 1200),
  canonical: String,
  load(value, options) {
    options.density = value;
  },
  encode: (value, img) => img.withDensity(value),
});
