/**
 * Automatic and adaptive tone effects: each measures the image (or each pixel's own
 * saturation/luminance) and adjusts by it; the blend argument mixes the result with the
 * original (Cloudinary's "blend", 100 = the adjusted image only).
 *
 * | effect | args (default) |
 * |---|---|
 * | vibrance | -100..100 (20): saturation raised (lowered) most where it is low: ×(1+N/100·(1−s)) |
 * | fill_light | blend 0-100 (100), bias -100..100 (0): lifts shadows; bias > 0 reaches further into mid-tones |
 * | auto_color | blend 0-100 (100): white balance: the near-neutral pixels' mean made grey (grey world when they are under 5 %) |
 * | auto_brightness | blend 0-100 (100): gamma that puts the mean luma at mid-grey |
 * | auto_contrast | blend 0-100 (100): luma stretched so 0.5 % / 99.5 % reach black / white |
 * | improve | [indoor\|outdoor\|auto (outdoor)][:blend 0-100 (100)] — also `improve:N`: contrast stretch + white balance (indoor: full, outdoor: half) + saturation (outdoor ×1.15, indoor ×1.05) + indoor brightening; auto picks indoor when the mean luma is below 40 % |
 */
import { Errors } from '../../src/errors.ts';
import type { Canvas } from '../../src/render/canvas.ts';
import { intArg, num, type EffectFamily } from './types.ts';
import { ints, luma, lumaPercentiles, mapRgb, means } from './pixels.ts';

/**
 * The colour a white balance should make grey: the mean of the near-neutral pixels (chroma
 * under a third of their brightest channel, neither black nor clipped) when they are at least
 * 5 % of the picture, else the mean of all (grey world). A scene dominated by one colour (a red
 * saucer on wood) keeps its colour; a cast over everything is still removed.
 */
function neutralMeans(data: Buffer, ch: number): { r: number; g: number; b: number; l: number } {
  let r = 0, g = 0, b = 0, n = 0;
  for (let i = 0; i < data.length; i += ch) {
    const R = data[i], G = data[i + 1], B = data[i + 2];
    const max = Math.max(R, G, B), min = Math.min(R, G, B);
    if (max < 24 || max > 250 || max - min > max / 3) continue;
    r += R; g += G; b += B; n++;
  }
  if (n < 0.05 * (data.length / ch)) return means(data, ch);
  r /= n; g /= n; b /= n;
  return { r, g, b, l: luma(r, g, b) };
}

/** White-balance gains (toward neutral, see neutralMeans), `strength` 0-1 of the full correction. */
function whiteBalance(data: Buffer, ch: number, strength: number): [number, number, number] {
  const m = neutralMeans(data, ch);
  const g = (v: number) => 1 + ((v > 0 ? m.l / v : 1) - 1) * strength;
  return [g(m.r), g(m.g), g(m.b)];
}

/** Move r, g, b away from (toward) their luma by factor s. */
function saturate(out: number[], s: number): void {
  const l = luma(out[0], out[1], out[2]);
  out[0] = l + (out[0] - l) * s; out[1] = l + (out[1] - l) * s; out[2] = l + (out[2] - l) * s;
}

async function improve(c: Canvas, mode: string, blend: number): Promise<void> {
  let gains: [number, number, number] = [1, 1, 1];
  let lo = 0, hi = 255, gamma = 1, sat = 1;
  await mapRgb(c, (r, g, b, out) => {
    out[0] = r * gains[0]; out[1] = g * gains[1]; out[2] = b * gains[2];
    for (let j = 0; j < 3; j++) out[j] = 255 * (Math.max(0, Math.min(1, (out[j] - lo) / (hi - lo))) ** gamma);
    saturate(out, sat);
  }, blend, (data, ch) => {
    const m = means(data, ch);
    const indoor = mode === 'indoor' || (mode === 'auto' && m.l < 0.4 * 255);
    gains = whiteBalance(data, ch, indoor ? 1 : 0.5);
    [lo, hi] = lumaPercentiles(data, ch, 0.01, 0.99);
    // brighten a dark indoor picture: mean luma after stretching toward 45 %
    const stretched = Math.max(1, Math.min(254, ((m.l - lo) / (hi - lo)) * 255));
    gamma = indoor ? Math.min(1, Math.log(0.45) / Math.log(stretched / 255)) : 1;
    sat = indoor ? 1.05 : 1.15;
  });
}

