/**
 * Texture effects: they change every pixel's colour by its neighbourhood or a pattern, never the
 * size; alpha is kept. Animations are processed frame by frame.
 *
 * | effect | args (default) |
 * |---|---|
 * | oil_paint | strength 0-100 (30) → brush radius 1+round(strength/20): each pixel takes the mean colour of the most frequent of 16 grey levels around it |
 * | cartoonify | [line strength 0-100 (50)][:colour reduction 0-100 (= line strength) \| bw]: median smoothing, posterized colours with a saturation boost, black edge lines |
 * | ordered_dither | map 0-18 (0): ImageMagick's threshold maps, 2 levels per channel (0 threshold, 1 checks, 2-5 ordered 2x2-8x8, 6-8 halftone angled 4-8, 9-12 halftone orthogonal 4-16, 13-18 circles 5-7 black/white) |
 * | noise | level 0-100 (20; Cloudinary documents 0, which would do nothing): Gaussian noise of sigma level/2 per channel, the same for the same URL |
 * | vignette | strength 0-100 (20): edges darkened by a radial gradient |
 */
import { Errors } from '../../src/errors.ts';
import { intArg, num, type EffectFamily } from './types.ts';
import { IN_PLACE, luma, random, redraw, viaSharp, type Raw } from './raw-frames.ts';

/** Colour channels of raw pixels (alpha excluded). */
const colours = (ch: number) => (ch >= 3 ? 3 : 1);

// ---- oil paint ------------------------------------------------------------------------

const OIL_LEVELS = 16;

function oilPaint(src: Raw, r: number): Buffer {
  const { width: w, height: h, channels: ch, data } = src;
  const nc = colours(ch);
  const out = Buffer.from(data);
  const bin = new Uint8Array(w * h);
  for (let i = 0, p = 0; i < w * h; i++, p += ch) bin[i] = Math.min(OIL_LEVELS - 1, (luma(data, p, ch) * OIL_LEVELS) >> 8);
  const count = new Int32Array(OIL_LEVELS);
  const sums = new Float64Array(OIL_LEVELS * 3);
  const column = (x: number, y0: number, y1: number, sign: number) => {
    if (x < 0 || x >= w) return;
    for (let y = y0; y <= y1; y++) {
      const i = y * w + x, b = bin[i], p = i * ch;
      count[b] += sign;
      for (let k = 0; k < nc; k++) sums[b * 3 + k] += sign * data[p + k];
    }
  };
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r), y1 = Math.min(h - 1, y + r);
    count.fill(0); sums.fill(0);
    for (let x = -r; x <= r; x++) column(x, y0, y1, 1);
    for (let x = 0; x < w; x++) {
      if (x > 0) { column(x - r - 1, y0, y1, -1); column(x + r, y0, y1, 1); }
      let best = 0;
      for (let b = 1; b < OIL_LEVELS; b++) if (count[b] > count[best]) best = b;
      const p = (y * w + x) * ch;
      for (let k = 0; k < nc; k++) out[p + k] = Math.round(sums[best * 3 + k] / count[best]);
    }
  }
  return out;
}

// ---- ordered dither -------------------------------------------------------------------

type ThresholdMap = { n: number; m: number; rank: number[] };

function bayer(n: number): number[] {
  if (n === 1) return [0];
  const half = bayer(n / 2), h = n / 2;
  const out = new Array<number>(n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const q = [0, 2, 3, 1][(y >= h ? 2 : 0) + (x >= h ? 1 : 0)];
      out[y * n + x] = 4 * half[(y % h) * h + (x % h)] + q;
    }
  }
  return out;
}

/** Cells ranked by a key (lowest key first): the threshold order of a clustered pattern. */
function ranked(n: number, m: number, key: (x: number, y: number) => number): number[] {
  const cells = Array.from({ length: n * m }, (_, i) => ({ i, k: key(i % n, Math.floor(i / n)) }));
  cells.sort((a, b) => a.k - b.k || a.i - b.i);
  const rank = new Array<number>(n * m);
  cells.forEach((c, r) => { rank[c.i] = r; });
  return rank;
}

