/**
 * Pixel math of the perceptual metric, and the worker_threads entry that runs it.
 *
 * Why a worker: a comparison is ~10-15 ms of synchronous float math on an 800×533 pair; on the
 * main thread it would stall every other request. The functions are exported too, so tests and
 * the bench can call them directly.
 *
 * The metric is SSIMULACRA-like (after SSIMULACRA 2, not a port; weights are hand-set, not
 * fitted to any other metric): opponent colour planes (luma, red-green, blue-yellow) at four
 * scales; per channel and scale an SSIM error map (1 - SSIM, clamped at 0), an "artifact" map
 * (added local contrast: ringing, blocking) and a "detail lost" map (blur), each pooled by its
 * mean and its 4-norm, so a small area of strong damage counts even when the image-wide mean is
 * low. Window statistics come from integral images, so the cost is linear in pixels.
 *
 * Speed: outputs up to PROXY_MAX_SIDE are measured at delivered size (the artifacts are judged
 * where the viewer sees them); the two fine scales are measured on a fixed third of 64 px tiles
 * chosen from the reference (busiest ones plus an even spread), the coarse scales on everything.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

/** Structural copy of RawImage (kept local so the worker entry imports nothing heavy). */
export interface PixelsLike {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** One scale of the pyramid: the three opponent planes. */
interface Scale {
  readonly width: number;
  readonly height: number;
  readonly planes: readonly [Float32Array, Float32Array, Float32Array];
}

export interface Prepared {
  readonly width: number;
  readonly height: number;
  readonly scales: readonly Scale[];
  /** Finest-scale tiles measured at scales 0 and 1; empty = whole planes. */
  readonly tiles: readonly Tile[];
}

/** Outputs whose longer side is at most this are compared at full size (artifacts are judged
 *  where they are delivered); larger ones are box-reduced by an integer factor to about it. */
export const PROXY_MAX_SIDE = 1024;
const MAX_SCALES = 4;
const RADIUS = 2;
const C2 = 0.0009;
const MASK_STD = 0.05;
const MASK_C = MASK_STD * MASK_STD;

/** Channel weights for X (red-green), Y (luma), B (blue-yellow): the 6:1:1 luma:chroma split
 *  that codec developers use for "SSIM over YUV" (acuity for chroma detail is far lower). */
const CHANNEL_WEIGHT = [1 / 6, 1, 1 / 6] as const;
/** Scale weights: the finest scale is where JPEG/AVIF damage appears at delivered size; the
 *  coarse scales catch banding and colour shifts over areas. */
const SCALE_WEIGHT = [1, 0.8, 0.5, 0.3] as const;
/** Per-map pooling weights [mean, 4-norm] for ssim, artifact, detail-lost. Set so the three
 *  maps contribute comparably on mozjpeg output; 4-norms weigh more (worst areas show). */
const POOL_WEIGHT = { ssim: [10, 20], artifact: [40, 40], detail: [40, 40] } as const;

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

function halve(s: Scale): Scale {
  const { width, height } = s;
  const w = width >> 1, h = height >> 1;
  const planes = s.planes.map((src) => {
    const dst = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      const r0 = 2 * y * width, r1 = r0 + width;
      for (let x = 0; x < w; x++) {
        const i = 2 * x;
        dst[y * w + x] = 0.25 * (src[r0 + i] + src[r0 + i + 1] + src[r1 + i] + src[r1 + i + 1]);
      }
    }
    return dst;
  }) as unknown as Scale['planes'];
  return { width: w, height: h, planes };
}

/** Integer box-reduction factor that brings the longer side to about PROXY_MAX_SIDE. */
export function proxyFactor(width: number, height: number): number {
  return Math.max(1, Math.ceil(Math.max(width, height) / PROXY_MAX_SIDE - 0.15));
}

/** Build the multi-scale opponent-space pyramid of an image (the costly, reusable half), and
 *  pick the tiles that the fine scales are measured on. */
