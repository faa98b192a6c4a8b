/**
 * Face detection worker: TinyFaceDetector (from @vladmandic/face-api, weights read from the
 * package's model/ folder) run on tfjs-core with the wasm backend.
 *
 * Why a worker: one inference is 40-90 ms of synchronous wasm; on the main thread it would stall
 * every other request for that long. Why not face-api's own builds: its node builds import
 * `@tensorflow/tfjs` (the union package, not installed) and its bundled ESM build crashes under
 * Node, so the network (a small MobileNet-style TinyYolov2) is re-stated here on tfjs-core; it
 * mirrors face-api 1.7 TinyFaceDetector/TinyYolov2Base exactly so its published accuracy holds.
 *
 * Protocol (one job in flight at a time; faces.ts queues):
 *   in:  { id, op: 'detect', data, width, height, channels } | { id, op: 'memory' }
 *   out: { type: 'ready' } | { type: 'failed', message }
 *        | { id, boxes: ScoredBox[] } | { id, numTensors } | { id, error }
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, packageDir, serveModel, toRgb, type DetectReply, type DetectRequest } from './tf-worker-host.ts';

export interface DetectPass {
  /** Square network input side, a multiple of 32. */
  readonly inputSize: number;
  /** Keep only boxes whose longer side is at most this fraction of the image's longer side. */
  readonly maxFaceFraction: number;
}

export interface DetectOptions {
  /** Passes whose boxes are merged by non-maximum suppression. */
  readonly passes: readonly DetectPass[];
  /** Smallest face probability kept (0-1). */
  readonly scoreThreshold: number;
}

export interface ScoredBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

export type WorkerRequest = DetectRequest;

export type WorkerReply = DetectReply<{ boxes: ScoredBox[] }>;

// face-api tinyFaceDetector/const.ts: anchors are in output-grid cells (1 cell = 32 input px).
const ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];
const MEAN_RGB = [117.001, 114.697, 97.404] as const;
const NMS_IOU = 0.4;

interface SeparableConv { depthwise: tf.Tensor4D; pointwise: tf.Tensor4D; bias: tf.Tensor1D }
interface Params {
  conv0: { filters: tf.Tensor4D; bias: tf.Tensor1D };
  separable: SeparableConv[];
  conv8: { filters: tf.Tensor4D; bias: tf.Tensor1D };
}

async function loadParams(modelDir: string): Promise<Params> {
  const manifestPath = path.join(modelDir, 'tiny_face_detector_model-weights_manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Array<{
    paths: string[];
    weights: tf.io.WeightsManifestEntry[];
  }>;
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Buffer[] = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) chunks.push(await readFile(path.join(modelDir, p)));
  }
  const bytes = Buffer.concat(chunks);
  // decodeWeights dequantises the uint8 weights the manifest declares.
  const map = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), specs);
  const get = <T extends tf.Tensor>(name: string, rank: number): T => {
    const w = map[name];
    if (!w || w.rank !== rank) throw new Error(`tiny face detector weights: missing or bad ${name}`);
    return w as T;
  };
  return {
    conv0: { filters: get('conv0/filters', 4), bias: get('conv0/bias', 1) },
    separable: [1, 2, 3, 4, 5].map((i) => ({
      depthwise: get<tf.Tensor4D>(`conv${i}/depthwise_filter`, 4),
      pointwise: get<tf.Tensor4D>(`conv${i}/pointwise_filter`, 4),
      bias: get<tf.Tensor1D>(`conv${i}/bias`, 1),
    })),
    conv8: { filters: get('conv8/filters', 4), bias: get('conv8/bias', 1) },
  };
}

/**
 * Run `op` on `x` and free `x`: one layer at a time, only its input and output are alive. (A
 * single tf.tidy around the network would keep every intermediate until the end: ~180 MB of
 * wasm heap at 608 px, which a wasm memory never gives back.)
 */
function then<T extends tf.Tensor, U extends tf.Tensor>(x: T, op: (x: T) => U): U {
  try { return op(x); } finally { x.dispose(); }
}

