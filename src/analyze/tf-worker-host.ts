/**
 * The worker-thread side of a model worker (faces-worker.ts, objects-worker.ts): tfjs-core on
 * the wasm backend, and the message loop of the protocol model-worker.ts speaks:
 *   in:  { id, op: 'detect', data, width, height, channels } | { id, op: 'memory' }
 *   out: { type: 'ready' } | { type: 'failed', message } | { id, ...result } | { id, numTensors } | { id, error }
 * Each worker keeps its model-specific loading and inference.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);

/** The folder of an installed package. */
export function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

/** Select tfjs's wasm backend, single-threaded. */
export async function initWasmBackend(): Promise<void> {
  setWasmPaths(path.join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist') + path.sep);
  // The server already runs one transform per core; a threaded wasm pool would oversubscribe.
  // (Under Node, tfjs-backend-wasm 4.22 picks the SIMD build and never the threaded one: its
  // WASM_HAS_MULTITHREAD_SUPPORT flag is false there, tfjs issue 3830, and forcing it makes the
  // backend fail to initialise; so a pass uses one core whatever this says.)
  setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
}

/** Raw pixels of any channel count → float RGB 0-255; alpha is composited over white like a page. */
export function toRgb(data: Uint8Array, width: number, height: number, channels: number): Float32Array {
  const n = width * height;
  const out = new Float32Array(n * 3);
  for (let i = 0, s = 0, d = 0; i < n; i++, s += channels, d += 3) {
    let r: number, g: number, b: number, a = 255;
    if (channels >= 3) { r = data[s]; g = data[s + 1]; b = data[s + 2]; if (channels === 4) a = data[s + 3]; }
    else { r = g = b = data[s]; if (channels === 2) a = data[s + 1]; }
    if (a === 255) { out[d] = r; out[d + 1] = g; out[d + 2] = b; }
    else {
      const k = a / 255, w = 255 * (1 - k);
      out[d] = r * k + w; out[d + 1] = g * k + w; out[d + 2] = b * k + w;
    }
  }
  return out;
}

export type DetectRequest =
  | { id: number; op: 'detect'; data: Uint8Array; width: number; height: number; channels: number }
  | { id: number; op: 'memory' };

/** A worker's replies; `Result` is its detection reply's payload, e.g. `{ boxes: ScoredBox[] }`. */
export type DetectReply<Result extends object> =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | ({ id: number } & Result)
  | { id: number; numTensors: number }
  | { id: number; error: string };

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Load the model with `init`, report 'ready' (or 'failed'), then answer jobs: a detection's
 * result is posted as `{ id, [key]: result }`. `Opts` is the worker's workerData.
 */
export async function serveModel<M, Opts, R>(
  init: () => Promise<M>,
  key: string,
  detect: (model: M, data: Uint8Array, width: number, height: number, channels: number, opts: Opts) => Promise<R>,
): Promise<void> {
  const port = parentPort!;
  const opts = workerData as Opts;
  let model: M;
  try {
    model = await init();
  } catch (err) {
    port.postMessage({ type: 'failed', message: message(err) });
    return;
  }
  port.postMessage({ type: 'ready' });
  port.on('message', (req: DetectRequest) => {
    if (req.op === 'memory') {
      port.postMessage({ id: req.id, numTensors: tf.memory().numTensors });
      return;
    }
    detect(model, req.data, req.width, req.height, req.channels, opts).then(
      (result) => port.postMessage({ id: req.id, [key]: result }),
      (err: unknown) => port.postMessage({ id: req.id, error: message(err) }),
    );
  });
}
