/**
 * A model of JPEG quantisation that predicts the perceptual distance (metric-math.ts) at any
 * quality from the reference's DCT coefficients, without encoding; quality.ts aims its JPEG
 * trials with it (QUALITY.md, "The JPEG model"). Runs in the metric worker.
 */
import { BLOCK, METRIC_PARAMS, blockMasks, proxyFactor, type MetricParams, type PixelsLike, type Prepared } from './metric-math.ts';

/** mozjpeg's default quantisation table (index 3, "ImageMagick" by N. Robidoux; the same for
 *  luma and chroma), which sharp uses with `mozjpeg: true`. */
const MOZ_TABLE = [
  16, 16, 16, 18, 25, 37, 56, 85, 16, 17, 20, 27, 34, 40, 53, 75, 16, 20, 24, 31, 43, 62, 91, 135,
  18, 27, 31, 40, 53, 74, 106, 156, 25, 34, 43, 53, 69, 94, 131, 189, 37, 40, 62, 74, 94, 124, 169, 238,
  56, 53, 91, 106, 131, 169, 226, 311, 85, 75, 135, 156, 189, 238, 311, 418,
];

/** libjpeg's quality scaling of a base table, baseline-clamped to 1..255. */
export function jpegTable(quality: number): Float32Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  return Float32Array.from(MOZ_TABLE, (v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

const C1 = Math.cos(Math.PI / 16) / 2, C2 = Math.cos((2 * Math.PI) / 16) / 2, C3 = Math.cos((3 * Math.PI) / 16) / 2;
const C5 = Math.cos((5 * Math.PI) / 16) / 2, C6 = Math.cos((6 * Math.PI) / 16) / 2, C7 = Math.cos((7 * Math.PI) / 16) / 2;
const C4 = Math.SQRT1_2 / 2;

/** Orthonormal 8-point DCT-II of `a[o + i*s]`, i = 0..7, written to `r[ro + k*rs]` (even/odd
 *  butterflies: ~2× fewer operations than the direct sum, unrolled). */
function dct8(a: Float32Array | Float64Array, o: number, s: number, r: Float32Array | Float64Array, ro: number, rs: number): void {
  const x0 = a[o], x1 = a[o + s], x2 = a[o + 2 * s], x3 = a[o + 3 * s], x4 = a[o + 4 * s], x5 = a[o + 5 * s], x6 = a[o + 6 * s], x7 = a[o + 7 * s];
  const s0 = x0 + x7, s1 = x1 + x6, s2 = x2 + x5, s3 = x3 + x4;
  const d0 = x0 - x7, d1 = x1 - x6, d2 = x2 - x5, d3 = x3 - x4;
  const e0 = s0 + s3, e1 = s1 + s2, e2 = s0 - s3, e3 = s1 - s2;
  r[ro] = C4 * (e0 + e1);
  r[ro + 4 * rs] = C4 * (e0 - e1);
  r[ro + 2 * rs] = C2 * e2 + C6 * e3;
  r[ro + 6 * rs] = C6 * e2 - C2 * e3;
  r[ro + rs] = C1 * d0 + C3 * d1 + C5 * d2 + C7 * d3;
  r[ro + 3 * rs] = C3 * d0 - C7 * d1 - C1 * d2 - C5 * d3;
  r[ro + 5 * rs] = C5 * d0 - C1 * d1 + C7 * d2 + C3 * d3;
  r[ro + 7 * rs] = C7 * d0 - C5 * d1 + C3 * d2 - C1 * d3;
}

/** DCT coefficients of every 8×8 block of a plane (edge blocks padded by replication, as JPEG does). */
function blockDct(plane: Float32Array, w: number, h: number): { coef: Float32Array; bw: number; bh: number } {
  const bw = Math.ceil(w / 8), bh = Math.ceil(h / 8);
  const coef = new Float32Array(bw * bh * 64);
  const blk = new Float64Array(64), tmp = new Float64Array(64);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const o = (by * bw + bx) * 64;
      if (bx * 8 + 8 <= w && by * 8 + 8 <= h) {
        for (let y = 0; y < 8; y++) dct8(plane, (by * 8 + y) * w + bx * 8, 1, tmp, y * 8, 1);
      } else {
        for (let y = 0; y < 8; y++) {
          const row = Math.min(h - 1, by * 8 + y) * w;
          for (let x = 0; x < 8; x++) blk[y * 8 + x] = plane[row + Math.min(w - 1, bx * 8 + x)];
        }
        for (let y = 0; y < 8; y++) dct8(blk, y * 8, 1, tmp, y * 8, 1);
      }
      for (let x = 0; x < 8; x++) dct8(tmp, x, 8, coef, o + x, 8);
    }
  }
  return { coef, bw, bh };
}

