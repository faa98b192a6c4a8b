/**
 * q_auto: the lowest encoder quality whose perceptual distance from the un-compressed resized
 * image stays within the level's budget (url-api.md §3). Budgets, their derivation and the
 * measured results are in QUALITY.md (produced by bench/quality.ts).
 *
 * Search: distance falls roughly exponentially with quality, so ln(distance) is modelled as
 * linear in quality with a per-format slope. The first trial is at the level's typical answer;
 * the second jumps to where the model says the budget is met; a third (secant on the two
 * measured points) only when the second missed. Every answer is a measured trial whose bytes
 * are returned, so the caller does not encode again.
 */
import sharp from 'sharp';
import type { RawImage } from './types.ts';
import { openMetricSession, type MetricSession } from './metric.ts';
import { classifyContent } from './content-class.ts';

export type QualityLevel = 'best' | 'good' | 'eco' | 'low';
export type EncodeFormat = 'jpeg' | 'webp' | 'avif';
export type ChromaSubsampling = '4:2:0' | '4:4:4';

export interface QualityChoice {
  quality: number;
  /** Measured distance of the chosen encoding (metric.ts units). */
  distance: number;
  /** Absent for WebP, whose lossy mode is always 4:2:0. */
  chromaSubsampling?: ChromaSubsampling;
  /** Encodes performed (the returned one included). */
  trials: number;
  /** The chosen encoding itself: the caller can send it without encoding again. */
  buffer: Buffer;
}

/** Largest distance each level accepts (metric.ts units). Anchored on the photo corpus at
 *  800 px: the median distance of mozjpeg 4:2:0 at q90 (best), q80 (good), q70 (eco) and q50
 *  (low), so a typical photo lands near those qualities and the rest move by content. */
export const QUALITY_BUDGETS: Record<QualityLevel, number> = Object.freeze({
  best: 3.2,
  good: 4.9,
  eco: 6.2,
  low: 8.5,
});

/** Qualities searched per format: below the floor every codec falls apart on some image, above
 *  the ceiling bytes grow much faster than any visible gain. */
export const QUALITY_RANGE: Record<EncodeFormat, readonly [number, number]> = Object.freeze({
  jpeg: [30, 95] as const,
  webp: [30, 95] as const,
  avif: [20, 90] as const,
});

/** First trial per format and level: the median answer on the photo corpus (bench/quality.ts). */
const FIRST_GUESS: Record<EncodeFormat, Record<QualityLevel, number>> = {
  jpeg: { best: 90, good: 80, eco: 70, low: 52 },
  webp: { best: 88, good: 80, eco: 70, low: 55 },
  avif: { best: 75, good: 62, eco: 54, low: 45 },
};

/** -d ln(distance) / d quality, median over the corpus; only steers the search. */
const LOG_SLOPE: Record<EncodeFormat, number> = { jpeg: 0.03, webp: 0.035, avif: 0.035 };

/** Two measured qualities this close around the budget end the search. */
const TOLERANCE = 2;
/** Usual cap on encodes; one more is allowed only while the pass/fail bracket is still wide. */
const MAX_TRIALS = 3;
const WIDE_BRACKET = 6;
const MAX_TRIALS_WIDE = 4;

/** Share of the budget that 4:2:0 chroma alone may use before 4:4:4 is chosen: above it the
 *  encoder would need a much higher quality to hide colour bleeding (red on dark edges). */
const SUBSAMPLING_SHARE = 0.5;

interface Trial { quality: number; distance: number; buffer: Buffer }

