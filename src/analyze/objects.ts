/**
 * Object detection for `g_<class>`, `g_auto:<class>`, `fl_getinfo`'s objects and the `g_auto`
 * object cue: CenterNet (80 COCO classes) in one worker thread (objects-worker.ts), with the
 * face detector's lifecycle (faces.ts): nothing is loaded at boot, the first request that needs
 * objects starts the worker (~0.1 s to load the 4 MB model, then one warm-up inference), and after `idleMs`
 * (APERTURE_OBJECTS_IDLE_MS) without a job the worker is terminated, which gives its wasm heap
 * back. One job is in the worker at a time (FIFO, model-worker.ts), each bounded by a timeout.
 *
 * Thresholds (set before, then checked on the development composites of bench/objects-score.ts): objects are listed
 * (fl_getinfo, g_auto cue) from score 0.3; a class a request names is read down to 0.15, so a
 * small or unusual-looking object of the asked class is still found.
 *
 * Failure policy as for faces: a worker that cannot start or dies gives "no objects" and one
 * warning; callers read `available` to tell "absent" from "could not look".
 */
import type { Sharp } from 'sharp';
import { DEFAULT_OBJECTS_IDLE_MS } from '../config.ts';
import { ModelWorkerHost, WorkerModel, unavailableDetector, type IdleTimer, type ModelStatus } from './model-worker.ts';
import type { DetectedObject, ObjectDetectOptions, ObjectWorkerReply, ObjectWorkerRequest } from './objects-worker.ts';
import type { RawImage } from './types.ts';

export const OBJECT_SCORE_THRESHOLD = 0.3;
export const ASKED_SCORE_THRESHOLD = 0.15;

export const OBJECT_DETECT_OPTIONS: ObjectDetectOptions = Object.freeze({
  scoreThreshold: OBJECT_SCORE_THRESHOLD,
  askedThreshold: ASKED_SCORE_THRESHOLD,
});

/**
 * The detail pass (run when an asked class is absent from the first pass) looks at the whole
 * canvas at this long side: 512 / 0.6, the magnification of the 2×2 tiles of 60 % it replaced,
 * in one network pass of ~2.8 first passes' work instead of four tiles' ~4 (BENCHMARKS.md,
 * "Object detection").
 */
export const DETAIL_SIDE = Math.round(512 / 0.6);

const INIT_TIMEOUT_MS = 30_000;
const JOB_TIMEOUT_MS = 30_000;

export type { DetectedObject };

export interface ObjectDetector {
  readonly available: boolean;
  /**
   * Objects in `img` pixels, best score first: one network pass at the image's own size (its
   * long side raised to 512 px, capped at 1024; objects-worker.ts).
   */
  detect(img: RawImage): Promise<DetectedObject[]>;
  tensorCount(): Promise<number>;
}

const host: ModelWorkerHost<ObjectDetector> = new ModelWorkerHost<ObjectDetector>({
  callerUrl: import.meta.url,
  module: 'objects-worker',
  workerData: OBJECT_DETECT_OPTIONS,
  idleMs: DEFAULT_OBJECTS_IDLE_MS,
  initTimeoutMs: INIT_TIMEOUT_MS,
  jobTimeoutMs: JOB_TIMEOUT_MS,
  log: (message) => { process.emitWarning(message, 'ObjectDetectionWarning'); },
  warning: (message) => `object detection unavailable: ${message}`,
  create: (worker) => new WorkerObjectDetector(worker, host),
  unavailable: unavailableDetector,
});

export function configureObjects(opts: { idleMs?: number; log?: (m: string) => void; idleTimer?: IdleTimer }): void {
  host.configure(opts);
}

class WorkerObjectDetector extends WorkerModel<ObjectWorkerRequest, ObjectWorkerReply> implements ObjectDetector {
  async detect(img: RawImage): Promise<DetectedObject[]> {
    const { width, height, channels } = img;
    if (!(width > 0 && height > 0) || img.data.length < width * height * channels) {
      throw new RangeError(`detect: ${width}x${height}x${channels} image with ${img.data.length} bytes`);
    }
    const data = new Uint8Array(width * height * channels);
    data.set(img.data.subarray(0, data.length));
    passes++;
    const reply = await this.run({ id: this.nextId++, op: 'detect', data, width, height, channels }, [data.buffer]);
    if (reply && 'objects' in reply) return reply.objects;
    if (reply && 'error' in reply) this.host.warnOnce(`detection failed: ${reply.error}`);
    return [];
  }
}

/** The process-wide detector; the first call starts the worker. */
export function getObjectDetector(): Promise<ObjectDetector> {
  return host.get();
}

/** Stop the worker now if it has no job, and resolve once the last stopped worker has exited. */
export function stopObjectWorker(): Promise<void> {
  return host.stop();
}

export function objectsStatus(): ModelStatus {
  return host.status;
}

let passes = 0;

/** Network passes asked of the detector so far (tests: the detail pass runs only when needed). */
export function objectPasses(): number {
  return passes;
}

/** How many times a worker was started (tests: a workload without objects starts none). */
export function objectWorkerStarts(): number {
  return host.starts;
}

/** A raw sRGB copy of `img` at most `side` px long, flattened on white, for detection and analysis (subject.ts). */
export async function rawForObjects(img: Sharp, side: number): Promise<RawImage> {
  const { data, info } = await img
    .resize(side, side, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 3 };
}
