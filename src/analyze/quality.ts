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
import { openMetricSession } from './metric.ts';
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
  best: 4.4,
  good: 5.55,
  eco: 6.3,
  low: 7.45,
});

/** Qualities searched per format: below the floor every codec falls apart on some image, above
 *  the ceiling bytes grow much faster than any visible gain. */
export const QUALITY_RANGE: Record<EncodeFormat, readonly [number, number]> = Object.freeze({
  jpeg: [30, 95] as const,
  webp: [30, 95] as const,
  avif: [20, 90] as const,
});

/** Highest quality each level may spend, whatever the metric says: a texture the metric finds
 *  hard (star fields, foliage) would otherwise climb to the range ceiling and cost more than
 *  the fixed quality it replaces (good at JPEG 95 is 1.6x the bytes of q90 on hubble.jpg). */
export const LEVEL_CEILING: Record<EncodeFormat, Record<QualityLevel, number>> = {
  jpeg: { best: 95, good: 90, eco: 82, low: 72 },
  webp: { best: 95, good: 90, eco: 82, low: 72 },
  avif: { best: 90, good: 78, eco: 68, low: 58 },
};

/** First trial per format and level: the median answer on the photo corpus (bench/quality.ts). */
const FIRST_GUESS: Record<EncodeFormat, Record<QualityLevel, number>> = {
  jpeg: { best: 90, good: 81, eco: 70, low: 50 },
  webp: { best: 88, good: 80, eco: 70, low: 55 },
  avif: { best: 75, good: 62, eco: 52, low: 42 },
};

/** -d ln(distance) / d quality, median over the corpus; only steers the search. */
const LOG_SLOPE: Record<EncodeFormat, number> = { jpeg: 0.018, webp: 0.02, avif: 0.012 };

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
  const qMin = QUALITY_RANGE[format][0];
  const qMax = Math.min(QUALITY_RANGE[format][1], LEVEL_CEILING[format][level]);
  const clamp = (q: number): number => Math.min(qMax, clampQuality(q, format));
  const session = openMetricSession(ref);
  try {
    const trials: Trial[] = [];
    const tried = new Set<number>();
    let encodes = 0;
    const encodeTrial = async (q: number, chroma: ChromaSubsampling | undefined): Promise<Trial> => {
      encodes++;
      const buffer = await encode(q, chroma ?? '4:2:0');
      const distance = await session.distance(await decodeLike(buffer, ref));
      return { quality: q, distance, buffer };
    };
    const first = clamp(FIRST_GUESS[format][level]);
    const decided = chromaWithoutMeasuring(ref, format);
    let chroma: ChromaSubsampling | undefined;
    let last: Trial;
    if (decided !== 'measure') {
      chroma = decided;
      last = await encodeTrial(first, chroma);
    } else {
      // A photo is almost always 4:2:0: encode the first trial that way while the worker
      // measures what subsampling costs, and redo it only in the rare 4:4:4 case.
      const [speculative, cost] = await Promise.all([encodeTrial(first, '4:2:0'), session.subsamplingCost()]);
      chroma = cost > SUBSAMPLING_SHARE * budget ? '4:4:4' : '4:2:0';
      last = chroma === '4:2:0' ? speculative : await encodeTrial(first, chroma);
    }
    trials.push(last);
    tried.add(last.quality);
    const run = async (q: number): Promise<Trial> => {
      tried.add(q);
      const t = await encodeTrial(q, chroma);
      trials.push(t);
      return t;
    };

    let slope = LOG_SLOPE[format];
    let aimed = false;
    for (;;) {
      const pass = lowestPassing(trials, budget);
      const fail = highestFailing(trials, budget, pass?.quality);
      const wide = pass !== undefined && fail !== undefined && pass.quality - fail.quality > WIDE_BRACKET;
      if (encodes >= (wide ? MAX_TRIALS_WIDE : MAX_TRIALS)) break;
      if (pass && fail && pass.quality - fail.quality <= TOLERANCE) break;
      if (pass && pass.quality === qMin) break;
      if (!pass && fail && fail.quality === qMax) break;
      // The model said the previous trial was at the budget and it passed: trust it rather
      // than spend a third encode to maybe shave a point or two.
      if (aimed && last.distance <= budget) break;
      // The first trial passed within TOLERANCE of where the model puts the budget: accept it
      // (one encode) rather than spend a second to shave a point or two.
      if (!aimed && trials.length === 1 && last.distance <= budget
        && Math.log(budget / last.distance) / LOG_SLOPE[format] <= TOLERANCE) break;
      const prior = LOG_SLOPE[format];
      if (pass && fail) slope = secantSlope(pass, fail, prior);
      else if (trials.length >= 2) slope = secantSlope(trials[0], trials[1], prior);
      const target = last.quality + Math.log(last.distance / budget) / slope;
      // Climbing from a failure, overshoot by a point: landing just short of the budget from
      // below would cost another encode for one quality step.
      let q = clamp(Math.ceil(target) + (last.distance > budget ? 1 : 0));
      if (pass && fail) q = Math.min(pass.quality - 1, Math.max(fail.quality + 1, q));
      else if (pass && q >= pass.quality) q = pass.quality - 1;
      else if (!pass && fail && q <= fail.quality) q = fail.quality + 1;
      q = clamp(q);
      if (tried.has(q)) break;
      last = await run(q);
      aimed = true;
    }

    let chosen = lowestPassing(trials, budget);
    if (!chosen) {
      // Nothing met the budget yet: one safe step above the best failure, then the ceiling.
      const fail = highestFailing(trials, budget);
      const step = fail ? clamp(fail.quality + 3 * TOLERANCE) : qMax;
      if (!tried.has(step)) {
        const t = await run(step);
        if (t.distance <= budget) chosen = t;
      }
      chosen ??= trials.find((t) => t.quality === qMax) ?? (await run(qMax));
    }
    return {
      quality: chosen.quality,
      distance: chosen.distance,
      ...(chroma ? { chromaSubsampling: chroma } : {}),
      trials: encodes,
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
 * for photos where 4:2:0 alone would use over SUBSAMPLING_SHARE of the budget (saturated red or
 * blue edges); 4:2:0 otherwise. WebP has no choice (undefined). 'measure' = a colour photo, for
 * which the answer needs the metric.
 */
function chromaWithoutMeasuring(ref: RawImage, format: EncodeFormat): ChromaSubsampling | undefined | 'measure' {
  if (format === 'webp') return undefined;
  if (ref.channels < 3) return '4:2:0';
  if (classifyContent(ref).kind === 'graphic') return '4:4:4';
  return 'measure';
}
