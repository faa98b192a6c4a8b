/** `o_<0-100>` — opacity (Cloudinary `opacity`): scales the alpha channel. */
import { defineTransform } from './types.ts';
import { parseIntIn } from './args.ts';

declare module './types.ts' {
  interface PlanValues { opacity: number }
}

export const opacity = defineTransform({
  key: 'o', planKey: 'opacity', name: 'opacity', phase: 'overlay',
  computes: 'value',
  parse: (raw) => parseIntIn('opacity', raw, 0, 100),
  canonical: String,
  async apply(canvas, value) {
    if (value >= 100) return;
    await canvas.ensureDims();
    const { width, height, pages } = canvas;
    const mask = { create: { width, height: height * pages, channels: 4 as const, background: { r: 0, g: 0, b: 0, alpha: value / 100 } } };
    await canvas.op('composite', 'composite', (img) => img.ensureAlpha().composite([{ input: mask, blend: 'dest-in' }]));
    canvas.markAlpha();
  },
});
