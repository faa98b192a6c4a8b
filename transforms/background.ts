/**
 * `b_<colour>` — background (Cloudinary `background`): named colour, `rgb:RRGGBB[AA]`,
 * `#RRGGBB`, `transparent`. Used for pad modes, rotation corners and, outside pad modes, to
 * flatten transparency onto that colour.
 *
 * Backgrounds taken from the image itself (Cloudinary's content-aware padding):
 * - `b_auto[:border|predominant][_contrast][:palette_<c1>_<c2>…]` (default border): the colour
 *   most common along the image's border (or in the whole image), or its complement for
 *   `_contrast`; with a palette, the palette colour nearest most of those pixels.
 * - `b_auto:border_gradient|predominant_gradient[_contrast][:2|4][:horizontal|vertical|diagonal_desc|diagonal_asc][:palette_…]`:
 *   the padding (and any transparent area) is a gradient of the 2 (default) or 4 most common
 *   colours, evenly spaced along the direction (default horizontal: left to right;
 *   diagonal_desc: top left to bottom right; diagonal_asc: bottom left to top right), in the
 *   order the colours sit in the image along that direction.
 * - `b_blurred[:intensity 1-2000 (100)[:brightness -300..1000 (0)]]`: the padding shows the
 *   image itself stretched to the padded canvas, blurred (Gaussian sigma intensity/100 × the
 *   padded canvas's longer side / 10, at most 1000) and its brightness multiplied by
 *   1 + brightness/300.
 *
 * These fill the padding of c_pad/lpad/mpad/fill_pad (Canvas.padWith) and, outside pad modes,
 * the image's transparent areas; rotation corners and the encoder's flattening take the
 * first colour (blurred: their defaults).
 */
import sharp from 'sharp';
import { defineTransform } from './types.ts';
import { colourCanonical, colourPart, own, parseColour, parseIntIn, type Rgba } from './args.ts';
import { Errors } from '../src/errors.ts';
import type { Canvas, PadExtend } from '../src/render/canvas.ts';
import { toRgb } from './effects/pixels.ts';

export type GradientDirection = 'horizontal' | 'vertical' | 'diagonal_desc' | 'diagonal_asc';

/** A background derived from the image (under `auto`, so that colour checks stay `'auto' in b`). */
export type ImageBackground =
  | { kind: 'colour'; from: 'border' | 'predominant'; contrast: boolean; palette?: Rgba[] }
  | { kind: 'gradient'; from: 'border' | 'predominant'; contrast: boolean; colours: 2 | 4; direction: GradientDirection; palette?: Rgba[] }
  | { kind: 'blurred'; intensity: number; brightness: number };

export type Background = Rgba | { auto: ImageBackground };

declare module './types.ts' {
  interface PlanValues { background: Background }
}

const PAD_MODES = new Set(['pad', 'lpad', 'mpad', 'fill_pad']);
const MODE = /^(border|predominant)(_gradient)?(_contrast)?$/;
const DIRECTIONS: Readonly<Record<string, GradientDirection>> = {
  horizontal: 'horizontal', vertical: 'vertical', diagonal_desc: 'diagonal_desc', diagonal_asc: 'diagonal_asc',
};

function parseAuto(raw: string): ImageBackground {
  const parts = raw.split(':').slice(1);
  const bad = () => new Errors.INVALID_PARAM('background', raw);
  let i = 0;
  let from: 'border' | 'predominant' = 'border', gradient = false, contrast = false;
  const m = parts[i] !== undefined ? MODE.exec(parts[i]) : null;
  if (m) { from = m[1] as 'border' | 'predominant'; gradient = !!m[2]; contrast = !!m[3]; i++; }
  let colours: 2 | 4 = 2;
  let direction: GradientDirection = 'horizontal';
  if (gradient && (parts[i] === '2' || parts[i] === '4')) colours = Number(parts[i++]) as 2 | 4;
  if (gradient && parts[i] !== undefined && own(DIRECTIONS, parts[i])) direction = DIRECTIONS[parts[i++]];
  let palette: Rgba[] | undefined;
  if (parts[i]?.startsWith('palette_')) {
    palette = parts[i++].slice('palette_'.length).split('_').map((c) => colourPart('background', c, raw, true));
    if (palette.length > 16) throw bad();
  }
  if (i < parts.length) throw bad();
  const p = palette ? { palette } : {};
  return gradient ? { kind: 'gradient', from, contrast, colours, direction, ...p } : { kind: 'colour', from, contrast, ...p };
}

function parseBlurred(raw: string): ImageBackground {
  const parts = raw.split(':').slice(1);
  if (parts.length > 2) throw new Errors.INVALID_PARAM('background', raw);
  const int = (s: string | undefined, lo: number, hi: number, def: number) => {
    if (s === undefined) return def;
    try { return parseIntIn('background', s, lo, hi); } catch { throw new Errors.INVALID_PARAM('background', raw); }
  };
  // Cloudinary's SDKs say -300..100, its own docs use 500: brightness goes up to 1000.
  return { kind: 'blurred', intensity: int(parts[0], 1, 2000, 100), brightness: int(parts[1], -300, 1000, 0) };
}

