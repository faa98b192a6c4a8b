/**
 * `e_<name>[:<args>]` — effects (Cloudinary `effect`). One effect per component, applied after
 * geometry. Each entry of EFFECTS parses its arguments and applies itself through the canvas;
 * names Cloudinary has that we do not perform are answered 400 "unsupported".
 *
 * | effect | args (default) |
 * |---|---|
 * | blur | strength 1-2000 (100) → Gaussian sigma strength/25 |
 * | sharpen | strength 1-2000 (100) → sigma 0.5-10 (linear; 10 is sharp's maximum) |
 * | unsharp_mask | strength 1-2000 (100) → sigma 1-10 (linear) |
 * | grayscale, blackwhite[:threshold 0-100 (50)] | |
 * | sepia | 1-100 (80) |
 * | brightness | -99..100 (80), multiplies luminance by 1+N/100 |
 * | contrast | -100..100 (50; Cloudinary documents 0, which would do nothing) |
 * | saturation | -100..100 (80) |
 * | gamma | -50..150 (0) → exponent |
 * | negate, auto_contrast, normalize | |
 * | pixelate | block size 1-200 (5) |
 * | trim | tolerance 0-100 (10), optional colour |
 * | pixelate_faces | block size 1-200 (5), on detected faces |
 * | blur_faces | strength 1-2000 (500), on detected faces |
 */
import { defineTransform } from './types.ts';
import { colourCanonical, own, parseColour, parseIntIn, type Rgba } from './args.ts';
import { Errors } from '../src/errors.ts';
import type { Canvas } from '../src/render/canvas.ts';
import { scale, translate } from '../src/render/affine.ts';
import type { ApplyContext, PlanDims } from './types.ts';
import { facesOn } from '../src/analyze/subject.ts';
import sharp, { type Sharp, type OverlayOptions } from 'sharp';

export type EffectValue = { name: string; args: (number | string)[]; colour?: Rgba };

interface EffectDef {
  parse(args: string[], raw: string): EffectValue['args'];
  colour?: boolean;
  apply(canvas: Canvas, v: EffectValue, ctx: ApplyContext): Promise<void>;
  /** Size after the effect, from the plan (absent: unchanged). */
  bounds?(d: PlanDims): PlanDims;
}

/**
 * Pixelate or blur every detected face (`e_pixelate_faces[:block]`, `e_blur_faces[:strength]`).
 * Faces come from the same cached analysis as g_face; each box is grown by 15% so hairlines
 * and chins are covered too. No face found leaves the image as it is.
 */
type RawOut = { data: Buffer; info: { width: number; height: number; channels: number } };

async function obscureFaces(c: Canvas, ctx: ApplyContext, how: (region: Sharp, w: number, h: number) => Promise<RawOut>): Promise<void> {
  await c.ensureDims();
  const faces = await facesOn(c, ctx, `effect:${ctx.step}`);
  if (!faces.length) return;
  const m = await c.materialize();
  const raw = { width: m.width, height: m.height, channels: m.channels as 1 | 2 | 3 | 4 };
  const layers: OverlayOptions[] = [];
  for (const f of faces) {
    const gx = f.width * 0.15, gy = f.height * 0.15;
    const left = Math.max(0, Math.floor(f.x - gx)), top = Math.max(0, Math.floor(f.y - gy));
    const width = Math.min(raw.width - left, Math.ceil(f.width + 2 * gx)), height = Math.min(raw.height - top, Math.ceil(f.height + 2 * gy));
    if (width < 2 || height < 2) continue;
    const { data, info } = await how(sharp(m.data, { raw }).extract({ left, top, width, height }), width, height);
    layers.push({ input: data, raw: { width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 }, left, top });
  }
  if (layers.length) await c.op('composite', 'composite', (img) => img.composite(layers));
}

/** An integer argument in range; the error names the whole value (`blur:abc`). */
function intArg(arg: string, raw: string, lo: number, hi: number): number {
  try {
    return parseIntIn('effect', arg, lo, hi);
  } catch {
    throw new Errors.INVALID_PARAM('effect', raw);
  }
}

const num = (lo: number, hi: number, def: number) => (args: string[], raw: string) => {
  if (args.length > 1) throw new Errors.INVALID_PARAM('effect', raw);
  return [args.length ? intArg(args[0], raw, lo, hi) : def];
};
const none = (args: string[], raw: string) => {
  if (args.length) throw new Errors.INVALID_PARAM('effect', raw);
  return [];
};

/** sharp's largest sharpen sigma (it refuses more). */
const MAX_SHARPEN_SIGMA = 10;

/** Strength 1-2000 mapped linearly onto sigma (from, 10]: 2000 is sharp's largest sigma. */
function sharpenSigma(strength: number, from: number): number {
  return from + ((MAX_SHARPEN_SIGMA - from) * strength) / 2000;
}

async function toGrey(canvas: Canvas): Promise<void> {
  await canvas.op('grayscale', 'colour', (img) => img.grayscale());
  canvas.channels = canvas.hasAlpha ? 2 : 1;
}

