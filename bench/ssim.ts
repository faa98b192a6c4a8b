/**
 * SSIM and MS-SSIM distances on luma, for the quality bench (bench/quality.ts) only.
 *
 * A second, independent check of q_auto's output next to butteraugli: neither our perceptual
 * metric (src/analyze/metric.ts) nor the quality budgets were tuned on it, and nothing in src/
 * uses this file. Dependency-free port of .scratch/ssimcheck/ssim.py (numpy), computed the same
 * way, operation for operation:
 *
 *   - luma Y = 0.299 R + 0.587 G + 0.114 B in float64, not rounded (1- or 2-channel input: the
 *     first channel; alpha ignored);
 *   - SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, normalised, applied separably
 *     as a 'valid' correlation (no padding, as Wang's ssim_index.m with filter2(..., 'valid'));
 *     K1 = 0.01, K2 = 0.03, L = 255; the mean of the SSIM map; no automatic pre-downsampling;
 *   - MS-SSIM (Wang et al. 2003): 5 scales with weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333;
 *     mean contrast-structure term at scales 1-4, mean full SSIM (l*c*s) at scale 5; between
 *     scales a 2x2 box average with 2x decimation (odd trailing row/column dropped).
 *
 * Returned as distances, larger is worse: 1-SSIM and 1-MS-SSIM. Both images must have the same
 * dimensions, at least 176 px on each side (the window must fit at the fifth scale).
 */

export interface SsimImage {
  readonly data: Buffer | Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

const K1 = 0.01, K2 = 0.03, L = 255;
const C1 = (K1 * L) ** 2, C2 = (K2 * L) ** 2;
const MS_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const N = 11;
const G: Float64Array = (() => {
  const sigma = 1.5;
  const g = new Float64Array(N);
  let sum = 0;
  for (let i = 0; i < N; i++) {
    const x = i - (N - 1) / 2;
    g[i] = Math.exp(-(x * x) / (2 * sigma * sigma));
    sum += g[i];
  }
  for (let i = 0; i < N; i++) g[i] /= sum;
  return g;
})();

interface Plane { data: Float64Array; width: number; height: number }

function luma(img: SsimImage): Plane {
  const { data, width, height, channels } = img;
  const n = width * height;
  if (data.length < n * channels) throw new Error(`ssim: buffer too short for ${width}x${height}x${channels}`);
  const out = new Float64Array(n);
  if (channels >= 3) {
    for (let i = 0, p = 0; i < n; i++, p += channels) out[i] = 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
  } else {
    for (let i = 0, p = 0; i < n; i++, p += channels) out[i] = data[p];
  }
  return { data: out, width, height };
}

/** Separable 'valid' correlation with the Gaussian; `tmp` holds h x (w-10), `out` (h-10) x (w-10). */
function filt(src: Float64Array, w: number, h: number, tmp: Float64Array, out: Float64Array): void {
  const wo = w - N + 1, ho = h - N + 1;
  tmp.fill(0, 0, h * wo);
  for (let r = 0; r < h; r++) {
    const s = r * w, t = r * wo;
    for (let i = 0; i < N; i++) {
      const g = G[i], si = s + i;
      for (let c = 0; c < wo; c++) tmp[t + c] += g * src[si + c];
    }
  }
  out.fill(0, 0, ho * wo);
  for (let r = 0; r < ho; r++) {
    const o = r * wo;
    for (let i = 0; i < N; i++) {
      const g = G[i], t = (r + i) * wo;
      for (let c = 0; c < wo; c++) out[o + c] += g * tmp[t + c];
    }
  }
}

/** Means of the SSIM map (l*c*s) and of the contrast-structure map (c*s) over the valid region. */
function ssimMeans(x: Plane, y: Plane): { ssim: number; cs: number } {
  const { width: w, height: h } = x;
  const wo = w - N + 1, ho = h - N + 1;
  if (wo < 1 || ho < 1) throw new Error(`ssim: ${w}x${h} is smaller than the ${N}x${N} window`);
  const n = w * h, m = wo * ho;
  const xd = x.data, yd = y.data;
  const prod = new Float64Array(n), tmp = new Float64Array(h * wo);
  const mx = new Float64Array(m), my = new Float64Array(m), fxx = new Float64Array(m), fyy = new Float64Array(m), fxy = new Float64Array(m);
  filt(xd, w, h, tmp, mx);
  filt(yd, w, h, tmp, my);
  for (let i = 0; i < n; i++) prod[i] = xd[i] * xd[i];
  filt(prod, w, h, tmp, fxx);
  for (let i = 0; i < n; i++) prod[i] = yd[i] * yd[i];
  filt(prod, w, h, tmp, fyy);
  for (let i = 0; i < n; i++) prod[i] = xd[i] * yd[i];
  filt(prod, w, h, tmp, fxy);
  let sumS = 0, sumCs = 0;
  for (let i = 0; i < m; i++) {
    const a = mx[i], b = my[i];
    const sxx = fxx[i] - a * a, syy = fyy[i] - b * b, sxy = fxy[i] - a * b;
    const lum = (2 * a * b + C1) / (a * a + b * b + C1);
    const cs = (2 * sxy + C2) / (sxx + syy + C2);
    sumS += lum * cs;
    sumCs += cs;
  }
  return { ssim: sumS / m, cs: sumCs / m };
}

function down2(p: Plane): Plane {
  const w = p.width >> 1, h = p.height >> 1, src = p.data, sw = p.width;
  const out = new Float64Array(w * h);
  for (let r = 0; r < h; r++) {
    const a = 2 * r * sw, b = a + sw;
    for (let c = 0; c < w; c++) {
      const k = 2 * c;
      out[r * w + c] = 0.25 * (src[a + k] + src[b + k] + src[a + k + 1] + src[b + k + 1]);
    }
  }
  return { data: out, width: w, height: h };
}

/** 1-SSIM and 1-MS-SSIM of `test` against `ref` (see the header). */
export function ssimDistances(ref: SsimImage, test: SsimImage): { ssim: number; msssim: number } {
  if (ref.width !== test.width || ref.height !== test.height) {
    throw new Error(`ssim: dimensions differ (${ref.width}x${ref.height} vs ${test.width}x${test.height})`);
  }
  let x = luma(ref), y = luma(test);
  let ssim = NaN, ms = 1;
  for (let s = 0; s < MS_WEIGHTS.length; s++) {
    const r = ssimMeans(x, y);
    const v = s < MS_WEIGHTS.length - 1 ? r.cs : r.ssim;
    if (s === 0) ssim = r.ssim;
    if (!(v > 0)) throw new Error(`ssim: non-positive MS-SSIM term ${v} at scale ${s + 1}`);
    ms *= v ** MS_WEIGHTS[s];
    if (s < MS_WEIGHTS.length - 1) { x = down2(x); y = down2(y); }
  }
  return { ssim: 1 - ssim, msssim: 1 - ms };
}
