/**
 * Seam carving for `g_liquid` (src/render/liquid.ts), off the event loop: one worker per
 * carve, ended by the caller at the request's deadline.
 *
 * The seams are found on a small work copy (one frame): energy = Sobel gradient magnitude of
 * the alpha-premultiplied luma, plus the alpha's own gradient and the caller's per-pixel
 * weight (saliency, faces); each seam is the 8-connected top-to-bottom path of least summed
 * energy (dynamic programming), removed one at a time with the energy recomputed beside it
 * (about 0.7 s for 320 seams of a 640x427 copy on the 2-core development machine). The full-resolution frames are then carved by the same
 * seams: each full row takes the kept columns of its work row, each kept work column standing
 * for `full width / work width` full columns (nearest sampling, so a work copy of the full
 * size removes exactly the seams' pixels). Horizontal seams are found on the transposed images.
 */
import { parentPort, workerData } from 'node:worker_threads';

export interface CarveJob {
  /** The work copy: one frame, `ww×wh`, `wc` channels (1-4). */
  work: Uint8Array;
  ww: number;
  wh: number;
  wc: number;
  /** Energy added to each work pixel (`ww×wh`): what should stay (saliency, faces). */
  weight?: Float32Array;
  /** The full frames, `fw×fh` each, stacked top to bottom, `fc` channels. */
  full: Uint8Array;
  fw: number;
  fh: number;
  fc: number;
  pages: number;
  /** Remove rows (horizontal seams) instead of columns. */
  rows: boolean;
  /** Seams to remove from the work copy. */
  seams: number;
  /** Length of the carved axis in the full result. */
  carved: number;
}

export interface CarveResult {
  data: Uint8Array;
  width: number;
  /** Height of one frame. */
  height: number;
}

function transpose<A extends Uint8Array | Float32Array>(src: A, w: number, h: number, ch: number): A {
  const out = new (src.constructor as new (n: number) => A)(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * ch, d = (x * h + y) * ch;
      for (let c = 0; c < ch; c++) out[d + c] = src[s + c];
    }
  }
  return out;
}

/** Alpha-premultiplied luma (0-255) of each pixel, and the alpha (0-255) when there is one. */
function greyOf(data: Uint8Array, w: number, h: number, ch: number): { grey: Float32Array; alpha?: Float32Array } {
  const n = w * h, grey = new Float32Array(n);
  const hasAlpha = ch === 2 || ch === 4;
  const alpha = hasAlpha ? new Float32Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const p = i * ch;
    const a = hasAlpha ? data[p + ch - 1] : 255;
    const l = ch >= 3 ? 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2] : data[p];
    grey[i] = (l * a) / 255;
    if (alpha) alpha[i] = a;
  }
  return { grey, alpha };
}

/**
 * Remove `seams` vertical seams from a `w×h` image (its luma, its alpha if any, energy added
 * per pixel if any); returns, per row, the original columns kept (`w - seams` each, in order),
 * row after row.
 */
