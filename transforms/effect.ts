/**
 * `e_<name>[:<args>]` — effects (Cloudinary `effect`). One effect per component, applied after
 * geometry. The effects themselves live in family tables under transforms/effects/ (one file
 * per family, each with its argument table); names Cloudinary has that no family performs are
 * answered 400 "unsupported".
 */
import { defineTransform } from './types.ts';
import { colourCanonical, parseColour, type Rgba } from './args.ts';
import { Errors } from '../src/errors.ts';
import { effectDef, type EffectValue } from './effects/index.ts';

export type { EffectValue } from './effects/index.ts';

declare module './types.ts' {
  interface PlanValues { effect: EffectValue }
}

const NONE: readonly never[] = [];

export const effect = defineTransform({
  key: 'e', planKey: 'effect', name: 'effect', phase: 'effect',
  computes: 'parts',
  bounds: (v, d, component, bc) => effectDef(v.name)?.bounds?.(d, v, bc, component) ?? d,
  claims: (v) => effectDef(v.name)?.claims ?? NONE,
  reads: (v) => effectDef(v.name)?.reads ?? NONE,
  output: (v, out) => effectDef(v.name)?.output?.(v, out) ?? out,
  parse(raw) {
    const [name, ...rest] = raw.split(':');
    const def = effectDef(name);
    if (!def) {
      if (/^[a-z_]+$/.test(name)) throw new Errors.UNSUPPORTED(`e_${name}`, 'this effect is not supported');
      throw new Errors.INVALID_PARAM('effect', raw);
    }
    let args = rest;
    let colour: Rgba | undefined;
    if (def.colour && rest.length >= 2) {
      colour = parseColour('effect', rest.slice(1).join(':'));
      args = rest.slice(0, 1);
    }
    return { name, args: def.parse(args, raw), ...(colour ? { colour } : {}) };
  },
  // The colour keeps its alpha: `e_trim:10:rgb:ff000080` and `e_trim:10:red` trim differently.
  canonical: (v) => [v.name, ...(effectDef(v.name)?.canonical?.(v.args) ?? v.args)].join(':') + (v.colour ? `:${colourCanonical(v.colour)}` : ''),
  apply: (canvas, v, component, ctx) => effectDef(v.name)!.apply(canvas, v, ctx, component),
  // Blend modes (transforms/effects/blend.ts) say how the enclosing layer is composited.
  layerPlacement: (v) => {
    const blend = effectDef(v.name)?.blend;
    return blend ? { blend, ...(v.args.length ? { blendLevel: v.args[0] } : {}) } : undefined;
  },
});