export function prepare(img: PixelsLike, tiles?: readonly Tile[]): Prepared {
  if (img.data.length < img.width * img.height * img.channels) throw new Error('pixel buffer shorter than width×height×channels');
  let cur = opponentPlanes(img, proxyFactor(img.width, img.height));
  const scales: Scale[] = [];
  for (let s = 0; s < MAX_SCALES; s++) {
    if (Math.min(cur.width, cur.height) < 4 * RADIUS + 2) break;
    scales.push(cur);
    if (s + 1 < MAX_SCALES) cur = halve(cur);
  }
  return { width: img.width, height: img.height, scales, tiles: tiles ?? selectTiles(scales[0]) };
}

/** A square of the finest scale, in its pixels; side and origin are multiples of 4 so that it
 *  stays block-aligned at the next scale too. */
export interface Tile { readonly x: number; readonly y: number; readonly size: number }

const TILE = 64;
/** Planes at most this big are measured whole; above it the fine scales use sampled tiles. */
const WHOLE_PLANE_PIXELS = 40 * TILE * TILE;

/**
 * Which tiles of the finest scale to measure. All of them for small outputs; otherwise a third:
 * two thirds of those are the busiest tiles (edges and texture, where ringing and blocking
 * appear), one third evenly spread over the rest (flat areas, where banding appears). The coarse
 * scales always see the whole image. Decided once from the reference so every trial of a
 * search is measured on the same pixels, which keeps distances comparable between trials.
 */
function selectTiles(s0: Scale | undefined): Tile[] {
  if (!s0) return [];
  const { width: w, height: h } = s0;
  const cols = Math.floor(w / TILE), rows = Math.floor(h / TILE);
  const all: { tile: Tile; activity: number }[] = [];
  const Y = s0.planes[1];
  for (let ty = 0; ty < rows; ty++) {
    for (let tx = 0; tx < cols; tx++) {
      const x0 = tx * TILE, y0 = ty * TILE;
      let act = 0;
      for (let y = y0; y < y0 + TILE - 1; y += 2) {
        for (let x = x0; x < x0 + TILE - 1; x += 2) {
          const p = y * w + x;
          act += Math.abs(Y[p + 1] - Y[p]) + Math.abs(Y[p + w] - Y[p]);
        }
      }
      all.push({ tile: { x: x0, y: y0, size: TILE }, activity: act });
    }
  }
  if (w * h <= WHOLE_PLANE_PIXELS || all.length === 0) return [];
  const want = Math.max(24, Math.ceil(all.length / 3));
  if (want >= all.length) return all.map((t) => t.tile);
  const busy = Math.round(want * 2 / 3);
  const order = all.map((t, i) => i).sort((i, j) => all[j].activity - all[i].activity);
  const picked = new Set(order.slice(0, busy));
  const rest = all.map((t, i) => i).filter((i) => !picked.has(i));
  const spread = want - busy;
  for (let k = 0; k < spread; k++) picked.add(rest[Math.floor((k + 0.5) * rest.length / spread)]);
  return [...picked].sort((i, j) => i - j).map((i) => all[i].tile);
}

/** Running sums of the pooled maps, normalised once at the end. */
interface Sums { s1: number; s4: number; a1: number; a4: number; d1: number; d4: number; n: number }
const emptySums = (): Sums => ({ s1: 0, s4: 0, a1: 0, a4: 0, d1: 0, d4: 0, n: 0 });

let scratch: Float64Array[] = [];
function integrals(size: number): Float64Array[] {
  // Reused across calls: five fresh Float64Arrays per plane would churn megabytes per trial.
  if (scratch.length === 0 || scratch[0].length < size) scratch = Array.from({ length: 5 }, () => new Float64Array(size));
  return scratch;
}