const hex = (c: Rgba) => colourCanonical({ ...c, alpha: 1 }).slice(4);

function autoCanonical(a: ImageBackground): string {
  if (a.kind === 'blurred') return `blurred:${a.intensity}:${a.brightness}`;
  let s = `auto:${a.from}${a.kind === 'gradient' ? '_gradient' : ''}${a.contrast ? '_contrast' : ''}`;
  if (a.kind === 'gradient') s += `:${a.colours}:${a.direction}`;
  if (a.palette) s += `:palette_${a.palette.map(hex).join('_')}`;
  return s;
}

interface Counted { n: number; r: number; g: number; b: number; x: number; y: number }

/**
 * The `count` most common colours (4 bits per channel) of a 64-px sample, border or whole,
 * with where they sit (mean x, y in 0-1); with a palette, the palette colours nearest most
 * pixels instead.
 */
async function commonColours(canvas: Canvas, from: 'border' | 'predominant', count: number, palette?: Rgba[]): Promise<Counted[]> {
  const { data, info } = await canvas.pipeline().clone()
    .resize(64, 64, { fit: 'inside' }).flatten({ background: '#ffffff' }).toColourspace('srgb')
    .raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { width: w, height: h, channels: ch } = info;
  const counts = new Map<number, Counted>();
  const add = (x: number, y: number) => {
    const i = (y * w + x) * ch;
    const r = data[i], g = data[i + 1], b = data[i + 2];
    let k: number;
    if (palette) {
      k = 0;
      let best = Infinity;
      palette.forEach((p, j) => { const d = (p.r - r) ** 2 + (p.g - g) ** 2 + (p.b - b) ** 2; if (d < best) { best = d; k = j; } });
    } else k = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
    const e = counts.get(k) ?? { n: 0, r: 0, g: 0, b: 0, x: 0, y: 0 };
    e.n++; e.r += r; e.g += g; e.b += b; e.x += x / Math.max(1, w - 1); e.y += y / Math.max(1, h - 1);
    counts.set(k, e);
  };
  if (from === 'border') {
    for (let x = 0; x < w; x++) { add(x, 0); if (h > 1) add(x, h - 1); }
    for (let y = 1; y < h - 1; y++) { add(0, y); if (w > 1) add(w - 1, y); }
  } else {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) add(x, y);
  }
  const ranked = [...counts.entries()].sort((a, b) => b[1].n - a[1].n).slice(0, count);
  const out = ranked.map(([k, e]) => {
    const c = palette ? palette[k] : { r: e.r / e.n, g: e.g / e.n, b: e.b / e.n };
    return { n: e.n, r: Math.round(c.r), g: Math.round(c.g), b: Math.round(c.b), x: e.x / e.n, y: e.y / e.n };
  });
  while (out.length < count) out.push({ ...(out[out.length - 1] ?? { n: 0, r: 255, g: 255, b: 255, x: 0.5, y: 0.5 }) });
  return out;
}

const complement = (c: Rgba): Rgba => ({ r: 255 - c.r, g: 255 - c.g, b: 255 - c.b, alpha: 1 });

/** Position of (x, y) in 0-1 along a direction. */
function along(dir: GradientDirection, x: number, y: number): number {
  switch (dir) {
    case 'horizontal': return x;
    case 'vertical': return y;
    case 'diagonal_desc': return (x + y) / 2;
    case 'diagonal_asc': return (x + 1 - y) / 2;
  }
}

/** Raw W×H×ch pixels of a gradient through `stops` (evenly spaced) along `dir`; alpha 255. */
function gradientPixels(stops: Rgba[], dir: GradientDirection, W: number, H: number, ch: number): Buffer {
  const out = Buffer.alloc(W * H * ch);
  const n = stops.length - 1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const t = along(dir, W > 1 ? x / (W - 1) : 0.5, H > 1 ? y / (H - 1) : 0.5) * n;
      const i = Math.min(n - 1, Math.floor(t)), f = t - i;
      const a = stops[i], b = stops[i + 1];
      const o = (y * W + x) * ch;
      out[o] = Math.round(a.r + (b.r - a.r) * f);
      out[o + 1] = Math.round(a.g + (b.g - a.g) * f);
      out[o + 2] = Math.round(a.b + (b.b - a.b) * f);
      if (ch === 4) out[o + 3] = 255;
    }
  }
  return out;
}

type Raw = { data: Buffer; width: number; height: number; channels: number };
/** Pixels under one frame of `frame`'s image on a W×H canvas. */
type Fill = (frame: Raw, W: number, H: number) => Promise<Buffer>;

