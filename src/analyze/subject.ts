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
import sharp, { type Sharp } from 'sharp';
import { LRUCache } from 'lru-cache';
import type { Component } from '../../transforms/types.ts';
import type { Canvas } from '../render/canvas.ts';
import type { RenderContext } from '../render/context.ts';
import type { Region } from '../render/affine.ts';
import { analyzeSaliency, type SaliencyAnalysis } from './saliency.ts';
import { chooseCrop, subjectRegion, ANALYSIS_SIDE } from './crop.ts';
import { getFaceDetector, type FaceBox } from './faces.ts';
import type { Box, RawImage } from './types.ts';

/** Faces are looked for on a larger copy than saliency needs: small faces vanish at 320 px. */
const FACE_SIDE = 512;

export interface SubjectAnalysis {
  /** Size of the canvas that was analysed (crop coordinates refer to it). */
  width: number;
  height: number;
  saliency: SaliencyAnalysis;
  /** Saliency computed without faces, for `g_auto:subject`. */
  saliencyNoFaces: SaliencyAnalysis;
  /** Faces in canvas pixels, largest first. */
  faces: Box[];
  /** False when the face detector was unavailable: such an analysis is not kept. */
  complete: boolean;
}

const analyses = new LRUCache<string, Promise<SubjectAnalysis>>({ max: 2_000 });

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

async function analyse(canvas: Canvas): Promise<SubjectAnalysis> {
  const W = canvas.width, H = canvas.height;
  // One decode at face size; the saliency copy is a cheap resize of it.
  const big = await rawOf(canvas.pipeline().clone(), FACE_SIDE);
  const small = await rawOf(sharp(big.data as Buffer, { raw: { width: big.width, height: big.height, channels: 3 } }), ANALYSIS_SIDE);
  const detector = await getFaceDetector();
  const found: FaceBox[] = detector.available ? await detector.detect(big) : [];
  const toSmall = small.width / big.width;
  const facesSmall = found.map((f) => scaleBox(f, toSmall, small.height / big.height));
  const saliency = analyzeSaliency(small, { faces: facesSmall });
  const saliencyNoFaces = facesSmall.length ? analyzeSaliency(small) : saliency;
  const faces = found.map((f) => scaleBox(f, W / big.width, H / big.height));
  return { width: W, height: H, saliency, saliencyNoFaces, faces, complete: detector.available };
}

/** The cached analysis of the canvas as it is at this point of the plan. */
export async function subjectAnalysis(canvas: Canvas, ctx: RenderContext): Promise<SubjectAnalysis> {
  const key = `${ctx.sourceIdentity}\n${ctx.prefix}\n${canvas.width}x${canvas.height}`;
  let p = analyses.get(key);
  if (!p) {
    p = analyse(canvas);
    analyses.set(key, p);
    p.then((a) => { if (!a.complete) analyses.delete(key); }, () => analyses.delete(key));
  }
  const t0 = performance.now();
  try {
    return await p;
  } finally {
    ctx.timing.analyze = (ctx.timing.analyze ?? 0) + (performance.now() - t0);
  }
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
  const a = await subjectAnalysis(canvas, ctx);
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
  const a = await subjectAnalysis(canvas, ctx);
  const target = faceTarget(c, a);
  if (target) return { x: Math.round(target.x), y: Math.round(target.y), width: Math.max(1, Math.round(target.width)), height: Math.max(1, Math.round(target.height)) };
  const g = c.gravity;
  const sal = g?.kind === 'auto' && g.focus === 'subject' ? a.saliencyNoFaces : a.saliency;
  if (sal.confidence <= 0) return undefined;
  const b = subjectRegion(sal, a.width, a.height);
  return { x: b.x, y: b.y, width: b.width, height: b.height };
}

/** Faces on the canvas as it is now (for e_pixelate_faces / e_blur_faces). */
export async function facesOn(canvas: Canvas, ctx: RenderContext): Promise<Box[]> {
  return (await subjectAnalysis(canvas, ctx)).faces;
}
