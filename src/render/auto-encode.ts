/**
 * The last step of a render: pick the output format (fixed, or f_auto from Accept and the
 * image's content) and quality (fixed, or q_auto's perceptual search), then encode.
 *
 * f_auto rules (url-api.md §3; the decision table is in the README, "Decisions"):
 * - animated input keeps its animation: animated WebP when accepted, else GIF (`f_auto:image`
 *   takes the first frame instead);
 * - transparency (some alpha below 255; an all-opaque alpha channel is none) is never lost:
 *   AVIF/WebP keep alpha, else PNG; `fl_preserve_transparency` keeps PNG even when AVIF/WebP
 *   are accepted;
 * - AVIF, then WebP, by Accept;
 * - otherwise by content (src/analyze/content-class.ts): JPEG for photographs (continuous tone)
 *   whatever the source format, PNG for graphics; a graphic starts from JPEG instead with
 *   q_auto (at the searched quality) or when decoded from a lossy source (JPEG, AVIF);
 * - a graphic also tries lossless WebP (when accepted) or PNG8 and lossless PNG: such an
 *   alternative wins when it is smaller and looks no worse (lossless, or measured: without
 *   q_auto PNG8 must reproduce the pixels exactly; with q_auto its perceptual distance may not
 *   exceed the lossy encoding's, or the level's budget when that one is PNG).
 * `fl_any_format` (Cloudinary: "allow switching to PNG8 ... if the quality algorithm decides
 * that it's more efficient") lets any PNG output, f_png/.png included, switch to PNG8 by the
 * same rule.
 */
import sharp from 'sharp';
import { byteMemo, settingSized } from '../cache/memo.ts';
import { animates, encoderOf, firstAccepted, formatRow, sourceFormatName, searchesQuality, UNIVERSAL, type EncodeSettings, type OutputFormat } from '../formats.ts';
import type { FormatRequest } from '../../transforms/format.ts';
import type { Quality, QualityLevel } from '../../transforms/quality.ts';
import type { Flags } from '../../transforms/flags.ts';
import { applyEncoder, encoderSignature } from './encode.ts';
import type { RenderContext } from './context.ts';
import type { SourceMeta } from './source-meta.ts';
import { classifyContent, type ContentClass } from '../analyze/content-class.ts';
import { chooseQuality, decodeLike, QUALITY_BUDGETS } from '../analyze/quality.ts';
import { openMetricSession } from '../analyze/metric.ts';
import type { RawImage } from '../analyze/types.ts';

/** The output parameters of a plan, merged over its components (render.ts outputSettings). */
export interface OutputSettings {
  format: FormatRequest;
  quality?: Quality;
  flags: Flags;
  /** The plan's encode hooks (EncodeSettings.finish). */
  finish?: EncodeSettings['finish'];
}

/** q_auto on animations: a fixed quality per level (no per-frame search). */
const ANIMATED_LEVEL_QUALITY: Record<QualityLevel, number> = { best: 90, good: 80, eco: 70, low: 60 };

interface QualityChoice { quality: number; distance: number; chroma?: '4:2:0' | '4:4:4' }
/**
 * Chosen quality per source + transformation + format + level, so a re-render skips the search.
 * Keys hold the result key (up to 8 KB): bounded in bytes by APERTURE_QUALITY_MEMO_BYTES, each
 * choice counting ~100 bytes besides its key (cache/memo.ts).
 */
const qualityMemos = settingSized((bytes) => byteMemo<QualityChoice>(bytes, () => 100));
/** For tests: the memo as sized by `config`. */
export const qualityMemo = (config: RenderContext['config']) => qualityMemos.of(config.qualityMemoBytes);

export interface Encoded {
  body: Buffer;
  format: OutputFormat;
  /** Chosen encoder quality when q_auto decided it. */
  quality?: number;
}

type ContentKind = ContentClass['kind'];

export function pickFormat(out: OutputSettings, meta: SourceMeta, animated: boolean, alpha: boolean, kind: ContentKind): OutputFormat {
  const f = out.format;
  if (f.kind === 'fixed') return f.format;
  const acc = f.accept;
  if (animated) return (acc && firstAccepted(acc, animates)) ?? UNIVERSAL.animation;
  if (alpha && out.flags.preserveTransparency) return UNIVERSAL.lossless;
  const modern = acc && firstAccepted(acc);
  if (modern) return modern;
  if (alpha) return UNIVERSAL.lossless;
  // With q_auto a graphic starts from JPEG too, and so does one decoded from a lossy source
  // (its pixels carry the codec's noise, not exact fills); PNG8 and PNG then compete with it.
  return kind === 'graphic' && out.quality?.kind !== 'auto' && !lossySource(meta.format) ? UNIVERSAL.lossless : UNIVERSAL.photo;
}

