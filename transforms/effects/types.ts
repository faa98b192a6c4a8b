/**
 * What an effect family file holds: a table of effect name → EffectDef. The `e_` transform
 * (transforms/effect.ts) parses `e_<name>[:<args>]`, finds the name in the families
 * (transforms/effects/index.ts) and calls the entry. Adding an effect is one entry in a family
 * table; adding a family is one file here plus one line in index.ts.
 */
import { parseIntIn, type Rgba } from '../args.ts';
import { Errors } from '../../src/errors.ts';
import type { Canvas } from '../../src/render/canvas.ts';
import type { ApplyContext, BoundsContext, Component, PlanDims, PlanKey, PlannedOutput } from '../types.ts';

export type EffectArg = number | string;
export type EffectValue = { name: string; args: EffectArg[]; colour?: Rgba };

/** The bundled picture an example shows best on (src/routes/gallery.ts maps it to a public id). */
export type GallerySample = 'photo' | 'portrait' | 'logo';

/**
 * One example of an effect for the gallery (GET /gallery): the arguments after `e_<name>`
 * (`''` for `e_red`, `'60'` for `e_red:60`), or a whole transformation for effects that need
 * other keys of their component (`co_`, `x_`…) or a layer (blend modes); `sample` picks the
 * picture (default the photo).
 */
export type EffectExample = string | {
  readonly args?: string;
  readonly transformation?: string;
  readonly sample?: GallerySample;
};

export interface EffectDef {
  /** One line for the gallery: what the effect does. */
  doc: string;
  /** At least one example (the gallery test fails on an effect without). */
  examples: readonly EffectExample[];
  /** Raw `:`-separated arguments after the name → typed arguments; throws INVALID_PARAM. */
  parse(args: string[], raw: string): EffectArg[];
  /** The last arguments may be a colour (`e_trim:10:red`): parsed into `colour`. */
  colour?: boolean;
  /** Canonical text of the parsed arguments, when joining them with `:` would not parse back. */
  canonical?(args: EffectArg[]): string[];
  apply(canvas: Canvas, v: EffectValue, ctx: ApplyContext, component: Component): Promise<void>;
  /**
   * A layer blend mode (transforms/effects/blend.ts): the effect is not applied to pixels but
   * moved into the enclosing layer's placement by the plan's grouping.
   */
  blend?: string;
  /** Size after the effect, from the plan (absent: unchanged). */
  bounds?(d: PlanDims, v: EffectValue, bc: BoundsContext, component: Component): PlanDims | Promise<PlanDims>;
  /**
   * Keys of its component the effect reads itself (x, y, w, h naming a region or an offset):
   * the geometry owner leaves them out of that component (TransformDef.claims).
   */
  claims?: readonly PlanKey[];
  /** Keys of its component the effect reads as settings (`co_`; TransformDef.reads). */
  reads?: readonly PlanKey[];
  /** Adjusts the plan's output settings (TransformDef.output). */
  output?(v: EffectValue, out: PlannedOutput): PlannedOutput;
}

export type EffectFamily = Readonly<Record<string, EffectDef>>;

/** An integer argument in range; the error names the whole value (`blur:abc`). */
export function intArg(arg: string, raw: string, lo: number, hi: number): number {
  try {
    return parseIntIn('effect', arg, lo, hi);
  } catch {
    throw new Errors.INVALID_PARAM('effect', raw);
  }
}

/** Parser of one optional integer argument in [lo, hi], `def` when absent. */
export const num = (lo: number, hi: number, def: number) => (args: string[], raw: string): EffectArg[] => {
  if (args.length > 1) throw new Errors.INVALID_PARAM('effect', raw);
  return [args.length ? intArg(args[0], raw, lo, hi) : def];
};

/** Parser of an effect that takes no argument. */
export const none = (args: string[], raw: string): EffectArg[] => {
  if (args.length) throw new Errors.INVALID_PARAM('effect', raw);
  return [];
};