/** What quantisation at any quality would do to one image, from its DCT coefficients (computed
 *  once): the metric's block terms are predicted per block without encoding or decoding.
 *  Within a block, error energy and the energy of its pixel differences both follow from the
 *  coefficient errors (Parseval; the DCT-II basis diagonalises the block's difference operator),
 *  the block-mean error is the DC error. Trellis quantisation and deringing (mozjpeg) and
 *  libjpeg's interpolated chroma upsampling are not modelled: the prediction is calibrated per
 *  image on a measured trial (quality.ts). */
export interface JpegModel {
  /** JPEG blocks (full resolution). */
  readonly jw: number;
  readonly jh: number;
  readonly y: Float32Array;
  /** Chroma coefficients at half resolution (4:2:0), Cb and Cr. */
  readonly cw: number;
  readonly ch: number;
  readonly cb: Float32Array;
  readonly cr: Float32Array;
  /** Per JPEG block: weighted chroma energy that 4:2:0 subsampling alone removes (255² units). */
  readonly subRes: Float32Array;
  /** Per JPEG block: share of its 64 pixels inside the image. */
  readonly inside: Float32Array;
  /** Proxy factor of the metric and the per-coefficient weights at that scale. */
  readonly factor: number;
  readonly atten: Float32Array;
  readonly grad: Float32Array;
  /** Per metric block: masking term and reference block-to-block change. */
  readonly mask: Float32Array;
  readonly coarseR: Float32Array;
  readonly coarseD: Float32Array;
  /** The metric's block grid and pixels per block. */
  readonly bw: number;
  readonly bh: number;
  readonly count: Float32Array;
}

export type JpegChroma = '4:2:0' | '4:4:4';

/** Variance (code values²) of the rounding noise in the decoded luma: Y rounded before the DCT
 *  (1/12) and R, G, B rounded after decoding (0.299² + 0.587² + 0.114²)/12; and in the opponent
 *  chroma planes (R, G, B rounding only). */
const ROUNDING_NOISE_Y = 1 / 12 + 0.0387;
const ROUNDING_NOISE_C = 0.073;

/** Error energy of the opponent chroma planes per unit Cb / Cr error energy (metric.ts planes). */
const CB_W = 0.974, CR_W = 1.149;