export const TONE_EFFECTS: EffectFamily = {
  vibrance: {
    doc: 'Saturation raised most where it is low (dull colours move most).',
    examples: ['', '80', '-60'],
    parse: num(-100, 100, 20),
    async apply(c, v) {
      const k = (v.args[0] as number) / 100;
      await mapRgb(c, (r, g, b, out) => {
        const max = Math.max(r, g, b), min = Math.min(r, g, b);
        const s = max > 0 ? (max - min) / max : 0;
        out[0] = r; out[1] = g; out[2] = b;
        saturate(out, 1 + k * (1 - s));
      });
    },
  },
  fill_light: {
    doc: 'Shadows lifted; the bias reaches into mid-tones.',
    examples: ['', '70:60'],
    parse: ints([0, 100, 100], [-100, 100, 0]),
    async apply(c, v) {
      const [blend, bias] = v.args as number[];
      // gain on luma l (0-1): 1 + 1.5·(1−l)^p, p from 4 (bias −100: deep shadows only) to 1 (+100)
      const p = 2 ** (1 - bias / 100);
      const lut = new Float64Array(256);
      for (let l = 0; l < 256; l++) lut[l] = 1 + 1.5 * (1 - l / 255) ** p;
      await mapRgb(c, (r, g, b, out) => {
        const k = lut[Math.round(luma(r, g, b))];
        out[0] = r * k; out[1] = g * k; out[2] = b * k;
      }, blend / 100);
    },
  },
  auto_color: {
    doc: 'White balance: the near-neutral pixels made grey (a dominant colour is kept).',
    examples: [''],
    parse: num(0, 100, 100),
    async apply(c, v) {
      let gains: [number, number, number] = [1, 1, 1];
      await mapRgb(c, (r, g, b, out) => { out[0] = r * gains[0]; out[1] = g * gains[1]; out[2] = b * gains[2]; },
        (v.args[0] as number) / 100, (data, ch) => { gains = whiteBalance(data, ch, 1); });
    },
  },
  auto_brightness: {
    doc: 'Gamma putting the mean luma at mid-grey.',
    examples: [''],
    parse: num(0, 100, 100),
    async apply(c, v) {
      let lut = new Float64Array(256);
      await mapRgb(c, (r, g, b, out) => { out[0] = lut[r]; out[1] = lut[g]; out[2] = lut[b]; }, (v.args[0] as number) / 100, (data, ch) => {
        const m = Math.max(1, Math.min(254, means(data, ch).l));
        const gamma = Math.log(0.5) / Math.log(m / 255);
        lut = lut.map((_, i) => 255 * (i / 255) ** gamma);
      });
    },
  },
  auto_contrast: {
    doc: 'Luma stretched so 0.5 % / 99.5 % reach black / white.',
    examples: [''],
    parse: num(0, 100, 100),
    async apply(c, v) {
      let lo = 0, hi = 255;
      const s = (x: number) => ((x - lo) * 255) / (hi - lo);
      await mapRgb(c, (r, g, b, out) => { out[0] = s(r); out[1] = s(g); out[2] = s(b); }, (v.args[0] as number) / 100, (data, ch) => {
        [lo, hi] = lumaPercentiles(data, ch, 0.005, 0.995);
      });
    },
  },
  improve: {
    doc: 'Contrast stretch, white balance and saturation (indoor, outdoor or auto).',
    examples: ['', 'indoor', 'outdoor:50'],
    parse(args, raw) {
      if (args.length > 2) throw new Errors.INVALID_PARAM('effect', raw);
      let mode = 'outdoor';
      let rest = args;
      if (args[0] !== undefined && !/^-?\d+$/.test(args[0])) {
        if (!['indoor', 'outdoor', 'auto'].includes(args[0])) throw new Errors.INVALID_PARAM('effect', raw);
        mode = args[0];
        rest = args.slice(1);
      }
      if (rest.length > 1) throw new Errors.INVALID_PARAM('effect', raw);
      return [mode, rest[0] !== undefined ? intArg(rest[0], raw, 0, 100) : 100];
    },
    apply: (c, v) => improve(c, v.args[0] as string, (v.args[1] as number) / 100),
  },
};
