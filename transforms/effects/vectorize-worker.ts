/**
 * Traces RGBA pixels into SVG with imagetracerjs (e_vectorize) off the event loop: one worker
 * per trace, ended by the caller at the request's deadline (src/render/deadline.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';

export interface TraceJob {
  data: Uint8Array;
  width: number;
  height: number;
  options: Record<string, number | boolean>;
}

interface Tracer {
  imagedataToSVG(img: { width: number; height: number; data: Uint8ClampedArray }, options: Record<string, number | boolean>): string;
}

const job = workerData as TraceJob;
const tracer = createRequire(import.meta.url)('imagetracerjs') as Tracer;
const svg = tracer.imagedataToSVG({ width: job.width, height: job.height, data: new Uint8ClampedArray(job.data.buffer, job.data.byteOffset, job.data.length) }, job.options);
parentPort!.postMessage(svg);
