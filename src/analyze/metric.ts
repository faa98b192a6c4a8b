/**
 * Perceptual distance between two renderings of the same pixels, and g_auto saliency maps,
 * computed off the event loop in the analysis worker (metric-worker.ts).
 *
 * One worker thread serves all requests (the math is ~10-25 ms a call; a pool would fight the
 * encoders for our two cores, and each thread has a V8 heap of its own). It is started lazily, holds the process open only while calls
 * are pending, and is restarted if it dies. The scale of the distance and the budgets that use
 * it are documented in QUALITY.md.
 */
import type { Worker } from 'node:worker_threads';
import { ANALYSIS_WORKER_LIMITS, spawnModuleWorker } from './spawn-worker.ts';
import type { RawImage } from './types.ts';
import type { PixelsLike } from './metric-math.ts';
import type { MetricReply, MetricRequest } from './metric-worker.ts';
import type { SaliencyAnalysis } from './saliency.ts';

interface Pending { resolve: (v: never) => void; reject: (e: Error) => void }

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;
let nextKey = 1;

/** The worker's code is its .ts source under tsx/tap and its compiled .js after a build. */
function spawnWorker(): Worker {
  return spawnModuleWorker(import.meta.url, 'metric-worker', { role: 'aperture-metric' }, ANALYSIS_WORKER_LIMITS);
}

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function getWorker(): Worker {
  if (worker) return worker;
  const w = spawnWorker();
  w.on('message', (reply: MetricReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if ('error' in reply) p.reject(new Error(`analysis worker: ${reply.error}`));
    else (p.resolve as (v: unknown) => void)('saliency' in reply ? reply.saliency : reply.value);
  });
  w.on('error', (err) => {
    if (worker === w) worker = undefined;
    failAll(err);
  });
  w.on('exit', (code) => {
    if (worker === w) worker = undefined;
    if (pending.size > 0) failAll(new Error(`perceptual metric worker exited (${code})`));
  });
  w.unref();
  worker = w;
  return w;
}

type Request = MetricRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

function call<T = number>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
  const w = getWorker();
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    // A pending call must keep the process alive (a script awaiting only us would otherwise exit).
    w.ref();
    w.postMessage({ ...req, id } as MetricRequest, transfer);
  });
}

/** The pixels are copied once into a fresh buffer that is then transferred (not cloned): the
 *  caller keeps its own buffer (sharp's may be a view into a shared pool), and the worker gets
 *  exactly the image's bytes. */
function pixels(img: RawImage): { image: PixelsLike; transfer: ArrayBuffer[] } {
  const need = img.width * img.height * img.channels;
  if (img.data.length < need) throw new RangeError(`pixel buffer holds ${img.data.length} bytes, ${img.width}×${img.height}×${img.channels} needs ${need}`);
  const data = new Uint8Array(img.data.subarray(0, need)); // a memcpy (Uint8Array.from iterates)
  return { image: { data, width: img.width, height: img.height, channels: img.channels }, transfer: [data.buffer] };
}

/**
 * A reference prepared once in the worker and compared against several candidates (the trials
 * of a quality search). Always `close()` it; the worker also evicts old ones as a backstop.
 */
export interface MetricSession {
  distance(test: RawImage): Promise<number>;
  /** Distance that 4:2:0 chroma subsampling alone would add to this reference. */
  subsamplingCost(): Promise<number>;
  /** JPEG only (mozjpeg's tables): the distance predicted, without encoding, for `quality`. */
  jpegDistance(quality: number, chroma: '4:2:0' | '4:4:4'): Promise<number>;
  /** JPEG only: the lowest quality in [lo, hi] whose predicted distance is at most `target`
   *  (to about a step), searched from `guess`. */
  jpegQuality(target: number, chroma: '4:2:0' | '4:4:4', lo: number, hi: number, guess: number): Promise<number>;
  /** JPEG only: -d ln(predicted distance)/d quality near `quality` (above it if `up`). */
  jpegSlope(quality: number, chroma: '4:2:0' | '4:4:4', up: boolean): Promise<number>;
  close(): void;
}

/** `jpeg`: the session will first ask for the JPEG model's predictions, so the reference's planes
 *  are prepared after the model (while the first trial encodes) instead of before it. */
export function openMetricSession(ref: RawImage, options: { jpeg?: boolean } = {}): MetricSession {
  const key = nextKey++;
  const { image, transfer } = pixels(ref);
  const ready = call({ op: 'prepare', key, image, lazy: options.jpeg === true }, transfer);
  let closed = false;
  return {
    async distance(test) {
      if (test.width !== ref.width || test.height !== ref.height) {
        throw new RangeError(`size mismatch: reference ${ref.width}×${ref.height}, test ${test.width}×${test.height}`);
      }
      await ready;
      const t = pixels(test);
      return call({ op: 'distance', key, image: t.image }, t.transfer);
    },
    async subsamplingCost() {
      await ready;
      return call({ op: 'subsampling', key });
    },
    async jpegDistance(quality, chroma) {
      // Posted at once: the worker handles messages in order, after the prepare.
      return call({ op: 'jpegDistance', key, quality, chroma });
    },
    async jpegQuality(target, chroma, lo, hi, guess) {
      // Posted at once: the worker handles messages in order, after the prepare.
      return call({ op: 'jpegQuality', key, target, chroma, lo, hi, guess });
    },
    async jpegSlope(quality, chroma, up) {
      // Posted at once: the worker handles messages in order, after the prepare.
      return call({ op: 'jpegSlope', key, quality, chroma, up });
    },
    close() {
      if (closed) return;
      closed = true;
      // Posted now, not after `ready`: the worker handles messages in order, so the release
      // lands after the prepare either way, and a caller asking metricWorkerHeld() next sees it.
      call({ op: 'release', key }).catch(() => undefined);
    },
  };
}

/**
 * Perceptual distance of `test` from `ref` (same size; 0 = identical, larger = worse; budgets in
 * QUALITY.md). Outputs larger than ~1024 px are measured on a box-reduced proxy.
 */
export async function perceptualDistance(ref: RawImage, test: RawImage): Promise<number> {
  if (test.width !== ref.width || test.height !== ref.height) {
    throw new RangeError(`size mismatch: reference ${ref.width}×${ref.height}, test ${test.width}×${test.height}`);
  }
  const a = pixels(ref), b = pixels(test);
  // One message, nothing held: concurrent one-shot calls cannot pile up references.
  return call({ op: 'compare', image: a.image, test: b.image }, [...a.transfer, ...b.transfer]);
}

/**
 * The g_auto saliency of `img` without faces (saliency.ts `saliencyOf`), computed in the worker:
 * the same code on the same pixels, so the same floats as on the main thread.
 */
export function workerSaliency(img: RawImage): Promise<SaliencyAnalysis> {
  const { image, transfer } = pixels(img);
  return call<SaliencyAnalysis>({ op: 'saliency', image: { ...image, channels: img.channels } }, transfer);
}

/** Stop the worker (tests, graceful shutdown). Pending calls are rejected. */
export async function closeMetricWorker(): Promise<void> {
  const w = worker;
  worker = undefined;
  if (!w) return;
  failAll(new Error('perceptual metric worker closed'));
  await w.terminate();
}

/** References the worker currently holds for open sessions (tests: nothing may leak). */
export function metricWorkerHeld(): Promise<number> {
  return call({ op: 'held' });
}

/** Diagnostics for tests: calls awaiting the worker and whether one is running. */
export function metricWorkerState(): { pending: number; running: boolean } {
  return { pending: pending.size, running: worker !== undefined };
}
