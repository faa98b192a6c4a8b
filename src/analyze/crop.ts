/**
 * `g_auto` crop placement from a saliency analysis: where to put a crop of a given size so it
 * keeps as much of the main subject as possible.
 */
import type { Sharp } from 'sharp';
import type { SaliencyAnalysis } from './saliency.ts';
import { integral, windowSum } from './saliency-ops.ts';
import type { Box, RawImage } from './types.ts';

/** Long side of the analysis copy: enough to see a subject of ~2% of the frame, cheap in JS. */
export const ANALYSIS_SIDE = 320;

/**
 * Downscaled 3-channel sRGB copy of a pipeline's input for analyzeSaliency. Works on a clone,
 * so the caller's pipeline is untouched; orientation options already set on `input` (e.g.
 * `rotate()`) carry over, which keeps analysis and crop in the same pixel space.
 */
export async function analysisImage(input: Sharp, maxSide = ANALYSIS_SIDE): Promise<RawImage> {
  const { data, info } = await input
    .clone()
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 3 };
}

/** The subject box scaled to source pixels, kept inside the source. */
export function subjectRegion(a: SaliencyAnalysis, srcW: number, srcH: number): Box {
  const sx = srcW / a.width;
  const sy = srcH / a.height;
  const x = Math.max(0, Math.min(srcW - 1, Math.floor(a.subject.x * sx)));
  const y = Math.max(0, Math.min(srcH - 1, Math.floor(a.subject.y * sy)));
  const right = Math.max(x + 1, Math.min(srcW, Math.ceil((a.subject.x + a.subject.width) * sx)));
  const bottom = Math.max(y + 1, Math.min(srcH, Math.ceil((a.subject.y + a.subject.height) * sy)));
  return { x, y, width: right - x, height: bottom - y };
}

function overlap1(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
}

/**
 * Top-left corner (source pixels) of a cropW×cropH crop that best holds the subject. Candidate
 * windows are scored on the analysis grid with summed-area tables (O(1) each): the share of
 * the subject's saliency kept dominates, the share of the subject box kept and of the whole
 * map's saliency break ties, and a small pull toward the subject centroid centres the subject
 * when the window is larger than it.
 */
export function chooseCrop(
  a: SaliencyAnalysis, srcW: number, srcH: number, cropW: number, cropH: number,
): { left: number; top: number } {
  const cw = Math.max(1, Math.min(srcW, Math.round(cropW)));
  const ch = Math.max(1, Math.min(srcH, Math.round(cropH)));
  const maxLeft = srcW - cw;
  const maxTop = srcH - ch;
  if (maxLeft === 0 && maxTop === 0) return { left: 0, top: 0 };

  const { width: w, height: h } = a;
  const sx = w / srcW;
  const sy = h / srcH;
  const ww = Math.max(1, Math.min(w, Math.round(cw * sx)));
  const wh = Math.max(1, Math.min(h, Math.round(ch * sy)));
  const subjSat = integral(a.subjectMap, w, h);
  const mapSat = integral(a.map, w, h);
  const subjTotal = a.subjectTotal ?? (windowSum(subjSat, w, 0, 0, w, h) || 1);
  const mapTotal = windowSum(mapSat, w, 0, 0, w, h) || 1;
  const s = a.subject;
  const boxArea = Math.max(1e-9, Math.min(ww, s.width) * Math.min(wh, s.height));
  const conf = a.confidence;
  const wSubj = 0.45 + 0.3 * conf;
  const wBox = 0.25;
  const wMap = 0.3 - 0.3 * conf;

  let best = -Infinity;
  let bx = (w - ww) / 2;
  let by = (h - wh) / 2;
  for (let y = 0; y <= h - wh; y++) {
    for (let x = 0; x <= w - ww; x++) {
      const subj = windowSum(subjSat, w, x, y, x + ww, y + wh) / subjTotal;
      const mass = windowSum(mapSat, w, x, y, x + ww, y + wh) / mapTotal;
      const box = (overlap1(x, x + ww, s.x, s.x + s.width) * overlap1(y, y + wh, s.y, s.y + s.height)) / boxArea;
      const dx = (x + ww / 2 - a.centroid.x) / w;
      const dy = (y + wh / 2 - a.centroid.y) / h;
      const ix = (x + ww / 2) / w - 0.5;
      const iy = (y + wh / 2) / h - 0.5;
      const score = wSubj * subj + wBox * box + wMap * mass - 0.05 * Math.sqrt(dx * dx + dy * dy)
        - 0.05 * Math.sqrt(ix * ix + iy * iy);
      if (score > best) { best = score; bx = x; by = y; }
    }
  }
  const left = Math.round(bx / sx);
  const top = Math.round(by / sy);
  return {
    left: Math.max(0, Math.min(maxLeft, left)),
    top: Math.max(0, Math.min(maxTop, top)),
  };
}
