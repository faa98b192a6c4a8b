/**
 * Effects on detected faces: `e_pixelate_faces[:block 1-200 (5)]`, `e_blur_faces[:strength
 * 1-2000 (500)]`. Faces come from the same cached analysis as g_face; each box is grown by 15%
 * so hairlines and chins are covered too. No face found leaves the image as it is.
 */
import sharp, { type OverlayOptions, type Sharp } from 'sharp';
import type { Canvas } from '../../src/render/canvas.ts';
import { facesOn } from '../../src/analyze/subject.ts';
import type { ApplyContext } from '../types.ts';
import { num, type EffectFamily } from './types.ts';

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

export const FACE_EFFECTS: EffectFamily = {
  pixelate_faces: {
    doc: 'Detected faces pixelated in blocks of N pixels.',
    examples: [{ args: '', sample: 'portrait' }, { args: '12', sample: 'portrait' }],
    parse: num(1, 200, 5),
    apply: (c, v, ctx) => obscureFaces(c, ctx, async (region, w, h) => {
      const block = v.args[0] as number;
      const sw = Math.max(1, Math.round(w / block)), sh = Math.max(1, Math.round(h / block));
      // two resizes need two pipelines: shrink to raw, then grow with nearest-neighbour
      const small = await region.resize(sw, sh, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
      return sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: small.info.channels as 1 | 2 | 3 | 4 } })
        .resize(w, h, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer({ resolveWithObject: true });
    }),
  },
  blur_faces: {
    doc: 'Detected faces blurred.',
    examples: [{ args: '', sample: 'portrait' }, { args: '1500', sample: 'portrait' }],
    parse: num(1, 2000, 500),
    apply: (c, v, ctx) => obscureFaces(c, ctx, (region) =>
      region.blur(Math.max(0.3, (v.args[0] as number) / 25)).raw().toBuffer({ resolveWithObject: true })),
  },
};