/** conv + bias + leaky ReLU (0.1) as one fused kernel: face-api's `relu(x - 0.1x) + 0.1x`. */
function convLeaky(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  return tf.fused.conv2d({ x, filter, bias, strides: 1, pad: 'valid', activation: 'leakyrelu', leakyreluAlpha: 0.1 });
}

/** conv0 output rows per band (even, so each band's 2x2 pool sees whole pairs of rows). */
const BAND_ROWS = 64;

/**
 * conv0 + leaky ReLU + the first 2x2 max pool, in bands of output rows: at 608 px the whole
 * conv0 output (606×606×16 floats, 23.5 MB) and XNNPACK's indirection buffer for it were the
 * peak of the wasm heap (+58 MB). Each output pixel sees exactly the same inputs in its band
 * ('valid' conv: band rows [a, b) read input rows [a, b + 2)), so the result is the same.
 */
function conv0Pooled(x: tf.Tensor4D, params: Params): tf.Tensor4D {
  const rows = x.shape[1] - 2;
  const bands: tf.Tensor4D[] = [];
  try {
    for (let a = 0; a < rows; a += BAND_ROWS) {
      const n = Math.min(BAND_ROWS, rows - a);
      bands.push(tf.tidy(() => {
        const band = tf.slice(x, [0, a, 0, 0], [-1, n + 2, -1, -1]);
        return tf.maxPool(convLeaky(band, params.conv0.filters, params.conv0.bias), 2, 2, 'same');
      }));
    }
    return tf.concat(bands, 1);
  } finally {
    for (const b of bands) b.dispose();
  }
}

/** Network output logits, [cells, cells, 25], for the image padded bottom/right to a square. */
function forward(params: Params, pixels: Float32Array, w: number, h: number, inputSize: number): tf.Tensor3D {
  const side = Math.max(h, w);
  // The pixels enter the wasm heap per pass and leave it before the network runs: a block kept
  // across both passes would sit between their layers' blocks and fragment the heap.
  const rgb = tf.tensor3d(pixels, [h, w, 3], 'float32');
  // Each step frees its input as soon as its output exists (not one tf.tidy over the four): at
  // 608 px the pad, the resize, the centring and the scaling are 3-4.4 MB each.
  // (expandDims shares its input's data: disposing either keeps the other's.)
  let sq: tf.Tensor4D = then(rgb, (t) => side === h && side === w
    ? tf.expandDims<tf.Tensor4D>(t, 0)
    : tf.tidy(() => tf.expandDims<tf.Tensor4D>(tf.pad(t, [[0, side - h], [0, side - w], [0, 0]]), 0)));
  if (side !== inputSize) sq = then(sq, (t) => tf.image.resizeBilinear(t, [inputSize, inputSize], false, false));
  sq = then(sq, (t) => tf.tidy(() => tf.sub<tf.Tensor4D>(t, tf.tensor1d(MEAN_RGB as unknown as number[]))));
  let x: tf.Tensor4D = then(sq, (t) => tf.div<tf.Tensor4D>(t, 255));
  x = then(x, (t) => conv0Pooled(t, params));
  for (const [i, p] of params.separable.entries()) {
    if (i > 0) x = then(x, (t) => tf.maxPool(t, 2, 2, 'same'));
    // separableConv2d = depthwise, then a 1x1 pointwise conv (fused here with bias and
    // activation); 'same' on a 3x3 stride-1 filter is face-api's explicit 1 px zero padding.
    x = then(x, (t) => tf.depthwiseConv2d(t, p.depthwise, 1, 'same'));
    x = then(x, (t) => convLeaky(t, p.pointwise, p.bias));
  }
  x = then(x, (t) => tf.maxPool(t, 2, 1, 'same'));
  x = then(x, (t) => tf.fused.conv2d({ x: t, filter: params.conv8.filters, bias: params.conv8.bias, strides: 1, pad: 'valid' }));
  return then(x, (t) => tf.squeeze<tf.Tensor3D>(t, [0]));
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Decode YOLO cells into boxes in image pixels (face-api TinyYolov2Base.extractBoxes). */
function decode(logits: Float32Array, cells: number, width: number, height: number, threshold: number): ScoredBox[] {
  // The image occupies the top-left of the padded square; grid fractions are of the square.
  const side = Math.max(width, height);
  const out: ScoredBox[] = [];
  const stride = ANCHORS.length * 5;
  for (let row = 0; row < cells; row++) {
    for (let col = 0; col < cells; col++) {
      for (let a = 0; a < ANCHORS.length; a++) {
        const o = (row * cells + col) * stride + a * 5;
        const score = sigmoid(logits[o + 4]);
        if (score < threshold) continue;
        const cx = ((col + sigmoid(logits[o])) / cells) * side;
        const cy = ((row + sigmoid(logits[o + 1])) / cells) * side;
        const bw = ((Math.exp(logits[o + 2]) * ANCHORS[a][0]) / cells) * side;
        const bh = ((Math.exp(logits[o + 3]) * ANCHORS[a][1]) / cells) * side;
        out.push({ x: cx - bw / 2, y: cy - bh / 2, width: bw, height: bh, score });
      }
    }
  }
  return out;
}

function iou(a: ScoredBox, b: ScoredBox): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

function nms(boxes: ScoredBox[]): ScoredBox[] {
  const sorted = [...boxes].sort((p, q) => q.score - p.score);
  const kept: ScoredBox[] = [];
  for (const b of sorted) if (kept.every((k) => iou(k, b) <= NMS_IOU)) kept.push(b);
  return kept;
}

/** Clamp to the image and round outward to whole pixels; drop what is left empty. */
function clampBox(b: ScoredBox, width: number, height: number): ScoredBox | null {
  const x0 = Math.max(0, Math.floor(b.x)), y0 = Math.max(0, Math.floor(b.y));
  const x1 = Math.min(width, Math.ceil(b.x + b.width)), y1 = Math.min(height, Math.ceil(b.y + b.height));
  if (x1 - x0 < 1 || y1 - y0 < 1) return null;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0, score: b.score };
}