export function findSeams(grey: Float32Array, alpha: Float32Array | undefined, w: number, h: number, seams: number, weight?: Float32Array): Int32Array {
  const n = w * h;
  const idx = new Int32Array(n);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) idx[y * w + x] = x;
  const energy = new Float32Array(n);
  let cw = w;
  const sobel = (g: Float32Array, x: number, y: number): number => {
    const xl = x > 0 ? x - 1 : x, xr = x < cw - 1 ? x + 1 : x;
    const yu = y > 0 ? y - 1 : y, yd = y < h - 1 ? y + 1 : y;
    const ru = yu * w, r = y * w, rd = yd * w;
    const gx = (g[ru + xr] + 2 * g[r + xr] + g[rd + xr]) - (g[ru + xl] + 2 * g[r + xl] + g[rd + xl]);
    const gy = (g[rd + xl] + 2 * g[rd + x] + g[rd + xr]) - (g[ru + xl] + 2 * g[ru + x] + g[ru + xr]);
    return Math.abs(gx) + Math.abs(gy);
  };
  const energyAt = (x: number, y: number): number =>
    sobel(grey, x, y) + (alpha ? sobel(alpha, x, y) : 0) + (weight ? weight[y * w + x] : 0);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) energy[y * w + x] = energyAt(x, y);
  const cost = new Float32Array(n);
  const seam = new Int32Array(h);
  for (let s = 0; s < seams && cw > 1; s++) {
    // Least cumulative energy from the top row down to each pixel.
    for (let x = 0; x < cw; x++) cost[x] = energy[x];
    const end = cw - 1;
    for (let y = 1; y < h; y++) {
      const r = y * w, ru = r - w;
      let left = Infinity, mid = cost[ru];
      for (let x = 0; x < end; x++) {
        const right = cost[ru + x + 1];
        let m = mid;
        if (left < m) m = left;
        if (right < m) m = right;
        cost[r + x] = energy[r + x] + m;
        left = mid; mid = right;
      }
      cost[r + end] = energy[r + end] + (left < mid ? left : mid);
    }
    // Back from the cheapest end, preferring the straight step on ties.
    const last = (h - 1) * w;
    let bx = 0;
    for (let x = 1; x < cw; x++) if (cost[last + x] < cost[last + bx]) bx = x;
    seam[h - 1] = bx;
    for (let y = h - 2; y >= 0; y--) {
      const r = y * w;
      let nx = bx;
      if (bx > 0 && cost[r + bx - 1] < cost[r + nx]) nx = bx - 1;
      if (bx < cw - 1 && cost[r + bx + 1] < cost[r + nx]) nx = bx + 1;
      bx = nx;
      seam[y] = bx;
    }
    // Remove it from every row, then recompute the energy beside it.
    for (let y = 0; y < h; y++) {
      const r = y * w, x = seam[y];
      idx.copyWithin(r + x, r + x + 1, r + cw);
      grey.copyWithin(r + x, r + x + 1, r + cw);
      energy.copyWithin(r + x, r + x + 1, r + cw);
      alpha?.copyWithin(r + x, r + x + 1, r + cw);
      weight?.copyWithin(r + x, r + x + 1, r + cw);
    }
    cw--;
    for (let y = 0; y < h; y++) {
      const x = seam[y];
      for (let k = Math.max(0, x - 2); k <= Math.min(cw - 1, x + 1); k++) energy[y * w + k] = energyAt(k, y);
    }
  }
  const kept = new Int32Array(cw * h);
  for (let y = 0; y < h; y++) kept.set(idx.subarray(y * w, y * w + cw), y * cw);
  return kept;
}

/** Carve the full frames by the work copy's kept columns (see the header). */
export function carve(job: CarveJob): CarveResult {
  let { work, ww, wh, full, fw, fh, weight } = job;
  const { wc, fc, pages } = job;
  if (job.rows) {
    work = transpose(work, ww, wh, wc);
    if (weight) weight = transpose(weight, ww, wh, 1);
    [ww, wh] = [wh, ww];
    const frame = fw * fh * fc, t = new Uint8Array(full.length);
    for (let p = 0; p < pages; p++) t.set(transpose(full.subarray(p * frame, (p + 1) * frame), fw, fh, fc), p * frame);
    full = t;
    [fw, fh] = [fh, fw];
  }
  const { grey, alpha } = greyOf(work, ww, wh, wc);
  const m = ww - job.seams;
  const kept = findSeams(grey, alpha, ww, wh, job.seams, weight);
  const ow = job.carved, kx = fw / ww;
  // Source column of each output column, per work row (computed once per work row).
  const columns = new Map<number, Int32Array>();
  const sourceColumns = (r: number): Int32Array => {
    let cols = columns.get(r);
    if (!cols) {
      cols = new Int32Array(ow);
      for (let j = 0; j < ow; j++) {
        const u = ((j + 0.5) * m) / ow;
        const k = Math.min(m - 1, Math.floor(u));
        cols[j] = Math.min(fw - 1, Math.floor((kept[r * m + k] + (u - k)) * kx));
      }
      columns.set(r, cols);
    }
    return cols;
  };
  const out = new Uint8Array(ow * fh * fc * pages);
  for (let p = 0; p < pages; p++) {
    for (let y = 0; y < fh; y++) {
      const cols = sourceColumns(Math.min(wh - 1, Math.floor(((y + 0.5) * wh) / fh)));
      const src = (p * fh + y) * fw * fc, dst = (p * fh + y) * ow * fc;
      for (let j = 0; j < ow; j++) {
        const s = src + cols[j] * fc, d = dst + j * fc;
        for (let c = 0; c < fc; c++) out[d + c] = full[s + c];
      }
    }
  }
  if (!job.rows) return { data: out, width: ow, height: fh };
  const frame = ow * fh * fc, back = new Uint8Array(out.length);
  for (let p = 0; p < pages; p++) back.set(transpose(out.subarray(p * frame, (p + 1) * frame), ow, fh, fc), p * frame);
  return { data: back, width: fh, height: ow };
}

if (parentPort && workerData) {
  const result = carve(workerData as CarveJob);
  parentPort.postMessage(result, [result.data.buffer as ArrayBuffer]);
}