export function jpegModel(img: PixelsLike, prepared: () => Prepared, P: MetricParams = METRIC_PARAMS): JpegModel {
  const { width: w, height: h, channels: chs, data } = img;
  const n = w * h;
  if (lumaScratch.length < n) lumaScratch = new Float32Array(n);
  const Y = lumaScratch;
  const colour = chs >= 3;
  const cw = (w + 1) >> 1, chh = (h + 1) >> 1;
  const cbS = new Float32Array(cw * chh), crS = new Float32Array(cw * chh), cnt = new Float32Array(cw * chh);
  // Per 2×2 chroma cell: sums and weighted sums of squares of Cb and Cr, so that the energy 4:2:0
  // removes (the spread around the cell's mean) needs no second pass over the pixels.
  const sq = colour ? new Float64Array(cw * chh) : undefined;
  // The metric's block statistics (prepare()'s activity, mean and count, at delivered size) in the
  // same pass: each pixel adds its difference to the left and upper neighbours to their blocks.
  const f = proxyFactor(w, h);
  const bw0 = Math.ceil(w / BLOCK), bh0 = Math.ceil(h / BLOCK);
  const own = f === 1 ? { bw: bw0, bh: bh0, activity: new Float32Array(bw0 * bh0), mean: new Float32Array(bw0 * bh0), count: new Float32Array(bw0 * bh0) } : undefined;
  const k255 = 1 / 255, k2 = k255 * k255;
  for (let y = 0, p = 0, o = 0; y < h; y++) {
    const crow = (y >> 1) * cw, brow = (y >> 3) * bw0, urow = ((y - 1) >> 3) * bw0;
    for (let x = 0; x < w; x++, p += chs, o++) {
      const R = data[p], G = sq ? data[p + 1] : R, B = sq ? data[p + 2] : R;
      const v = Math.fround(0.299 * R + 0.587 * G + 0.114 * B - 128);
      Y[o] = v;
      if (own) {
        const b = brow + (x >> 3);
        own.mean[b] += v + 128;
        own.count[b]++;
        if (x > 0) { const d = v - Y[o - 1]; own.activity[brow + ((x - 1) >> 3)] += d * d; }
        if (y > 0) { const d = v - Y[o - w]; own.activity[urow + (x >> 3)] += d * d; }
      }
      if (sq) {
        const c = crow + (x >> 1);
        const vb = -0.168736 * R - 0.331264 * G + 0.5 * B, vr = 0.5 * R - 0.418688 * G - 0.081312 * B;
        cbS[c] += vb;
        crS[c] += vr;
        sq[c] += CB_W * vb * vb + CR_W * vr * vr;
        cnt[c]++;
      }
    }
  }
  if (own) for (let b = 0; b < own.count.length; b++) { own.activity[b] *= k2 / own.count[b]; own.mean[b] *= k255 / own.count[b]; }
  const yc = blockDct(Y, w, h);
  const jw = yc.bw, jh = yc.bh;
  const subRes = new Float32Array(jw * jh);
  const inside = new Float32Array(jw * jh);
  for (let by = 0; by < jh; by++) for (let bx = 0; bx < jw; bx++) inside[by * jw + bx] = (Math.min(8, w - bx * 8) * Math.min(8, h - by * 8)) / 64;
  let cb: Float32Array = new Float32Array(0), cr: Float32Array = new Float32Array(0);
  if (sq) {
    for (let cy = 0; cy < chh; cy++) {
      for (let cx = 0; cx < cw; cx++) {
        const i = cy * cw + cx, k = cnt[i];
        const mb = cbS[i] / k, mr = crS[i] / k;
        cbS[i] = mb; crS[i] = mr;
        // Each 2×2 cell lies inside one 8×8 luma block.
        subRes[(cy >> 2) * jw + (cx >> 2)] += Math.max(0, sq[i] - k * (CB_W * mb * mb + CR_W * mr * mr));
      }
    }
    cb = blockDct(cbS, cw, chh).coef;
    cr = blockDct(crS, cw, chh).coef;
  }
  // At a proxy factor f the metric sees f×f box means: a coefficient's error energy is attenuated
  // by the box filter's response, and its difference energy is that of the coarser grid.
  const atten = new Float32Array(64), grad = new Float32Array(64);
  const resp = (u: number): number => (u === 0 ? 1 : (Math.sin((Math.PI * u * f) / 16) / (f * Math.sin((Math.PI * u) / 16))) ** 2);
  const lam = (u: number): number => 4 * Math.sin((Math.PI * u * f) / 16) ** 2;
  for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) { atten[v * 8 + u] = resp(u) * resp(v); grad[v * 8 + u] = atten[v * 8 + u] * (lam(u) + lam(v)); }
  // The masking terms at the metric's scale: read off the luma plane at delivered size (the
  // common case: no need to wait for the reference's opponent planes), else from the proxy.
  const stats = own ?? prepared();
  const { bw, bh, mean } = stats;
  const mask = blockMasks(stats, P), coarseR = new Float32Array(bw * bh), coarseD = new Float32Array(bw * bh);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const b = by * bw + bx;
      if (bx + 1 < bw) { const r = mean[b] - mean[b + 1]; coarseR[b] = r * r; }
      if (by + 1 < bh) { const r = mean[b] - mean[b + bw]; coarseD[b] = r * r; }
    }
  }
  return { jw, jh, y: yc.coef, cw: Math.ceil(cw / 8), ch: Math.ceil(chh / 8), cb, cr, subRes, inside, factor: f, atten, grad, mask, coarseR, coarseD, bw, bh, count: stats.count };
}

let lumaScratch = new Float32Array(0);

let predScratch: Float32Array[] = [];

