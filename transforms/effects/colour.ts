/**
 * Colour and tone effects: they change pixel values, never the size.
 *
 * | effect | args (default) |
 * |---|---|
 * | grayscale, blackwhite[:threshold 0-100 (50)] | |
 * | sepia | 1-100 (80) |
 * | brightness | -99..100 (80), multiplies luminance by 1+N/100 |
 * | brightness_hsb | -99..100 (80), multiplies HSB brightness (every channel) by 1+N/100 |
 * | contrast | -100..100 (50; Cloudinary documents 0, which would do nothing) |
 * | saturation | -100..100 (80) |
 * | gamma | -50..150 (0): each channel to the power 1/G, G = 1+N/50 (N ≥ 0) or 1/(1−N/50) (N < 0) |
 * | hue | -100..100 (80) → hue rotation N×1.8° |
 * | red, green, blue | -100..100 (0) → that channel × (1+N/100) |
 * | negate, normalize | |
 * | colorize | level 0-100 (100): blend toward the component's `co_` colour (default black) |
 * | tint | [equalize][:amount 0-100 (60)][:colour[:Np] or colour_Np]… (red): colours spread left to right at their positions (default evenly), overlaid on the luminance, blended by amount |
 * | recolor | 9 numbers (3×3 RGB matrix) or 16 (4×4 RGBA matrix), rows first |
 */
import { Errors } from '../../src/errors.ts';
import type { Canvas } from '../../src/render/canvas.ts';
import { colourCanonical, colourPart, parseNumberIn, type Rgba } from '../args.ts';
import { intArg, none, num, type EffectFamily } from './types.ts';
import { clamp8, luma, mapRgb, toRgb } from './pixels.ts';

async function toGrey(canvas: Canvas): Promise<void> {
  await canvas.op('grayscale', 'colour', (img) => img.grayscale());
  canvas.channels = canvas.hasAlpha ? 2 : 1;
}

/** Per-band multipliers/offsets for sharp's linear, alpha left alone. */
function bands(c: Canvas, rgb: [number, number, number], alpha: number): number[] {
  return c.hasAlpha ? [...rgb, alpha] : rgb;
}

/** `e_red`/`e_green`/`e_blue`: scale one channel. */
function channel(index: 0 | 1 | 2) {
  const name = ['red', 'green', 'blue'][index];
  return {
    doc: `The ${name} channel multiplied by 1+N/100.`,
    examples: ['60', '-60'],
    parse: num(-100, 100, 0),
    async apply(c: Canvas, v: { args: (number | string)[] }) {
      await toRgb(c);
      const k = 1 + (v.args[0] as number) / 100;
      const a: [number, number, number] = [1, 1, 1];
      a[index] = k;
      await c.op('linear', 'colour', (img) => img.linear(bands(c, a, 1), bands(c, [0, 0, 0], 0)));
    },
  };
}

/**
 * `rgb` then `ff0000` come apart at `:`: join them back. Returns the tokens of a tint or
 * replace_color value with colours as single tokens.
 */
export function joinColourTokens(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].toLowerCase() === 'rgb' && i + 1 < args.length) { out.push(`rgb:${args[i + 1]}`); i++; } else out.push(args[i]);
  }
  return out;
}

const POS = /^(\d{1,3})p$/;

/** Tint arguments → [equalize 0|1, amount, colour, pos, colour, pos, …] (pos -1 = spread evenly). */
function parseTint(args: string[], raw: string): (number | string)[] {
  const t = joinColourTokens(args);
  let i = 0;
  let equalize = 0;
  if (t[i] === 'equalize') { equalize = 1; i++; }
  let amount = 60;
  if (t[i] !== undefined && /^-?\d+$/.test(t[i])) amount = intArg(t[i++], raw, 0, 100);
  const stops: (number | string)[] = [];
  for (; i < t.length; i++) {
    let tok = t[i];
    let pos = -1;
    const under = /^(.*)_(\d{1,3})p$/.exec(tok);
    if (under) { tok = under[1]; pos = Number(under[2]); } else if (t[i + 1] !== undefined && POS.test(t[i + 1])) { pos = Number(POS.exec(t[++i])![1]); }
    if (pos > 100) throw new Errors.INVALID_PARAM('effect', raw);
    stops.push(colourCanonical(colourPart('effect', tok, raw)), pos);
  }
  if (stops.length > 20) throw new Errors.INVALID_PARAM('effect', raw);
  if (!stops.length) stops.push('rgb:ff0000', -1);
  return [equalize, amount, ...stops];
}

function tintCanonical(args: (number | string)[]): string[] {
  const out: string[] = [];
  if (args[0]) out.push('equalize');
  out.push(String(args[1]));
  for (let i = 2; i < args.length; i += 2) {
    out.push(String(args[i]));
    if ((args[i + 1] as number) >= 0) out.push(`${args[i + 1]}p`);
  }
  return out;
}

