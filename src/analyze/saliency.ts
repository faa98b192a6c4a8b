/**
 * Content-aware subject detection for `g_auto`: a per-pixel saliency map and the box of the
 * main subject, computed on a small sRGB copy of the image.
 *
 * Cues (all linear in pixels):
 * - colour distinctness: Lab distance to a background model learnt from the image border;
 * - focus: fine detail energy, which separates an in-focus subject from bokeh;
 * - a weak centre prior;
 * - faces, when given, dominate everything else.
 * The map is then segmented into connected regions and the most object-like region wins:
 * a compact, strongly salient blob beats a large texture spread over the frame.
 */
import type { Box, RawImage } from './types.ts';
import { blur, components, quantile, toLab, type Component, type LabPlanes } from './saliency-ops.ts';

export interface SaliencyAnalysis {
  /** Analysis grid size (the size of the image given to analyzeSaliency). */
  width: number;
  height: number;
  /** Per-pixel saliency 0..1, row-major. */
  map: Float32Array;
  /** Main subject box in analysis pixels. */
  subject: Box;
  /** Saliency that belongs to the subject (0 elsewhere): what a crop should keep. */
  subjectMap: Float32Array;
  /** Saliency-weighted centre of the subject, analysis pixels. */
  centroid: { x: number; y: number };
  /** 0..1: how clearly one subject stands out (0 = nothing found, crop falls back to mass). */
  confidence: number;
  /** Face boxes in analysis pixels (empty when none were given). */
  faces: Box[];
  /**
   * What a crop keeping the whole subject keeps, when `subjectMap` has negative (avoided)
   * values and its plain sum is not that (object-focus.ts); absent: the sum of `subjectMap`.
   */
  subjectTotal?: number;
}

export interface SaliencyCues {
  colour: Float32Array;
  focus: Float32Array;
}

/**
 * The method's constants, the same for every image. Chosen on the dev set and checked for
 * stability (neighbouring values move the dev mean by < 0.01) and on held-out photos.
 */
const TUNING = {
  /** Cues count from this quantile up (the "typical pixel" of the image). */
  typicalQuantile: 0.3,
  /** Geometric weighting of colour distinctness and focus in the map. */
  colourExponent: 0.5,
  focusExponent: 0.5,
  /** Map falls to 1 - centrePrior at the corners: photographers tend to centre subjects. */
  centrePrior: 0.3,
  /** Quantiles of the smoothed map used as segmentation cuts, and the absolute floor. */
  levels: [0.7, 0.8, 0.88, 0.94],
  minThreshold: 0.3,
  /** How sharply votes favour the best candidate region (score ratio ** votePower). */
  votePower: 3,
  /** Regions closer than this fraction of the long side form one subject. */
  clusterGap: 0.02,
  /** Region score grows as mass ** massExponent: big regions should not win by size alone. */
  massExponent: 0.35,
} as const;

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * k-means in Lab on one border strip; clusters holding under `minShare` of the strip are
 * dropped, so a subject that merely touches the edge does not become "background".
 * Returns the kept centres packed as [L, a, b, L, a, b, ...].
 */
function borderClusters(lab: LabPlanes, idx: Int32Array, k: number, minShare: number): Float64Array {
  const { L, A, B } = lab;
  const m = idx.length;
  const c = new Float64Array(k * 3);
  // Seeds spread along the strip: neighbouring border pixels are alike, so this covers its parts.
  for (let j = 0; j < k; j++) {
    const p = idx[Math.floor(((j + 0.5) * m) / k)];
    c[j * 3] = L[p]; c[j * 3 + 1] = A[p]; c[j * 3 + 2] = B[p];
  }
  const sums = new Float64Array(k * 4);
  for (let iter = 0; iter < 6; iter++) {
    sums.fill(0);
    for (let i = 0; i < m; i++) {
      const p = idx[i];
      const l = L[p], a = A[p], b = B[p];
      let best = 0;
      let bd = Infinity;
      for (let j = 0; j < k; j++) {
        const d = (l - c[j * 3]) ** 2 + (a - c[j * 3 + 1]) ** 2 + (b - c[j * 3 + 2]) ** 2;
        if (d < bd) { bd = d; best = j; }
      }
      sums[best * 4] += l; sums[best * 4 + 1] += a; sums[best * 4 + 2] += b; sums[best * 4 + 3]++;
    }
    for (let j = 0; j < k; j++) {
      const cnt = sums[j * 4 + 3];
      if (cnt > 0) { c[j * 3] = sums[j * 4] / cnt; c[j * 3 + 1] = sums[j * 4 + 1] / cnt; c[j * 3 + 2] = sums[j * 4 + 2] / cnt; }
    }
  }
  const kept: number[] = [];
  for (let j = 0; j < k; j++) if (sums[j * 4 + 3] >= minShare * m) kept.push(c[j * 3], c[j * 3 + 1], c[j * 3 + 2]);
  return kept.length > 0 ? Float64Array.from(kept) : c;
}

