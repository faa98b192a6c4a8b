/**
 * Object detection for `g_<class>`, `g_auto:<class>`, `fl_getinfo`'s objects and the `g_auto`
 * object cue: CenterNet (80 COCO classes) in one worker thread (objects-worker.ts), with the
 * face detector's lifecycle (faces.ts): nothing is loaded at boot, the first request that needs
 * objects starts the worker (~0.1 s to load the 4 MB model), and after `idleMs`
 * (APERTURE_OBJECTS_IDLE_MS) without a job the worker is terminated, which gives its wasm heap
 * back. One job is in the worker at a time (FIFO here), each bounded by a timeout.
 *
 * Thresholds (set before, then checked on the development composites of bench/objects-score.ts): objects are listed
 * (fl_getinfo, g_auto cue) from score 0.3; a class a request names is read down to 0.15, so a
 * small or unusual-looking object of the asked class is still found.
 *
 * Failure policy as for faces: a worker that cannot start or dies gives "no objects" and one
 * warning; callers read `available` to tell "absent" from "could not look".
 */
import type { Worker } from 'node:worker_threads';
import type { Sharp } from 'sharp';
import { DEFAULT_OBJECTS_IDLE_MS } from '../config.ts';
import { ANALYSIS_WORKER_LIMITS, spawnModuleWorker } from './spawn-worker.ts';
import type { DetectedObject, ObjectDetectOptions, ObjectWorkerReply, ObjectWorkerRequest } from './objects-worker.ts';
import type { RawImage } from './types.ts';
import type { IdleTimer } from './faces.ts';

export const OBJECT_SCORE_THRESHOLD = 0.3;
export const ASKED_SCORE_THRESHOLD = 0.15;

export const OBJECT_DETECT_OPTIONS: ObjectDetectOptions = Object.freeze({
  scoreThreshold: OBJECT_SCORE_THRESHOLD,
  askedThreshold: ASKED_SCORE_THRESHOLD,
});

/** The tile pass (2×2 tiles, one more network pass each) cuts its tiles from a copy of this long side. */
export const TILED_SIDE = 1024;

const INIT_TIMEOUT_MS = 30_000;
const JOB_TIMEOUT_MS = 30_000;

export type { DetectedObject };

export interface ObjectDetector {
  readonly available: boolean;
  /** Objects in `img` pixels (one network pass, letterboxed to 512 px), best score first. */
  detect(img: RawImage): Promise<DetectedObject[]>;
  tensorCount(): Promise<number>;
}

type Status = 'idle' | 'loading' | 'ready' | 'unavailable';

const realTimer: IdleTimer = (ms, fire) => {
  const t = setTimeout(fire, ms);
  t.unref();
  return () => clearTimeout(t);
};

let status: Status = 'idle';
let detectorPromise: Promise<ObjectDetector> | null = null;
let log = (message: string): void => { process.emitWarning(message, 'ObjectDetectionWarning'); };
let warned = false;
let idleMs = DEFAULT_OBJECTS_IDLE_MS;
let idleTimer: IdleTimer = realTimer;
let stopped: Promise<void> = Promise.resolve();
let starts = 0;

export function configureObjects(opts: { idleMs?: number; log?: (m: string) => void; idleTimer?: IdleTimer }): void {
  if (opts.idleMs !== undefined) idleMs = opts.idleMs;
  if (opts.log) log = opts.log;
  if (opts.idleTimer) idleTimer = opts.idleTimer;
}

function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  try { log(`object detection unavailable: ${message}`); } catch { /* logging must not break serving */ }
}

interface Job { readonly request: ObjectWorkerRequest; readonly transfer: ArrayBuffer[]; readonly done: (r: ObjectWorkerReply | null) => void }

class WorkerObjectDetector implements ObjectDetector {
  available = true;
  private retired = false;
  private readonly queue: Job[] = [];
  private current: { job: Job; timer: NodeJS.Timeout } | null = null;
  private nextId = 1;
  private cancelIdle: (() => void) | null = null;

  constructor(private readonly worker: Worker) {
    worker.on('message', (reply: ObjectWorkerReply) => this.finish(reply));
    worker.on('error', (err) => this.fail(`worker error: ${err.message}`));
    worker.on('exit', (code) => { if (!this.retired) this.fail(`worker exited with code ${code}`); });
    this.pump();
  }

  async detect(img: RawImage): Promise<DetectedObject[]> {
    const { width, height, channels } = img;
    if (!(width > 0 && height > 0) || img.data.length < width * height * channels) {
      throw new RangeError(`detect: ${width}x${height}x${channels} image with ${img.data.length} bytes`);
    }
    const data = new Uint8Array(width * height * channels);
    data.set(img.data.subarray(0, data.length));
    const reply = await this.run({ id: this.nextId++, op: 'detect', data, width, height, channels }, [data.buffer]);
    if (reply && 'objects' in reply) return reply.objects;
    if (reply && 'error' in reply) warnOnce(`detection failed: ${reply.error}`);
    return [];
  }