/** Whole small plane, 5×5 windows at every pixel, statistics from integral images. */
function comparePlane(a: Float32Array, b: Float32Array, w: number, h: number, acc: Sums): void {
  const W = w + 1;
  const [Ia, Ib, Iaa, Ibb, Iab] = integrals(W * (h + 1));
  for (let x = 0; x <= w; x++) { Ia[x] = 0; Ib[x] = 0; Iaa[x] = 0; Ibb[x] = 0; Iab[x] = 0; }
  for (let y = 0; y < h; y++) {
    let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    const row = y * w, up = y * W, cur = up + W;
    Ia[cur] = 0; Ib[cur] = 0; Iaa[cur] = 0; Ibb[cur] = 0; Iab[cur] = 0;
    for (let x = 0; x < w; x++) {
      const va = a[row + x], vb = b[row + x];
      sa += va; sb += vb; saa += va * va; sbb += vb * vb; sab += va * vb;
      const o = cur + x + 1, u = up + x + 1;
      Ia[o] = Ia[u] + sa; Ib[o] = Ib[u] + sb; Iaa[o] = Iaa[u] + saa; Ibb[o] = Ibb[u] + sbb; Iab[o] = Iab[u] + sab;
    }
  }
  const k = 2 * RADIUS + 1;
  const inv = 1 / (k * k);
  for (let y = RADIUS; y < h - RADIUS; y++) {
    const top = (y - RADIUS) * W, bot = (y + RADIUS + 1) * W;
    for (let x = RADIUS; x < w - RADIUS; x++) {
      const l = x - RADIUS, r = x + RADIUS + 1;
      const i0 = top + l, i1 = top + r, i2 = bot + l, i3 = bot + r;
      const ma = (Ia[i3] - Ia[i2] - Ia[i1] + Ia[i0]) * inv;
      const mb = (Ib[i3] - Ib[i2] - Ib[i1] + Ib[i0]) * inv;
      const vaa = (Iaa[i3] - Iaa[i2] - Iaa[i1] + Iaa[i0]) * inv - ma * ma;
      const vbb = (Ibb[i3] - Ibb[i2] - Ibb[i1] + Ibb[i0]) * inv - mb * mb;
      const vab = (Iab[i3] - Iab[i2] - Iab[i1] + Iab[i0]) * inv - ma * mb;
      const p = y * w + x;
      accumulate(acc, ma, mb, vaa, vbb, vab, Math.abs(a[p] - ma), Math.abs(b[p] - mb));
    }
  }
}

function accumulate(acc: Sums, ma: number, mb: number, vaa: number, vbb: number, vab: number, da: number, db: number): void {
  const md = ma - mb;
  let e = 1 - ((1 - md * md) * (2 * vab + C2)) / (vaa + vbb + C2);
  if (e < 0) e = 0;
  // Contrast masking, which SSIM lacks: in busy texture (foliage, film grain, star fields) the
  // reference's own contrast hides structural change that SSIM counts in full. Windows whose
  // local std exceeds ~MASK_STD count proportionally less.
  e /= 1 + vaa / MASK_C;
  const e2 = e * e;
  acc.s1 += e; acc.s4 += e2 * e2;
  // Relative change of local contrast: >0 is added structure (ringing, blocking), <0 lost detail.
  const rel = (1 + db) / (1 + da) - 1;
  if (rel > 0) { acc.a1 += rel; const r2 = rel * rel; acc.a4 += r2 * r2; }
  else { acc.d1 -= rel; const r2 = rel * rel; acc.d4 += r2 * r2; }
  acc.n++;
}

const tileSums = Array.from({ length: 5 }, () => new Float32Array((TILE / 2) * (TILE / 2)));
const tileIntegrals = Array.from({ length: 5 }, () => new Float64Array((TILE / 2 + 1) * (TILE / 2 + 1)));

/**
 * One tile of a large plane, evaluated on a 2-pixel lattice: pixels are summed in 2×2 blocks,
 * windows are 3×3 blocks (6×6 px, overlapping by 4 px, so every pixel is seen), and the edge
 * maps use the centre block's mean absolute deviation. A quarter of the evaluations of the
 * per-pixel path for the same coverage.
 */
