/**
 * Blend modes of a layer (Cloudinary "overlay blending effects"): `e_multiply`, `e_screen`,
 * `e_overlay`, `e_mask`, `e_anti_removal[:level]`. They act on no pixels of their own: written
 * in a layer's opener (`l_icon,e_multiply`) or in its `fl_layer_apply` component
 * (`l_icon/e_multiply,fl_layer_apply`), the plan's layer grouping moves them into the layer's
 * placement (the `layerPlacement` hook of transforms/effect.ts), and src/render/layers.ts
 * composites the layer as the mode's LAYER_BLENDS entry says (sharp's composite mode, and an
 * optional preparation of the layer's pixels). Anywhere else they are a 400.
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
import { random } from './raw-frames.ts';

/** A layer's pixels, as src/render/layers.ts renders them. */
export interface LayerRaw {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** How src/render/layers.ts composites a layer with this blend mode. */
export interface LayerBlend {
  /** sharp's composite mode; `dest-in` cuts the base (kept where the layer is opaque, never grown). */
  readonly mode: 'over' | 'multiply' | 'screen' | 'overlay' | 'dest-in';
  /** The layer's pixels before compositing (`level`: the effect's argument, if any). */
  prepare?(l: LayerRaw, level: number | undefined): LayerRaw;
}

export const BLEND_MODES = ['multiply', 'screen', 'overlay', 'mask', 'anti_removal'] as const;
export type BlendMode = (typeof BLEND_MODES)[number];

/** `e_mask`: the layer as RGBA whose alpha is its luminance (Rec. 601) times its alpha. */
function luminanceMask(l: LayerRaw): LayerRaw {
  const n = l.width * l.height, c = l.channels;
  const out = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    const o = i * c;
    const lum = c >= 3 ? 0.299 * l.data[o] + 0.587 * l.data[o + 1] + 0.114 * l.data[o + 2] : l.data[o];
    const a = c === 2 || c === 4 ? l.data[o + c - 1] : 255;
    out[i * 4 + 3] = Math.round((lum * a) / 255);
  }
  return { data: out, width: l.width, height: l.height, channels: 4 };
}

/**
 * `e_anti_removal[:level]`: the layer warped by a smooth random displacement field (three
 * sinusoids per axis, amplitude 0.5-4 % of the layer's larger side) and its alpha made uneven
 * (down to 70 % at level 100), so it cannot be subtracted from the result exactly. Seeded by
 * the level and the layer's size: the same URL always gives the same pixels.
 */
function antiRemoval(l: LayerRaw, level: number): LayerRaw {
  const { width: w, height: h, channels: c } = l;
  // The same seed gives the same distortion, so results cache.
  const rnd = random(level * 7919 + w * 31 + h);
  const amp = Math.max(1, (0.005 + 0.035 * (level / 100)) * Math.max(w, h));
  const waves = (n: number) => Array.from({ length: n }, () => ({ fx: (0.5 + 3 * rnd()) / w, fy: (0.5 + 3 * rnd()) / h, ph: rnd() * 2 * Math.PI, a: 0.3 + 0.7 * rnd() }));
  const wx = waves(3), wy = waves(3), wa = waves(3);
  const field = (ws: typeof wx, x: number, y: number) => ws.reduce((s, v) => s + v.a * Math.sin(2 * Math.PI * (v.fx * x + v.fy * y) + v.ph), 0) / ws.reduce((s, v) => s + v.a, 0);
  const out = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const sx = Math.min(w - 1, Math.max(0, Math.round(x + amp * field(wx, x, y))));
    const sy = Math.min(h - 1, Math.max(0, Math.round(y + amp * field(wy, x, y))));
    const i = (sy * w + sx) * c, o = (y * w + x) * 4;
    out[o] = l.data[i]; out[o + 1] = l.data[i + (c >= 3 ? 1 : 0)]; out[o + 2] = l.data[i + (c >= 3 ? 2 : 0)];
    const a = c === 2 || c === 4 ? l.data[i + c - 1] : 255;
    out[o + 3] = Math.round(a * (1 - 0.15 * (level / 100) * (1 + field(wa, x, y))));
  }
  return { data: out, width: w, height: h, channels: 4 };
}

const LAYER_BLENDS: Readonly<Record<BlendMode, LayerBlend>> = {
  multiply: { mode: 'multiply' },
  screen: { mode: 'screen' },
  overlay: { mode: 'overlay' },
  mask: { mode: 'dest-in', prepare: luminanceMask },
  anti_removal: { mode: 'over', prepare: (l, level) => antiRemoval(l, level ?? 50) },
};

/** The compositing of the blend mode called `name` (a layer placement's `blend`). */
export function layerBlend(name: string): LayerBlend | undefined {
  return Object.hasOwn(LAYER_BLENDS, name) ? LAYER_BLENDS[name as BlendMode] : undefined;
}

/** What each mode does, in one line (the gallery's text). */
const BLEND_DOCS: Readonly<Record<BlendMode, string>> = {
  multiply: 'The layer multiplies the base: darkens (white keeps the base).',
  screen: 'The layer screens the base: lightens (black keeps the base).',
  overlay: 'Multiply where the base is dark, screen where it is light.',
  mask: "The layer's luminance × alpha becomes the base's alpha; outside the layer the base is transparent.",
  anti_removal: 'The layer drawn warped and unevenly transparent, so it cannot be subtracted.',
};

/** A layer as the gallery shows the blend modes: the logo, 60 % of the base's width, centred. */
const BLEND_LAYER = 'l_logo-cutout,w_0.6,fl_relative';

function blendMode(name: BlendMode): EffectDef {
  return {
    doc: BLEND_DOCS[name],
    examples: name === 'anti_removal'
      ? [{ transformation: `${BLEND_LAYER}/e_anti_removal,fl_layer_apply` }, { transformation: `${BLEND_LAYER}/e_anti_removal:100,fl_layer_apply,g_south_east` }]
      : [{ transformation: `${BLEND_LAYER}/e_${name},fl_layer_apply` }],
    parse: name === 'anti_removal' ? num(1, 100, 50) : none,
    blend: name,
    // The grouping takes blend modes out of every component before rendering.
    apply: () => Promise.reject(new Errors.INVALID_PARAM('effect', `${name} (only valid with a layer)`)),
  };
}

export const BLEND_EFFECTS: EffectFamily = Object.fromEntries(BLEND_MODES.map((m) => [m, blendMode(m)]));