/** Every `step`-th pixel index of a w×h rectangle at (x0, y0) of an image `stride` wide. */
function rectIndices(x0: number, y0: number, rw: number, rh: number, stride: number, step: number): Int32Array {
  const out: number[] = [];
  for (let y = y0; y < y0 + rh; y += step) for (let x = x0; x < x0 + rw; x += step) out.push(y * stride + x);
  return Int32Array.from(out);
}

/**
 * Colour distinctness from the border. Each side gets its own small colour model; of a pixel's
 * four distances the largest is discarded, so a subject touching one edge still stands out.
 * Lightness counts half: shading and vignetting change L more than they change what a thing is.
 */
function colourCue(lab: LabPlanes, w: number, h: number): Float32Array {
  const t = Math.max(2, Math.round(Math.min(w, h) * 0.05));
  const step = w * h > 40000 ? 2 : 1;
  const models = [
    rectIndices(0, 0, w, t, w, step), rectIndices(0, h - t, w, t, w, step),
    rectIndices(0, 0, t, h, w, step), rectIndices(w - t, 0, t, h, w, step),
  ].map((idx) => borderClusters(lab, idx, 6, 0.06));
  const { L, A, B } = lab;
  const n = w * h;
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const l = L[p], a = A[p], b = B[p];
    let sum = 0;
    let max = 0;
    for (let s = 0; s < 4; s++) {
      const c = models[s];
      let bd = Infinity;
      for (let j = 0; j < c.length; j += 3) {
        const d = 0.5 * (l - c[j]) ** 2 + (a - c[j + 1]) ** 2 + (b - c[j + 2]) ** 2;
        if (d < bd) bd = d;
      }
      const d = Math.sqrt(bd);
      sum += d;
      if (d > max) max = d;
    }
    out[p] = (sum - max) / 3;
  }
  return out;
}

/** Fine-detail energy: in-focus texture and edges score high, bokeh and flat areas low. */
function focusCue(lab: LabPlanes, w: number, h: number): Float32Array {
  const n = w * h;
  const hf = new Float32Array(n);
  const planes = [lab.L, lab.A, lab.B];
  const weights = [1, 0.5, 0.5];
  for (let c = 0; c < 3; c++) {
    const src = planes[c];
    const low = blur(src, w, h, 1, 2);
    const wt = weights[c];
    for (let p = 0; p < n; p++) hf[p] += wt * Math.abs(src[p] - low[p]);
  }
  const r = Math.max(1, Math.round(Math.max(w, h) * 0.012));
  const energy = blur(hf, w, h, r, 2);
  return energy;
}

export function saliencyCues(img: RawImage): SaliencyCues {
  const lab = toLab(img);
  const { width: w, height: h } = img;
  const colour = colourCue(lab, w, h);
  const focus = focusCue(lab, w, h);
  return { colour, focus };
}

/**
 * Cue value relative to the typical pixel: 0 at the `base` quantile, 1 at the q-quantile
 * (at least `floor` above it). A cue that is high everywhere (grain, foliage, noise) then
 * says nothing, instead of drowning the cue that does tell the subject apart.
 */
function normalise(src: Float32Array, q: number, floor: number, base: number): Float32Array {
  const mid = base > 0 ? quantile(src, base) : 0;
  const span = Math.max(quantile(src, q) - mid, floor);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = clamp01((src[i] - mid) / span);
  return out;
}

