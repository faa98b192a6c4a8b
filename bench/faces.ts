/**
 * Face detection benchmark: `npx tsx bench/faces.ts` (needs ../shared/corpus beside the repo).
 * Prints markdown and writes bench/faces-results.md.
 *
 * - cold start of the public detector (worker spawn + wasm + weights + warm-up inference);
 * - per-image time of each network pass (in-process) and of `detect()` through the worker;
 * - recall by face size: the astronaut's head pasted at several sizes and places onto synthetic
 *   backgrounds, per pass and for the shipped two-pass setting (this is what chose the passes).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { FACE_DETECT_OPTIONS, getFaceDetector } from '../src/analyze/faces.ts';
import { detectWith, initModel, type DetectOptions } from '../src/analyze/faces-worker.ts';
import type { RawImage } from '../src/analyze/types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../shared/corpus/photos');
if (!existsSync(corpus)) {
  console.error(`${corpus} not found: the benchmark needs the shared corpus`);
  process.exit(1);
}

const RUNS = 7;
const IMAGES = ['astronaut.png', 'cat.png', 'coffee.png', 'motorcycle.png'];

async function load(file: string, side = 512): Promise<RawImage> {
  const { data, info } = await sharp(file).resize(side, side, { fit: 'inside' }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

const ms = (v: number): string => v.toFixed(0);
const out: string[] = [];
const say = (line = ''): void => { out.push(line); console.log(line); };

const load1 = os.loadavg()[0]!;

// Cold start first, before this process has touched tfjs.
let t0 = performance.now();
const detector = await getFaceDetector();
const coldWorker = performance.now() - t0;
if (!detector.available) {
  console.error('face detector unavailable');
  process.exit(1);
}
t0 = performance.now();
const params = await initModel();
const coldInProcess = performance.now() - t0;
t0 = performance.now();
await detectWith(params, new Uint8Array(64 * 64 * 3), 64, 64, 3, FACE_DETECT_OPTIONS);
const firstPass = performance.now() - t0;

const single = (inputSize: number): DetectOptions => ({
  passes: [{ inputSize, maxFaceFraction: 1 }],
  scoreThreshold: FACE_DETECT_OPTIONS.scoreThreshold,
});
const passLabel = FACE_DETECT_OPTIONS.passes.map((p) => `${p.inputSize}${p.maxFaceFraction < 1 ? ` (boxes ≤ ${p.maxFaceFraction * 100}%)` : ''}`).join(' + ');

say('# Face detection benchmark');
say();
say(`${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} ×${os.availableParallelism()}, ` +
  `1-min load average at start ${load1.toFixed(1)} (the box is shared: times are upper bounds).`);
say(`TinyFaceDetector (@vladmandic/face-api 1.7 weights) on tfjs-core + wasm backend, 1 thread, in a worker thread.`);
say(`Shipped setting: passes ${passLabel}, score ≥ ${FACE_DETECT_OPTIONS.scoreThreshold}. Median of ${RUNS} runs after one warm-up; images downscaled to 512 px long side.`);
say();
say('| cold start | ms |');
say('|---|---:|');
say(`| \`getFaceDetector()\` (worker + tsx loader + wasm + weights; no warm-up pass since the worker starts on first need) | ${ms(coldWorker)} |`);
say(`| \`initModel()\` in-process (wasm + weights only) | ${ms(coldInProcess)} |`);
say(`| first in-process detection after that (one-time wasm/XNNPACK operator setup) | ${ms(firstPass)} |`);
say();
say('| image | size | faces | 416 pass ms | 608 pass ms | `detect()` via worker ms |');
say('|---|---|---:|---:|---:|---:|');
for (const name of IMAGES) {
  const img = await load(path.join(corpus, name));
  const faces = await detector.detect(img);
  const run = (o: DetectOptions) => () => detectWith(params, img.data as Uint8Array, img.width, img.height, img.channels, o);
  const p416 = await median(run(single(416)));
  const p608 = await median(run(single(608)));
  const full = await median(() => detector.detect(img));
  say(`| ${name} | ${img.width}×${img.height} | ${faces.length} | ${ms(p416)} | ${ms(p608)} | ${ms(full)} |`);
}

// Recall by face size. The head crop keeps hair and shoulders so the face reads as a face.
const HEAD = { left: 100, top: 20, size: 260, faceWidth: 110 };
const head = await sharp(path.join(corpus, 'astronaut.png'))
  .extract({ left: HEAD.left, top: HEAD.top, width: HEAD.size, height: HEAD.size }).png().toBuffer();
function background(kind: number): Buffer {
  const w = 512, h = 384, data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = (y * w + x) * 3;
    const n = ((x * 73856093) ^ (y * 19349663) ^ (kind * 83492791)) & 31;
    data[o] = (kind === 0 ? x / 2 : 200 - y / 3) + n;
    data[o + 1] = (kind === 1 ? 120 : y / 2) + n;
    data[o + 2] = 100 + 80 * Math.sin((x + kind * 50) / 45) + n;
  }
  return data;
}
const FACE_PX = [16, 24, 32, 40, 48, 64, 96, 160];
const PLACES = [[20, 20], [220, 120], [400, 250]] as const;
const configs: Array<[string, DetectOptions]> = [
  ['416 only', single(416)],
  ['608 only', single(608)],
  ['shipped', FACE_DETECT_OPTIONS],
];
const hits = new Map(configs.map(([k]) => [k, FACE_PX.map(() => 0)]));
let trials = 0;
for (const [fi, facePx] of FACE_PX.entries()) {
  const side = Math.round((HEAD.size * facePx) / HEAD.faceWidth);
  const pasted = await sharp(head).resize(side, side).toBuffer();
  trials = 0;
  for (const kind of [0, 1]) {
    for (const [px, py] of PLACES) {
      const left = Math.min(px, 512 - side), top = Math.min(py, 384 - side);
      if (left < 0 || top < 0) continue;
      trials++;
      const { data, info } = await sharp(background(kind), { raw: { width: 512, height: 384, channels: 3 } })
        .composite([{ input: pasted, left, top }]).raw().toBuffer({ resolveWithObject: true });
      const k = side / HEAD.size;
      const truth = { x: left + 70 * k, y: top + 50 * k, w: 110 * k, h: 115 * k };
      for (const [label, o] of configs) {
        const boxes = await detectWith(params, data, info.width, info.height, info.channels, o);
        const hit = boxes.some((b) => {
          const cx = b.x + b.width / 2, cy = b.y + b.height / 2;
          return cx > truth.x && cx < truth.x + truth.w && cy > truth.y && cy < truth.y + truth.h && b.width < 3 * truth.w;
        });
        if (hit) hits.get(label)![fi]! += 1;
      }
    }
  }
}
say();
say(`Recall by face width (px in a 512×384 image; ${trials} placements per size when the head fits):`);
say();
say(`| setting | ${FACE_PX.join(' | ')} |`);
say(`|---|${FACE_PX.map(() => '---:').join('|')}|`);
for (const [label] of configs) say(`| ${label} | ${hits.get(label)!.join(' | ')} |`);
say();

// Close-ups: crop ever tighter around the face so it fills more of the frame.
const FACE = { x: 170, y: 70, w: 110, h: 115 };
const MARGINS = [1, 0.6, 0.4, 0.25, 0.15, 0.05];
const astro = path.join(corpus, 'astronaut.png');
const closeRows: string[] = [];
for (const m of MARGINS) {
  const left = Math.max(0, FACE.x - Math.round(FACE.w * m)), top = Math.max(0, FACE.y - Math.round(FACE.h * m));
  const width = Math.min(512 - left, FACE.w + 2 * Math.round(FACE.w * m)), height = Math.min(512 - top, FACE.h + 2 * Math.round(FACE.h * m));
  const { data, info } = await sharp(astro).extract({ left, top, width, height }).resize(480, 480, { fit: 'inside' }).raw().toBuffer({ resolveWithObject: true });
  const cells: string[] = [];
  for (const [, o] of configs) {
    const boxes = await detectWith(params, data, info.width, info.height, info.channels, o);
    cells.push(boxes.length ? boxes[0]!.score.toFixed(2) : '–');
  }
  closeRows.push(`| ${Math.round((100 * FACE.w) / width)}% | ${cells.join(' | ')} |`);
}
say();
say('Close-ups (face width as % of image width; best score, – = missed):');
say();
say(`| face | ${configs.map(([k]) => k).join(' | ')} |`);
say(`|---|${configs.map(() => '---:').join('|')}|`);
for (const r of closeRows) say(r);

// False positives: highest score per pass on corpus images without human faces.
const lenient = (inputSize: number, maxFaceFraction = 1): DetectOptions => ({ passes: [{ inputSize, maxFaceFraction }], scoreThreshold: 0.05 });
const fp = [
  ['416', lenient(416)],
  ['608', lenient(608)],
  ['608, boxes ≤ 15%', lenient(608, 0.15)],
] as const;
const graphics = path.resolve(corpus, '../graphics');
const noFaces = [
  ...readdirSync(corpus).filter((f) => f !== 'astronaut.png').map((f) => path.join(corpus, f)),
  ...readdirSync(graphics).map((f) => path.join(graphics, f)),
];
const worst = fp.map(() => ({ score: 0, file: '' }));
const above = fp.map(() => 0);
for (const file of noFaces) {
  const img = await sharp(file, { limitInputPixels: 1e8 }).resize(512, 512, { fit: 'inside' }).raw().toBuffer({ resolveWithObject: true });
  for (const [i, [, o]] of fp.entries()) {
    const boxes = await detectWith(params, img.data, img.info.width, img.info.height, img.info.channels, o);
    const top = boxes.reduce((m, b) => Math.max(m, b.score), 0);
    if (top > worst[i]!.score) worst[i] = { score: top, file: path.basename(file) };
    if (top >= FACE_DETECT_OPTIONS.scoreThreshold) above[i]! += 1;
  }
}
say();
say(`False positives on ${noFaces.length} corpus photos and graphics without people:`);
say();
say(`| pass | highest score (image) | images with a box ≥ ${FACE_DETECT_OPTIONS.scoreThreshold} |`);
say('|---|---|---:|');
for (const [i, [label]] of fp.entries()) say(`| ${label} | ${worst[i]!.score.toFixed(2)} (${worst[i]!.file}) | ${above[i]} |`);

writeFileSync(path.join(here, 'faces-results.md'), out.join('\n') + '\n');
console.log(`\nwritten to ${path.join(here, 'faces-results.md')}`);
process.exit(0);
