/**
 * The last step of a render: pick the output format (fixed, or f_auto from Accept and the
 * image's content) and quality (fixed, or q_auto's perceptual search), then encode.
 *
 * f_auto rules (url-api.md §3):
 * - animated input keeps its animation: animated WebP when accepted, else GIF (`f_auto:image`
 *   takes the first frame instead);
 * - transparency is never lost: AVIF/WebP keep alpha, else PNG; `fl_preserve_transparency`
 *   keeps PNG even when AVIF/WebP are accepted;
 * - AVIF, then WebP, by Accept; otherwise JPEG, or PNG for PNG/GIF sources (JPEG with
 *   `fl_any_format`);
 * - flat graphics (few colours) are also encoded as lossless WebP (when accepted) or PNG8, and
 *   that wins when it is smaller: lossless at fewer bytes cannot look worse.
 */
import sharp from 'sharp';
import { LRUCache } from 'lru-cache';
import type { OutputFormat } from '../../transforms/format.ts';
import type { Quality, QualityLevel } from '../../transforms/quality.ts';
import type { Flags } from '../../transforms/flags.ts';
import { applyEncoder, encoderSignature, type EncodeSettings } from './encode.ts';
import type { RenderContext } from './context.ts';
import type { SourceMeta } from './source-meta.ts';
import type { OutputSettings } from './render.ts';
import { classifyContent } from '../analyze/content-class.ts';
import { chooseQuality } from '../analyze/quality.ts';
import type { RawImage } from '../analyze/types.ts';

/** q_auto on animations: a fixed quality per level (no per-frame search). */
const ANIMATED_LEVEL_QUALITY: Record<QualityLevel, number> = { best: 90, good: 80, eco: 70, low: 60 };

/** Chosen quality per source + transformation + format + level, so a re-render skips the search. */
const qualityMemo = new LRUCache<string, { quality: number; chroma?: '4:2:0' | '4:4:4' }>({ max: 20_000 });

export interface Encoded {
  body: Buffer;
  format: OutputFormat;
  /** Chosen encoder quality when q_auto decided it. */
  quality?: number;
}

export function pickFormat(out: OutputSettings, meta: SourceMeta, animated: boolean, alpha: boolean): OutputFormat {
  const f = out.format;
  if (f.kind === 'fixed') return f.format;
  const acc = f.accept ?? { avif: false, webp: false };
  if (animated) return acc.webp ? 'webp' : 'gif';
  if (alpha && out.flags.preserveTransparency) return 'png';
  if (acc.avif) return 'avif';
  if (acc.webp) return 'webp';
  if (alpha) return 'png';
  if ((meta.format === 'png' || meta.format === 'gif') && !out.flags.anyFormat) return 'png';
  return 'jpeg';
}

function settings(format: OutputFormat, flags: Flags, extra: Partial<EncodeSettings> = {}): EncodeSettings {
  return { format, flags, animated: false, ...extra };
}

async function encodeRaw(raw: RawImage, s: EncodeSettings, background: { r: number; g: number; b: number } | undefined, ctx: RenderContext): Promise<Buffer> {
  let img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  if ((raw.channels === 2 || raw.channels === 4) && s.format === 'jpeg') img = img.flatten({ background: background ?? { r: 255, g: 255, b: 255 } });
  return applyEncoder(img, s, ctx.config).timeout({ seconds: Math.ceil(ctx.config.processTimeoutMs / 1000) }).toBuffer();
}

/** Encode still pixels. `key` identifies source + transformation for the q_auto memo. */
export async function encodeStill(raw: RawImage, out: OutputSettings, meta: SourceMeta, key: string, background: { r: number; g: number; b: number } | undefined, ctx: RenderContext): Promise<Encoded> {
  const isAuto = out.format.kind === 'auto';
  const content = isAuto || out.quality?.kind === 'auto' ? classifyContent(raw) : undefined;
  const alpha = content ? content.hasAlpha : raw.channels === 2 || raw.channels === 4;
  const format = pickFormat(out, meta, false, alpha);
  const q: Quality | undefined = out.quality;

  let lossy: Encoded;
  if (q?.kind === 'auto' && (format === 'jpeg' || format === 'webp' || format === 'avif') && !out.flags.lossless) {
    const mkey = `${key}\n${format}\n${q.level}\n${encoderSignature(format, ctx.config)}`;
    const known = qualityMemo.get(mkey);
    if (known) {
      lossy = { format, quality: known.quality, body: await encodeRaw(raw, settings(format, out.flags, { quality: known.quality, chroma: known.chroma }), background, ctx) };
    } else {
      // JPEG cannot carry alpha: judge the flattened pixels the viewer will see.
      const ref = format === 'jpeg' && alpha ? await flattenRaw(raw, background) : raw;
      const choice = await chooseQuality(ref, format, q.level, (quality, chroma) =>
        encodeRaw(ref, settings(format, out.flags, { quality, chroma }), background, ctx));
      qualityMemo.set(mkey, { quality: choice.quality, ...(choice.chromaSubsampling ? { chroma: choice.chromaSubsampling } : {}) });
      lossy = { format, quality: choice.quality, body: choice.buffer };
    }
  } else {
    const fixed = q?.kind === 'fixed' ? q : undefined;
    lossy = { format, body: await encodeRaw(raw, settings(format, out.flags, { quality: fixed?.value, chroma: fixed?.chroma }), background, ctx) };
  }

  if (isAuto && content?.kind === 'graphic') {
    const acc = out.format.kind === 'auto' ? out.format.accept : undefined;
    const alt: EncodeSettings = acc?.webp
      ? settings('webp', out.flags, { lossless: true })
      : settings('png', out.flags, { palette: true });
    if (alt.format !== lossy.format || format === 'png') {
      const body = await encodeRaw(raw, alt, background, ctx);
      if (body.length < lossy.body.length) return { format: alt.format, body };
    }
  }
  return lossy;
}

async function flattenRaw(raw: RawImage, background: { r: number; g: number; b: number } | undefined): Promise<RawImage> {
  const { data, info } = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    .flatten({ background: background ?? { r: 255, g: 255, b: 255 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

/** Settings without any search (q_auto → a fixed quality per level), for sampling encodes. */
export function plainSettings(out: OutputSettings, meta: SourceMeta, animated: boolean, alpha: boolean): EncodeSettings {
  if (animated) return animatedSettings(out, meta);
  const format = pickFormat(out, meta, false, alpha);
  const q = out.quality;
  const quality = q?.kind === 'auto' ? ANIMATED_LEVEL_QUALITY[q.level] : q?.value;
  return { format, flags: out.flags, animated: false, ...(quality !== undefined ? { quality } : {}), ...(q?.kind === 'fixed' && q.chroma ? { chroma: q.chroma } : {}) };
}

/** Animated output: format from f_auto or fixed; q_auto maps to a fixed quality per level. */
export function animatedSettings(out: OutputSettings, meta: SourceMeta): EncodeSettings {
  const format = pickFormat(out, meta, true, true);
  const q = out.quality;
  const quality = q?.kind === 'auto' ? ANIMATED_LEVEL_QUALITY[q.level] : q?.value;
  return {
    format, flags: out.flags, animated: true, ...(quality !== undefined ? { quality } : {}),
    ...(meta.loop !== undefined ? { loop: meta.loop } : {}), ...(meta.delay ? { delay: meta.delay } : {}),
  };
}
