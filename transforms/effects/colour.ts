/**
 * Colour and tone effects: they change pixel values, never the size.
 *
 * | effect | args (default) |
 * |---|---|
 * | grayscale, blackwhite[:threshold 0-100 (50)] | |
 * | sepia | 1-100 (80) |
 * | brightness | -99..100 (80), multiplies luminance by 1+N/100 |
 * | contrast | -100..100 (50; Cloudinary documents 0, which would do nothing) |
 * | saturation | -100..100 (80) |
 * | gamma | -50..150 (0) → exponent |
 * | hue | -100..100 (80) → hue rotation N×1.8° |
 * | vibrance | -100..100 (20) → saturation 1+N/200 |
 * | negate, auto_contrast, normalize, auto_brightness | |
 * | improve | [indoor\|outdoor (outdoor)][:strength 0-100 (100)] |
 */
import { Errors } from '../../src/errors.ts';
import type { Canvas } from '../../src/render/canvas.ts';
import { intArg, none, num, type EffectFamily } from './types.ts';

async function toGrey(canvas: Canvas): Promise<void> {
  await canvas.op('grayscale', 'colour', (img) => img.grayscale());
  canvas.channels = canvas.hasAlpha ? 2 : 1;
}

export const COLOUR_EFFECTS: EffectFamily = {
  grayscale: { parse: none, apply: toGrey },
  blackwhite: {
    parse: num(0, 100, 50),
    async apply(c, v) {
      await c.op('threshold', 'colour', (img) => img.threshold(Math.round(((v.args[0] as number) / 100) * 255)));
      c.channels = c.hasAlpha ? 2 : 1;
    },
  },
  sepia: {
    parse: num(1, 100, 80),
    async apply(c, v) {
      const k = (v.args[0] as number) / 100;
      const s = [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]];
      const m = s.map((row, i) => row.map((val, j) => (i === j ? 1 - k : 0) + k * val)) as [[number, number, number], [number, number, number], [number, number, number]];
      if (c.channels < 3) await c.op('colourspace', 'colour', (img) => img.toColourspace('srgb'));
      await c.op('recomb', 'colour', (img) => img.recomb(m));
      c.channels = c.hasAlpha ? 4 : 3;
    },
  },
  brightness: {
    parse: num(-99, 100, 80),
    apply: (c, v) => c.op('modulate', 'colour', (img) => img.modulate({ brightness: 1 + (v.args[0] as number) / 100 })),
  },
  saturation: {
    parse: num(-100, 100, 80),
    apply: (c, v) => c.op('modulate', 'colour', (img) => img.modulate({ saturation: Math.max(0, 1 + (v.args[0] as number) / 100) })),
  },
  contrast: {
    parse: num(-100, 100, 50),
    apply(c, v) {
      const a = 1 + (v.args[0] as number) / 100;
      return c.op('linear', 'colour', (img) => img.linear(a, 128 * (1 - a)));
    },
  },
  gamma: {
    parse: num(-50, 150, 0),
    apply(c, v) {
      // Cloudinary's 0 is neutral; positive brightens mid-tones.
      const g = Math.max(1, Math.min(3, 1 + (v.args[0] as number) / 50));
      return c.op('gamma', 'colour', (img) => img.gamma(2.2, Math.max(1, 2.2 / g)));
    },
  },
  negate: { parse: none, apply: (c) => c.op('negate', 'colour', (img) => img.negate({ alpha: false })) },
  auto_contrast: { parse: none, apply: (c) => c.op('normalise', 'colour', (img) => img.normalise()) },
  normalize: { parse: none, apply: (c) => c.op('normalise', 'colour', (img) => img.normalise()) },
  hue: {
    parse: num(-100, 100, 80),
    apply: (c, v) => c.op('modulate', 'colour', (img) => img.modulate({ hue: Math.round((v.args[0] as number) * 1.8) })),
  },
  vibrance: {
    parse: num(-100, 100, 20),
    apply: (c, v) => c.op('modulate', 'colour', (img) => img.modulate({ saturation: Math.max(0, 1 + (v.args[0] as number) / 200) })),
  },
  improve: {
    parse(args, raw) {
      if (args.length > 2 || (args[0] && !['indoor', 'outdoor'].includes(args[0]))) throw new Errors.INVALID_PARAM('effect', raw);
      return [args[0] ?? 'outdoor', args[1] ? intArg(args[1], raw, 0, 100) : 100];
    },
    async apply(c, v) {
      // stretch the luminance, then restore some colour the stretch washed out, blended by strength
      const k = (v.args[1] as number) / 100;
      await c.op('normalise', 'colour', (img) => img.normalise({ lower: 1, upper: 99 }));
      await c.op('modulate', 'colour', (img) => img.modulate({ saturation: 1 + 0.15 * k }));
    },
  },
  auto_brightness: { parse: none, apply: (c) => c.op('normalise', 'colour', (img) => img.normalise({ lower: 0, upper: 99 })) },
};
