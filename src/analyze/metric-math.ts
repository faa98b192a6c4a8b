/**
 * Pixel math of the perceptual metric (QUALITY.md, "The metric"): opponent planes (luma,
 * red-green, blue-yellow) in gamma-encoded sRGB, compared per 8×8 block. Each block's error
 * energy (pixel error, its gradient: ringing and block edges, and the change of block means
 * against the neighbours: banding and blocking over flat areas) is divided by a masking term, a
 * visibility floor plus the reference's own local gradient energy: the same error is far less
 * visible in busy texture than on a smooth sky. The per-block ratios are pooled with a Minkowski
 * 8-norm, so a visible artifact on a small smooth area is not averaged away by a large textured
 * one. Constants are few and set from first principles (see below), not fitted to any other metric.
 *
 * Pure and synchronous: the metric worker (metric-worker.ts) runs it off the event loop; tests
 * and the bench call it directly.
 */

/** Structural copy of RawImage (kept local so the worker imports nothing heavy). */
export interface PixelsLike {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** The three opponent planes of one image. */
interface Scale {
  readonly width: number;
  readonly height: number;
  readonly planes: readonly [Float32Array, Float32Array, Float32Array];
}

/** Outputs whose longer side is at most this are compared at full size (artifacts are judged
 *  where they are delivered); larger ones are box-reduced by an integer factor to about it. */
export const PROXY_MAX_SIDE = 1024;

/** Block side: JPEG's DCT block, and a window small enough that masking stays local. */
export const BLOCK = 8;

/** The few constants of the metric, in 0..1 plane units. Exported for the bench's diagnostics. */
export const METRIC_PARAMS = {
  /** Visibility floor of the masking term: an error of about 2/255 in luma on a perfectly flat
   *  area is at the threshold of visibility (the classic 1-2 code-value JND of 8-bit sRGB). */
  floor: (2 / 255) ** 2,
  /** Weight of the error's gradient energy (ringing, block edges) against its plain energy;
   *  white noise has ~4× more gradient than plain energy, so 0.25 weighs them equally there. */
  gradient: 0.25,
  /** Weight of the opponent chroma planes' error energy (acuity for chroma detail is far lower
   *  than for luma; the planes are already halved in amplitude). Kept small but not zero: colour
   *  damage (4:2:0 bleeding on saturated edges) must still count. */
  chroma: 0.1,
  /** Weight of block-mean changes against the neighbouring blocks (banding, blocking seen as
   *  8 px steps over smooth gradients), masked by the reference's own block-to-block change. */
  banding: 1,
  /** Masking exponent on the activity ratio (1 = error energy / activity; < 1 = masking grows
   *  more slowly than contrast, as in Legge-Foley / Watson models, ~0.7 in amplitude). */
  maskExp: 1,
  /** Masking activity is averaged over the 3×3 neighbouring blocks (1) or the block alone (0). */
  smooth: 1,
  /** Minkowski exponent of the pooling over blocks (amplitude domain): high, close to a max, so
   *  the worst visible areas decide (a viewer judges an image by its worst part). */
  p: 8,
  /** Overall scale, so the q80 typical photo sits near 5 (QUALITY.md budgets). */
  scale: 10,
};
export type MetricParams = typeof METRIC_PARAMS;

/** 8-bit pixels → opponent planes (luma, red-green, blue-yellow) in gamma space, reduced by
 *  `factor` (box average). Gamma-encoded sRGB is already close to perceptually uniform, and
 *  skipping linearisation + cube roots (XYB) cut the cost of this step by ~5× on our 2-core
 *  boxes, where it had been half of the metric. Alpha is composited over mid grey so that
 *  transparency errors still show as colour errors. */
function opponentPlanes(img: PixelsLike, factor: number): Scale {
  const { data, channels: ch } = img;
  const width = Math.floor(img.width / factor);
  const height = Math.floor(img.height / factor);
  const n = width * height;
  const Y = new Float32Array(n), X = new Float32Array(n), B = new Float32Array(n);
  const hasAlpha = ch === 2 || ch === 4;
  const colour = ch >= 3;
  if (factor === 1 && ch === 3) {
    // The common case (opaque output compared at delivered size), kept free of the generic
    // loop's branches: it runs on every trial.
    const k = 1 / 255;
    for (let o = 0, p = 0; o < n; o++, p += 3) {
      const r = data[p] * k, g = data[p + 1] * k, b = data[p + 2] * k;
      Y[o] = 0.299 * r + 0.587 * g + 0.114 * b;
      X[o] = 0.5 * (r - g) + 0.5;
      B[o] = 0.5 * (b - 0.5 * (r + g)) + 0.5;
    }
    return { width, height, planes: [X, Y, B] };
  }
  const inv = 1 / (factor * factor * 255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sr = 0, sg = 0, sb = 0;
      for (let dy = 0; dy < factor; dy++) {
        let p = ((y * factor + dy) * img.width + x * factor) * ch;
        for (let dx = 0; dx < factor; dx++, p += ch) {
          let vr = data[p];
          let vg = colour ? data[p + 1] : vr;
          let vb = colour ? data[p + 2] : vr;
          if (hasAlpha) {
            const a = data[p + ch - 1] / 255;
            vr = vr * a + 128 * (1 - a);
            vg = vg * a + 128 * (1 - a);
            vb = vb * a + 128 * (1 - a);
          }
          sr += vr; sg += vg; sb += vb;
        }
      }
      const o = y * width + x;
      sr *= inv; sg *= inv; sb *= inv;
      Y[o] = 0.299 * sr + 0.587 * sg + 0.114 * sb;
      X[o] = 0.5 * (sr - sg) + 0.5;
      B[o] = 0.5 * (sb - 0.5 * (sr + sg)) + 0.5;
    }
  }
  return { width, height, planes: [X, Y, B] };
}

