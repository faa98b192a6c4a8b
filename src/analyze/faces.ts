/**
 * Face detection for g_face / g_faces / g_auto and e_pixelate_faces / e_blur_faces.
 *
 * The detector (TinyFaceDetector from @vladmandic/face-api on tfjs wasm) lives in one worker
 * thread (faces-worker.ts) so inference never blocks the event loop; this module (through
 * model-worker.ts) owns its lifecycle and a FIFO queue so exactly one job is in the worker at a time (tfjs is
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
import { DEFAULT_FACES_IDLE_MS } from '../config.ts';
import { ModelWorkerHost, WorkerModel, unavailableDetector, type IdleTimer, type ModelStatus } from './model-worker.ts';
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

export type { IdleTimer };

const host: ModelWorkerHost<FaceDetector> = new ModelWorkerHost<FaceDetector>({
  callerUrl: import.meta.url,
  module: 'faces-worker',
  workerData: FACE_DETECT_OPTIONS,
  idleMs: DEFAULT_FACES_IDLE_MS,
  initTimeoutMs: INIT_TIMEOUT_MS,
  jobTimeoutMs: JOB_TIMEOUT_MS,
  log: (message) => process.emitWarning(message, 'FaceDetectionWarning'),
  warning: (message) => `face detection unavailable, g_face falls back to g_auto: ${message}`,
  create: (worker) => new WorkerFaceDetector(worker, host),
  unavailable: unavailableDetector,
});

/**
 * Settings from the server config: `idleMs` (0 = keep the worker once started), the logger of
 * the one "unavailable" warning, and (tests) the timer that counts the idle time down.
 */
export function configureFaces(opts: { idleMs?: number; log?: FaceLog; idleTimer?: IdleTimer }): void {
  host.configure(opts);
}

class WorkerFaceDetector extends WorkerModel<WorkerRequest, WorkerReply> implements FaceDetector {
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
    if (reply && 'error' in reply) this.host.warnOnce(`detection failed: ${reply.error}`);
    return [];
  }
}

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

/** The process-wide detector; the first call starts it and concurrent callers share that start. */
export function getFaceDetector(): Promise<FaceDetector> {
  return host.get();
}

/** Faces in an already downscaled image (~416-512 px long side); [] when detection is unavailable. */
export async function detectFaces(img: RawImage): Promise<FaceBox[]> {
  return (await getFaceDetector()).detect(img);
}

/**
 * Stop the worker now if it has no job (as the idle countdown would), and resolve once the
 * last worker stopped for idleness has exited. A busy worker is left running.
 */
export function stopFaceWorker(): Promise<void> {
  return host.stop();
}

/**
 * True once the detector is loaded and healthy. While it is still loading this is false, so the
 * render path should `await getFaceDetector()` and read `available` rather than poll this.
 */
export function facesAvailable(): boolean {
  return host.status === 'ready';
}

export function facesStatus(): ModelStatus {
  return host.status;
}
