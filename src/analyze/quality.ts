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
import { encoderOf, qAutoTable, type QAutoFormat } from '../formats.ts';

export type QualityLevel = 'best' | 'good' | 'eco' | 'low';
/** The formats q_auto searches (those with a `qAuto` row in src/formats.ts). */
export type EncodeFormat = QAutoFormat;
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
  good: 5.46,
  eco: 6.3,
  low: 7.45,
});

/** The per-format search space (range, level ceilings and floors, first guesses, slopes) is the
 *  `qAuto` of each format's row in src/formats.ts, with the measurements behind it. */
export const QUALITY_RANGE = qAutoTable((t) => t.range);
export const LEVEL_CEILING = qAutoTable((t) => t.ceiling);
export const LEVEL_FLOOR = qAutoTable((t) => t.floor);
const FIRST_GUESS = qAutoTable((t) => t.firstGuess);
const LOG_SLOPE = qAutoTable((t) => t.logSlope);

/** Measured / predicted distance of the JPEG model (jpeg-model.ts `predictJpeg`) around the
 *  budgets: the mean over the 16 corpus photos is 1.03-1.05 across q60-90 at 800 px (spread
 *  ±2-3 %), 1.04-1.05 at 400 px; at 1200 px (metric on a 2× proxy) 1.0-1.05, spread ±8 %. Only
 *  aims the first trial; every answer is measured. */
const JPEG_MODEL_BIAS = 1.04;

/** Two measured qualities this close around the budget end the search; a first trial that passes
 *  with the budget at most this far below it (by the calibrated model) is kept. */
const TOLERANCE = 2;
/** Usual cap on encodes; one more is allowed only while the pass/fail bracket is still wide. */
const MAX_TRIALS = 3;
const WIDE_BRACKET = 6;
const MAX_TRIALS_WIDE = 4;

/** JPEG 4:4:4 costs as many bytes as 4:2:0 about this many qualities higher (median over the
 *  corpus photos at 800 px: 8 at q80, 7 at q85, 10 at q70; 1.4x the bytes at equal quality). */
const CHROMA_444_STEPS = 8;
/** A first JPEG trial that passes is kept when the calibrated model puts the lowest passing
 *  quality at most this many steps below it: a second encode would save ~2 steps (~4 % of the
 *  bytes) at the cost of another encode, decode and comparison, and often fails on a jump. */
const FIRST_TOLERANCE = 4;
/** JPEG: a pass/fail bracket this narrow ends the search (quality steps of JPEG's integer tables
 *  make the distance jump by a few % between neighbours, so a narrower search often just
 *  measures the jump). */
const JPEG_BRACKET = 3;

/** Share of the budget that 4:2:0 chroma alone may use before AVIF goes 4:4:4 (JPEG decides by
 *  its model instead: 4:4:4 only when 4:2:0 cannot meet the budget under the level's ceiling). */
const SUBSAMPLING_SHARE = 0.5;

interface Trial { quality: number; distance: number; buffer: Buffer }

/** Decode an encoding to raw pixels laid out like the reference. sharp's plain raw decode is
 *  ~2.5x cheaper than one with colourspace and alpha steps, and already matches in the common
 *  case (an sRGB JPEG/WebP/AVIF with the reference's channel count). */