function toAnalysisBox(b: Box, w: number, h: number): Box {
  const x = Math.max(0, Math.min(w - 1, b.x));
  const y = Math.max(0, Math.min(h - 1, b.y));
  return {
    x, y,
    width: Math.max(1, Math.min(w - x, b.width)),
    height: Math.max(1, Math.min(h - y, b.height)),
  };
}

/** A candidate subject: one connected region or a cluster of nearby ones. */
interface Region extends Component {
  members: number[];
}

/**
 * Nearby regions are one subject more often than not (a row of boats, a flower and its stem):
 * regions whose boxes come within `gap` pixels are clustered with union-find.
 */
function clusterRegions(comps: Component[], keep: number[], gap: number): Region[] {
  const parent = keep.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (let i = 0; i < keep.length; i++) {
    const a = comps[keep[i]];
    for (let j = i + 1; j < keep.length; j++) {
      const b = comps[keep[j]];
      if (a.minX - gap <= b.maxX && b.minX - gap <= a.maxX && a.minY - gap <= b.maxY && b.minY - gap <= a.maxY) {
        parent[find(i)] = find(j);
      }
    }
  }
  const groups = new Map<number, Region>();
  for (let i = 0; i < keep.length; i++) {
    const c = comps[keep[i]];
    const root = find(i);
    const g = groups.get(root);
    if (!g) {
      groups.set(root, { ...c, cx: c.cx * c.sum, cy: c.cy * c.sum, members: [keep[i]] });
      continue;
    }
    g.area += c.area; g.sum += c.sum;
    g.cx += c.cx * c.sum; g.cy += c.cy * c.sum;
    g.minX = Math.min(g.minX, c.minX); g.minY = Math.min(g.minY, c.minY);
    g.maxX = Math.max(g.maxX, c.maxX); g.maxY = Math.max(g.maxY, c.maxY);
    g.members.push(keep[i]);
  }
  const out = [...groups.values()];
  for (const g of out) { g.cx /= g.sum || 1; g.cy /= g.sum || 1; }
  return out;
}

/**
 * Object-likeness of a region: strongly salient on average (mean²), substantial (√mass),
 * compact (fill of its box), and not a background-sized sprawl.
 */
function regionScore(c: Component, n: number): number {
  const mean = c.sum / c.area;
  const bw = c.maxX - c.minX + 1;
  const bh = c.maxY - c.minY + 1;
  const fill = c.area / (bw * bh);
  const frac = c.area / n;
  const sizePenalty = frac > 0.3 ? Math.max(0.2, 1 - (frac - 0.3) * 1.5) : 1;
  return mean * mean * c.sum ** TUNING.massExponent * Math.sqrt(fill) * sizePenalty;
}

/**
 * The saliency of `img`. With `faces`, the result is `withFaces` of the analysis without them:
 * the map does not depend on faces, only the subject does.
 */
export function analyzeSaliency(img: RawImage, opts: { faces?: Box[] } = {}): SaliencyAnalysis {
  const a = saliencyOf(img);
  return opts.faces?.length ? withFaces(a, opts.faces) : a;
}

/**
 * The analysis `a` (made without faces) with `faces` (analysis pixels) as its subject: they
 * dominate every other cue. Shares `a.map`; cheap (no pixel is looked at again).
 */
export function withFaces(a: SaliencyAnalysis, facesIn: Box[]): SaliencyAnalysis {
  const { width: w, height: h, map } = a;
  const faces = facesIn.map((f) => toAnalysisBox(f, w, h));
  if (!faces.length) return a;
  const subjectMap = new Float32Array(w * h);
  let x0 = w, y0 = h, x1 = 0, y1 = 0, sx = 0, sy = 0, sa = 0;
  for (const f of faces) {
    x0 = Math.min(x0, f.x); y0 = Math.min(y0, f.y);
    x1 = Math.max(x1, f.x + f.width); y1 = Math.max(y1, f.y + f.height);
    const ar = f.width * f.height;
    sx += (f.x + f.width / 2) * ar; sy += (f.y + f.height / 2) * ar; sa += ar;
    for (let y = Math.floor(f.y); y < Math.min(h, Math.ceil(f.y + f.height)); y++) {
      for (let x = Math.floor(f.x); x < Math.min(w, Math.ceil(f.x + f.width)); x++) subjectMap[y * w + x] = 1;
    }
  }
  return {
    width: w, height: h, map, subjectMap,
    subject: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
    centroid: { x: sx / sa, y: sy / sa },
    confidence: 1,
    faces,
  };
}

