/**
 * Header-only facts about a source, read once per source identity: format, oriented size,
 * frames, alpha. Also the limit checks that must happen before any pixel is decoded.
 */
import sharp from 'sharp';
import { byteMemo, settingSized } from '../cache/memo.ts';
import { Errors, sourceError } from '../errors.ts';
import type { Source } from '../origin/types.ts';
import type { Config } from '../config.ts';
import { isSanitizedSvg } from '../security/svg.ts';
import { needsSanitizing, sourceFormatName } from '../formats.ts';

export interface SourceMeta {
  format: string;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** Stored size (before orientation). */
  rawWidth: number;
  rawHeight: number;
  orientation: number;
  pages: number;
  /** Height of one frame (stored orientation) for multi-page input. */
  pageHeight: number;
  hasAlpha: boolean;
  channels: number;
  /** libvips colour space name (srgb, cmyk, b-w, …). */
  space?: string;
  loop?: number;
  delay?: number[];
  bytes: number;
}

/**
 * Estimated heap bytes of a SourceMeta (its key, the source identity, is counted by the memo):
 * ~200, plus 10 per frame delay of an animation (heapUsed after gc over 20,000 entries,
 * Node 20: 121 bytes for a still image, 586 for 50 frames).
 */
const metaBytes = (m: SourceMeta): number => 200 + 10 * (m.delay?.length ?? 0);

/** One memo per process by source identity, sized by APERTURE_SOURCE_META_MEMO_BYTES (cache/memo.ts). */
const memos = settingSized((bytes) => byteMemo<SourceMeta>(bytes, metaBytes));

/** For tests: the memo as sized by `config`. */
export const sourceMetaMemo = (config: Config) => memos.of(config.sourceMetaMemoBytes);

export async function readSourceMeta(src: Source, config: Config): Promise<SourceMeta> {
  const cache = memos.of(config.sourceMetaMemoBytes);
  const hit = cache.get(src.identity);
  if (hit) return hit;
  if (src.buffer.length === 0) throw new Errors.CORRUPT_SOURCE('the source file is empty');
  let m;
  try {
    m = await sharp(src.buffer, { limitInputPixels: false }).metadata();
  } catch (e) {
    // Reading the header is decoding the source: its failures are the source's (4xx).
    throw sourceError(e, 'unsupported');
  }
  // Second line behind the pipeline's sniffing (pipeline/source.ts, security/svg.ts): no unsanitized SVG is rendered.
  if (m.format && needsSanitizing(m.format) && !isSanitizedSvg(src.buffer)) throw new Errors.UNSUPPORTED_SOURCE('an SVG that did not pass the sanitizer');
  // The format table's sources that this libvips reads (src/formats.ts).
  if (!m.format || !sourceFormatName(m.format) || !m.width || !m.height) {
    throw new Errors.UNSUPPORTED_SOURCE(`format ${m.format ?? 'unknown'} is not supported`);
  }
  const orientation = m.orientation ?? 1;
  const pages = m.pages ?? 1;
  const pageHeight = m.pageHeight ?? m.height;
  const swap = orientation >= 5 && orientation <= 8;
  const w = m.width, h = pages > 1 ? pageHeight : m.height;
  const meta: SourceMeta = {
    format: m.format,
    width: swap ? h : w,
    height: swap ? w : h,
    rawWidth: w,
    rawHeight: h,
    orientation,
    pages,
    pageHeight,
    hasAlpha: !!m.hasAlpha,
    channels: m.channels ?? 3,
    ...(m.space ? { space: m.space } : {}),
    ...(m.loop !== undefined ? { loop: m.loop } : {}),
    ...(m.delay ? { delay: m.delay } : {}),
    bytes: src.buffer.length,
  };
  const pixels = w * h * Math.max(1, pages);
  if (pixels > config.maxSourcePixels) {
    throw new Errors.TOO_LARGE(`source is ${w}x${h}${pages > 1 ? `x${pages} frames` : ''} = ${pixels} pixels, limit ${config.maxSourcePixels}`);
  }
  cache.set(src.identity, meta);
  return meta;
}
