/**
 * Colour-blindness effects.
 *
 * | effect | args (default) |
 * |---|---|
 * | simulate_colorblind | deuteranopia (default), protanopia, tritanopia, deuteranomaly, protanomaly, tritanomaly (Machado et al. 2009 matrices, severity 1 and 0.6), cone_monochromacy (blue-cone luminance), rod_monochromacy (luminance); applied to sRGB values |
 * | assist_colorblind | stripe strength 1-100 (10): diagonal stripes darken reddish areas (one direction) and greenish areas (the other), by strength %; `xray`: red–green differences are moved into blue and lightness (a daltonize matrix), so red and green no longer look alike to deuteranopes |
 */
import { Errors } from '../../src/errors.ts';
import { own } from '../args.ts';
import { intArg, type EffectFamily } from './types.ts';
import { mapRgb, toRgb } from './pixels.ts';

type M3 = [[number, number, number], [number, number, number], [number, number, number]];

const LUMA: [number, number, number] = [0.2126, 0.7152, 0.0722];
const BLUE_CONE: [number, number, number] = [0.01775, 0.10945, 0.87262];

export const SIMULATIONS: Readonly<Record<string, M3>> = {
  deuteranopia: [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.01182, 0.04294, 0.968881]],
  protanopia: [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
  tritanopia: [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.3039]],
  deuteranomaly: [[0.547494, 0.607765, -0.155259], [0.181692, 0.781742, 0.036566], [-0.01041, 0.027275, 0.983136]],
  protanomaly: [[0.38545, 0.769005, -0.154455], [0.100526, 0.829802, 0.069673], [-0.007442, -0.02219, 1.029632]],
  tritanomaly: [[1.104996, -0.046633, -0.058363], [-0.032137, 0.971635, 0.060503], [0.001336, 0.317922, 0.680742]],
  cone_monochromacy: [BLUE_CONE, BLUE_CONE, BLUE_CONE],
  rod_monochromacy: [LUMA, LUMA, LUMA],
};

/** Daltonize for deuteranopia: I + E·(I − S), E moving the lost red–green error into G and B. */
const XRAY: M3 = (() => {
  const S = SIMULATIONS.deuteranopia;
  const E = [[0, 0, 0], [0.7, 1, 0], [0.7, 0, 1]];
  const D = [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? 1 : 0) - S[i][j]));
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? 1 : 0) + E[i][0] * D[0][j] + E[i][1] * D[1][j] + E[i][2] * D[2][j])) as M3;
})();

/** Stripe period in pixels. */
const PERIOD = 8;

export const COLORBLIND_EFFECTS: EffectFamily = {
  simulate_colorblind: {
    doc: 'What a colour-blind viewer sees.',
    examples: ['', ...Object.keys(SIMULATIONS).filter((k) => k !== 'deuteranopia')],
    parse(args, raw) {
      if (args.length > 1 || (args[0] !== undefined && !own(SIMULATIONS, args[0]))) throw new Errors.INVALID_PARAM('effect', raw);
      return [args[0] ?? 'deuteranopia'];
    },
    async apply(c, v) {
      await toRgb(c);
      const m = SIMULATIONS[v.args[0] as string];
      const rows = c.hasAlpha ? [...m.map((r) => [...r, 0]), [0, 0, 0, 1]] : m;
      await c.op('recomb', 'colour', (img) => img.recomb(rows as M3));
    },
  },
  assist_colorblind: {
    doc: 'Stripes over reds and greens, or xray: red-green differences moved into blue and lightness.',
    examples: ['', '60', 'xray'],
    parse(args, raw) {
      if (args.length > 1) throw new Errors.INVALID_PARAM('effect', raw);
      if (args[0] === 'xray') return ['xray'];
      return [args[0] !== undefined ? intArg(args[0], raw, 1, 100) : 10];
    },
    async apply(c, v) {
      await toRgb(c);
      if (v.args[0] === 'xray') {
        const rows = c.hasAlpha ? [...XRAY.map((r) => [...r, 0]), [0, 0, 0, 1]] : XRAY;
        await c.op('recomb', 'colour', (img) => img.recomb(rows as M3));
        return;
      }
      const k = (v.args[0] as number) / 100;
      await mapRgb(c, (r, g, b, out, x, y) => {
        out[0] = r; out[1] = g; out[2] = b;
        const rg = (r - g) / 255;
        // reddish: r above g (and above b); greenish: g above r
        const redness = Math.max(0, Math.min(rg, (r - b) / 255)), greenness = Math.max(0, -rg);
        const w = Math.min(1, 4 * Math.max(redness, greenness));
        if (w === 0) return;
        const onStripe = redness >= greenness ? (x + y) % PERIOD < PERIOD / 2 : (((x - y) % PERIOD) + PERIOD) % PERIOD < PERIOD / 2;
        if (!onStripe) return;
        const f = 1 - k * w;
        out[0] = r * f; out[1] = g * f; out[2] = b * f;
      });
    },
  },
};
