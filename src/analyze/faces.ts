/**
 * Face detection for g_face / g_faces / g_auto and e_pixelate_faces / e_blur_faces.
 *
 * The detector (TinyFaceDetector from @vladmandic/face-api on tfjs wasm) lives in one worker
 * thread (faces-worker.ts) so inference never blocks the event loop; this module owns its
 * lifecycle and a FIFO queue so exactly one job is in the worker at a time (tfjs is
 * single-threaded and a backlog inside the worker could not be timed out).
 *
 * Detection is two passes merged by non-maximum suppression, chosen by measurement
 * (bench/faces-results.md): 416 px alone finds faces down to ~9% of the image's long side and up
 * to ~90% (close-up portraits); 608 px finds faces down to ~6% but misses faces wider than ~70%
 * of the frame and its large boxes carry the only corpus false positive above 0.5, so the 608
 * pass only contributes boxes no larger than 15% of the long side. Score threshold 0.5
 * (face-api's default): true faces score 0.55-1.0, non-face corpus images peak at 0.18 (416)
 * and 0.24 (608 small boxes).
 *
 * Lifecycle: nothing is loaded at boot. The first detection starts the worker (the request pays
 * ~0.9 CPU s more: thread, wasm, weights, kernel setup of the first inference; BENCHMARKS.md,
 * "Footprint"); once it has had no job for
 * `idleMs` (APERTURE_FACES_IDLE_MS) it is terminated, which returns its whole wasm heap (a wasm
 * memory never shrinks while it lives), and the next detection starts a new one. A detector
 * object obtained before that keeps working: it hands its jobs to the current worker.
 *
 * Failure policy: if the worker or the model cannot start, or the worker dies, detection
 * resolves to [] and one warning is logged; callers check `detector.available` (or
 * `facesAvailable()`) to tell "no faces" from "could not look" and fall back to g_auto.
 */
import type { Worker } from 'node:worker_threads';
import { DEFAULT_FACES_IDLE_MS } from '../config.ts';
import { ANALYSIS_WORKER_LIMITS, spawnModuleWorker } from './spawn-worker.ts';
import sharp from 'sharp';
import type { DetectOptions, ScoredBox, WorkerReply, WorkerRequest } from './faces-worker.ts';
import type { Box, RawImage } from './types.ts';

/** A detected face in the pixel space of the analysed image, with its probability (0-1). */
export interface FaceBox extends Box {
  score: number;
}

export interface FaceDetector {
  /** Faces in `img` pixels, largest area first, each with score >= FACE_SCORE_THRESHOLD. */
  detect(img: RawImage): Promise<FaceBox[]>;
  /** False when the model could not load or the worker died: detect() then resolves to []. */
  readonly available: boolean;
  /** Live tensors in the worker's tfjs engine; flat across detections when nothing leaks. */
  tensorCount(): Promise<number>;
}

export type FaceLog = (message: string) => void;

export const FACE_SCORE_THRESHOLD = 0.5;

export const FACE_DETECT_OPTIONS: DetectOptions = Object.freeze({
  passes: Object.freeze([
    Object.freeze({ inputSize: 416, maxFaceFraction: 1 }),
    Object.freeze({ inputSize: 608, maxFaceFraction: 0.15 }),
  ]),
  scoreThreshold: FACE_SCORE_THRESHOLD,
});

/** Larger inputs are downscaled first: the network never looks at more than 608 px anyway. */
const MAX_INPUT_SIDE = 1024;
const DOWNSCALE_SIDE = 512;
/** Model load is ~0.1-0.5 s; a worker that has not answered by then is not going to. */
const INIT_TIMEOUT_MS = 30_000;
/** One detection is ~0.1-0.2 s even on a busy box; far beyond that the worker is wedged. */
const JOB_TIMEOUT_MS = 15_000;

