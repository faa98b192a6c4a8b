/**
 * Where a cold source's object analysis goes: the steps a `g_<class>` request runs on a source
 * without the class (subject.ts), timed one at a time on the 20 photos of images/ and
 * ../shared/corpus/photos, with the real workers:
 *   - decode + resize to 320 px for saliency (main thread, libvips) and the saliency map (analysis worker);
 *   - decode + resize to 853 px for the detector (main thread; one decode serves both passes),
 *     the 512 px copy scaled from it, and the first 512 px CenterNet pass (object worker round
 *     trip: copy, transfer, float conversion, network, peak decoding);
 *   - the detail pass: one pass on the 853 px copy (sources of 640 px or more);
 *   - then, in this process's main thread with the same model and code, one 512 px pass split
 *     into input preparation (float RGB, tensor, resize, pad), the network (execute + read back)
 *     and the peak decoding (the rest).
 * Steps run one after another (no overlap), so they add up to more than a request that overlaps them.
 * cpuFirst / cpuDetail: the process's CPU time (all threads) over the decode + first pass, and
 * over the detail pass: what the work costs whatever the machine's load (on an idle box a pass,
 * single-threaded, takes about its CPU time).
 *
 * Usage: npx tsx bench/objects-split.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { getObjectDetector, rawForObjects, stopObjectWorker, DETAIL_SIDE } from '../src/analyze/objects.ts';
import { workerSaliency, closeMetricWorker } from '../src/analyze/metric.ts';
import { ANALYSIS_SIDE } from '../src/analyze/crop.ts';
import { objectClassIds } from '../src/analyze/coco.ts';
import { findPeaks, initObjectModel, OBJECT_INPUT } from '../src/analyze/objects-worker.ts';
import { toRgb } from '../src/analyze/tf-worker-host.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpus = path.resolve(root, '../shared/corpus/photos');
const files = [
  ...fs.readdirSync(path.join(root, 'images')).filter((f) => /\.(png|jpg)$/.test(f) && !f.includes('logo')).map((f) => path.join(root, 'images', f)),
  ...(fs.existsSync(corpus) ? fs.readdirSync(corpus).filter((f) => /\.(png|jpg)$/.test(f)).map((f) => path.join(corpus, f)) : []),
];
const cat = new Set(objectClassIds('cat'));
const now = () => performance.now();
/** CPU time of this process (every thread: main, workers, libvips), ms. */
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const p90 = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length * 0.9)]; };
const load = () => os.loadavg().map((v) => v.toFixed(1)).join(' ');

console.log(`load average at start ${load()}`);
const t0 = now();
const detector = await getObjectDetector();
const firstStart = now() - t0;
const cols: Record<string, number[]> = { dec320: [], saliency: [], decDetail: [], scale512: [], pass512: [], passDetail: [], firstTotal: [], absentTotal: [], cpuFirst: [], cpuDetail: [] };
let catFirst = 0;
for (const f of files) {
  const buf = await fs.promises.readFile(f);
  const open = () => sharp(buf, { autoOrient: true, sequentialRead: true });
  let t = now();
  const small = await rawForObjects(open(), ANALYSIS_SIDE);
  cols.dec320.push(now() - t); t = now();
  await workerSaliency(small);
  cols.saliency.push(now() - t); t = now();
  const c0 = cpu();
  // As subject.ts: one decode at DETAIL_SIDE, the first pass's copy scaled from it (canvases of 640 px or more).
  const big = await rawForObjects(open(), DETAIL_SIDE);
  const detailOk = Math.max(big.width, big.height) >= OBJECT_INPUT * 1.25;
  cols.decDetail.push(now() - t); t = now();
  const img = detailOk ? await rawForObjects(sharp(big.data, { raw: { width: big.width, height: big.height, channels: big.channels } }), OBJECT_INPUT) : await rawForObjects(open(), OBJECT_INPUT);
  cols.scale512.push(now() - t); t = now();
  const found = await detector.detect(img);
  cols.pass512.push(now() - t);
  const c1 = cpu();
  cols.cpuFirst.push(c1 - c0);
  if (found.some((o) => cat.has(o.cls) && o.score >= 0.15)) catFirst++;
  t = now();
  if (detailOk) {
    await detector.detect(big);
    cols.passDetail.push(now() - t);
    cols.cpuDetail.push(cpu() - c1);
  }
  // Object analysis of the source: decode + first pass (class found, or fl_getinfo), and with the detail pass (class absent).
  const first = cols.decDetail.at(-1)! + cols.scale512.at(-1)! + cols.pass512.at(-1)!;
  cols.firstTotal.push(first);
  cols.absentTotal.push(first + (detailOk ? cols.passDetail.at(-1)! : 0));
}
console.log(`worker start + model load (first getObjectDetector): ${firstStart.toFixed(0)} ms; sources ${files.length}, cat in the first pass on ${catFirst}; load average ${load()}`);
for (const [k, v] of Object.entries(cols)) console.log(`${k.padEnd(11)} (${v.length}) median ${med(v).toFixed(1).padStart(7)} ms  p90 ${p90(v).toFixed(1).padStart(7)} ms`);
await stopObjectWorker();
await closeMetricWorker();

// The same pass on this thread, split: input preparation, network (execute + read back), peak decoding.
const model = await initObjectModel();
const prep: number[] = [], net: number[] = [], peaks: number[] = [];
for (const f of files) {
  const img = await rawForObjects(sharp(await fs.promises.readFile(f), { autoOrient: true }), OBJECT_INPUT);
  const iw = Math.ceil(img.width / 32) * 32, ih = Math.ceil(img.height / 32) * 32;
  let t = now();
  const input = tf.tidy(() => {
    const rgb = tf.tensor3d(toRgb(img.data as Uint8Array, img.width, img.height, img.channels), [img.height, img.width, 3], 'float32');
    return tf.pad(tf.expandDims(rgb, 0), [[0, 0], [0, ih - img.height], [0, iw - img.width], [0, 0]]);
  });
  await input.data();
  prep.push(now() - t); t = now();
  const heads = model.execute(input, ['tower_0/keypoints', 'tower_0/wh']) as tf.Tensor[];
  const heat = await heads[0].data() as Float32Array; await heads[1].data();
  net.push(now() - t); t = now();
  findPeaks(heat, iw, ih, 0.15);
  peaks.push(now() - t);
  input.dispose(); for (const h of heads) h.dispose();
}
console.log(`main-thread 512 px pass, medians: input prep ${med(prep).toFixed(1)} ms, network ${med(net).toFixed(1)} ms, peak decoding ${med(peaks).toFixed(1)} ms; backend ${tf.getBackend()}; load average ${load()}`);
