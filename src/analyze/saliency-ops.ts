/**
 * Small linear-time image operations on single-channel float planes, shared by the saliency
 * cues. Everything here is O(pixels) so the whole analysis stays cheap at ~300 px.
 */
import type { RawImage } from './types.ts';

export interface LabPlanes {
  L: Float32Array;
  A: Float32Array;
  B: Float32Array;
}

let srgbToLinear: Float32Array | undefined;

function linearTable(): Float32Array {
  if (srgbToLinear) return srgbToLinear;
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const c = i / 255;
    t[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }
  srgbToLinear = t;
  return t;
}

function labF(t: number): number {
  return t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116;
}

/**
 * CIE Lab (D65) because its distances roughly follow perceived colour difference, which is
 * what "stands out from the background" means to a viewer. Alpha is flattened on white.
 */
export function toLab(img: RawImage): LabPlanes {
  const { data, width, height, channels } = img;
  const n = width * height;
  const lin = linearTable();
  const L = new Float32Array(n);
  const A = new Float32Array(n);
  const B = new Float32Array(n);
  const grey = channels < 3;
  const hasAlpha = channels === 2 || channels === 4;
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    let r: number, g: number, b: number;
    if (grey) {
      r = g = b = lin[data[p]];
    } else {
      r = lin[data[p]];
      g = lin[data[p + 1]];
      b = lin[data[p + 2]];
    }
    if (hasAlpha) {
      const al = data[p + channels - 1] / 255;
      r = r * al + (1 - al);
      g = g * al + (1 - al);
      b = b * al + (1 - al);
    }
    const x = labF((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047);
    const y = labF(0.2126 * r + 0.7152 * g + 0.0722 * b);
    const z = labF((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
    L[i] = 116 * y - 16;
    A[i] = 500 * (x - y);
    B[i] = 200 * (y - z);
  }
  return { L, A, B };
}

/** One horizontal + vertical running-sum box blur of radius r with clamped edges. */
function boxBlurOnce(src: Float32Array, dst: Float32Array, tmp: Float32Array, w: number, h: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += src[row + Math.min(w - 1, Math.max(0, k))];
    for (let x = 0; x < w; x++) {
      tmp[row + x] = acc * norm;
      acc += src[row + Math.min(w - 1, x + r + 1)] - src[row + Math.max(0, x - r)];
    }
  }
  for (let x = 0; x < w; x++) {
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += tmp[Math.min(h - 1, Math.max(0, k)) * w + x];
    for (let y = 0; y < h; y++) {
      dst[y * w + x] = acc * norm;
      acc += tmp[Math.min(h - 1, y + r + 1) * w + x] - tmp[Math.max(0, y - r) * w + x];
    }
  }
}

/** Three box passes approximate a Gaussian of sigma ≈ r·0.8 at constant cost per pixel. */
export function blur(src: Float32Array, w: number, h: number, r: number, passes = 3): Float32Array {
  const out = new Float32Array(src.length);
  if (r < 1) {
    out.set(src);
    return out;
  }
  const tmp = new Float32Array(src.length);
  boxBlurOnce(src, out, tmp, w, h, r);
  for (let i = 1; i < passes; i++) boxBlurOnce(out, out, tmp, w, h, r);
  return out;
}

/**
 * Quantile of a non-negative plane from a 1024-bin histogram: O(n), and bin-width precision
 * is plenty for normalising and thresholding maps.
 */
export function quantile(src: Float32Array, q: number): number {
  let max = 0;
  for (let i = 0; i < src.length; i++) if (src[i] > max) max = src[i];
  if (max <= 0) return 0;
  const bins = 1024;
  const hist = new Uint32Array(bins);
  const scale = (bins - 1) / max;
  for (let i = 0; i < src.length; i++) hist[Math.max(0, Math.floor(src[i] * scale))]++;
  const target = q * src.length;
  let acc = 0;
  for (let b = 0; b < bins; b++) {
    acc += hist[b];
    if (acc >= target) return (b + 1) / scale;
  }
  return max;
}

export interface Component {
  area: number;
  sum: number;
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  cx: number;
  cy: number;
}

/**
 * 4-connected components of `value >= threshold`, with their saliency sum, bounding box and
 * weighted centroid. Returns the label plane (-1 = background) and the components.
 */
export function components(
  value: Float32Array, w: number, h: number, threshold: number,
): { labels: Int32Array; comps: Component[] } {
  const n = w * h;
  const labels = new Int32Array(n).fill(-1);
  const comps: Component[] = [];
  const stack = new Int32Array(n);
  for (let start = 0; start < n; start++) {
    if (labels[start] !== -1 || value[start] < threshold) continue;
    const id = comps.length;
    const c: Component = { area: 0, sum: 0, minX: w, minY: h, maxX: -1, maxY: -1, cx: 0, cy: 0 };
    let sp = 0;
    stack[sp++] = start;
    labels[start] = id;
    while (sp > 0) {
      const p = stack[--sp];
      const x = p % w;
      const y = (p - x) / w;
      const v = value[p];
      c.area++;
      c.sum += v;
      c.cx += x * v;
      c.cy += y * v;
      if (x < c.minX) c.minX = x;
      if (x > c.maxX) c.maxX = x;
      if (y < c.minY) c.minY = y;
      if (y > c.maxY) c.maxY = y;
      if (x > 0 && labels[p - 1] === -1 && value[p - 1] >= threshold) { labels[p - 1] = id; stack[sp++] = p - 1; }
      if (x < w - 1 && labels[p + 1] === -1 && value[p + 1] >= threshold) { labels[p + 1] = id; stack[sp++] = p + 1; }
      if (y > 0 && labels[p - w] === -1 && value[p - w] >= threshold) { labels[p - w] = id; stack[sp++] = p - w; }
      if (y < h - 1 && labels[p + w] === -1 && value[p + w] >= threshold) { labels[p + w] = id; stack[sp++] = p + w; }
    }
    c.cx /= c.sum || 1;
    c.cy /= c.sum || 1;
    comps.push(c);
  }
  return { labels, comps };
}

/** Summed-area table with a zero first row/column: window sums in O(1). */
export function integral(src: Float32Array, w: number, h: number): Float64Array {
  const W = w + 1;
  const out = new Float64Array(W * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += src[y * w + x];
      out[(y + 1) * W + x + 1] = out[y * W + x + 1] + row;
    }
  }
  return out;
}

export function windowSum(sat: Float64Array, w: number, x0: number, y0: number, x1: number, y1: number): number {
  const W = w + 1;
  return sat[y1 * W + x1] - sat[y0 * W + x1] - sat[y1 * W + x0] + sat[y0 * W + x0];
}
