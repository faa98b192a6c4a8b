/**
 * `e_art:<filter>` — Cloudinary's 21 named artistic filters, as colour grades. Cloudinary does
 * not publish what each filter does; each is one row of the table below, applied per pixel in
 * this order: 3×3 recomb, per-channel multiply and add, contrast around mid-grey, saturation
 * (around the pixel's luma), blend toward a tint colour. The rows were chosen from the
 * character of Cloudinary's samples (warm, cool, faded, black and white…); every filter
 * gives a different picture (test/transforms/colour-effects.test.ts).
 */
import { Errors } from '../../src/errors.ts';
import { own } from '../args.ts';
import type { EffectFamily } from './types.ts';
import { luma, mapRgb } from './pixels.ts';

type Rgb = [number, number, number];
interface Grade {
  recomb?: [Rgb, Rgb, Rgb];
  mul?: Rgb;
  add?: Rgb;
  contrast?: number;
  sat?: number;
  tint?: { rgb: Rgb; k: number };
}

const SEPIA: [Rgb, Rgb, Rgb] = [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]];

export const ART_FILTERS: Readonly<Record<string, Grade>> = {
  al_dente: { mul: [1.08, 1.0, 0.9], add: [10, 5, 0], contrast: 0.95, sat: 1.1 },
  athena: { mul: [0.95, 1.0, 1.08], add: [5, 5, 10], contrast: 0.9, sat: 0.85 },
  audrey: { sat: 0, contrast: 1.25 },
  aurora: { sat: 1.15, tint: { rgb: [255, 102, 204], k: 0.12 } },
  daguerre: { recomb: SEPIA, contrast: 1.1 },
  eucalyptus: { mul: [0.92, 1.05, 1.0], sat: 0.9 },
  fes: { contrast: 1.05, tint: { rgb: [255, 153, 51], k: 0.15 } },
  frost: { mul: [0.95, 1.02, 1.12], add: [10, 10, 15], sat: 0.7 },
  hairspray: { add: [20, 15, 20], contrast: 0.85, sat: 0.9 },
  hokusai: { contrast: 1.15, tint: { rgb: [34, 85, 170], k: 0.15 } },
  incognito: { mul: [0.85, 0.85, 0.9], sat: 0.5 },
  linen: { contrast: 0.9, tint: { rgb: [245, 230, 200], k: 0.2 } },
  peacock: { mul: [0.9, 1.05, 1.05], sat: 1.3 },
  primavera: { mul: [1.02, 1.08, 0.95], add: [8, 8, 0], sat: 1.15 },
  quartz: { sat: 0.85, tint: { rgb: [230, 192, 208], k: 0.15 } },
  red_rock: { mul: [1.15, 0.95, 0.85], contrast: 1.1 },
  refresh: { add: [10, 10, 10], contrast: 1.05, sat: 1.2 },
  sizzle: { mul: [1.1, 1.0, 0.88], contrast: 1.1, sat: 1.35 },
  sonnet: { add: [20, 15, 10], contrast: 0.8, sat: 0.75 },
  ukulele: { mul: [1.08, 1.05, 0.85], sat: 1.2 },
  zorro: { mul: [0.97, 0.97, 1.03], contrast: 1.35, sat: 0 },
};

export const ART_EFFECTS: EffectFamily = {
  art: {
    doc: 'One of 21 named colour grades.',
    examples: Object.keys(ART_FILTERS),
    parse(args, raw) {
      if (args.length !== 1) throw new Errors.INVALID_PARAM('effect', raw);
      if (!own(ART_FILTERS, args[0])) {
        if (/^[a-z_]+$/.test(args[0])) throw new Errors.UNSUPPORTED(`e_${raw}`, `unknown art filter; one of ${Object.keys(ART_FILTERS).join(', ')}`);
        throw new Errors.INVALID_PARAM('effect', raw);
      }
      return [args[0]];
    },
    async apply(c, v) {
      const g = ART_FILTERS[v.args[0] as string];
      const mul = g.mul ?? [1, 1, 1], add = g.add ?? [0, 0, 0], con = g.contrast ?? 1, sat = g.sat ?? 1;
      const m = g.recomb;
      const tint = g.tint;
      await mapRgb(c, (r, gg, b, out) => {
        let x = r, y = gg, z = b;
        if (m) { x = m[0][0] * r + m[0][1] * gg + m[0][2] * b; y = m[1][0] * r + m[1][1] * gg + m[1][2] * b; z = m[2][0] * r + m[2][1] * gg + m[2][2] * b; }
        x = (x * mul[0] + add[0] - 128) * con + 128;
        y = (y * mul[1] + add[1] - 128) * con + 128;
        z = (z * mul[2] + add[2] - 128) * con + 128;
        const l = luma(x, y, z);
        x = l + (x - l) * sat; y = l + (y - l) * sat; z = l + (z - l) * sat;
        if (tint) { x += (tint.rgb[0] - x) * tint.k; y += (tint.rgb[1] - y) * tint.k; z += (tint.rgb[2] - z) * tint.k; }
        out[0] = x; out[1] = y; out[2] = z;
      });
    },
  },
};
