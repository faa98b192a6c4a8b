/**
 * `w_<px>` | `w_<fraction>` | `w_auto[:step[:fallback]]` |
 * `w_auto:breakpoints[_min_max_kb_count][:fallback|:json]` — output width (Cloudinary `width`).
 * Pixels 1..65535, or a decimal 0 < f <= 1 as a fraction of the input width. Owned by the
 * geometry step.
 *
 * `auto` values (url-api.md §4, rules in src/responsive/auto-width.ts) resolve per request to
 * a pixel width, or to no width at all when there is neither a hint nor a fallback. Until then
 * they are a zero-pixel Dim carrying the parsed spec: the Dim type stays the geometry owner's
 * one shape, and a zero width would read as "no width" there even if resolution were skipped.
 */
import { defineTransform } from './types.ts';
import { type Dim, dimCanonical, parseDim } from './args.ts';
import { autoWidthCanonical, parseAutoWidth, type AutoWidth } from '../src/responsive/auto-width.ts';
import { resolveAutoWidth } from '../src/responsive/resolve-width.ts';

declare module './types.ts' {
  interface PlanValues { width: Dim }
}

/** A parsed `w_auto…` before resolution. */
export type AutoDim = Dim & { readonly auto: AutoWidth };

function isAuto(d: Dim): d is AutoDim {
  return (d as Partial<AutoDim>).auto !== undefined;
}

export const width = defineTransform({
  key: 'w',
  planKey: 'width',
  name: 'width',
  phase: 'geometry',
  computes: 'value',
  parse(raw): Dim {
    if (raw.startsWith('auto')) {
      const auto: AutoDim = { kind: 'px', value: 0, auto: parseAutoWidth(raw) };
      return auto;
    }
    return parseDim('width', raw, 65535);
  },
  // A resolved `w_auto` may be "no width" (undefined) in the variant string.
  canonical: (d: Dim | undefined) => (d === undefined ? 'none' : isAuto(d) ? autoWidthCanonical(d.auto) : dimCanonical(d)),
  dynamic: isAuto,
  resolve(d, rc) {
    if (!isAuto(d)) return d;
    // "No width" is the absence of the key; the type cannot say so, resolvePlan stores it as is.
    return resolveAutoWidth(d.auto, rc) as Dim | Promise<Dim>;
  },
});