export async function detectWith(
  params: Params, data: Uint8Array, width: number, height: number, channels: number, opts: DetectOptions,
): Promise<ScoredBox[]> {
  const rgb = toRgb(data, width, height, channels);
  const found: ScoredBox[] = [];
  const longSide = Math.max(width, height);
  // The largest pass first: the wasm heap grows to hold that pass's tensors, and the smaller
  // pass then fits in the blocks it freed. Smaller first, the larger pass's blocks do not fit
  // in the smaller pass's free blocks and the heap grows further (83 vs 69 MB for 416 + 608).
  // The boxes are the same either way (merged by score).
  for (const pass of [...opts.passes].sort((p, q) => q.inputSize - p.inputSize)) {
    const logits = forward(params, rgb, width, height, pass.inputSize);
    try {
      const cells = logits.shape[0];
      const maxSide = pass.maxFaceFraction * longSide;
      for (const b of decode(await logits.data() as Float32Array, cells, width, height, opts.scoreThreshold)) {
        if (Math.max(b.width, b.height) <= maxSide) found.push(b);
      }
    } finally {
      logits.dispose();
    }
  }
  return nms(found)
    .map((b) => clampBox(b, width, height))
    .filter((b): b is ScoredBox => b !== null)
    .sort((p, q) => q.width * q.height - p.width * p.height);
}

export async function initModel(): Promise<Params> {
  await initWasmBackend();
  return loadParams(path.join(packageDir('@vladmandic/face-api'), 'model'));
}

// No warm-up inference: the worker starts for a request that is waiting, and its first
// detection sets the kernels up as a warm-up pass would (the input is resized to the pass
// size either way), so a warm-up would only double that request's wait.
if (parentPort) void serveModel<Params, DetectOptions, ScoredBox[]>(initModel, 'boxes', detectWith);