/** Predicted distance of a JPEG at `quality` (mozjpeg's table) with the given chroma subsampling. */
export function predictJpeg(model: JpegModel, quality: number, chroma: JpegChroma, P: MetricParams = METRIC_PARAMS): number {
  const table = jpegTable(quality);
  const inv = Float64Array.from(table, (v) => 1 / v);
  const { jw, jh, y, atten, grad, inside, subRes, factor: f } = model;
  const { bw, bh, count } = model;
  const nb = bw * bh;
  if (predScratch.length === 0 || predScratch[0].length < nb) predScratch = Array.from({ length: 4 }, () => new Float32Array(nb));
  const [eY, eG, eC, dm] = predScratch;
  eY.fill(0, 0, nb); eG.fill(0, 0, nb); eC.fill(0, 0, nb); dm.fill(0, 0, nb);
  const f2 = f * f, inv255 = 1 / (255 * 255);
  // Rounding to 8 bits (YCbCr samples before the DCT, RGB after decoding) adds white noise that
  // quantisation does not: it decides the distance over flat areas at high qualities. Per JPEG
  // block, as energy summed over the pixels the metric sees (box means at a proxy: 1/f² each).
  const noiseY = (64 * ROUNDING_NOISE_Y) / (f2 * f2), noiseC = (64 * ROUNDING_NOISE_C) / (f2 * f2);
  // Chroma quantisation error per chroma block (weighted), spread over the luma blocks it covers.
  const cerr = new Float32Array(model.cw * model.ch);
  const cbA = model.cb, crA = model.cr, nc = cbA.length > 0 ? cerr.length : 0;
  for (let c = 0; c < nc; c++) {
    let s1 = 0, s2 = 0;
    for (let k = 0, o = c * 64; k < 64; k++, o++) {
      const qk = table[k], ik = inv[k];
      // Round to nearest (|x| < 4096 always: 8-bit samples, quantisers >= 1).
      const a = cbA[o], e1 = a - qk * (((a * ik + 4096.5) | 0) - 4096);
      const b = crA[o], e2 = b - qk * (((b * ik + 4096.5) | 0) - 4096);
      s1 += e1 * e1;
      s2 += e2 * e2;
    }
    cerr[c] = CB_W * s1 + CR_W * s2;
  }
  for (let jy = 0; jy < jh; jy++) {
    for (let jx = 0; jx < jw; jx++) {
      const j = jy * jw + jx, o = j * 64;
      let sY = 0, sG = 0;
      for (let k = 0; k < 64; k++) {
        const c = y[o + k];
        const e = c - table[k] * (((c * inv[k] + 4096.5) | 0) - 4096);
        const e2 = e * e;
        sY += atten[k] * e2;
        sG += grad[k] * e2;
      }
      const dc = y[o] - table[0] * (((y[o] * inv[0] + 4096.5) | 0) - 4096);
      const share = inside[j];
      const mb = Math.min(bh - 1, Math.floor(jy / f)) * bw + Math.min(bw - 1, Math.floor(jx / f));
      // Block-boundary pixel pairs (not in the within-block difference energy): about two pixel
      // errors' worth for each of the 16 pairs.
      eY[mb] += share * (sY / f2 + noiseY);
      eG[mb] += share * ((sG + 0.5 * sY) / f2 + 4 * noiseY);
      dm[mb] += (dc / 8) * share * 64 / f2;
      const cq = model.cb.length > 0 ? cerr[Math.min(model.ch - 1, jy >> 1) * model.cw + Math.min(model.cw - 1, jx >> 1)] : 0;
      eC[mb] += share * ((chroma === '4:2:0' ? subRes[j] + cq : cq) / f2 + noiseC);
    }
  }
  const { mask, coarseR, coarseD } = model;
  const half = P.p / 2;
  let sum = 0;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const b = by * bw + bx, k = inv255 / count[b];
      const m = dm[b] / count[b] / 255;
      let band = 0;
      if (bx + 1 < bw) { const e = m - dm[b + 1] / count[b + 1] / 255; band += e * e; }
      if (by + 1 < bh) { const e = m - dm[b + bw] / count[b + bw] / 255; band += e * e; }
      const s = (eY[b] * k + P.gradient * eG[b] * k + P.chroma * eC[b] * k) / mask[b] + P.banding * band / (mask[b] + coarseR[b] + coarseD[b]);
      sum += s ** half;
    }
  }
  return P.scale * (sum / nb) ** (1 / P.p);
}

/** Lowest quality in [lo, hi] whose predicted distance is at most `target`, to about a quality
 *  step: ln(distance) is smooth and nearly linear in quality, so two predictions and a secant
 *  land within a step (each prediction costs ~2 ms on an 800×533 image, on the request's path). */
export function predictedQuality(predict: (q: number) => number, target: number, lo: number, hi: number, guess: number): number {
  const clamp = (q: number): number => Math.min(hi, Math.max(lo, Math.round(q)));
  const qa = clamp(guess);
  const da = predict(qa);
  // The second point at least 3 steps away: quantisation tables move in integer steps, so
  // one-step differences of the prediction are too noisy for a slope.
  const step = Math.log(da / target) / 0.018;
  let qb = clamp(qa + Math.sign(step || 1) * Math.max(3, Math.abs(step)));
  if (qb === qa) qb = clamp(qa - Math.sign(step || 1) * 3);
  if (qb === qa) return qa;
  const db = predict(qb);
  let s = (Math.log(da) - Math.log(db)) / (qb - qa);
  if (!(s > 0.002)) s = 0.018;
  // Secant from the closer point, rounded up (the prediction is of the lowest passing quality).
  const [q0, d0] = Math.abs(Math.log(da / target)) < Math.abs(Math.log(db / target)) ? [qa, da] : [qb, db];
  return Math.min(hi, Math.max(lo, Math.ceil(q0 + Math.log(d0 / target) / s - 1e-9)));
}
