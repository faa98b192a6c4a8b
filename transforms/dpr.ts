/**
 * `dpr_<n>` | `dpr_auto` — device pixel ratio (Cloudinary `dpr`), 0.1..10, applied up to the
 * configured cap: multiplies pixel sizes (or the whole image when no size is given).
 * `dpr_auto` is the DPR client hint (`Sec-CH-DPR`, else `DPR`) rounded up to an integer, 1
 * without a hint, capped at `APERTURE_DPR_CAP`; the response then varies on both hint names.
 * Geometry-owned.
 */
import { defineTransform } from './types.ts';
import { parseNumberIn } from './args.ts';
import { DPR_AUTO } from '../src/responsive/auto-width.ts';
import { resolveAutoDpr } from '../src/responsive/resolve-width.ts';

declare module './types.ts' {
  interface PlanValues { dpr: number }
}

export const dpr = defineTransform({
  key: 'dpr', planKey: 'dpr', name: 'dpr', phase: 'geometry',
  computes: 'value',
  parse(raw) {
    if (raw === 'auto') return DPR_AUTO;
    return parseNumberIn('dpr', raw, 0.1, 10);
  },
  canonical: (v) => (v === DPR_AUTO ? 'auto' : String(v)),
  dynamic: (v) => v === DPR_AUTO,
  resolve: (_v, rc) => resolveAutoDpr(rc),
  // The DPR reported with the image (resolved by now), as applied: up to the cap.
  respond: (v, rc) => { rc.dpr = Math.min(v, rc.config.dprCap); },
});