/** Histogram-equalize the luma of raw RGB pixels in place (channels scaled alike). */
function equalizeLuma(data: Buffer, ch: number): void {
  const hist = new Float64Array(256);
  for (let i = 0; i < data.length; i += ch) hist[Math.round(luma(data[i], data[i + 1], data[i + 2]))]++;
  const n = data.length / ch;
  const map = new Float64Array(256);
  let acc = 0;
  for (let v = 0; v < 256; v++) { acc += hist[v]; map[v] = (acc / n) * 255; }
  for (let i = 0; i < data.length; i += ch) {
    const l = Math.round(luma(data[i], data[i + 1], data[i + 2]));
    const k = l > 0 ? map[l] / l : 0;
    for (let j = 0; j < 3; j++) data[i + j] = clamp8(l > 0 ? data[i + j] * k : map[0]);
  }
}

/** The tint colour at x (0-1) along the stops. */
function gradientAt(stops: { c: Rgba; p: number }[], x: number, out: number[]): void {
  if (x <= stops[0].p || stops.length === 1) { out[0] = stops[0].c.r; out[1] = stops[0].c.g; out[2] = stops[0].c.b; return; }
  for (let i = 1; i < stops.length; i++) {
    const a = stops[i - 1], b = stops[i];
    if (x <= b.p) {
      const t = b.p > a.p ? (x - a.p) / (b.p - a.p) : 1;
      out[0] = a.c.r + (b.c.r - a.c.r) * t; out[1] = a.c.g + (b.c.g - a.c.g) * t; out[2] = a.c.b + (b.c.b - a.c.b) * t;
      return;
    }
  }
  const l = stops[stops.length - 1].c;
  out[0] = l.r; out[1] = l.g; out[2] = l.b;
}

/** Overlay blend of a colour channel on a luminance (keeps white white and black black). */
const overlay = (l: number, c: number): number => (l < 128 ? (2 * l * c) / 255 : 255 - (2 * (255 - l) * (255 - c)) / 255);

const RECOLOR_NUM = /^-?(?:\d+\.?\d*|\.\d+)$/;

