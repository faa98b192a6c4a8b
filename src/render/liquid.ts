/**
 * Liquid rescaling (`c_scale,g_liquid`, Cloudinary's content-aware scaling; geometry.ts decides
 * when): the canvas reaches the requested aspect ratio by removing low-energy seams along the
 * axis whose share must shrink, then a plain resize gives the exact size. Never by inserting
 * seams: a ratio that needs a longer axis removes seams across the other one and the resize
 * then enlarges uniformly.
 *
 * The cost is bounded: the canvas is first scaled uniformly so that the axis that is not carved
 * has its final length (only when that shrinks it), the seams are found on a work copy of at
 * most WORK_SIDE px a side (src/render/liquid-worker.ts, a worker thread), and the frames are
 * carved at that resolution by the same seams. The worker is ended at the request's deadline,
 * and the render (and with it the admission slot) ends only once the thread has stopped.
 * An animation is carved frame by frame along the seams of its first frame.
 */
import sharp from 'sharp';
import type { Worker } from 'node:worker_threads';
import type { Canvas } from './canvas.ts';
import { scale } from './affine.ts';
import { spawnModuleWorker, ANALYSIS_WORKER_LIMITS } from '../analyze/spawn-worker.ts';
import type { CarveJob, CarveResult } from './liquid-worker.ts';
import type { ImportanceMap } from '../analyze/subject.ts';

/** Longest side of the copy the seams are found on. */
export const WORK_SIDE = 640;
/**
 * Largest aspect-ratio change (either way): carving more than three quarters of an axis leaves
 * little but seams, so `c_scale,g_liquid` beyond 4x is a 400 (geometry.ts).
 */
export const MAX_LIQUID_RATIO = 4;
/**
 * Energy added at full importance (saliency 1, a face), per pixel: a Sobel gradient of a sharp
 * black/white edge is about 1000, of ordinary texture 50-300, so a seam crosses a salient
 * region or a face only where nothing else is left to remove.
 */
const IMPORTANCE_ENERGY = 400;

/** The importance grid sampled at each pixel of a `w×h` work copy, as energy. */
function weightOf(imp: ImportanceMap, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = Math.min(imp.height - 1, Math.floor(((y + 0.5) * imp.height) / h)) * imp.width;
    for (let x = 0; x < w; x++) out[y * w + x] = IMPORTANCE_ENERGY * imp.map[row + Math.min(imp.width - 1, Math.floor(((x + 0.5) * imp.width) / w))];
  }
  return out;
}

/** Carving threads started and not yet stopped (tests: a render ends only after its thread). */
let running = 0;
export function carvesRunning(): number {
  return running;
}

/** Run one carve in a worker; the promise settles only after the thread has stopped. */
async function runCarve(job: CarveJob, canvas: Canvas): Promise<CarveResult> {
  const worker: Worker = spawnModuleWorker(import.meta.url, 'liquid-worker', job, ANALYSIS_WORKER_LIMITS);
  running++;
  worker.once('exit', () => { running--; });
  const done = new Promise<CarveResult>((resolve, reject) => {
    worker.once('message', (r: CarveResult) => resolve(r));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`liquid rescaling worker exited (${code})`)));
  });
  try {
    return canvas.deadline ? await canvas.deadline.race(done, 'g_liquid') : await done;
  } finally {
    await worker.terminate();
  }
}

/**
 * Rescale the canvas to `width×height` by seam carving then a plain resize; `importance` (the
 * canvas's saliency and faces, subject.ts) raises the energy of what should stay.
 */
export async function liquidRescale(canvas: Canvas, width: number, height: number, importance?: ImportanceMap): Promise<void> {
  await canvas.ensureDims();
  const pages = canvas.pages, iw = canvas.width, ih = canvas.height;
  const target = width / height;
  const rows = iw / ih < target; // too tall: remove rows
  // Uniform scale first, so that the axis kept whole has its final length (never enlarged
  // here): queued on the pipeline, so a large JPEG shrinks on load.
  const s0 = Math.min(1, rows ? width / iw : height / ih);
  const fw = Math.max(1, Math.round(iw * s0)), fh = Math.max(1, Math.round(ih * s0));
  if (fw !== iw || fh !== ih) {
    await canvas.op('resize', 'resize', (img) => img.resize(fw, fh, { fit: 'fill' }));
    canvas.mapThrough(scale(iw / fw, ih / fh), fw, fh);
  }
  const m = await canvas.materialize();
  const ch = m.channels as 1 | 2 | 3 | 4;
  const full = m.data;
  const seconds = () => canvas.deadline?.seconds('g_liquid') ?? 0;
  // The carved axis's length in the result at this scale, and the seams that make it on the work copy.
  const along = rows ? fh : fw;
  const carved = Math.max(1, Math.round(rows ? fw / target : fh * target));
  const k = Math.min(1, WORK_SIDE / Math.max(fw, fh));
  const ww = Math.max(1, Math.round(fw * k)), wh = Math.max(1, Math.round(fh * k));
  const workAlong = rows ? wh : ww;
  const seams = workAlong - Math.max(1, Math.round((workAlong * carved) / along));
  let out: { data: Buffer; width: number; height: number };
  if (seams < 1 || carved >= along) {
    out = { data: full, width: fw, height: fh };
  } else {
    const first = sharp(full, { raw: { width: fw, height: fh * pages, channels: ch }, limitInputPixels: false })
      .extract({ left: 0, top: 0, width: fw, height: fh });
    const work = ww === fw && wh === fh ? full.subarray(0, fw * fh * ch)
      : await first.resize(ww, wh, { fit: 'fill' }).raw().timeout({ seconds: seconds() }).toBuffer();
    const weight = importance ? weightOf(importance, ww, wh) : undefined;
    const r = await runCarve({ work, ww, wh, wc: ch, ...(weight ? { weight } : {}), full, fw, fh, fc: ch, pages, rows, seams, carved }, canvas);
    out = { data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length), width: r.width, height: r.height };
  }
  if (out.data !== full) canvas.replace({ data: out.data, width: out.width, height: out.height * pages, channels: ch }, scale(fw / out.width, fh / out.height), pages);
  if (out.width !== width || out.height !== height) {
    const sx = canvas.width / width, sy = canvas.height / height;
    await canvas.op('resize', 'resize', (img) => img.resize(width, height, { fit: 'fill' }));
    canvas.mapThrough(scale(sx, sy), width, height);
  }
}