function blurredFill(a: { intensity: number; brightness: number }): Fill {
  return async (frame, W, H) => {
    const k = 1 + a.brightness / 300;
    const sigma = Math.min(1000, Math.max(0.3, (a.intensity / 100) * (Math.max(W, H) / 10)));
    const ch = frame.channels as 3 | 4;
    // A wide blur is done on a smaller copy (sigma 4 there), then stretched: the same look,
    // without a Gaussian of hundreds of pixels over the whole canvas.
    const s = Math.max(1, sigma / 4);
    const w = Math.max(1, Math.round(W / s)), h = Math.max(1, Math.round(H / s));
    const small = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: ch } })
      .resize(w, h, { fit: 'fill' }).blur(Math.max(0.3, sigma / s))
      .linear(ch === 4 ? [k, k, k, 0] : k, ch === 4 ? [0, 0, 0, 255] : 0)
      .raw().toBuffer();
    return sharp(small, { raw: { width: w, height: h, channels: ch } }).resize(W, H, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  };
}

/**
 * Put every frame of the canvas at (left, top) on a canvas grown by `x`, over `fill`. The
 * canvas is sRGB afterwards; alpha stays only where the image had it.
 */
async function placeOnFill(c: Canvas, x: PadExtend, fill: Fill): Promise<void> {
  await toRgb(c);
  const m = await c.materialize();
  const ch = m.channels, w = m.width, h = c.height, pages = c.pages;
  const W = w + x.left + x.right, H = h + x.top + x.bottom;
  const out = Buffer.alloc(W * H * ch * pages);
  for (let p = 0; p < pages; p++) {
    const frame = { data: m.data.subarray(p * w * h * ch, (p + 1) * w * h * ch), width: w, height: h, channels: ch };
    const bg = await fill(frame, W, H);
    let img = sharp(bg, { raw: { width: W, height: H, channels: ch as 3 | 4 } })
      .composite([{ input: frame.data, raw: { width: w, height: h, channels: ch as 3 | 4 }, left: x.left, top: x.top }]);
    if (ch === 3) img = img.removeAlpha();
    const done = await img.raw().toBuffer();
    done.copy(out, p * W * H * ch);
  }
  c.replacePixels(out, W, H * pages, ch);
}

export const background = defineTransform({
  key: 'b', planKey: 'background', name: 'background', phase: 'input',
  computes: 'value',
  parse(raw): Background {
    if (raw === 'auto' || raw.startsWith('auto:')) return { auto: parseAuto(raw) };
    if (raw === 'blurred' || raw.startsWith('blurred:')) return { auto: parseBlurred(raw) };
    if (raw.startsWith('gen_fill')) throw new Errors.UNSUPPORTED(`b_${raw}`, 'generative fill is not supported');
    return parseColour('background', raw);
  },
  canonical: (v) => ('auto' in v ? autoCanonical(v.auto) : colourCanonical(v)),
  async apply(canvas, value, component) {
    const padding = PAD_MODES.has(component.crop ?? '');
    let colour: Rgba | undefined;
    let fill: Fill | undefined;
    if ('auto' in value) {
      const a = value.auto;
      if (a.kind === 'blurred') {
        // no one colour: rotation corners and the encoder keep their defaults
        fill = blurredFill(a);
      } else {
        const found = await commonColours(canvas, a.from, a.kind === 'gradient' ? a.colours : 1, a.palette);
        const dir = a.kind === 'gradient' ? a.direction : 'horizontal';
        const stops = found.sort((p, q) => along(dir, p.x, p.y) - along(dir, q.x, q.y))
          .map((f) => ({ r: f.r, g: f.g, b: f.b, alpha: 1 })).map((c) => (a.contrast ? complement(c) : c));
        colour = stops[0];
        if (a.kind === 'gradient') fill = async (frame, W, H) => gradientPixels(stops, dir, W, H, frame.channels);
      }
    } else colour = value;
    // Geometry, rotation and the encoder read canvas.background; flattening happens here only
    // when b_ is used outside padding (Cloudinary: b_ fills transparent areas).
    canvas.background = colour;
    if (fill) {
      const f = fill;
      canvas.padWith = (x) => placeOnFill(canvas, x, f);
      if (!padding && canvas.hasAlpha) {
        // the fill is opaque: the image over it has no transparency left
        await placeOnFill(canvas, { top: 0, left: 0, bottom: 0, right: 0 }, f);
        await canvas.op('removeAlpha', 'flatten', (img) => img.removeAlpha());
        canvas.channels = 3;
      }
      return;
    }
    if (colour && !padding && colour.alpha === 1 && canvas.hasAlpha) {
      await canvas.op('flatten', 'flatten', (img) => img.flatten({ background: colour }));
      canvas.channels = canvas.channels === 4 ? 3 : 1;
    }
  },
});