export const COLOUR_EFFECTS: EffectFamily = {
  grayscale: {
    doc: 'Shades of grey (luminance).',
    examples: [''],
    parse: none,
    apply: toGrey,
  },
  blackwhite: {
    doc: 'Black and white by a threshold (0-100).',
    examples: ['', '30'],
    parse: num(0, 100, 50),
    async apply(c, v) {
      await c.op('threshold', 'colour', (img) => img.threshold(Math.round(((v.args[0] as number) / 100) * 255)));
      c.channels = c.hasAlpha ? 2 : 1;
    },
  },
  sepia: {
    doc: 'A sepia tone, mixed with the original by strength.',
    examples: ['', '40'],
    parse: num(1, 100, 80),
    async apply(c, v) {
      const k = (v.args[0] as number) / 100;
      const s = [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]];
      const m = s.map((row, i) => row.map((val, j) => (i === j ? 1 - k : 0) + k * val)) as [[number, number, number], [number, number, number], [number, number, number]];
      await toRgb(c);
      await c.op('recomb', 'colour', (img) => img.recomb(m));
    },
  },
  brightness: {
    doc: 'Luminance multiplied by 1+N/100.',
    examples: ['', '-40'],
    parse: num(-99, 100, 80),
    apply: (c, v) => c.op('modulate', 'colour', (img) => img.modulate({ brightness: 1 + (v.args[0] as number) / 100 })),
  },
  brightness_hsb: {
    doc: 'Every channel multiplied by 1+N/100 (HSB brightness).',
    examples: ['', '-40'],
    parse: num(-99, 100, 80),
    async apply(c, v) {
      const k = 1 + (v.args[0] as number) / 100;
      const n = c.hasAlpha ? c.channels - 1 : c.channels;
      await c.op('linear', 'colour', (img) => img.linear([...Array(n).fill(k), ...(c.hasAlpha ? [1] : [])], Array(c.channels).fill(0)));
    },
  },
  saturation: {
    doc: 'Colour saturation scaled by 1+N/100.',
    examples: ['', '-70'],
    parse: num(-100, 100, 80),
    apply: (c, v) => c.op('modulate', 'colour', (img) => img.modulate({ saturation: Math.max(0, 1 + (v.args[0] as number) / 100) })),
  },
  contrast: {
    doc: 'Contrast around mid-grey scaled by 1+N/100.',
    examples: ['', '-50'],
    parse: num(-100, 100, 50),
    apply(c, v) {
      const a = 1 + (v.args[0] as number) / 100;
      return c.op('linear', 'colour', (img) => img.linear(a, 128 * (1 - a)));
    },
  },
  gamma: {
    doc: 'Mid-tones brightened (positive) or darkened (negative); 0 is neutral.',
    examples: ['50', '-40'],
    parse: num(-50, 150, 0),
    async apply(c, v) {
      // exponent 1/G on each channel: G = 1+N/50 above 0 (150 → 4), 1/(1−N/50) below (−50 → ½)
      const n = v.args[0] as number;
      const g = n >= 0 ? 1 + n / 50 : 1 / (1 - n / 50);
      if (g === 1) return;
      const lut = Array.from({ length: 256 }, (_, i) => 255 * (i / 255) ** (1 / g));
      await mapRgb(c, (r, gg, b, out) => { out[0] = lut[r]; out[1] = lut[gg]; out[2] = lut[b]; });
    },
  },
  negate: {
    doc: 'The colours inverted (alpha kept).',
    examples: [''],
    parse: none,
    apply: (c) => c.op('negate', 'colour', (img) => img.negate({ alpha: false })),
  },
  normalize: {
    doc: 'Each channel stretched to the full range.',
    examples: [''],
    parse: none,
    apply: (c) => c.op('normalise', 'colour', (img) => img.normalise()),
  },
  hue: {
    doc: 'Hue rotated by N×1.8 degrees.',
    examples: ['', '-40'],
    parse: num(-100, 100, 80),
    async apply(c, v) {
      await toRgb(c);
      await c.op('modulate', 'colour', (img) => img.modulate({ hue: Math.round((v.args[0] as number) * 1.8) }));
    },
  },
  red: channel(0),
  green: channel(1),
  blue: channel(2),
  colorize: {
    doc: "Blended toward the component's co_ colour (default black) by level.",
    examples: [{ transformation: 'co_rgb:2f6fde,e_colorize:40' }, { transformation: 'co_orange,e_colorize:70' }],
    parse: num(0, 100, 100),
    reads: ['colour'],
    async apply(c, v, _ctx, component) {
      const k = (v.args[0] as number) / 100;
      const col = component.colour ?? { r: 0, g: 0, b: 0, alpha: 1 };
      await toRgb(c);
      await c.op('linear', 'colour', (img) => img.linear(bands(c, [1 - k, 1 - k, 1 - k], 1), bands(c, [k * col.r, k * col.g, k * col.b], 0)));
    },
  },
  tint: {
    doc: 'Colours spread left to right at their positions, overlaid on the luminance.',
    examples: ['', '80:blue:green', 'equalize:80:red:20p:blue:80p'],
    parse: parseTint,
    canonical: tintCanonical,
    async apply(c, v) {
      const [equalize, amount, ...rest] = v.args as [number, number, ...(string | number)[]];
      const n = rest.length / 2;
      const stops = Array.from({ length: n }, (_, i) => {
        const p = rest[2 * i + 1] as number;
        return { c: colourPart('effect', rest[2 * i] as string, String(rest[2 * i])), p: p >= 0 ? p / 100 : n === 1 ? 0 : i / (n - 1) };
      }).sort((a, b) => a.p - b.p);
      await c.ensureDims();
      const w = Math.max(1, c.width - 1);
      const col = [0, 0, 0];
      await mapRgb(c, (r, g, b, out, x) => {
        const l = luma(r, g, b);
        gradientAt(stops, x / w, col);
        out[0] = overlay(l, col[0]); out[1] = overlay(l, col[1]); out[2] = overlay(l, col[2]);
      }, amount / 100, equalize ? equalizeLuma : undefined);
    },
  },
  recolor: {
    doc: 'A 3×3 (RGB) or 4×4 (RGBA) colour matrix, rows first.',
    examples: ['0:0:1:0:1:0:1:0:0', '0.5:0.5:0:0.3:0.7:0:0:0.2:0.8'],
    parse(args, raw) {
      if ((args.length !== 9 && args.length !== 16) || !args.every((a) => RECOLOR_NUM.test(a))) throw new Errors.INVALID_PARAM('effect', raw);
      return args.map((a) => parseNumberIn('effect', a, -100, 100));
    },
    async apply(c, v) {
      const m = v.args as number[];
      const n = m.length === 9 ? 3 : 4;
      await toRgb(c);
      if (n === 4 && !c.hasAlpha) {
        await c.op('ensureAlpha', 'colour', (img) => img.ensureAlpha());
        c.markAlpha();
        // sharp adds the alpha band after its recomb: the matrix must see four bands
        await c.materialize();
      }
      const rows = Array.from({ length: n }, (_, i) => m.slice(i * n, i * n + n));
      if (n === 3 && c.hasAlpha) {
        // sharp's recomb takes as many rows as bands: keep alpha as it is.
        rows.forEach((r) => r.push(0));
        rows.push([0, 0, 0, 1]);
      }
      await c.op('recomb', 'colour', (img) => img.recomb(rows as Parameters<typeof img.recomb>[0]));
    },
  },
};