/** 'idle': no worker (not needed yet, or stopped after idleMs without a job). */
type Status = 'idle' | 'loading' | 'ready' | 'unavailable';

/** Calls `fire` once after `ms` unless the returned cancel function is called first. */
export type IdleTimer = (ms: number, fire: () => void) => () => void;

const realTimer: IdleTimer = (ms, fire) => {
  const t = setTimeout(fire, ms);
  t.unref(); // an idle worker's countdown must not keep the process alive
  return () => clearTimeout(t);
};

let status: Status = 'idle';
let detectorPromise: Promise<FaceDetector> | null = null;
let log: FaceLog = (message) => process.emitWarning(message, 'FaceDetectionWarning');
let warned = false;
let idleMs = DEFAULT_FACES_IDLE_MS;
let idleTimer: IdleTimer = realTimer;
/** Termination of the last worker stopped for idleness, for stopFaceWorker() to await. */
let stopped: Promise<void> = Promise.resolve();

/**
 * Settings from the server config: `idleMs` (0 = keep the worker once started), the logger of
 * the one "unavailable" warning, and (tests) the timer that counts the idle time down.
 */
export function configureFaces(opts: { idleMs?: number; log?: FaceLog; idleTimer?: IdleTimer }): void {
  if (opts.idleMs !== undefined) idleMs = opts.idleMs;
  if (opts.log) log = opts.log;
  if (opts.idleTimer) idleTimer = opts.idleTimer;
}

function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  try { log(`face detection unavailable, g_face falls back to g_auto: ${message}`); } catch { /* logging must not break serving */ }
}

/** Where the worker's code is: its .ts source under tsx/tap, its compiled .js after `npm run build`. */
function spawnWorker(): Worker {
  return spawnModuleWorker(import.meta.url, 'faces-worker', FACE_DETECT_OPTIONS, ANALYSIS_WORKER_LIMITS);
}

interface Job {
  readonly request: WorkerRequest;
  readonly transfer: ArrayBuffer[];
  readonly done: (reply: WorkerReply | null) => void;
}

class WorkerFaceDetector implements FaceDetector {
  available = true;
  /** Stopped for idleness (not a failure): jobs go to the current worker instead. */
  private retired = false;
  private readonly queue: Job[] = [];
  private current: { job: Job; timer: NodeJS.Timeout } | null = null;
  private nextId = 1;
  private cancelIdle: (() => void) | null = null;