/** Distance from the cell's centre: dots that grow from it (dark dots first when `dark`). */
function clustered(n: number, dark: boolean): ThresholdMap {
  const c = (n - 1) / 2;
  return { n, m: n, rank: ranked(n, n, (x, y) => (dark ? -1 : 1) * Math.hypot(x - c, y - c)) };
}

/** Two dots per cell on a 45° grid (an angled halftone screen). */
function angled(n: number): ThresholdMap {
  const c = (n - 1) / 2;
  return {
    n, m: n,
    rank: ranked(n, n, (x, y) => -Math.min(Math.hypot(x - c / 2, y - c / 2), Math.hypot(x - c / 2 - n / 2, y - c / 2 - n / 2),
      Math.hypot(x - c / 2 + n / 2, y - c / 2 - n / 2), Math.hypot(x - c / 2 - n / 2, y - c / 2 + n / 2), Math.hypot(x - c / 2 + n / 2, y - c / 2 + n / 2))),
  };
}

const DITHER_MAPS: readonly ThresholdMap[] = [
  { n: 1, m: 1, rank: [0] },
  { n: 2, m: 2, rank: [0, 1, 1, 0] },
  { n: 2, m: 2, rank: bayer(2) },
  { n: 3, m: 3, rank: [2, 6, 3, 5, 0, 8, 1, 7, 4] },
  { n: 4, m: 4, rank: bayer(4) },
  { n: 8, m: 8, rank: bayer(8) },
  angled(4), angled(6), angled(8),
  clustered(4, true), clustered(6, true), clustered(8, true), clustered(16, true),
  clustered(5, true), clustered(5, false), clustered(6, true), clustered(6, false), clustered(7, true), clustered(7, false),
];

function dither(src: Raw, map: ThresholdMap): void {
  const { width: w, height: h, channels: ch, data } = src;
  const nc = colours(ch);
  const levels = Math.max(...map.rank) + 2;
  const thr = map.rank.map((r) => ((r + 1) * 255) / levels);
  for (let y = 0; y < h; y++) {
    const row = (y % map.m) * map.n;
    for (let x = 0; x < w; x++) {
      const t = thr[row + (x % map.n)];
      const p = (y * w + x) * ch;
      for (let k = 0; k < nc; k++) data[p + k] = data[p + k] > t ? 255 : 0;
    }
  }
}

// ---- cartoonify -----------------------------------------------------------------------

async function cartoon(src: Raw, line: number, reduction: number, bw: boolean): Promise<Raw> {
  let img = await viaSharp(src, (s) => {
    let p = s.median(5);
    if (bw) p = p.grayscale();
    else p = p.modulate({ saturation: 1 + reduction / 200 });
    return p;
  });
  if (bw && img.channels !== src.channels) {
    // keep the channel layout (alpha stays where it was)
    img = await viaSharp(img, (s) => (src.channels === 2 || src.channels === 4 ? s.ensureAlpha() : s));
  }
  const { width: w, height: h, channels: ch, data } = img;
  const nc = colours(ch);
  const levels = Math.max(2, Math.round(2 + (100 - reduction) / 10));
  const step = 255 / (levels - 1);
  const grey = new Float32Array(w * h);
  for (let i = 0, p = 0; i < w * h; i++, p += ch) grey[i] = luma(data, p, ch);
  for (let i = 0, p = 0; i < w * h; i++, p += ch) for (let k = 0; k < nc; k++) data[p + k] = Math.round(Math.round(data[p + k] / step) * step);
  if (line > 0) {
    const threshold = 30 + (100 - line) * 1.5;
    const thick = line > 70;
    const edge = new Uint8Array(w * h);
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        const g = (dx: number, dy: number) => grey[(y + dy) * w + x + dx];
        const gx = g(1, -1) + 2 * g(1, 0) + g(1, 1) - g(-1, -1) - 2 * g(-1, 0) - g(-1, 1);
        const gy = g(-1, 1) + 2 * g(0, 1) + g(1, 1) - g(-1, -1) - 2 * g(0, -1) - g(1, -1);
        if (Math.hypot(gx, gy) / 4 > threshold / 4) edge[y * w + x] = 1;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const on = edge[i] || (thick && ((x > 0 && edge[i - 1]) || (y > 0 && edge[i - w])));
        if (!on) continue;
        for (let k = 0; k < nc; k++) data[i * ch + k] = 0;
      }
    }
  }
  return img;
}

