/**
 * Background removal: `e_background_removal` and Cloudinary's legacy `e_bgremoval` make
 * everything but the foreground subject transparent (the subject's own transparency is kept:
 * the alpha is multiplied). The mask comes from ISNet (src/analyze/bgremoval.ts: a child
 * process, the image seen at 1024 px, masks cached per source and preceding components, and
 * shared between instances through Redis when there is one, so every size and format derived
 * from one source reuses one mask); it is scaled to the canvas
 * (bilinear) and becomes its alpha channel. PNG, WebP and AVIF keep the alpha; `b_<colour>`
 * (in the same component or a later one) fills the removed background, and JPEG flattens onto
 * it (white without `b_`).
 *
 * | arg | meaning |
 * |---|---|
 * | (none) | the only form performed |
 * | `fineedges_y`, `hints_(…)`, a colour, `screen` | Cloudinary's options: 400 unsupported |
 *
 * APERTURE_BGREMOVAL=0 answers both 400 unsupported. A mask still being computed after
 * APERTURE_BGREMOVAL_WAIT_MS is a 423 with Retry-After.
 */
import sharp from 'sharp';
import { Errors } from '../../src/errors.ts';
import { translate } from '../../src/render/affine.ts';
import { foregroundMask, maskState, MODEL_SIDE } from '../../src/analyze/bgremoval.ts';
import type { EffectDef, EffectFamily } from './types.ts';
import { stillPixels } from './raw-frames.ts';

const removal = (name: string): EffectDef => ({
  doc: name === 'bgremoval'
    ? 'Legacy name of e_background_removal: the background made transparent.'
    : 'The background made transparent (ISNet mask); b_<colour> fills it instead.',
  examples: name === 'bgremoval'
    ? [{ sample: 'portrait' }]
    : [{ sample: 'portrait' }, { transformation: 'e_background_removal/b_rgb:ffd54f', sample: 'portrait' }],
  parse(args) {
    if (args.length) throw new Errors.UNSUPPORTED(`e_${name}:${args.join(':')}`, 'background removal takes no options here');
    return [];
  },
  async apply(c, _v, ctx) {
    const { config } = ctx;
    if (!config.bgRemoval) throw new Errors.UNSUPPORTED(`e_${name}`, 'background removal is turned off on this server');
    await c.ensureDims();
    const img = await stillPixels(c, name, { rgb: true, alpha: true });
    const { width: W, height: H } = img;
    const raw = { width: W, height: H, channels: 4 as const };
    const key = `${ctx.sourceIdentity}\n${ctx.prefix}\n${W}x${H}`;
    const t0 = performance.now();
    // The model's input is made here, inside the render's admission slot; the wait for the
    // model (its own process, one job at a time) is spent outside it, so other renders go on.
    let input: Promise<Buffer> | undefined;
    const modelInput = () => (input ??= sharp(img.data, { raw, limitInputPixels: false })
      .flatten({ background: '#ffffff' }).resize(MODEL_SIDE, MODEL_SIDE, { fit: 'fill' })
      .raw().timeout({ seconds: ctx.deadline.seconds(`e_${name}`) }).toBuffer());
    const settings = {
      model: config.bgRemovalModel, threads: config.bgRemovalThreads, idleMs: config.bgRemovalIdleMs,
      waitMs: config.bgRemovalWaitMs, cacheBytes: config.bgRemovalCacheBytes, queue: config.bgRemovalQueue,
    };
    const wait = () => foregroundMask(key, modelInput, settings, ctx.deadline, ctx.shared);
    const state = maskState(key, settings);
    if (state === 'absent') await modelInput();
    const stepOut = ctx.outsideSlot && (state === 'absent' || state === 'computing');
    const mask = await (stepOut ? ctx.outsideSlot!(wait) : wait())
      .finally(() => { ctx.timing.analyze = (ctx.timing.analyze ?? 0) + (performance.now() - t0); });
    const alpha = await sharp(mask, { raw: { width: MODEL_SIDE, height: MODEL_SIDE, channels: 1 } })
      .resize(W, H, { fit: 'fill', kernel: 'linear' }).extractChannel(0).raw().timeout({ seconds: ctx.deadline.seconds(`e_${name}`) }).toBuffer();
    const data = Buffer.from(img.data);
    for (let i = 0, n = W * H; i < n; i++) data[4 * i + 3] = Math.round((data[4 * i + 3] * alpha[i]) / 255);
    c.replace({ data, ...raw }, translate(0, 0));
    // b_<colour> in this component was applied before the effect (input phase): fill now.
    const bg = c.background;
    if (bg && bg.alpha === 1) {
      await c.op('flatten', 'flatten', (x) => x.flatten({ background: bg }));
      c.channels = 3;
    }
  },
});

export const BGREMOVAL_EFFECTS: EffectFamily = {
  background_removal: removal('background_removal'),
  bgremoval: removal('bgremoval'),
};