function compareTile(a: Float32Array, b: Float32Array, w: number, x0: number, y0: number, size: number, acc: Sums): void {
  const bs = size >> 1;
  const [Sa, Sb, Saa, Sbb, Sab] = tileSums;
  for (let by = 0; by < bs; by++) {
    const r0 = (y0 + 2 * by) * w + x0, r1 = r0 + w;
    for (let bx = 0; bx < bs; bx++) {
      const i = r0 + 2 * bx, j = r1 + 2 * bx;
      const a0 = a[i], a1 = a[i + 1], a2 = a[j], a3 = a[j + 1];
      const b0 = b[i], b1 = b[i + 1], b2 = b[j], b3 = b[j + 1];
      const o = by * bs + bx;
      Sa[o] = a0 + a1 + a2 + a3;
      Sb[o] = b0 + b1 + b2 + b3;
      Saa[o] = a0 * a0 + a1 * a1 + a2 * a2 + a3 * a3;
      Sbb[o] = b0 * b0 + b1 * b1 + b2 * b2 + b3 * b3;
      Sab[o] = a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3;
    }
  }
  const W = bs + 1;
  const [Ia, Ib, Iaa, Ibb, Iab] = tileIntegrals;
  // The buffers are shared by both tile sizes, so the zero border must be rewritten each time.
  for (let x = 0; x <= bs; x++) { Ia[x] = 0; Ib[x] = 0; Iaa[x] = 0; Ibb[x] = 0; Iab[x] = 0; }
  for (let y = 0; y < bs; y++) {
    let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    const row = y * bs, up = y * W, cur = up + W;
    Ia[cur] = 0; Ib[cur] = 0; Iaa[cur] = 0; Ibb[cur] = 0; Iab[cur] = 0;
    for (let x = 0; x < bs; x++) {
      const i = row + x;
      sa += Sa[i]; sb += Sb[i]; saa += Saa[i]; sbb += Sbb[i]; sab += Sab[i];
      const o = cur + x + 1, u = up + x + 1;
      Ia[o] = Ia[u] + sa; Ib[o] = Ib[u] + sb; Iaa[o] = Iaa[u] + saa; Ibb[o] = Ibb[u] + sbb; Iab[o] = Iab[u] + sab;
    }
  }
  const inv = 1 / 36;
  for (let y = 1; y < bs - 1; y++) {
    const top = (y - 1) * W, bot = (y + 2) * W;
    for (let x = 1; x < bs - 1; x++) {
      const i0 = top + x - 1, i1 = top + x + 2, i2 = bot + x - 1, i3 = bot + x + 2;
      const ma = (Ia[i3] - Ia[i2] - Ia[i1] + Ia[i0]) * inv;
      const mb = (Ib[i3] - Ib[i2] - Ib[i1] + Ib[i0]) * inv;
      const vaa = (Iaa[i3] - Iaa[i2] - Iaa[i1] + Iaa[i0]) * inv - ma * ma;
      const vbb = (Ibb[i3] - Ibb[i2] - Ibb[i1] + Ibb[i0]) * inv - mb * mb;
      const vab = (Iab[i3] - Iab[i2] - Iab[i1] + Iab[i0]) * inv - ma * mb;
      const p = (y0 + 2 * y) * w + x0 + 2 * x, q = p + w;
      const da = 0.25 * (Math.abs(a[p] - ma) + Math.abs(a[p + 1] - ma) + Math.abs(a[q] - ma) + Math.abs(a[q + 1] - ma));
      const db = 0.25 * (Math.abs(b[p] - mb) + Math.abs(b[p + 1] - mb) + Math.abs(b[q] - mb) + Math.abs(b[q + 1] - mb));
      accumulate(acc, ma, mb, vaa, vbb, vab, da, db);
    }
  }
}

/** Distance between a prepared reference and a test image of the same dimensions. 0 = identical;
 *  larger is worse (see QUALITY.md for the scale and the budgets). */
export function distancePrepared(ref: Prepared, test: PixelsLike): number {
  if (test.width !== ref.width || test.height !== ref.height) {
    throw new Error(`size mismatch: reference ${ref.width}×${ref.height}, test ${test.width}×${test.height}`);
  }
  return distanceBetween(ref, prepare(test, ref.tiles));
}

