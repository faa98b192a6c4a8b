/**
 * Content-aware gravity for the geometry owner: `g_auto[:subject|:faces]`, `g_face`,
 * `g_faces`, `g_face:center`, `g_faces:auto`. One analysis per source and preceding
 * transformation (cached): a downscaled copy of the canvas, faces found on it, and the
 * saliency map built with the faces as a cue.
 *
 * Decisions (documented in the README):
 * - `g_face`/`g_faces` with no face found fall back to `g_auto` (`:center` variants to centre).
 * - `g_auto` uses faces as the strongest cue; `g_auto:subject` ignores faces; `g_auto:faces`
 *   behaves like `g_faces` with the `g_auto` fallback.
 */
import type { Sharp } from 'sharp';
import { LRUCache } from 'lru-cache';
import type { Component } from '../../transforms/types.ts';
import type { Canvas } from '../render/canvas.ts';
import type { RenderContext } from '../render/context.ts';
import type { Region } from '../render/affine.ts';
import { analyzeSaliency, type SaliencyAnalysis } from './saliency.ts';
import { chooseCrop, subjectRegion, ANALYSIS_SIDE } from './crop.ts';
import { getFaceDetector, type FaceBox } from './faces.ts';
import type { Box, RawImage } from './types.ts';
import { settingSized } from '../cache/memo.ts';

/** Faces are looked for on a larger copy than saliency needs: small faces vanish at 320 px. */
const FACE_SIDE = 512;
/**
 * `g_auto` runs the face detector (~50-150 ms) only when some of the picture could be skin:
 * landscapes and products then pay nothing for faces, portraits are decided by them.
 * 1% of the analysis pixels in the YCbCr skin range (a generous range: tanned to pale).
 */
const SKIN_SHARE_FOR_FACES = 0.01;

export type FaceNeed = 'always' | 'if-skin' | 'never';

export interface SubjectAnalysis {
  /** Size of the canvas that was analysed (crop coordinates refer to it). */
  width: number;
  height: number;
  /** Saliency built with faces as a cue (equals `saliencyNoFaces` when no face was looked for or found). */
  saliency: SaliencyAnalysis;
  /** Saliency computed without faces, for `g_auto:subject`. */
  saliencyNoFaces: SaliencyAnalysis;
  /** Faces in canvas pixels, largest first (empty when not looked for). */
  faces: Box[];
}

interface Entry {
  width: number;
  height: number;
  small: RawImage;
  skin: number;
  saliencyNoFaces: SaliencyAnalysis;
  withFaces?: Promise<{ faces: Box[]; saliency: SaliencyAnalysis; complete: boolean }>;
}

/**
 * An analysis record holds the 320 px pixels (`small`, ~0.2 MB for a 3:2 photo) and one or two
 * saliency results of two Float32 maps each (~0.55 MB per result): 0.8-1.3 MB, up to 2 MB for
 * a square source. Records serve the variants of one source requested close together (sizes,
 * breakpoints, w_auto); 32 of them (APERTURE_ANALYSIS_MEMO's default) bound the cache to
 * 26-42 MB, 64 MB for square sources (1,000 could hold 0.8-2 GB).
 */
const memos = settingSized((max) => new LRUCache<string, Promise<Entry>>({ max }));

function scaleBox(b: Box, sx: number, sy: number): Box {
  return { x: b.x * sx, y: b.y * sy, width: b.width * sx, height: b.height * sy };
}

async function rawOf(img: Sharp, side: number): Promise<RawImage> {
  const { data, info } = await img
    .resize(side, side, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 3 };
}

/** Share of pixels whose chroma falls in the usual skin range (Chai & Ngan's YCbCr box). */
export function skinShare(img: RawImage): number {
  const { data, channels: ch } = img;
  let skin = 0;
  const n = img.width * img.height;
  for (let p = 0, i = 0; p < n; p++, i += ch) {
    const r = data[i], g = data[i + 1], b = data[i + 2];
    const cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
    const cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
    if (cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173) skin++;
  }
  return skin / Math.max(1, n);
}

async function baseAnalysis(canvas: Canvas): Promise<Entry> {
  const small = await rawOf(canvas.pipeline().clone(), ANALYSIS_SIDE);
  return { width: canvas.width, height: canvas.height, small, skin: skinShare(small), saliencyNoFaces: analyzeSaliency(small) };
}

async function detectOn(canvas: Canvas, e: Entry): Promise<{ faces: Box[]; saliency: SaliencyAnalysis; complete: boolean }> {
  const detector = await getFaceDetector();
  if (!detector.available) return { faces: [], saliency: e.saliencyNoFaces, complete: false };
  const big = await rawOf(canvas.pipeline().clone(), FACE_SIDE);
  const found: FaceBox[] = await detector.detect(big);
  if (!found.length) return { faces: [], saliency: e.saliencyNoFaces, complete: true };
  const facesSmall = found.map((f) => scaleBox(f, e.small.width / big.width, e.small.height / big.height));
  return {
    faces: found.map((f) => scaleBox(f, e.width / big.width, e.height / big.height)),
    saliency: analyzeSaliency(e.small, { faces: facesSmall }),
    complete: true,
  };
}

