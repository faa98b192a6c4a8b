/**
 * Rounding rules of `dpr_auto` and `w_auto` (url-api.md §4), as pure functions of the parsed
 * client hints so the hot path allocates nothing, plus the grammar of `w_auto…` values.
 *
 * Units: every width here is in device pixels (output pixels). The Width hint already is
 * (the browser multiplies the slot's CSS width by its DPR); Viewport-Width is CSS pixels and
 * is multiplied by the DPR bucket; the fallback is CSS pixels like any `w_N`, multiplied by
 * the component's own DPR. The resolver then divides by that DPR because the geometry owner
 * multiplies `w` by it: a hinted width is never multiplied twice.
 */
import type { RequestHints } from '../render/context.ts';
import { Errors } from '../errors.ts';

/** Parsed `dpr_auto` (a number that no `dpr_N` can be, so the plan value stays a number). */
export const DPR_AUTO = -1;

/** Defaults of `w_auto:breakpoints` (Cloudinary's: 50 px, 1000 px, 20 KB, 20 images). */
export const BREAKPOINT_DEFAULTS = { min: 50, max: 1000, kb: 20, count: 20 } as const;

/** The default rounding step of `w_auto`. */
export const DEFAULT_STEP = 100;
/**
 * Smaller steps are raised to this: the step is what bounds how many variants one URL can
 * have (maxOutputSide / step), and a 1 px step would let hints mint one render per pixel.
 */
export const MIN_STEP = 10;

export type AutoWidth =
  | { readonly mode: 'step'; readonly step: number; readonly fallback?: number }
  | {
    readonly mode: 'breakpoints'; readonly min: number; readonly max: number; readonly kb: number;
    readonly count: number; readonly fallback?: number; readonly json: boolean;
  };

/** Names that go into `Vary` (canonical spelling), built once. */
export const DPR_VARY = ['Sec-CH-DPR', 'DPR'] as const;
export const WIDTH_VARY = ['Sec-CH-Width', 'Width', 'Sec-CH-Viewport-Width', 'Viewport-Width', 'Sec-CH-DPR', 'DPR'] as const;

/** `dpr_auto`: the DPR hint rounded up to an integer, 1 without one, at most `cap`. */
export function autoDpr(hints: RequestHints, cap: number): number {
  const d = hints.dpr;
  if (d === undefined) return 1;
  return Math.max(1, Math.min(cap, Math.ceil(d)));
}

/**
 * The width the client needs, in device pixels: the Width hint, else Viewport-Width × the
 * DPR bucket (the same rounded-up, capped DPR as `dpr_auto`, so an edge cache keyed on that
 * bucket never merges requests Aperture answers differently), else the fallback (CSS px) ×
 * `componentDpr`, else undefined (no hint, no fallback: `w` does nothing).
 */
export function requiredWidth(hints: RequestHints, cap: number, fallback: number | undefined, componentDpr: number): number | undefined {
  if (hints.width !== undefined) return Math.ceil(hints.width);
  if (hints.viewportWidth !== undefined) return Math.ceil(hints.viewportWidth * autoDpr(hints, cap));
  if (fallback !== undefined) return Math.ceil(fallback * componentDpr);
  return undefined;
}

/** Round up to a multiple of the step (raised to MIN_STEP), then cap at `maxSide`. */
export function roundWidth(width: number, step: number, maxSide: number): number {
  const s = Math.max(MIN_STEP, step);
  return Math.min(maxSide, Math.max(s, Math.ceil(width / s) * s));
}

/** The smallest breakpoint >= width (breakpoints ascending), else the largest. */
export function snapToBreakpoint(breakpoints: readonly number[], width: number): number {
  let lo = 0, hi = breakpoints.length - 1;
  if (width >= breakpoints[hi]) return breakpoints[hi];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (breakpoints[mid] >= width) hi = mid; else lo = mid + 1;
  }
  return breakpoints[lo];
}

const INT = /^\d+$/;

function int(raw: string, text: string, min: number, max: number): number {
  if (!INT.test(text)) throw new Errors.INVALID_PARAM('width', raw);
  const v = Number(text);
  if (v < min || v > max) throw new Errors.INVALID_PARAM('width', raw);
  return v;
}

/**
 * `auto`, `auto:<step>`, `auto:<step>:<fallback>`, `auto:breakpoints[_min[_max[_kb[_count]]]]`
 * optionally followed by `:<fallback>` or `:json`. `raw` is the text after `w_`.
 */
export function parseAutoWidth(raw: string): AutoWidth {
  const parts = raw.split(':');
  if (parts[0] !== 'auto' || parts.length > 3) throw new Errors.INVALID_PARAM('width', raw);
  const second = parts[1];
  if (second === undefined) return { mode: 'step', step: DEFAULT_STEP };
  if (second === 'breakpoints' || second.startsWith('breakpoints_')) {
    const nums = second === 'breakpoints' ? [] : second.slice('breakpoints_'.length).split('_');
    if (nums.length > 4) throw new Errors.INVALID_PARAM('width', raw);
    const d = BREAKPOINT_DEFAULTS;
    const min = nums[0] !== undefined ? int(raw, nums[0], 1, 65535) : d.min;
    const max = nums[1] !== undefined ? int(raw, nums[1], 1, 65535) : d.max;
    const kb = nums[2] !== undefined ? int(raw, nums[2], 1, 1_000_000) : d.kb;
    const count = nums[3] !== undefined ? int(raw, nums[3], 1, 100) : d.count;
    if (max < min) throw new Errors.INVALID_PARAM('width', raw);
    const last = parts[2];
    if (last === 'json') return { mode: 'breakpoints', min, max, kb, count, json: true };
    if (last === undefined) return { mode: 'breakpoints', min, max, kb, count, json: false };
    return { mode: 'breakpoints', min, max, kb, count, fallback: int(raw, last, 1, 65535), json: false };
  }
  const step = int(raw, second, 1, 65535);
  if (parts[2] === undefined) return { mode: 'step', step };
  return { mode: 'step', step, fallback: int(raw, parts[2], 1, 65535) };
}

/** Canonical text: equal meanings print equally (`auto` = `auto:100`). */
export function autoWidthCanonical(a: AutoWidth): string {
  if (a.mode === 'step') {
    if (a.fallback !== undefined) return `auto:${a.step}:${a.fallback}`;
    return a.step === DEFAULT_STEP ? 'auto' : `auto:${a.step}`;
  }
  const tail = a.json ? ':json' : a.fallback !== undefined ? `:${a.fallback}` : '';
  return `auto:breakpoints_${a.min}_${a.max}_${a.kb}_${a.count}${tail}`;
}