/** The saliency of `img` without faces (what the analysis worker computes). */
export function saliencyOf(img: RawImage): SaliencyAnalysis {
  const { width: w, height: h } = img;
  const n = w * h;
  const cues = saliencyCues(img);
  const colour = normalise(cues.colour, 0.99, 12, TUNING.typicalQuantile);
  const focus = normalise(cues.focus, 0.99, 4, TUNING.typicalQuantile);

  const map = new Float32Array(n);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let p = 0; p < n; p++) {
    const x = p % w;
    const y = (p - x) / w;
    const dx = (x - cx) / w;
    const dy = (y - cy) / h;
    map[p] = (0.05 + colour[p]) ** TUNING.colourExponent * (0.05 + focus[p]) ** TUNING.focusExponent * (1 - TUNING.centrePrior * (dx * dx + dy * dy) * 2);
  }
  const top = quantile(map, 0.995) || 1;
  for (let p = 0; p < n; p++) map[p] = clamp01(map[p] / top);

  const smooth = blur(map, w, h, Math.max(1, Math.round(Math.max(w, h) * 0.01)), 2);
  const gap = Math.max(2, Math.round(Math.max(w, h) * TUNING.clusterGap));
  // Several thresholds, because no single cut separates every subject from its surround: a
  // region that stays object-like across cuts gathers votes, a lucky one at one cut does not.
  const levels: { labels: Int32Array; cands: { c: Region; s: number }[] }[] = [];
  let best: Region | undefined;
  let bestScore = 0;
  for (const q of TUNING.levels) {
    const threshold = Math.max(TUNING.minThreshold, quantile(smooth, q));
    const { labels, comps } = components(smooth, w, h, threshold);
    const keep: number[] = [];
    for (let i = 0; i < comps.length; i++) if (comps[i].area >= n * 0.001) keep.push(i);
    const regions: Region[] = keep.map((i) => ({ ...comps[i], members: [i] }));
    for (const g of clusterRegions(comps, keep, gap)) if (g.members.length > 1) regions.push(g);
    const cands = regions.map((c) => ({ c, s: regionScore(c, n) }));
    for (const { c, s } of cands) {
      if (s > bestScore) { bestScore = s; best = c; }
    }
    levels.push({ labels, cands });
  }
  // Votes: each candidate adds its saliency, weighted by how close it comes to the best.
  const votes = new Float32Array(n);
  let secondScore = 0;
  for (const { labels, cands } of levels) {
    let labelCount = 0;
    for (const { c } of cands) for (const m of c.members) labelCount = Math.max(labelCount, m + 1);
    const weightOf = new Float32Array(labelCount);
    for (const { c, s } of cands) {
      const wgt = (s / bestScore) ** TUNING.votePower;
      for (const m of c.members) weightOf[m] += wgt;
      if (best && (c.minX > best.maxX || c.maxX < best.minX || c.minY > best.maxY || c.maxY < best.minY)) {
        secondScore = Math.max(secondScore, s);
      }
    }
    for (let p = 0; p < n; p++) if (labels[p] >= 0 && labels[p] < weightOf.length) votes[p] += weightOf[labels[p]] * map[p];
  }

  const subjectMap = new Float32Array(n);
  let subject: Box;
  let centroid: { x: number; y: number };
  let confidence: number;
  if (best) {
    const c = best;
    subjectMap.set(votes);
    subject = { x: c.minX, y: c.minY, width: c.maxX - c.minX + 1, height: c.maxY - c.minY + 1 };
    centroid = { x: c.cx, y: c.cy };
    confidence = clamp01(1 - secondScore / bestScore);
  } else {
    subjectMap.set(map);
    subject = { x: 0, y: 0, width: w, height: h };
    centroid = { x: cx, y: cy };
    confidence = 0;
  }
  return { width: w, height: h, map, subject, subjectMap, centroid, confidence, faces: [] };
}
