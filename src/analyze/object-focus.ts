/**
 * Objects as a crop cue: a saliency analysis re-weighted by detected object boxes, for
 * `g_auto:<class>[_<weight>|_avoid]` (and the plain `g_auto` object cue). Pure math on the
 * analysis grid; detection itself is in objects.ts.
 *
 * - Weighted objects become the subject: their boxes carry `weight/100`, the saliency subject
 *   keeps a quarter of its value elsewhere (so between two crops that keep the object, the one
 *   that also keeps the rest of the subject wins).
 * - Avoided objects carry a negative subject value whose total equals the positive total, and
 *   no saliency mass: a crop that keeps the avoided object loses as much as keeping the whole
 *   subject gains, so the crop moves away from it wherever it can.
 */
import type { SaliencyAnalysis } from './saliency.ts';
import type { Box } from './types.ts';

export interface WeightedBox extends Box {
  /** 0-1; ignored for avoided boxes. */
  weight: number;
  avoid: boolean;
}

/** Share of the saliency subject kept outside the object boxes (named objects; the plain g_auto cue passes its own). */
const SALIENCY_SHARE = 0.25;

function clip(b: Box, w: number, h: number): { x0: number; y0: number; x1: number; y1: number } {
  return {
    x0: Math.max(0, Math.floor(b.x)), y0: Math.max(0, Math.floor(b.y)),
    x1: Math.min(w, Math.ceil(b.x + b.width)), y1: Math.min(h, Math.ceil(b.y + b.height)),
  };
}

/** `a` with `boxes` (analysis pixels) as weighted or avoided subject; `a` itself when there are none. */
export function withObjects(a: SaliencyAnalysis, boxes: readonly WeightedBox[], saliencyShare = SALIENCY_SHARE): SaliencyAnalysis {
  if (!boxes.length) return a;
  const { width: w, height: h } = a;
  const positive = boxes.filter((b) => !b.avoid && b.weight > 0);
  const avoided = boxes.filter((b) => b.avoid);
  const subj = new Float32Array(w * h);
  const map = new Float32Array(a.map);
  const base = positive.length ? saliencyShare : 1;
  for (let p = 0; p < subj.length; p++) subj[p] = a.subjectMap[p] * base;
  for (const b of positive) {
    const r = clip(b, w, h);
    for (let y = r.y0; y < r.y1; y++) for (let x = r.x0; x < r.x1; x++) subj[y * w + x] = Math.max(subj[y * w + x], b.weight);
  }
  // Avoided pixels hold nothing worth keeping, then a negative share.
  for (const b of avoided) {
    const r = clip(b, w, h);
    for (let y = r.y0; y < r.y1; y++) for (let x = r.x0; x < r.x1; x++) { subj[y * w + x] = 0; map[y * w + x] = 0; }
  }
  let total = 0;
  for (let p = 0; p < subj.length; p++) total += subj[p];
  let avoidArea = 0;
  for (const b of avoided) { const r = clip(b, w, h); avoidArea += Math.max(0, r.x1 - r.x0) * Math.max(0, r.y1 - r.y0); }
  if (avoidArea > 0) {
    const v = -Math.max(total, 1) / avoidArea;
    for (const b of avoided) {
      const r = clip(b, w, h);
      for (let y = r.y0; y < r.y1; y++) for (let x = r.x0; x < r.x1; x++) subj[y * w + x] = v;
    }
  }
  let subject = a.subject, centroid = a.centroid;
  if (positive.length) {
    let x0 = w, y0 = h, x1 = 0, y1 = 0, sx = 0, sy = 0, sa = 0;
    for (const b of positive) {
      const r = clip(b, w, h);
      x0 = Math.min(x0, r.x0); y0 = Math.min(y0, r.y0); x1 = Math.max(x1, r.x1); y1 = Math.max(y1, r.y1);
      const area = (r.x1 - r.x0) * (r.y1 - r.y0) * b.weight;
      sx += ((r.x0 + r.x1) / 2) * area; sy += ((r.y0 + r.y1) / 2) * area; sa += area;
    }
    subject = { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
    if (sa > 0) centroid = { x: sx / sa, y: sy / sa };
  } else if (avoided.length) {
    // The subject is what is left of the saliency subject: its box and centre without the avoided pixels.
    let x0 = w, y0 = h, x1 = 0, y1 = 0, sx = 0, sy = 0, sa = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = subj[y * w + x];
        if (v <= 0.05) continue;
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1);
        sx += x * v; sy += y * v; sa += v;
      }
    }
    if (sa > 0) { subject = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }; centroid = { x: sx / sa, y: sy / sa }; }
  }
  return {
    ...a, map, subjectMap: subj, subject, centroid,
    confidence: positive.length || avoided.length ? 1 : a.confidence,
    subjectTotal: Math.max(total, 1e-9),
  };
}