  constructor(private readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => this.finish(reply));
    worker.on('error', (err) => this.fail(`worker error: ${err.message}`));
    worker.on('exit', (code) => { if (!this.retired) this.fail(`worker exited with code ${code}`); });
    this.pump(); // idle from the start: arm the countdown
  }

  async detect(img: RawImage): Promise<FaceBox[]> {
    const { width, height, channels } = img;
    if (!(width > 0 && height > 0) || img.data.length < width * height * channels) {
      throw new RangeError(`detect: ${width}x${height}x${channels} image with ${img.data.length} bytes`);
    }
    if (!this.available) return [];
    const long = Math.max(width, height);
    if (long > MAX_INPUT_SIDE) {
      const { data, info } = await sharp(img.data, { raw: { width, height, channels } })
        .resize(DOWNSCALE_SIDE, DOWNSCALE_SIDE, { fit: 'inside' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const small = await this.detect({ data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] });
      return small.map((b) => scaleBox(b, width / info.width, height / info.height, width, height));
    }
    // A private copy: the caller's buffer may be a view into a larger or pooled ArrayBuffer,
    // and transferring the copy avoids a second clone in postMessage.
    const data = new Uint8Array(width * height * channels);
    data.set(img.data.subarray(0, data.length));
    const reply = await this.run({ id: this.nextId++, op: 'detect', data, width, height, channels }, [data.buffer]);
    if (reply && 'boxes' in reply) return reply.boxes.map(toFaceBox);
    if (reply && 'error' in reply) warnOnce(`detection failed: ${reply.error}`);
    return [];
  }

  async tensorCount(): Promise<number> {
    const reply = await this.run({ id: this.nextId++, op: 'memory' }, []);
    return reply && 'numTensors' in reply ? reply.numTensors : -1;
  }

  private async run(request: WorkerRequest, transfer: ArrayBuffer[]): Promise<WorkerReply | null> {
    if (this.retired) {
      const next = await getFaceDetector();
      return next instanceof WorkerFaceDetector ? next.run(request, transfer) : null;
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
      this.worker.unref(); // idle: do not keep the process alive
      if (idleMs > 0) this.cancelIdle = idleTimer(idleMs, () => this.retire());
      return;
    }
    this.worker.ref(); // a caller awaits this reply
    const timer = setTimeout(() => this.fail(`detection took over ${JOB_TIMEOUT_MS} ms`), JOB_TIMEOUT_MS);
    this.current = { job, timer };
    this.worker.postMessage(job.request, job.transfer);
  }

  private finish(reply: WorkerReply): void {
    const current = this.current;
    if (!current || !('id' in reply) || reply.id !== current.job.request.id) return;
    clearTimeout(current.timer);
    this.current = null;
    current.job.done(reply);
    this.pump();
  }

  /** Idle: terminate the worker and let the next detection start a new one. */
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

  /** Stop for good: every waiting caller gets "no answer" (detect → []). */
  fail(reason: string): void {
    if (!this.available || this.retired) return; // a retired worker's late events concern no one
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

const unavailableDetector: FaceDetector = {
  available: false,
  async detect() { return []; },
  async tensorCount() { return -1; },
};

function toFaceBox(b: ScoredBox): FaceBox {
  return { x: b.x, y: b.y, width: b.width, height: b.height, score: b.score };
}

function scaleBox(b: FaceBox, sx: number, sy: number, width: number, height: number): FaceBox {
  const x = Math.max(0, Math.floor(b.x * sx)), y = Math.max(0, Math.floor(b.y * sy));
  return {
    x,
    y,
    width: Math.min(width, Math.ceil((b.x + b.width) * sx)) - x,
    height: Math.min(height, Math.ceil((b.y + b.height) * sy)) - y,
    score: b.score,
  };
}

async function startDetector(): Promise<FaceDetector> {
  status = 'loading';
  let worker: Worker;
  try {
    worker = spawnWorker();
  } catch (err) {
    status = 'unavailable';
    warnOnce(err instanceof Error ? err.message : String(err));
    return unavailableDetector;
  }
  const ready = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => settle(`model did not load within ${INIT_TIMEOUT_MS} ms`), INIT_TIMEOUT_MS);
    const onMessage = (m: WorkerReply): void => {
      if ('type' in m) settle(m.type === 'ready' ? null : m.message);
    };
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
  return new WorkerFaceDetector(worker);
}

/** The process-wide detector; the first call starts it and concurrent callers share that start. */
export function getFaceDetector(): Promise<FaceDetector> {
  detectorPromise ??= startDetector();
  return detectorPromise;
}

/** Faces in an already downscaled image (~416-512 px long side); [] when detection is unavailable. */
export async function detectFaces(img: RawImage): Promise<FaceBox[]> {
  return (await getFaceDetector()).detect(img);
}

/**
 * Stop the worker now if it has no job (as the idle countdown would), and resolve once the
 * last worker stopped for idleness has exited. A busy worker is left running.
 */
export async function stopFaceWorker(): Promise<void> {
  const detector = await detectorPromise;
  if (detector instanceof WorkerFaceDetector) await detector.retire();
  await stopped;
}

/**
 * True once the detector is loaded and healthy. While it is still loading this is false, so the
 * render path should `await getFaceDetector()` and read `available` rather than poll this.
 */
export function facesAvailable(): boolean {
  return status === 'ready';
}

export function facesStatus(): Status {
  return status;
}