const losslessForGraphics = (f: OutputFormat) => encoderOf(f).losslessForGraphics === true;
/** Whether a source (sharp's format name) was decoded from a lossy codec. */
function lossySource(sharpName: string): boolean {
  const f = sourceFormatName(sharpName);
  return f !== undefined && formatRow(f).lossy;
}

function settings(format: OutputFormat, out: OutputSettings, extra: Partial<EncodeSettings> = {}): EncodeSettings {
  return { format, flags: out.flags, animated: false, ...(out.finish ? { finish: out.finish } : {}), ...extra };
}

/** Encodings that compete with the first one (see the rules above). */
function alternatives(out: OutputSettings, format: OutputFormat, content: ContentClass | undefined): EncodeSettings[] {
  const flags = out.flags;
  const palette = settings(UNIVERSAL.lossless, out, { palette: true });
  const hasPalette = encoderOf(format).palette === true;
  const isPalette = hasPalette && (flags.png8 || flags.lossy);
  if (out.format.kind === 'auto' && content?.kind === 'graphic') {
    const lossless = out.format.accept && firstAccepted(out.format.accept, losslessForGraphics);
    if (lossless) return flags.lossless ? [] : [settings(lossless, out, { lossless: true })];
    if (format === UNIVERSAL.lossless) return isPalette ? [] : [palette];
    return [palette, settings(UNIVERSAL.lossless, out)];
  }
  return hasPalette && flags.anyFormat && !isPalette ? [palette] : [];
}

/** The same pixels, alpha-0 pixels' colour aside (invisible, and PNG8 merges them). */
function samePixels(a: RawImage, b: RawImage): boolean {
  const ch = a.channels;
  if (b.channels !== ch || b.width !== a.width || b.height !== a.height) return false;
  const n = a.width * a.height * ch;
  if (ch === 1 || ch === 3) return Buffer.from(a.data.buffer, a.data.byteOffset, n).equals(Buffer.from(b.data.buffer, b.data.byteOffset, n));
  for (let p = 0; p < n; p += ch) {
    if (a.data[p + ch - 1] !== b.data[p + ch - 1]) return false;
    if (a.data[p + ch - 1] === 0) continue;
    for (let c = 0; c < ch - 1; c++) if (a.data[p + c] !== b.data[p + c]) return false;
  }
  return true;
}

async function encodeRaw(raw: RawImage, s: EncodeSettings, background: { r: number; g: number; b: number } | undefined, ctx: RenderContext): Promise<Buffer> {
  let img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  if ((raw.channels === 2 || raw.channels === 4) && !formatRow(s.format).alpha) img = img.flatten({ background: background ?? { r: 255, g: 255, b: 255 } });
  const body = await applyEncoder(img, s, ctx.config).timeout({ seconds: ctx.deadline.seconds('encoding') }).toBuffer();
  const wrap = encoderOf(s.format).wrap;
  return wrap ? wrap(body, raw.width, raw.height) : body;
}

/** Encode still pixels. `key` identifies source + transformation for the q_auto memo. */
export async function encodeStill(pixels: RawImage, out: OutputSettings, meta: SourceMeta, key: string, background: { r: number; g: number; b: number } | undefined, ctx: RenderContext): Promise<Encoded> {
  const isAuto = out.format.kind === 'auto';
  const content = isAuto || out.quality?.kind === 'auto' ? classifyContent(pixels) : undefined;
  const alpha = content ? content.hasAlpha : pixels.channels === 2 || pixels.channels === 4;
  // An alpha channel that is 255 everywhere is no transparency: f_auto drops it (flattening
  // changes no pixel) rather than spend PNG bytes on it.
  const raw = isAuto && !alpha && (pixels.channels === 2 || pixels.channels === 4) ? await flattenRaw(pixels, background) : pixels;
  const format = pickFormat(out, meta, false, alpha, content?.kind ?? 'photo');
  const q: Quality | undefined = out.quality;

  let lossy: Encoded;
  /** Perceptual distance of `lossy` when q_auto measured it. */
  let lossyDistance: number | undefined;
  if (q?.kind === 'auto' && searchesQuality(format) && !out.flags.lossless) {
    const mkey = `${key}\n${format}\n${q.level}\n${encoderSignature(format, ctx.config)}`;
    const memo = qualityMemo(ctx.config);
    const known = memo.get(mkey);
    if (known) {
      lossy = { format, quality: known.quality, body: await encodeRaw(raw, settings(format, out, { quality: known.quality, chroma: known.chroma }), background, ctx) };
      lossyDistance = known.distance;
    } else {
      // JPEG cannot carry alpha: judge the flattened pixels the viewer will see.
      const ref = !formatRow(format).alpha && alpha ? await flattenRaw(raw, background) : raw;
      const choice = await chooseQuality(ref, format, q.level, (quality, chroma) =>
        encodeRaw(ref, settings(format, out, { quality, chroma }), background, ctx));
      memo.set(mkey, { quality: choice.quality, distance: choice.distance, ...(choice.chromaSubsampling ? { chroma: choice.chromaSubsampling } : {}) });
      lossy = { format, quality: choice.quality, body: choice.buffer };
      lossyDistance = choice.distance;
    }
  } else {
    const fixed = q?.kind === 'fixed' ? q : undefined;
    lossy = { format, body: await encodeRaw(raw, settings(format, out, { quality: fixed?.value, chroma: fixed?.chroma }), background, ctx) };
  }

  // How far a palette alternative may stray: nowhere without q_auto; with it, no further than
  // the lossy encoding it replaces, or the level's budget when that one is lossless.
  const tolerance = q?.kind === 'auto' ? lossyDistance ?? QUALITY_BUDGETS[q.level] : 0;
  let best = lossy;
  for (const alt of alternatives(out, format, content)) {
    // A palette that won holds the same picture in fewer bits per pixel than full PNG.
    if (alt.format === UNIVERSAL.lossless && !alt.palette && best.format === UNIVERSAL.lossless) continue;
    const body = alt.palette
      ? await smallestPalette(raw, tolerance, (quality) => encodeRaw(raw, { ...alt, quality }, background, ctx))
      : await encodeRaw(raw, alt, background, ctx);
    if (body && body.length < best.body.length) best = { format: alt.format, body };
  }
  return best;
}

