/**
 * `b_<colour>` — background (Cloudinary `background`): named colour, `rgb:RRGGBB[AA]`,
 * `#RRGGBB`, `transparent`; or `b_auto[:border|predominant|border_contrast|predominant_contrast]`
 * (default border): the colour most common along the image's border (or in the whole image),
 * or its complement for `_contrast`. Used for pad modes, rotation corners and, outside pad
 * modes, to flatten transparency onto that colour. Gradient and palette variants of `b_auto`
 * are not supported.
 */
import { defineTransform } from './types.ts';
import { colourCanonical, parseColour, type Rgba } from './args.ts';
import { Errors } from '../src/errors.ts';
import type { Canvas } from '../src/render/canvas.ts';

export type Background = Rgba | { auto: 'border' | 'predominant'; contrast: boolean };

declare module './types.ts' {
  interface PlanValues { background: Background }
}

const PAD_MODES = new Set(['pad', 'lpad', 'mpad', 'fill_pad']);
const AUTO = /^auto(?::(border|predominant)(_contrast)?)?$/;

/** Most frequent colour (5 bits per channel) among the sampled pixels. */
async function autoColour(canvas: Canvas, which: 'border' | 'predominant'): Promise<Rgba> {
  const { data, info } = await canvas.pipeline().clone()
    .resize(64, 64, { fit: 'inside' }).flatten({ background: '#ffffff' }).toColourspace('srgb')
    .raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { width: w, height: h, channels: ch } = info;
  const counts = new Map<number, { n: number; r: number; g: number; b: number }>();
  const add = (x: number, y: number) => {
    const i = (y * w + x) * ch;
    const r = data[i], g = data[i + 1], b = data[i + 2];
    const k = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
    const e = counts.get(k) ?? { n: 0, r: 0, g: 0, b: 0 };
    e.n++; e.r += r; e.g += g; e.b += b;
    counts.set(k, e);
  };
  if (which === 'border') {
    for (let x = 0; x < w; x++) { add(x, 0); add(x, h - 1); }
    for (let y = 1; y < h - 1; y++) { add(0, y); add(w - 1, y); }
  } else {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) add(x, y);
  }
  let best = { n: 0, r: 255, g: 255, b: 255 };
  for (const e of counts.values()) if (e.n > best.n) best = e;
  return { r: Math.round(best.r / Math.max(1, best.n)), g: Math.round(best.g / Math.max(1, best.n)), b: Math.round(best.b / Math.max(1, best.n)), alpha: 1 };
}

export const background = defineTransform({
  key: 'b', planKey: 'background', name: 'background', phase: 'input',
  computes: 'value',
  parse(raw): Background {
    if (raw.startsWith('auto')) {
      const m = AUTO.exec(raw);
      if (!m) throw new Errors.UNSUPPORTED(`b_${raw}`, 'gradient and palette automatic backgrounds are not supported');
      return { auto: (m[1] as 'border' | 'predominant' | undefined) ?? 'border', contrast: !!m[2] };
    }
    if (raw.startsWith('gen_fill')) throw new Errors.UNSUPPORTED(`b_${raw}`, 'generative fill is not supported');
    return parseColour('background', raw);
  },
  canonical: (v) => ('auto' in v ? `auto:${v.auto}${v.contrast ? '_contrast' : ''}` : colourCanonical(v)),
  async apply(canvas, value, component) {
    let colour: Rgba;
    if ('auto' in value) {
      colour = await autoColour(canvas, value.auto);
      if (value.contrast) colour = { r: 255 - colour.r, g: 255 - colour.g, b: 255 - colour.b, alpha: 1 };
    } else colour = value;
    // Geometry, rotation and the encoder read canvas.background; flattening happens here only
    // when b_ is used outside padding (Cloudinary: b_ fills transparent areas).
    canvas.background = colour;
    if (!PAD_MODES.has(component.crop ?? '') && colour.alpha === 1 && canvas.hasAlpha) {
      await canvas.op('flatten', 'flatten', (img) => img.flatten({ background: colour }));
      canvas.channels = canvas.channels === 4 ? 3 : 1;
    }
  },
});