/** Integer box-reduction factor that brings the longer side to about PROXY_MAX_SIDE. */
export function proxyFactor(width: number, height: number): number {
  return Math.max(1, Math.ceil(Math.max(width, height) / PROXY_MAX_SIDE - 0.15));
}

export interface Prepared {
  /** Delivered size (what test images must match). */
  readonly width: number;
  readonly height: number;
  /** The reference's opponent planes at the measured size. */
  readonly planes: Scale;
  /** Blocks across and down. */
  readonly bw: number;
  readonly bh: number;
  /** Per block: the reference's luma gradient energy (mean per pixel), the masking activity. */
  readonly activity: Float32Array;
  /** Per block: the reference's luma block mean. */
  readonly mean: Float32Array;
  /** Per block: how many pixels it holds (edge blocks are partial). */
  readonly count: Float32Array;
  /** Per block: the masking term with METRIC_PARAMS, filled on first use. */
  mask?: Float32Array;
}

/** Build the reference's planes and masking map (the reusable half of a comparison). */
export function prepare(img: PixelsLike): Prepared {
  if (img.data.length < img.width * img.height * img.channels) throw new Error('pixel buffer shorter than width×height×channels');
  const planes = opponentPlanes(img, proxyFactor(img.width, img.height));
  const { width: w, height: h } = planes;
  const Y = planes.planes[1];
  const bw = Math.ceil(w / BLOCK), bh = Math.ceil(h / BLOCK);
  const activity = new Float32Array(bw * bh), mean = new Float32Array(bw * bh), count = new Float32Array(bw * bh);
  for (let y = 0; y < h; y++) {
    const row = y * w, brow = (y >> 3) * bw, down = y + 1 < h ? w : 0;
    for (let x = 0; x < w; x++) {
      const p = row + x, b = brow + (x >> 3);
      const v = Y[p];
      const gx = x + 1 < w ? Y[p + 1] - v : 0, gy = Y[p + down] - v;
      activity[b] += gx * gx + gy * gy;
      mean[b] += v;
      count[b]++;
    }
  }
  for (let b = 0; b < activity.length; b++) { activity[b] /= count[b]; mean[b] /= count[b]; }
  return { width: img.width, height: img.height, planes, bw, bh, activity, mean, count };
}

