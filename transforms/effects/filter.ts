/**
 * Filters: convolutions, pixelation, trim (vignette is in texture.ts).
 *
 * | effect | args (default) |
 * |---|---|
 * | blur | strength 1-2000 (100) → Gaussian sigma strength/25 |
 * | sharpen | strength 1-2000 (100) → sigma 0.5-10 (linear; 10 is sharp's maximum) |
 * | unsharp_mask | strength 1-2000 (100) → sigma 1-10 (linear) |
 * | pixelate | block size 1-200 (5) |
 * | trim | tolerance 0-100 (10), optional colour; the only effect here that changes the size |
 */
import { Errors } from '../../src/errors.ts';
import { scale, translate } from '../../src/render/affine.ts';
import { intArg, num, type EffectFamily } from './types.ts';

/** sharp's largest sharpen sigma (it refuses more). */
const MAX_SHARPEN_SIGMA = 10;

/** Strength 1-2000 mapped linearly onto sigma (from, 10]: 2000 is sharp's largest sigma. */
function sharpenSigma(strength: number, from: number): number {
  return from + ((MAX_SHARPEN_SIGMA - from) * strength) / 2000;
}

export const FILTER_EFFECTS: EffectFamily = {
  blur: {
    doc: 'Gaussian blur, sigma strength/25.',
    examples: ['', '400'],
    parse: num(1, 2000, 100),
    apply: (c, v) => c.op('blur', 'convolve', (img) => img.blur(Math.max(0.3, (v.args[0] as number) / 25))),
  },
  sharpen: {
    doc: 'Sharpened (sigma 0.5-10 by strength).',
    examples: ['', '600'],
    parse: num(1, 2000, 100),
    apply: (c, v) => c.op('sharpen', 'convolve', (img) => img.sharpen({ sigma: sharpenSigma(v.args[0] as number, 0.5) })),
  },
  unsharp_mask: {
    doc: 'Unsharp mask (sigma 1-10 by strength).',
    examples: ['', '600'],
    parse: num(1, 2000, 100),
    apply: (c, v) => c.op('sharpen', 'convolve', (img) => img.sharpen({ sigma: sharpenSigma(v.args[0] as number, 1), m1: 0.5, m2: 2 })),
  },
  pixelate: {
    doc: 'Square blocks of N pixels.',
    examples: ['', '12'],
    parse: num(1, 200, 5),
    async apply(c, v) {
      const block = v.args[0] as number;
      await c.ensureDims();
      const { width, height } = c;
      const sw = Math.max(1, Math.round(width / block)), sh = Math.max(1, Math.round(height / block));
      await c.op('resize', 'resize', (img) => img.resize(sw, sh, { fit: 'fill', kernel: 'linear' }));
      c.mapThrough(scale(width / sw, height / sh), sw, sh);
      await c.materialize();
      await c.op('resize', 'resize', (img) => img.resize(width, height, { fit: 'fill', kernel: 'nearest' }));
      c.mapThrough(scale(sw / width, sh / height), width, height);
    },
  },
  trim: {
    doc: 'The border of one colour (within tolerance) cut away; the only filter that changes the size.',
    examples: [{ transformation: 'b_white,c_pad,h_140,w_220/e_trim' }, { transformation: 'b_rgb:2f6fde,c_pad,h_140,w_220/e_trim:10:rgb:2f6fde' }],
    colour: true,
    // what is left depends on the pixels
    bounds: (d) => ({ ...d, exact: false }),
    parse(args, raw) {
      if (args.length > 2) throw new Errors.INVALID_PARAM('effect', raw);
      return [args[0] ? intArg(args[0], raw, 0, 100) : 10];
    },
    async apply(c, v) {
      await c.ensureDims();
      // sharp refuses to trim under 3x3 pixels (its own check, before libvips): nothing to trim
      // there, the image is kept whole. An image that is all background is kept whole too
      // (libvips 8.18 finds no box and leaves it), so a failure below is no client's.
      if (c.width < 3 || c.height < 3) return;
      const threshold = Math.round(((v.args[0] as number) / 100) * 255) || 1;
      await c.op('trim', 'trim', (img) => img.trim({ threshold, ...(v.colour ? { background: v.colour } : {}) }));
      const before = { w: c.width, h: c.height };
      const info = await c.materialize();
      const dx = -(info.trimOffsetLeft ?? 0), dy = -(info.trimOffsetTop ?? 0);
      c.width = before.w; c.height = before.h;
      c.mapThrough(translate(dx, dy), info.width, info.height);
    },
  },
};
