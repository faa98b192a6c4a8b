/**
 * The worker_threads entry of the analysis worker: holds prepared references for open metric
 * sessions (metric.ts) and answers their requests with the metric (metric-math.ts) and the
 * JPEG model (jpeg-model.ts); it also computes g_auto saliency maps (saliency.ts) for subject.ts.
 *
 * Why a worker: a comparison is a few ms of synchronous float math on an 800×533 pair, a
 * saliency map 20-25 ms on a 320 px copy; on the main thread they would stall every other
 * request. One worker for both: a second thread would cost its own V8 heap (RSS).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { distancePrepared, prepare, subsamplingCost, type PixelsLike, type Prepared } from './metric-math.ts';
import { saliencyOf, type SaliencyAnalysis } from './saliency.ts';
import type { RawImage } from './types.ts';
import { jpegModel, predictJpeg, predictedQuality, type JpegChroma, type JpegModel } from './jpeg-model.ts';

export type MetricRequest =
  | { id: number; op: 'prepare'; key: number; image: PixelsLike; lazy?: boolean }
  | { id: number; op: 'distance'; key: number; image: PixelsLike }
  | { id: number; op: 'subsampling'; key: number }
  | { id: number; op: 'jpegQuality'; key: number; target: number; chroma: JpegChroma; lo: number; hi: number; guess: number }
  | { id: number; op: 'jpegDistance'; key: number; quality: number; chroma: JpegChroma }
  | { id: number; op: 'jpegSlope'; key: number; quality: number; chroma: JpegChroma; up: boolean }
  | { id: number; op: 'release'; key: number }
  | { id: number; op: 'held' }
  | { id: number; op: 'compare'; image: PixelsLike; test: PixelsLike }
  | { id: number; op: 'saliency'; image: RawImage };

export type MetricReply = { id: number; value: number } | { id: number; saliency: SaliencyAnalysis } | { id: number; error: string };

/** Prepared references held for open sessions. Callers release in `finally`; the bound is a
 *  backstop against a caller that never does (oldest evicted first), set well above the
 *  number of renders that can run at once. */
const MAX_HELD = 64;

/** A reference held for a session: prepared (and modelled) lazily, on first use. */
class Held {
  private prep?: Prepared;
  private jpeg?: JpegModel;
  private readonly predicted = new Map<string, number>();
  constructor(readonly image: PixelsLike) {}
  get prepared(): Prepared { return (this.prep ??= prepare(this.image)); }
  /** -d ln(predicted distance)/d quality near `quality` (above it if `up`), from predictions
   *  already made when two lie 3-12 steps apart within 8 of it (usually the search's own secant
   *  points: no new prediction), else from two new ones 4 steps apart. */
  slope(quality: number, chroma: JpegChroma, up: boolean): number {
    const pts: number[] = [];
    for (const k of this.predicted.keys()) if (k.startsWith(chroma)) pts.push(Number(k.slice(chroma.length)));
    pts.sort((a, b) => Math.abs(a - quality) - Math.abs(b - quality));
    let a = quality, b = up ? quality + 4 : quality - 4;
    const near = pts.filter((x) => Math.abs(x - quality) <= 8);
    for (let i = 0; i < near.length; i++) {
      const j = near.findIndex((y) => Math.abs(y - near[i]) >= 3 && Math.abs(y - near[i]) <= 12);
      if (j >= 0) { a = near[i]; b = near[j]; break; }
    }
    a = Math.min(100, Math.max(1, a)); b = Math.min(100, Math.max(1, b));
    if (a === b) return NaN;
    return Math.log(this.predict(Math.min(a, b), chroma) / this.predict(Math.max(a, b), chroma)) / Math.abs(a - b);
  }
  /** Predicted JPEG distance at `quality` (memoised per session). */
  predict(quality: number, chroma: JpegChroma): number {
    const key = `${chroma}${quality}`;
    let v = this.predicted.get(key);
    if (v === undefined) {
      this.jpeg ??= jpegModel(this.image, () => this.prepared);
      v = predictJpeg(this.jpeg, quality, chroma);
      this.predicted.set(key, v);
    }
    return v;
  }
}

function serve(port: NonNullable<typeof parentPort>): void {
  const held = new Map<number, Held>();
  port.on('message', (req: MetricRequest) => {
    try {
      let value = 0;
      if (req.op === 'saliency') {
        const saliency = saliencyOf(req.image);
        // The two maps are the answer's bulk: moved, not copied.
        port.postMessage({ id: req.id, saliency } satisfies MetricReply, [saliency.map.buffer as ArrayBuffer, saliency.subjectMap.buffer as ArrayBuffer]);
        return;
      }
      if (req.op === 'prepare') {
        // A JPEG search asks for the model's prediction first (`lazy`): the planes wait until
        // that answer is out. Otherwise prepared now, while the first trial encodes.
        const h = new Held(req.image);
        if (!req.lazy) void h.prepared;
        held.set(req.key, h);
        if (held.size > MAX_HELD) held.delete(held.keys().next().value as number);
      } else if (req.op === 'release') {
        held.delete(req.key);
      } else if (req.op === 'compare') {
        value = distancePrepared(prepare(req.image), req.test);
      } else if (req.op === 'held') {
        value = held.size;
      } else {
        const ref = held.get(req.key);
        if (!ref) throw new Error(`unknown reference ${req.key}`);
        if (req.op === 'distance') value = distancePrepared(ref.prepared, req.image);
        else if (req.op === 'subsampling') value = subsamplingCost(ref.prepared, ref.image);
        else if (req.op === 'jpegDistance') value = ref.predict(req.quality, req.chroma);
        else if (req.op === 'jpegSlope') value = ref.slope(req.quality, req.chroma, req.up);
        else value = predictedQuality((q) => ref.predict(q, req.chroma), req.target, req.lo, req.hi, req.guess);
      }
      port.postMessage({ id: req.id, value } satisfies MetricReply);
      // The first trial encodes now: prepare the planes its comparison will need.
      if (req.op === 'jpegQuality') { const ref = held.get(req.key); if (ref) setImmediate(() => void ref.prepared); }
    } catch (err) {
      port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) } satisfies MetricReply);
    }
  });
}

if (!isMainThread && parentPort && (workerData as { role?: string } | undefined)?.role === 'aperture-metric') {
  serve(parentPort);
}