  async tensorCount(): Promise<number> {
    const reply = await this.run({ id: this.nextId++, op: 'memory' }, []);
    return reply && 'numTensors' in reply ? reply.numTensors : -1;
  }

  private async run(request: ObjectWorkerRequest, transfer: ArrayBuffer[]): Promise<ObjectWorkerReply | null> {
    if (this.retired) {
      const next = await getObjectDetector();
      return next instanceof WorkerObjectDetector ? next.run(request, transfer) : null;
    }
    return new Promise((done) => {
      if (!this.available) return done(null);
      this.queue.push({ request, transfer, done });
      this.pump();
    });
  }

  private pump(): void {
    this.cancelIdle?.();
    this.cancelIdle = null;
    if (this.current || !this.available) return;
    const job = this.queue.shift();
    if (!job) {
      this.worker.unref();
      if (idleMs > 0) this.cancelIdle = idleTimer(idleMs, () => void this.retire());
      return;
    }
    this.worker.ref();
    const timer = setTimeout(() => this.fail(`detection took over ${JOB_TIMEOUT_MS} ms`), JOB_TIMEOUT_MS);
    this.current = { job, timer };
    this.worker.postMessage(job.request, job.transfer);
  }

  private finish(reply: ObjectWorkerReply): void {
    const current = this.current;
    if (!current || !('id' in reply) || reply.id !== current.job.request.id) return;
    clearTimeout(current.timer);
    this.current = null;
    current.job.done(reply);
    this.pump();
  }

  retire(): Promise<void> {
    if (this.retired || !this.available || this.current || this.queue.length) return stopped;
    this.retired = true;
    this.cancelIdle?.();
    this.cancelIdle = null;
    detectorPromise = null;
    status = 'idle';
    stopped = this.worker.terminate().then(() => undefined, () => undefined);
    return stopped;
  }

  fail(reason: string): void {
    if (!this.available || this.retired) return;
    this.available = false;
    status = 'unavailable';
    warnOnce(reason);
    if (this.current) {
      clearTimeout(this.current.timer);
      this.current.job.done(null);
      this.current = null;
    }
    for (const job of this.queue.splice(0)) job.done(null);
    void this.worker.terminate();
  }
}

const unavailableDetector: ObjectDetector = {
  available: false,
  async detect() { return []; },
  async tensorCount() { return -1; },
};

function spawn(): Worker {
  return spawnModuleWorker(import.meta.url, 'objects-worker', OBJECT_DETECT_OPTIONS, ANALYSIS_WORKER_LIMITS);
}

async function startDetector(): Promise<ObjectDetector> {
  status = 'loading';
  starts++;
  let worker: Worker;
  try {
    worker = spawn();
  } catch (err) {
    status = 'unavailable';
    warnOnce(err instanceof Error ? err.message : String(err));
    return unavailableDetector;
  }
  const ready = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => settle(`model did not load within ${INIT_TIMEOUT_MS} ms`), INIT_TIMEOUT_MS);
    const onMessage = (m: ObjectWorkerReply): void => { if ('type' in m) settle(m.type === 'ready' ? null : m.message); };
    const onError = (err: Error): void => settle(err.message);
    const onExit = (code: number): void => settle(`worker exited with code ${code} while loading`);
    function settle(result: string | null): void {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      resolve(result);
    }
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
  if (ready !== null) {
    status = 'unavailable';
    warnOnce(ready);
    void worker.terminate();
    return unavailableDetector;
  }
  status = 'ready';
  return new WorkerObjectDetector(worker);
}

/** The process-wide detector; the first call starts the worker. */
export function getObjectDetector(): Promise<ObjectDetector> {
  detectorPromise ??= startDetector();
  return detectorPromise;
}

/** Stop the worker now if it has no job, and resolve once the last stopped worker has exited. */
export async function stopObjectWorker(): Promise<void> {
  const detector = await detectorPromise;
  if (detector instanceof WorkerObjectDetector) await detector.retire();
  await stopped;
}

export function objectsStatus(): Status {
  return status;
}

/** How many times a worker was started (tests: a workload without objects starts none). */
export function objectWorkerStarts(): number {
  return starts;
}

/** A raw copy of `img` at most `side` px long, for detection. */
export async function rawForObjects(img: Sharp, side: number): Promise<RawImage> {
  const { data, info } = await img
    .resize(side, side, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 3 };
}