/** libimagequant qualities tried for PNG8, most faithful first (fewer colours further on; on
 *  the flat blobs.svg at 500 px the distance goes 0.8, 4.9, 12.3 from 100 to 98 to 95, on a
 *  text screenshot it stays under 1.5 down to 70: bench/f-auto.ts). */
const PALETTE_LADDER = [100, 98, 95, 90, 80, 70] as const;

/**
 * The smallest PNG8 whose pixels stay within `tolerance` of `raw` (perceptual distance; 0 = the
 * exact pixels), or undefined when even the most faithful palette does not. The ladder is
 * bisected after its first rung (distance grows as quality falls): at most 4 encodes.
 */
async function smallestPalette(raw: RawImage, tolerance: number, encode: (quality: number) => Promise<Buffer>): Promise<Buffer | undefined> {
  const session = tolerance > 0 ? openMetricSession(raw) : undefined;
  try {
    const passing = async (quality: number): Promise<Buffer | undefined> => {
      const body = await encode(quality);
      const decoded = await decodeLike(body, raw);
      return (session ? await session.distance(decoded) <= tolerance : samePixels(raw, decoded)) ? body : undefined;
    };
    let best = await passing(PALETTE_LADDER[0]);
    if (!best || !session) return best;
    let pass = 0, fail: number = PALETTE_LADDER.length;
    while (fail - pass > 1) {
      const mid = (pass + fail) >> 1;
      const body = await passing(PALETTE_LADDER[mid]);
      if (!body) { fail = mid; continue; }
      pass = mid;
      if (body.length < best.length) best = body;
    }
    return best;
  } finally {
    session?.close();
  }
}

async function flattenRaw(raw: RawImage, background: { r: number; g: number; b: number } | undefined): Promise<RawImage> {
  const { data, info } = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    .flatten({ background: background ?? { r: 255, g: 255, b: 255 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

/** Settings without any search (q_auto → a fixed quality per level), for sampling encodes.
 *  `kind`: the content class when the caller has the pixels (f_auto picks JPEG or PNG by it). */
export function plainSettings(out: OutputSettings, meta: SourceMeta, animated: boolean, alpha: boolean, kind: ContentKind = 'photo'): EncodeSettings {
  if (animated) return animatedSettings(out, meta);
  const format = pickFormat(out, meta, false, alpha, kind);
  const q = out.quality;
  const quality = q?.kind === 'auto' ? ANIMATED_LEVEL_QUALITY[q.level] : q?.value;
  return { format, flags: out.flags, ...(out.finish ? { finish: out.finish } : {}), animated: false, ...(quality !== undefined ? { quality } : {}), ...(q?.kind === 'fixed' && q.chroma ? { chroma: q.chroma } : {}) };
}

/** Animated output: format from f_auto or fixed; q_auto maps to a fixed quality per level. */
export function animatedSettings(out: OutputSettings, meta: SourceMeta): EncodeSettings {
  const format = pickFormat(out, meta, true, true, 'photo');
  const q = out.quality;
  const quality = q?.kind === 'auto' ? ANIMATED_LEVEL_QUALITY[q.level] : q?.value;
  return {
    format, flags: out.flags, ...(out.finish ? { finish: out.finish } : {}), animated: true, ...(quality !== undefined ? { quality } : {}),
    ...(meta.loop !== undefined ? { loop: meta.loop } : {}), ...(meta.delay ? { delay: meta.delay } : {}),
  };
}