export async function decodeLike(buffer: Buffer, ref: RawImage): Promise<RawImage> {
  const plain = await sharp(buffer).raw().toBuffer({ resolveWithObject: true });
  if (plain.info.channels === ref.channels && (ref.channels >= 3) === (plain.info.channels >= 3)) {
    return { data: plain.data, width: plain.info.width, height: plain.info.height, channels: ref.channels };
  }
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
 * the level's budget. `encode` is the renderer's encoder at a given quality and chroma
 * subsampling; its output is decoded with sharp and compared in the metric worker.
 *
 * JPEG: a model of quantisation (jpeg-model.ts) predicts the distance at every quality from the
 * reference's DCT coefficients, so the first trial is aimed at the predicted answer; the measured
 * distance then calibrates the model for this image and its local slope aims any further trial.
 * Usually one or two encodes. WebP and AVIF: the first trial at the level's typical answer, then
 * a log-linear model with a per-format slope (secant once two trials are measured); 2-3 encodes.
 */
export async function chooseQuality(
  ref: RawImage,
  format: EncodeFormat,
  level: QualityLevel,
  encode: (quality: number, chroma: ChromaSubsampling) => Promise<Buffer>,
): Promise<QualityChoice> {
  const budget = QUALITY_BUDGETS[level];
  const qMin = Math.max(QUALITY_RANGE[format][0], LEVEL_FLOOR[format][level]);
  const qMax = Math.min(QUALITY_RANGE[format][1], LEVEL_CEILING[format][level]);
  const clamp = (q: number): number => Math.max(qMin, Math.min(qMax, clampQuality(q, format)));
  const modelled = encoderOf(format).qAuto!.modelled;
  const session = openMetricSession(ref, { jpeg: modelled });
  try {
    const trials: Trial[] = [];
    const tried = new Set<number>();
    let encodes = 0;
    let chroma: ChromaSubsampling | undefined;
    // JPEG: the model's local slopes around each trial, asked for as the trial starts so that the
    // worker reads them off while the encoder runs.
    const slopes = new Map<string, Promise<number>>();
    const modelSlope = (q: number, up: boolean): Promise<number> => {
      const c = chroma ?? '4:2:0', key = `${c} ${q} ${up}`;
      let p = slopes.get(key);
      if (!p) { p = session.jpegSlope(q, c, up); p.catch(() => undefined); slopes.set(key, p); }
      return p;
    };
    const encodeTrial = async (q: number, c: ChromaSubsampling | undefined): Promise<Trial> => {
      encodes++;
      if (modelled && c === chroma) void modelSlope(q, false);
      const buffer = await encode(q, c ?? '4:2:0');
      const distance = await session.distance(await decodeLike(buffer, ref));
      return { quality: q, distance, buffer };
    };
    const run = async (q: number): Promise<Trial> => {
      tried.add(q);
      const t = await encodeTrial(q, chroma);
      trials.push(t);
      return t;
    };
    /** -d ln(distance)/d quality around q, going up or down: the JPEG model's, else the prior. */
    const slopeAt = async (q: number, up: boolean): Promise<number> => {
      const prior = LOG_SLOPE[format];
      if (!modelled) return prior;
      const s = await modelSlope(q, up);
      return Number.isFinite(s) ? Math.min(3 * prior, Math.max(prior / 3, s)) : prior;
    };

    let last: Trial;
    const decided = chromaWithoutMeasuring(ref, format);
    if (modelled) {
      const target = budget / JPEG_MODEL_BIAS;
      chroma = decided === 'measure' ? '4:2:0' : decided;
      // Searched up to 101 = "not reachable at any quality" (for the chroma choice below).
      const q = await session.jpegQuality(target, chroma ?? '4:2:0', qMin, 101, FIRST_GUESS[format][level]);
      // A colour photo: 4:2:0 unless 4:4:4 meets the budget CHROMA_444_STEPS qualities lower
      // (what its extra bytes are worth), e.g. saturated red or blue edges that 4:2:0 smears at
      // any quality. Asked of the model while the first 4:2:0 trial encodes; redone if 4:4:4.
      const probe = Math.min(qMax, q - CHROMA_444_STEPS);
      const wants444 = decided === 'measure' && probe >= qMin
        ? session.jpegDistance(probe, '4:4:4').then((d) => d <= target, () => false) : Promise.resolve(false);
      last = await run(clamp(q));
      if (await wants444) {
        chroma = '4:4:4';
        trials.length = 0;
        tried.clear();
        last = await run(clamp(await session.jpegQuality(target, chroma, qMin, qMax, probe)));
      }
    } else if (decided !== 'measure') {
      chroma = decided;
      last = await run(clamp(FIRST_GUESS[format][level]));
    } else {
      // An AVIF photo is almost always 4:2:0: encode the first trial that way while the worker
      // measures what subsampling costs, and redo it only in the rare 4:4:4 case.
      const first = clamp(FIRST_GUESS[format][level]);
      tried.add(first);
      const [speculative, cost] = await Promise.all([encodeTrial(first, '4:2:0'), session.subsamplingCost()]);
      chroma = cost > SUBSAMPLING_SHARE * budget ? '4:4:4' : '4:2:0';
      last = chroma === '4:2:0' ? speculative : await encodeTrial(first, chroma);
      trials.push(last);
    }

    let slope = LOG_SLOPE[format];
    let aimed = false;
    for (;;) {
      const pass = lowestPassing(trials, budget);
      const fail = highestFailing(trials, budget, pass?.quality);
      const wide = pass !== undefined && fail !== undefined && pass.quality - fail.quality > WIDE_BRACKET;
      if (encodes >= (wide ? MAX_TRIALS_WIDE : MAX_TRIALS)) break;
      // JPEG: a third encode only while nothing has passed; never just to shave a step or two
      // off a measured pass (the calibrated model already aimed the second one).
      if (modelled && pass && encodes >= 2) break;
      if (pass && fail && pass.quality - fail.quality <= (modelled ? JPEG_BRACKET : TOLERANCE)) break;
      if (pass && pass.quality === qMin) break;
      if (!pass && fail && fail.quality === qMax) break;
      // The model said the previous trial was at the budget and it passed: trust it rather
      // than spend another encode to maybe shave a point or two.
      if (aimed && last.distance <= budget) break;
      const climbing = last.distance > budget;
      if (modelled) slope = await slopeAt(last.quality, climbing);
      else if (pass && fail) slope = secantSlope(pass, fail, LOG_SLOPE[format]);
      else if (trials.length >= 2) slope = secantSlope(trials[0], trials[1], LOG_SLOPE[format]);
      // The first trial passed within TOLERANCE of where the (calibrated) model puts the budget:
      // accept it (one encode) rather than spend a second to shave a point or two.
      if (!aimed && trials.length === 1 && !climbing && Math.log(budget / last.distance) / slope <= (modelled ? FIRST_TOLERANCE : TOLERANCE)) break;
      const target = last.quality + Math.log(last.distance / budget) / slope;
      // Climbing from a failure, overshoot by a point: landing just short of the budget from
      // below would cost another encode for one quality step.
      let q = clamp(Math.ceil(target) + (climbing ? 1 : 0));
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
    // The chroma probe is always settled by now (awaited after the first trial).
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
  if (!encoderOf(format).qAuto!.chroma) return undefined;
  if (ref.channels < 3) return '4:2:0';
  if (classifyContent(ref).kind === 'graphic') return '4:4:4';
  return 'measure';
}