/** Decode an encoding to raw pixels laid out like the reference. */
async function decodeLike(buffer: Buffer, ref: RawImage): Promise<RawImage> {
  let img = sharp(buffer).toColourspace(ref.channels <= 2 ? 'b-w' : 'srgb');
  img = ref.channels % 2 === 0 ? img.ensureAlpha() : img.removeAlpha();
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

function clampQuality(q: number, format: EncodeFormat): number {
  const [lo, hi] = QUALITY_RANGE[format];
  return Math.min(hi, Math.max(lo, Math.round(q)));
}

/**
 * Find the lowest quality whose distance from `ref` (the exact pixels to be encoded) stays within
 * the level's budget, with 2-3 encodes (4 at most). `encode` is the renderer's encoder at a given quality and
 * chroma subsampling; its output is decoded with sharp and compared in the metric worker.
 */
export async function chooseQuality(
  ref: RawImage,
  format: EncodeFormat,
  level: QualityLevel,
  encode: (quality: number, chroma: ChromaSubsampling) => Promise<Buffer>,
): Promise<QualityChoice> {
  const budget = QUALITY_BUDGETS[level];
  const [qMin, qMax] = QUALITY_RANGE[format];
  const session = openMetricSession(ref);
  try {
    const chroma = await chooseChroma(ref, format, budget, session);
    const trials: Trial[] = [];
    const tried = new Set<number>();
    const run = async (q: number): Promise<Trial> => {
      tried.add(q);
      const buffer = await encode(q, chroma ?? '4:2:0');
      const distance = await session.distance(await decodeLike(buffer, ref));
      const t = { quality: q, distance, buffer };
      trials.push(t);
      return t;
    };

    let slope = LOG_SLOPE[format];
    let last = await run(FIRST_GUESS[format][level]);
    let aimed = false;
    for (;;) {
      const pass = lowestPassing(trials, budget);
      const fail = highestFailing(trials, budget, pass?.quality);
      const wide = pass !== undefined && fail !== undefined && pass.quality - fail.quality > WIDE_BRACKET;
      if (trials.length >= (wide ? MAX_TRIALS_WIDE : MAX_TRIALS)) break;
      if (pass && fail && pass.quality - fail.quality <= TOLERANCE) break;
      if (pass && pass.quality === qMin) break;
      if (!pass && fail && fail.quality === qMax) break;
      // The model said the previous trial was at the budget and it passed: trust it rather
      // than spend a third encode to maybe shave a point or two.
      if (aimed && last.distance <= budget) break;
      const prior = LOG_SLOPE[format];
      if (pass && fail) slope = secantSlope(pass, fail, prior);
      else if (trials.length >= 2) slope = secantSlope(trials[0], trials[1], prior);
      let q = clampQuality(last.quality + Math.log(last.distance / budget) / slope, format);
      if (pass && fail) q = Math.min(pass.quality - 1, Math.max(fail.quality + 1, q));
      else if (pass && q >= pass.quality) q = pass.quality - 1;
      else if (!pass && fail && q <= fail.quality) q = fail.quality + 1;
      q = clampQuality(q, format);
      if (tried.has(q)) break;
      last = await run(q);
      aimed = true;
    }

    let chosen = lowestPassing(trials, budget);
    if (!chosen) {
      // Nothing met the budget: the image is hard for this codec; give it the ceiling.
      const top = trials.find((t) => t.quality === qMax);
      chosen = top ?? (await run(qMax));
    }
    return {
      quality: chosen.quality,
      distance: chosen.distance,
      ...(chroma ? { chromaSubsampling: chroma } : {}),
      trials: trials.length,
      buffer: chosen.buffer,
    };
  } finally {
    session.close();
  }
}

function lowestPassing(trials: readonly Trial[], budget: number): Trial | undefined {
  let best: Trial | undefined;
  for (const t of trials) if (t.distance <= budget && (!best || t.quality < best.quality)) best = t;
  return best;
}

function highestFailing(trials: readonly Trial[], budget: number, below = Infinity): Trial | undefined {
  let best: Trial | undefined;
  for (const t of trials) if (t.distance > budget && t.quality < below && (!best || t.quality > best.quality)) best = t;
  return best;
}

/** Local slope of ln(distance) over quality, kept within 3× of the prior: two trials a point
 *  apart can be noisy enough to send the next guess off the range. */
function secantSlope(a: Trial, b: Trial, prior: number): number {
  if (a.quality === b.quality || a.distance <= 0 || b.distance <= 0) return prior;
  const s = (Math.log(b.distance) - Math.log(a.distance)) / (a.quality - b.quality);
  if (!Number.isFinite(s)) return prior;
  return Math.min(3 * prior, Math.max(prior / 3, s));
}

/**
 * 4:4:4 for graphics (text and flat colour edges bleed visibly at half chroma resolution) and
 * for photos where 4:2:0 alone would use a large share of the budget (saturated red/blue edges);
 * 4:2:0 otherwise. WebP has no choice (undefined).
 */
async function chooseChroma(ref: RawImage, format: EncodeFormat, budget: number, session: MetricSession): Promise<ChromaSubsampling | undefined> {
  if (format === 'webp') return undefined;
  if (ref.channels < 3) return '4:2:0';
  if (classifyContent(ref).kind === 'graphic') return '4:4:4';
  return (await session.subsamplingCost()) > SUBSAMPLING_SHARE * budget ? '4:4:4' : '4:2:0';
}