let scratch = new Float32Array(0);
let blockScratch: Float32Array[] = [];

/** Per-block error energies of `test` against the reference, pooled (see the file header).
 *  `test` is either the test's opponent planes or, in the common case (3-channel pixels
 *  measured at delivered size), its raw bytes, read directly without building planes. */
function compare(ref: Prepared, test: Scale | PixelsLike, P: MetricParams): number {
  const w = ref.planes.width, h = ref.planes.height;
  const [Xr, Yr, Br] = ref.planes.planes;
  const n = w * h, nb = ref.bw * ref.bh, bw = ref.bw;
  if (scratch.length < n) scratch = new Float32Array(n);
  if (blockScratch.length === 0 || blockScratch[0].length < nb) blockScratch = Array.from({ length: 4 }, () => new Float32Array(nb));
  const d = scratch;
  const [eY, eG, eC, dm] = blockScratch;
  eY.fill(0, 0, nb); eG.fill(0, 0, nb); eC.fill(0, 0, nb); dm.fill(0, 0, nb);
  if ('planes' in test) {
    const [Xt, Yt, Bt] = test.planes;
    for (let y = 0; y < h; y++) {
      const row = y * w, brow = (y >> 3) * bw;
      for (let x = 0; x < w; x++) {
        const p = row + x, b = brow + (x >> 3);
        const dy = Yt[p] - Yr[p], dx = Xt[p] - Xr[p], db = Bt[p] - Br[p];
        d[p] = dy;
        eY[b] += dy * dy;
        eC[b] += dx * dx + db * db;
        dm[b] += dy;
      }
    }
  } else {
    const data = test.data, k = 1 / 255;
    for (let y = 0; y < h; y++) {
      const row = y * w, brow = (y >> 3) * bw;
      for (let x = 0, q = row * 3; x < w; x++, q += 3) {
        const p = row + x, b = brow + (x >> 3);
        const r = data[q] * k, g = data[q + 1] * k, bl = data[q + 2] * k;
        // Rounded to float32 exactly as opponentPlanes stores the reference: identical pixels
        // must give exactly 0.
        const dy = Math.fround(0.299 * r + 0.587 * g + 0.114 * bl) - Yr[p];
        const dx = Math.fround(0.5 * (r - g) + 0.5) - Xr[p], db = Math.fround(0.5 * (bl - 0.5 * (r + g)) + 0.5) - Br[p];
        d[p] = dy;
        eY[b] += dy * dy;
        eC[b] += dx * dx + db * db;
        dm[b] += dy;
      }
    }
  }
  // Gradient of the error (right and down neighbours, across block boundaries too, so a
  // block edge that the reference does not have counts here).
  for (let y = 0; y < h; y++) {
    const row = y * w, brow = (y >> 3) * bw, down = y + 1 < h ? w : 0;
    for (let x = 0; x < w; x++) {
      const p = row + x, b = brow + (x >> 3);
      const gx = x + 1 < w ? d[p + 1] - d[p] : 0, gy = d[p + down] - d[p];
      eG[b] += gx * gx + gy * gy;
    }
  }
  const { mean, count } = ref;
  const masks = P === METRIC_PARAMS ? (ref.mask ??= blockMasks(ref, P)) : blockMasks(ref, P);
  const half = P.p / 2;
  let sum = 0;
  for (let by = 0; by < ref.bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const b = by * bw + bx, k = 1 / count[b];
      const mask = masks[b];
      // Block means vs the right and lower neighbours: a step the reference does not have
      // (or lost), masked by the reference's own block-to-block change.
      let band = 0, coarse = 0;
      const m = dm[b] * k;
      if (bx + 1 < bw) { const o = b + 1; const e = m - dm[o] / count[o]; band += e * e; const r = mean[b] - mean[o]; coarse += r * r; }
      if (by + 1 < ref.bh) { const o = b + bw; const e = m - dm[o] / count[o]; band += e * e; const r = mean[b] - mean[o]; coarse += r * r; }
      const s = (eY[b] * k + P.gradient * eG[b] * k + P.chroma * eC[b] * k) / mask + P.banding * band / (mask + coarse);
      sum += s ** half;
    }
  }
  return P.scale * (sum / nb) ** (1 / P.p);
}