/** The cached analysis of the canvas as it is at this point of the plan. */
export async function subjectAnalysis(canvas: Canvas, ctx: RenderContext, need: FaceNeed, stage = 'geometry'): Promise<SubjectAnalysis> {
  const key = `${ctx.sourceIdentity}\n${ctx.prefix}\n${stage}\n${canvas.width}x${canvas.height}`;
  const t0 = performance.now();
  const analyses = memos.of(ctx.config.analysisMemo);
  try {
    let p = analyses.get(key);
    if (!p) {
      p = baseAnalysis(canvas);
      analyses.set(key, p);
      p.catch(() => analyses.delete(key));
    }
    const e = await p;
    const wantFaces = need === 'always' || (need === 'if-skin' && e.skin >= SKIN_SHARE_FOR_FACES);
    if (!wantFaces) return { width: e.width, height: e.height, saliency: e.saliencyNoFaces, saliencyNoFaces: e.saliencyNoFaces, faces: [] };
    if (!e.withFaces) {
      const wf = detectOn(canvas, e);
      e.withFaces = wf;
      // An unavailable detector is not an answer: try again next time.
      wf.then((r) => { if (!r.complete) e.withFaces = undefined; }, () => { e.withFaces = undefined; });
    }
    const f = await e.withFaces;
    return { width: e.width, height: e.height, saliency: f.saliency, saliencyNoFaces: e.saliencyNoFaces, faces: f.faces };
  } finally {
    ctx.timing.analyze = (ctx.timing.analyze ?? 0) + (performance.now() - t0);
  }
}

function faceNeed(c: Component): FaceNeed {
  const g = c.gravity;
  if (g?.kind === 'face' || (g?.kind === 'auto' && g.focus === 'faces')) return 'always';
  if (g?.kind === 'auto' && g.focus === 'subject') return 'never';
  return 'if-skin';
}

function union(boxes: Box[]): Box {
  const x0 = Math.min(...boxes.map((b) => b.x)), y0 = Math.min(...boxes.map((b) => b.y));
  const x1 = Math.max(...boxes.map((b) => b.x + b.width)), y1 = Math.max(...boxes.map((b) => b.y + b.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The faces a face gravity asks for, in canvas pixels; undefined when none apply. */
function faceTarget(c: Component, a: SubjectAnalysis): Box | undefined {
  const g = c.gravity;
  if (!a.faces.length || !g) return undefined;
  if (g.kind === 'face') return g.multiple ? union(a.faces) : a.faces[0];
  if (g.kind === 'auto' && g.focus === 'faces') return union(a.faces);
  return undefined;
}

function centreOn(box: Box, W: number, H: number, rw: number, rh: number) {
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  return {
    left: Math.round(Math.min(Math.max(0, cx - rw / 2), W - rw)),
    top: Math.round(Math.min(Math.max(0, cy - rh / 2), H - rh)),
  };
}

/** Top-left of an `rw×rh` region of the canvas chosen by the component's content gravity. */
export async function placeBySubject(canvas: Canvas, c: Component, ctx: RenderContext, rw: number, rh: number): Promise<{ left: number; top: number }> {
  const a = await subjectAnalysis(canvas, ctx, faceNeed(c));
  const W = a.width, H = a.height;
  const target = faceTarget(c, a);
  if (target) return centreOn(target, W, H, rw, rh);
  const g = c.gravity;
  if (g?.kind === 'face' && g.fallback === 'center') return centreOn({ x: W / 2, y: H / 2, width: 0, height: 0 }, W, H, rw, rh);
  const sal = g?.kind === 'auto' && g.focus === 'subject' ? a.saliencyNoFaces : a.saliency;
  return chooseCrop(sal, W, H, rw, rh);
}

/** The subject (faces for face gravities, else the salient object) in canvas pixels. */
export async function subjectBox(canvas: Canvas, c: Component, ctx: RenderContext): Promise<Region | undefined> {
  const a = await subjectAnalysis(canvas, ctx, faceNeed(c));
  const target = faceTarget(c, a);
  if (target) return { x: Math.round(target.x), y: Math.round(target.y), width: Math.max(1, Math.round(target.width)), height: Math.max(1, Math.round(target.height)) };
  const g = c.gravity;
  const sal = g?.kind === 'auto' && g.focus === 'subject' ? a.saliencyNoFaces : a.saliency;
  if (sal.confidence <= 0) return undefined;
  const b = subjectRegion(sal, a.width, a.height);
  return { x: b.x, y: b.y, width: b.width, height: b.height };
}

/** Faces on the canvas as it is now (for e_pixelate_faces / e_blur_faces). */
export async function facesOn(canvas: Canvas, ctx: RenderContext, stage: string): Promise<Box[]> {
  return (await subjectAnalysis(canvas, ctx, 'always', stage)).faces;
}