export function distanceBetween(ref: Prepared, test: Prepared): number {
  let total = 0;
  for (const t of distanceTerms(ref, test)) total += t.weighted;
  return total;
}

export interface DistanceTerm {
  scale: number;
  channel: 'X' | 'Y' | 'B';
  ssim1: number; ssim4: number; art1: number; art4: number; det1: number; det4: number;
  /** This term's share of the distance. */
  weighted: number;
}

/** The distance broken down by scale and channel (diagnostics for the bench and tests). */
export function distanceTerms(ref: Prepared, test: Prepared): DistanceTerm[] {
  const out: DistanceTerm[] = [];
  for (let s = 0; s < ref.scales.length; s++) {
    const rs = ref.scales[s], ts = test.scales[s];
    const tiled = ref.tiles.length > 0 && s < 2;
    for (let c = 0; c < 3; c++) {
      const acc = emptySums();
      if (tiled) {
        for (const t of ref.tiles) compareTile(rs.planes[c], ts.planes[c], rs.width, t.x >> s, t.y >> s, t.size >> s, acc);
      } else {
        comparePlane(rs.planes[c], ts.planes[c], rs.width, rs.height, acc);
      }
      const n = Math.max(1, acc.n);
      const term = {
        scale: s, channel: (['X', 'Y', 'B'] as const)[c],
        ssim1: acc.s1 / n, ssim4: (acc.s4 / n) ** 0.25, art1: acc.a1 / n, art4: (acc.a4 / n) ** 0.25, det1: acc.d1 / n, det4: (acc.d4 / n) ** 0.25,
        weighted: 0,
      };
      term.weighted = SCALE_WEIGHT[s] * CHANNEL_WEIGHT[c] * (
        POOL_WEIGHT.ssim[0] * term.ssim1 + POOL_WEIGHT.ssim[1] * term.ssim4
        + POOL_WEIGHT.artifact[0] * term.art1 + POOL_WEIGHT.artifact[1] * term.art4
        + POOL_WEIGHT.detail[0] * term.det1 + POOL_WEIGHT.detail[1] * term.det4);
      out.push(term);
    }
  }
  return out;
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

// ---- worker protocol -------------------------------------------------------------------

export type MetricRequest =
  | { id: number; op: 'prepare'; key: number; image: PixelsLike }
  | { id: number; op: 'distance'; key: number; image: PixelsLike }
  | { id: number; op: 'subsampling'; key: number }
  | { id: number; op: 'release'; key: number }
  | { id: number; op: 'held' }
  | { id: number; op: 'compare'; image: PixelsLike; test: PixelsLike };

export type MetricReply = { id: number; value: number } | { id: number; error: string };

/** Prepared references held for open sessions. Callers release in `finally`; the bound is a
 *  backstop against a caller that never does (oldest evicted first), set well above the
 *  number of renders that can run at once. */
const MAX_HELD = 64;

function serve(port: NonNullable<typeof parentPort>): void {
  const held = new Map<number, { prepared: Prepared; image: PixelsLike }>();
  port.on('message', (req: MetricRequest) => {
    try {
      let value = 0;
      if (req.op === 'prepare') {
        held.set(req.key, { prepared: prepare(req.image), image: req.image });
        if (held.size > MAX_HELD) held.delete(held.keys().next().value as number);
      } else if (req.op === 'release') {
        held.delete(req.key);
      } else if (req.op === 'compare') {
        value = distancePrepared(prepare(req.image), req.test);
      } else if (req.op === 'held') {
        value = held.size;
      } else {
        const ref = held.get(req.key);
        if (!ref) throw new Error(`unknown reference ${req.key}`);
        value = req.op === 'distance' ? distancePrepared(ref.prepared, req.image) : subsamplingCost(ref.prepared, ref.image);
      }
      port.postMessage({ id: req.id, value } satisfies MetricReply);
    } catch (err) {
      port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) } satisfies MetricReply);
    }
  });
}

if (!isMainThread && parentPort && (workerData as { role?: string } | undefined)?.role === 'aperture-metric') {
  serve(parentPort);
}