/** Per block: the masking term (visibility floor plus the reference's activity, averaged over
 *  the 3×3 neighbouring blocks). Depends on the reference only: computed once per reference. */
export function blockMasks(ref: { bw: number; bh: number; activity: Float32Array }, P: MetricParams): Float32Array {
  const { bw, bh, activity } = ref;
  const mask = new Float32Array(bw * bh);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const b = by * bw + bx;
      let act = activity[b];
      if (P.smooth) {
        let sa = 0, na = 0;
        for (let oy = Math.max(0, by - 1); oy <= Math.min(bh - 1, by + 1); oy++) for (let ox = Math.max(0, bx - 1); ox <= Math.min(bw - 1, bx + 1); ox++) { sa += activity[oy * bw + ox]; na++; }
        act = (1 - P.smooth) * act + P.smooth * sa / na;
      }
      mask[b] = P.floor * (1 + act / P.floor) ** P.maskExp;
    }
  }
  return mask;
}

/** Distance between a prepared reference and a test image of the same dimensions. 0 = identical;
 *  larger is worse (see QUALITY.md for the scale and the budgets). */
export function distancePrepared(ref: Prepared, test: PixelsLike, params: MetricParams = METRIC_PARAMS): number {
  if (test.width !== ref.width || test.height !== ref.height) {
    throw new Error(`size mismatch: reference ${ref.width}×${ref.height}, test ${test.width}×${test.height}`);
  }
  const direct = test.channels === 3 && ref.planes.width === test.width && ref.planes.height === test.height;
  return compare(ref, direct ? test : opponentPlanes(test, proxyFactor(test.width, test.height)), params);
}

/** What 4:2:0 chroma subsampling alone would cost: the reference against itself with chroma
 *  averaged over 2×2 blocks in JPEG's YCbCr, measured with the same metric. Cheap stand-in for an extra encode. */
export function subsamplingCost(ref: Prepared, img: PixelsLike): number {
  const { width: w, height: h, channels: ch, data } = img;
  if (ch < 3) return 0;
  const cw = (w + 1) >> 1, chh = (h + 1) >> 1;
  const cb = new Float32Array(cw * chh), cr = new Float32Array(cw * chh), cnt = new Float32Array(cw * chh);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * ch;
      const R = data[p], G = data[p + 1], B = data[p + 2];
      const o = (y >> 1) * cw + (x >> 1);
      cb[o] += -0.168736 * R - 0.331264 * G + 0.5 * B;
      cr[o] += 0.5 * R - 0.418688 * G - 0.081312 * B;
      cnt[o]++;
    }
  }
  for (let i = 0; i < cb.length; i++) { cb[i] /= cnt[i]; cr[i] /= cnt[i]; }
  // Chroma comes back by pixel replication (libjpeg's "fancy" upsampling interpolates, so this
  // slightly overstates the bleed); inline and allocation-free because it runs per request.
  const out = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const crow = (y >> 1) * cw;
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * ch;
      const R = data[p], G = data[p + 1], B = data[p + 2];
      const Y = 0.299 * R + 0.587 * G + 0.114 * B;
      const o = crow + (x >> 1);
      const Cb = cb[o], Cr = cr[o];
      const r = Y + 1.402 * Cr, g = Y - 0.344136 * Cb - 0.714136 * Cr, bl = Y + 1.772 * Cb;
      out[p] = r < 0 ? 0 : r > 255 ? 255 : r + 0.5;
      out[p + 1] = g < 0 ? 0 : g > 255 ? 255 : g + 0.5;
      out[p + 2] = bl < 0 ? 0 : bl > 255 ? 255 : bl + 0.5;
      if (ch === 4) out[p + 3] = data[p + 3];
    }
  }
  return distancePrepared(ref, { data: out, width: w, height: h, channels: ch });
}