export const TEXTURE_EFFECTS: EffectFamily = {
  oil_paint: {
    doc: "Brush strokes: each pixel takes the colour of its neighbourhood's most frequent tone.",
    examples: ['', '80'],
    parse: num(0, 100, 30),
    apply: (c, v, ctx) => redraw(c, {}, async (img) => {
      ctx.deadline.check('e_oil_paint');
      return { raw: { ...img, data: oilPaint(img, 1 + Math.round((v.args[0] as number) / 20)) }, step: IN_PLACE };
    }),
  },
  cartoonify: {
    doc: 'Smoothed, posterized colours with black edge lines (bw: grey).',
    examples: ['', '70:20', '50:bw'],
    parse(args, raw) {
      if (args.length > 2) throw new Errors.INVALID_PARAM('effect', raw);
      const line = args[0] ? intArg(args[0], raw, 0, 100) : 50;
      if (args[1] === 'bw') return [line, 'bw'];
      return [line, args[1] ? intArg(args[1], raw, 0, 100) : line];
    },
    apply: (c, v, ctx) => redraw(c, {}, async (img) => {
      ctx.deadline.check('e_cartoonify');
      const line = v.args[0] as number, bw = v.args[1] === 'bw';
      return { raw: await cartoon(img, line, bw ? line : (v.args[1] as number), bw), step: IN_PLACE };
    }),
  },
  ordered_dither: {
    doc: 'Two levels per channel through a threshold map (0-18).',
    examples: ['', '4', '12', '17'],
    parse: num(0, DITHER_MAPS.length - 1, 0),
    apply: (c, v) => redraw(c, {}, async (img) => {
      dither(img, DITHER_MAPS[v.args[0] as number]);
      return { raw: img, step: IN_PLACE };
    }),
  },
  noise: {
    doc: 'Gaussian noise.',
    examples: ['', '60'],
    parse: num(0, 100, 20),
    apply: (c, v) => redraw(c, {}, async (img, frame) => {
      const sigma = (v.args[0] as number) / 2;
      const { data, channels: ch } = img;
      const nc = colours(ch);
      const rnd = random(0x5eed ^ (img.width * 65_537 + img.height) ^ (frame * 0x9e3779b1));
      for (let p = 0; p < data.length; p += ch) {
        for (let k = 0; k < nc; k++) {
          const g = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
          data[p + k] = Math.max(0, Math.min(255, Math.round(data[p + k] + g * sigma)));
        }
      }
      return { raw: img, step: IN_PLACE };
    }),
  },
  vignette: {
    doc: 'Edges darkened by a radial gradient.',
    examples: ['', '80'],
    parse: num(0, 100, 20),
    async apply(c, v) {
      await c.ensureDims();
      const { width: w, height: h } = c;
      const strength = (v.args[0] as number) / 100;
      const inner = Math.round(100 - 60 * strength);
      const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><radialGradient id="v" cx="50%" cy="50%" r="75%"><stop offset="${inner}%" stop-color="#fff"/><stop offset="100%" stop-color="#000"/></radialGradient></defs><rect width="100%" height="100%" fill="url(#v)"/></svg>`);
      await c.op('composite', 'composite', (img) => img.composite([{ input: svg, blend: 'multiply' }]));
    },
  },
};
