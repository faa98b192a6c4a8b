/**
 * The effect families, one file each. `e_<name>` looks its name up here; a name in no family
 * is answered 400 "unsupported" (Cloudinary has many effects we do not perform: video, AI,
 * add-ons). Adding a family = one file + one line below.
 */
import type { EffectDef, EffectFamily } from './types.ts';
import { COLOUR_EFFECTS } from './colour.ts';
import { FILTER_EFFECTS } from './filter.ts';
import { FACE_EFFECTS } from './faces.ts';
import { TONE_EFFECTS } from './tone.ts';
import { ART_EFFECTS } from './art.ts';
import { SELECT_EFFECTS } from './select.ts';
import { COLORBLIND_EFFECTS } from './colorblind.ts';
import { REGION_EFFECTS } from './region.ts';
import { SHAPE_EFFECTS } from './shape.ts';
import { TEXTURE_EFFECTS } from './texture.ts';
import { VECTORIZE_EFFECTS } from './vectorize.ts';
import { BLEND_EFFECTS } from './blend.ts';
import { BGREMOVAL_EFFECTS } from './bgremoval.ts';

/** Each family table with its file (the gallery points to the file's argument table). */
export const EFFECT_FAMILIES: readonly { readonly file: string; readonly effects: EffectFamily }[] = [
  { file: 'colour.ts', effects: COLOUR_EFFECTS },
  { file: 'filter.ts', effects: FILTER_EFFECTS },
  { file: 'faces.ts', effects: FACE_EFFECTS },
  { file: 'tone.ts', effects: TONE_EFFECTS },
  { file: 'art.ts', effects: ART_EFFECTS },
  { file: 'select.ts', effects: SELECT_EFFECTS },
  { file: 'colorblind.ts', effects: COLORBLIND_EFFECTS },
  { file: 'region.ts', effects: REGION_EFFECTS },
  { file: 'shape.ts', effects: SHAPE_EFFECTS },
  { file: 'texture.ts', effects: TEXTURE_EFFECTS },
  { file: 'vectorize.ts', effects: VECTORIZE_EFFECTS },
  { file: 'blend.ts', effects: BLEND_EFFECTS },
  { file: 'bgremoval.ts', effects: BGREMOVAL_EFFECTS },
];

const BY_NAME: ReadonlyMap<string, EffectDef> = (() => {
  const m = new Map<string, EffectDef>();
  for (const family of EFFECT_FAMILIES) {
    for (const [name, def] of Object.entries(family.effects)) {
      if (m.has(name)) throw new Error(`effect ${name} is defined by two families`);
      m.set(name, def);
    }
  }
  return m;
})();

/** The effect called `name`, if any family performs it. */
export function effectDef(name: string): EffectDef | undefined {
  return BY_NAME.get(name);
}

/** Every effect name we perform (for the gallery and docs). */
export function effectNames(): string[] {
  return [...BY_NAME.keys()].sort();
}

export type { EffectDef, EffectValue, EffectFamily, EffectExample, GallerySample } from './types.ts';
