/**
 * Blend modes of a layer (Cloudinary "overlay blending effects"): `e_multiply`, `e_screen`,
 * `e_overlay`, `e_mask`. They take no argument and act on no pixels of their own: written in a
 * layer's opener (`l_icon,e_multiply`) or in its `fl_layer_apply` component
 * (`l_icon/e_multiply,fl_layer_apply`), the plan's layer grouping moves them into the layer's
 * placement (the `layerPlacement` hook of transforms/effect.ts), and src/render/layers.ts
 * composites the layer with that mode. Anywhere else they are a 400.
 *
 * | effect | composite |
 * |---|---|
 * | multiply | base × layer: darkens (white layer pixels keep the base) |
 * | screen | 1 − (1 − base)(1 − layer): lightens (black layer pixels keep the base) |
 * | overlay | multiply where the base is dark, screen where it is light: more contrast |
 * | mask | the layer's luminance × its alpha becomes the base's alpha over the layer's box; the base is transparent outside it (a grey JPEG works as a mask) |
 * | anti_removal[:level 1-100 (50)] | drawn over, but warped by a smooth random displacement (up to 0.5-4 % of the layer's size) and with an uneven alpha (up to 30 % less), so a watermark cannot be subtracted exactly; deterministic, so results cache |
 */
import { Errors } from '../../src/errors.ts';
import { none, num, type EffectDef, type EffectFamily } from './types.ts';

export const BLEND_MODES = ['multiply', 'screen', 'overlay', 'mask', 'anti_removal'] as const;
export type BlendMode = (typeof BLEND_MODES)[number];

function blendMode(name: BlendMode): EffectDef {
  return {
    parse: name === 'anti_removal' ? num(1, 100, 50) : none,
    blend: name,
    // The grouping takes blend modes out of every component before rendering.
    apply: () => Promise.reject(new Errors.INVALID_PARAM('effect', `${name} (only valid with a layer)`)),
  };
}

export const BLEND_EFFECTS: EffectFamily = Object.fromEntries(BLEND_MODES.map((m) => [m, blendMode(m)]));
