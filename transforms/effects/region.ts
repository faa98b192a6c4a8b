/**
 * Effects on a region named by x, y, w, h in the effect's own component (Cloudinary
 * `e_blur_region,x_10,y_20,w_100,h_50`): those keys are the effect's, not a crop (they are
 * claimed from the geometry owner). Without w and h the region is the whole image.
 *
 * | effect | args (default) |
 * |---|---|
 * | blur_region | strength 1-2000 (100) → Gaussian sigma strength/25, as e_blur |
 * | pixelate_region | block size 1-200 (5), as e_pixelate |
 */
import sharp, { type Sharp } from 'sharp';
import type { Canvas } from '../../src/render/canvas.ts';
import type { Component } from '../types.ts';
import { num, type EffectFamily } from './types.ts';
import { IN_PLACE, redraw, regionOf, type Raw } from './raw-frames.ts';

const REGION_KEYS = ['x', 'y', 'width', 'height'] as const;

/** Replace the region of every frame by `how` of its pixels. */
async function onRegion(c: Canvas, component: Component, how: (region: Sharp, w: number, h: number) => Promise<Raw>): Promise<void> {
  await c.ensureDims();
  const box = regionOf(component, c.width, c.height);
  if (!box) return; // the region lies outside the image: nothing of it to change
  await redraw(c, {}, async (m) => {
    const raw = { width: m.width, height: m.height, channels: m.channels };
    const out = await how(sharp(m.data, { raw, limitInputPixels: false }).extract(box), box.width, box.height);
    if (out.channels !== m.channels || out.width !== box.width || out.height !== box.height) {
      const drawn = await toRaw(sharp(m.data, { raw, limitInputPixels: false })
        .composite([{ input: out.data, raw: { width: out.width, height: out.height, channels: out.channels }, left: box.left, top: box.top }]));
      return { raw: drawn, step: IN_PLACE };
    }
    // the region's new pixels replace the old ones (alpha included), row by row
    const row = box.width * m.channels;
    for (let y = 0; y < box.height; y++) {
      out.data.copy(m.data, ((box.top + y) * m.width + box.left) * m.channels, y * row, (y + 1) * row);
    }
    return { raw: m, step: IN_PLACE };
  });
}

async function toRaw(img: Sharp): Promise<Raw> {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as Raw['channels'] };
}

export const REGION_EFFECTS: EffectFamily = {
  blur_region: {
    doc: 'A region (x, y, w, h of the component) blurred; the whole image without w and h.',
    examples: [{ transformation: 'e_blur_region:600,h_60,w_80,x_40,y_20' }, '300'],
    parse: num(1, 2000, 100),
    claims: REGION_KEYS,
    apply: (c, v, _ctx, component) => onRegion(c, component, (region) =>
      toRaw(region.blur(Math.max(0.3, (v.args[0] as number) / 25)))),
  },
  pixelate_region: {
    doc: 'A region (x, y, w, h of the component) pixelated.',
    examples: [{ transformation: 'e_pixelate_region:8,h_60,w_80,x_40,y_20' }],
    parse: num(1, 200, 5),
    claims: REGION_KEYS,
    apply: (c, v, _ctx, component) => onRegion(c, component, async (region, w, h) => {
      const block = v.args[0] as number;
      const sw = Math.max(1, Math.round(w / block)), sh = Math.max(1, Math.round(h / block));
      const small = await toRaw(region.resize(sw, sh, { fit: 'fill', kernel: 'linear' }));
      return toRaw(sharp(small.data, { raw: { width: small.width, height: small.height, channels: small.channels } })
        .resize(w, h, { fit: 'fill', kernel: 'nearest' }));
    }),
  },
};