const EFFECTS: Record<string, EffectDef> = {
  blur: {
    parse: num(1, 2000, 100),
    apply: (c, v) => c.op('blur', 'convolve', (img) => img.blur(Math.max(0.3, (v.args[0] as number) / 25))),
  },
  sharpen: {
    parse: num(1, 2000, 100),
    apply: (c, v) => c.op('sharpen', 'convolve', (img) => img.sharpen({ sigma: sharpenSigma(v.args[0] as number, 0.5) })),
  },
  unsharp_mask: {
    parse: num(1, 2000, 100),
    apply: (c, v) => c.op('sharpen', 'convolve', (img) => img.sharpen({ sigma: sharpenSigma(v.args[0] as number, 1), m1: 0.5, m2: 2 })),
  },
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
  vignette: {
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
  pixelate: {
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
    colour: true,
    // what is left depends on the pixels
    bounds: (d) => ({ ...d, exact: false }),
    parse(args, raw) {
      if (args.length > 2) throw new Errors.INVALID_PARAM('effect', raw);
      return [args[0] ? intArg(args[0], raw, 0, 100) : 10];
    },
    async apply(c, v) {
      const threshold = Math.round(((v.args[0] as number) / 100) * 255) || 1;
      await c.op('trim', 'trim', (img) => img.trim({ threshold, ...(v.colour ? { background: v.colour } : {}) }));
      const before = { w: c.width, h: c.height };
      let info;
      try {
        info = await c.materialize();
      } catch (e) {
        // libvips refuses to trim an image that is all background: keep it whole.
        if (/trim|bad extract area|empty/i.test(String(e))) throw new Errors.UNPROCESSABLE('trim left nothing of the image');
        throw e;
      }
      const dx = -(info.trimOffsetLeft ?? 0), dy = -(info.trimOffsetTop ?? 0);
      c.width = before.w; c.height = before.h;
      c.mapThrough(translate(dx, dy), info.width, info.height);
    },
  },
};

EFFECTS.pixelate_faces = {
  parse: num(1, 200, 5),
  apply: (c, v, ctx) => obscureFaces(c, ctx, async (region, w, h) => {
    const block = v.args[0] as number;
    const sw = Math.max(1, Math.round(w / block)), sh = Math.max(1, Math.round(h / block));
    // two resizes need two pipelines: shrink to raw, then grow with nearest-neighbour
    const small = await region.resize(sw, sh, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    return sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: small.info.channels as 1 | 2 | 3 | 4 } })
      .resize(w, h, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer({ resolveWithObject: true });
  }),
};
EFFECTS.blur_faces = {
  parse: num(1, 2000, 500),
  apply: (c, v, ctx) => obscureFaces(c, ctx, (region) =>
    region.blur(Math.max(0.3, (v.args[0] as number) / 25)).raw().toBuffer({ resolveWithObject: true })),
};

const UNSUPPORTED_EFFECTS = new Set([
  'art', 'cartoonify', 'colorize', 'tint', 'auto_color',   'red', 'green', 'blue', 'fill_light', 'viesus_correct', 'replace_color', 'recolor', 'shadow', 'outline', 'oil_paint',
  'background_removal', 'bgremoval', 'make_transparent', 'gen_remove', 'gen_replace', 'gen_recolor', 'gen_fill', 'gen_restore',
  'gen_background_replace', 'upscale', 'enhance', 'distort', 'shear', 'vectorize', 'noise', 'cut_out', 'mask', 'multiply',
  'overlay', 'screen', 'anti_removal', 'assist_colorblind', 'simulate_colorblind', 'blur_region', 'pixelate_region',
  'redeye', 'adv_redeye', 'gradient_fade', 'loop', 'fade', 'reverse', 'boomerang', 'accelerate',
  'deshake', 'preview', 'volume', 'noise', 'transition', 'style_transfer', 'theme', 'dropshadow', 'extract', 'sharpen_advanced',
  'opacity_threshold', 'contrast_advanced', 'brightness_hsb', 'grayscale_advanced', 'light', 'displace', 'tilt_shift', 'zoompan',
  'camera', 'lightroom', 'trim_advanced', 'ordered_dither', 'green_screen', 'progressbar', 'swap_image', 'remove_background',
  'auto_saturation', 'unsharp', 'pixelate_advanced',
]);

declare module './types.ts' {
  interface PlanValues { effect: EffectValue }
}

export const effect = defineTransform({
  key: 'e', planKey: 'effect', name: 'effect', phase: 'effect',
  bounds: (v, d) => EFFECTS[v.name]?.bounds?.(d) ?? d,
  parse(raw) {
    const [name, ...rest] = raw.split(':');
    const def = own(EFFECTS, name);
    if (!def) {
      if (UNSUPPORTED_EFFECTS.has(name) || /^[a-z_]+$/.test(name)) throw new Errors.UNSUPPORTED(`e_${name}`, 'this effect is not supported');
      throw new Errors.INVALID_PARAM('effect', raw);
    }
    let args = rest;
    let colour: Rgba | undefined;
    if (def.colour && rest.length >= 2) {
      colour = parseColour('effect', rest.slice(1).join(':'));
      args = rest.slice(0, 1);
    }
    return { name, args: def.parse(args, raw), ...(colour ? { colour } : {}) };
  },
  // The colour keeps its alpha: `e_trim:10:rgb:ff000080` and `e_trim:10:red` trim differently.
  canonical: (v) => [v.name, ...v.args].join(':') + (v.colour ? `:${colourCanonical(v.colour)}` : ''),
  apply: (canvas, v, _component, ctx) => EFFECTS[v.name].apply(canvas, v, ctx),
});
