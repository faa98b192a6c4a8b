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
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Component } from '../../transforms/types.ts';
import type { Canvas } from '../render/canvas.ts';
import type { RenderContext } from '../render/context.ts';
import type { Region } from '../render/affine.ts';
import { withFaces, type SaliencyAnalysis } from './saliency.ts';
import { workerSaliency } from './metric.ts';
import { chooseCrop, subjectRegion, ANALYSIS_SIDE } from './crop.ts';
import { getFaceDetector, type FaceBox } from './faces.ts';
import type { Box, RawImage } from './types.ts';
import { settingSized } from '../cache/memo.ts';
import type { AutoGravity } from '../../transforms/gravity.ts';
import { ASKED_SCORE_THRESHOLD, OBJECT_SCORE_THRESHOLD, DETAIL_SIDE, getObjectDetector, rawForObjects, type DetectedObject } from './objects.ts';
import { COCO_CLASSES, objectClassIds } from './coco.ts';
import { withObjects, type WeightedBox } from './object-focus.ts';
import { mergeDetections } from './object-merge.ts';

/** Objects are looked for on a copy of this long side (the network's input). */
const OBJECT_SIDE = 512;
/** The detail pass runs only on canvases this much larger than the first pass's copy (below, it would see little more). */
const DETAIL_MIN_SIDE = OBJECT_SIDE * 1.25;
/** Of several boxes of an asked class, those scoring at least this share of the best are kept. */
const KEEP_SHARE_OF_BEST = 0.5;

/** Detected objects in canvas pixels; `complete` false when the detector could not look. */
export interface ObjectsResult {
  objects: DetectedObject[];
  complete: boolean;
}

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
  /** Size of the analysis copy (the saliency grid); its pixels are not kept. */
  smallWidth: number;
  smallHeight: number;
  skin: number;
  saliencyNoFaces: SaliencyAnalysis;
  withFaces?: Promise<{ faces: Box[]; saliency: SaliencyAnalysis; complete: boolean }>;
}

/**
 * One canvas's analyses, created at once: the saliency entry and the object detections are each
 * started on demand and do not wait for one another (a `g_<class>` whose class is found never
 * computes saliency; one that falls back to `g_auto` runs saliency and detection side by side,
 * in their two workers).
 */
interface Record {
  base?: Promise<Entry>;
  /** Objects found by the first pass, and with the detail pass added (each run once, on demand). */
  objects?: Promise<ObjectsResult>;
  objectsDetail?: Promise<ObjectsResult>;
}

/**
 * An analysis record holds no pixels: one saliency result of two Float32 maps (~0.55 MB for a
 * 3:2 photo at 320 px, 0.8 MB square) and, with faces, a second subject map sharing the first
 * result's map (~0.27-0.4 MB): 0.55-1.2 MB. Records serve the variants of one source requested
 * close together (sizes, breakpoints, w_auto); the background refinement of a result does not
 * need one (it replays the first render's decisions). 12 of them (APERTURE_ANALYSIS_MEMO) bound
 * the cache to ~7-15 MB; 32 held 11 MB more after 160 cold g_auto renders of different photos
 * (BENCHMARKS.md, "Footprint").
 */
const memos = settingSized((max) => new LRUCache<string, Record>({ max }));

function scaleBox(b: Box, sx: number, sy: number): Box {
  return { x: b.x * sx, y: b.y * sy, width: b.width * sx, height: b.height * sy };
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
  const small = await rawForObjects(canvas.pipeline().clone(), ANALYSIS_SIDE);
  // The saliency map (~20-25 ms of float math) is made in the analysis worker, off the event
  // loop; the skin share (~1 ms) meanwhile here.
  const pending = workerSaliency(small);
  const skin = skinShare(small);
  return { width: canvas.width, height: canvas.height, smallWidth: small.width, smallHeight: small.height, skin, saliencyNoFaces: await pending };
}

async function detectOn(canvas: Canvas, e: Entry): Promise<{ faces: Box[]; saliency: SaliencyAnalysis; complete: boolean }> {
  const detector = await getFaceDetector();
  if (!detector.available) return { faces: [], saliency: e.saliencyNoFaces, complete: false };
  const big = await rawForObjects(canvas.pipeline().clone(), FACE_SIDE);
  const found: FaceBox[] = await detector.detect(big);
  if (!found.length) return { faces: [], saliency: e.saliencyNoFaces, complete: true };
  const facesSmall = found.map((f) => scaleBox(f, e.smallWidth / big.width, e.smallHeight / big.height));
  return {
    faces: found.map((f) => scaleBox(f, e.width / big.width, e.height / big.height)),
    // Faces replace the subject, not the map: no pixel is looked at again.
    saliency: withFaces(e.saliencyNoFaces, facesSmall),
    complete: true,
  };
}

function analysisKey(canvas: Canvas, ctx: RenderContext, stage: string): string {
  return `${ctx.sourceIdentity}\n${ctx.prefix}\n${stage}\n${canvas.width}x${canvas.height}`;
}

/**
 * A content decision (crop position, subject box, faces) asked at `key` of this render. With
 * `ctx.decisions`, the first render of a request records its answers there and a second render
 * of the same request (the background refinement: same source, same resolved plan) replays
 * them instead of analysing the pixels again: no saliency, no face detection, the same crop.
 */
async function decided<T>(ctx: RenderContext, key: string, decide: () => Promise<T>): Promise<T> {
  const d = ctx.decisions;
  if (!d) return decide();
  if (d.has(key)) return d.get(key) as T;
  const v = await decide();
  d.set(key, v);
  return v;
}

function recordOf(canvas: Canvas, ctx: RenderContext, stage: string): Record {
  const key = analysisKey(canvas, ctx, stage);
  const analyses = memos.of(ctx.config.analysisMemo);
  let r = analyses.get(key);
  if (!r) {
    r = {};
    analyses.set(key, r);
  }
  return r;
}

function entryOf(canvas: Canvas, ctx: RenderContext, stage: string): Promise<Entry> {
  const r = recordOf(canvas, ctx, stage);
  if (!r.base) {
    const p = baseAnalysis(canvas);
    r.base = p;
    p.catch(() => { if (r.base === p) r.base = undefined; });
  }
  return r.base;
}

/**
 * The copies the two passes look at. On a canvas large enough for the detail pass, one decode
 * at DETAIL_SIDE (on first use) serves both: the first pass's OBJECT_SIDE copy is scaled from
 * those pixels, whoever asks for it (fl_getinfo or an object gravity), so its detections do not
 * depend on which request came first. Held by one placement only (analysis records keep no pixels).
 */
interface DetectionCopies {
  first(): Promise<RawImage>;
  detail(): Promise<RawImage>;
}

function detectionCopies(canvas: Canvas): DetectionCopies {
  let big: Promise<RawImage> | undefined;
  const detail = () => (big ??= rawForObjects(canvas.pipeline().clone(), DETAIL_SIDE));
  if (Math.max(canvas.width, canvas.height) < DETAIL_MIN_SIDE) return { detail, first: () => rawForObjects(canvas.pipeline().clone(), OBJECT_SIDE) };
  return {
    detail,
    async first() {
      const b = await detail();
      return rawForObjects(sharp(b.data, { raw: { width: b.width, height: b.height, channels: b.channels } }), OBJECT_SIDE);
    },
  };
}

/**
 * One detection on the canvas, one network pass: the whole of it at OBJECT_SIDE, or (`detail`)
 * at DETAIL_SIDE, where objects ~1.7 times smaller than the first pass can see are found.
 */
async function detectObjectsOn(canvas: Canvas, detail: boolean, copies = detectionCopies(canvas)): Promise<ObjectsResult> {
  const detector = await getObjectDetector();
  if (!detector.available) return { objects: [], complete: false };
  const img = await (detail ? copies.detail() : copies.first());
  const sx = canvas.width / img.width, sy = canvas.height / img.height;
  const found = await detector.detect(img);
  return { objects: found.map((o) => ({ ...o, x: o.x * sx, y: o.y * sy, width: o.width * sx, height: o.height * sy })), complete: detector.available };
}

/** Detection through the shared tier (Redis) when there is one: another instance's answer is reused. */
async function sharedDetection(canvas: Canvas, ctx: RenderContext, stage: string, detail: boolean, copies?: DetectionCopies): Promise<ObjectsResult> {
  const shared = ctx.shared;
  const key = createHash('sha256').update(`${analysisKey(canvas, ctx, stage)}\n${detail ? 'detail' : 'whole'}`).digest('base64url');
  if (shared) {
    const hit = await shared.getJson<DetectedObject[]>('objects', key);
    if (Array.isArray(hit)) return { objects: hit, complete: true };
  }
  const r = await detectObjectsOn(canvas, detail, copies);
  if (shared && r.complete) await shared.setJson('objects', key, r.objects);
  return r;
}

/**
 * Objects on the canvas as it is at this point of the plan (cached with its analysis). `detail`
 * adds the detail pass, which finds smaller objects, when the canvas is large enough for it to
 * see more than the first pass.
 */
export function objectsOn(canvas: Canvas, ctx: RenderContext, detail = false, stage = 'geometry', copies?: DetectionCopies): Promise<ObjectsResult> {
  return timed(ctx, () => objectsUntimed(canvas, ctx, detail, stage, copies));
}

/** Add the wall time of `fn` to the request's `analyze` timing (sequential callers only: a prefetch is not timed). */
async function timed<T>(ctx: RenderContext, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    ctx.timing.analyze = (ctx.timing.analyze ?? 0) + (performance.now() - t0);
  }
}

/** Start an analysis that a later step will probably await, without waiting for it here; its failure is that step's to report. */
function prefetch(p: Promise<unknown>): void {
  p.catch(() => undefined);
}

function objectsUntimed(canvas: Canvas, ctx: RenderContext, detail: boolean, stage: string, copies?: DetectionCopies): Promise<ObjectsResult> {
  const e = recordOf(canvas, ctx, stage);
  const useDetail = detail && Math.max(canvas.width, canvas.height) >= DETAIL_MIN_SIDE;
  const slot = useDetail ? 'objectsDetail' : 'objects';
  let p = e[slot];
  if (!p) {
    if (useDetail) {
      // The detail pass adds to the first pass (run first if it has not been).
      const base = objectsUntimed(canvas, ctx, false, stage, copies);
      p = Promise.all([base, sharedDetection(canvas, ctx, stage, true, copies)]).then(([b, t]) => ({
        objects: mergeDetections(b.objects, t.objects), complete: b.complete && t.complete,
      }));
    } else p = sharedDetection(canvas, ctx, stage, false, copies);
    e[slot] = p;
    p.then((r) => { if (!r.complete) e[slot] = undefined; }, () => { e[slot] = undefined; });
  }
  return p;
}

/**
 * Boxes of the asked classes (canvas pixels): per asked name, those within KEEP_SHARE_OF_BEST
 * of that name's best score (`g_dog:cat` keeps the dogs and the cats).
 */
function askedBoxes(objects: readonly DetectedObject[], names: readonly string[]): DetectedObject[] {
  const out: DetectedObject[] = [];
  for (const name of names) {
    const ids = new Set(objectClassIds(name));
    const cands = objects.filter((o) => ids.has(o.cls) && o.score >= ASKED_SCORE_THRESHOLD);
    if (!cands.length) continue;
    const best = Math.max(...cands.map((o) => o.score));
    for (const o of cands) if (o.score >= best * KEEP_SHARE_OF_BEST && !out.includes(o)) out.push(o);
  }
  return out;
}

/**
 * The union box of the objects an object gravity names, looking harder (the detail pass) when
 * the first pass found none. Then the fallback's analysis (`g.fallback`, unless centre) is
 * started beside the detail pass, in its own workers: if the closer look finds nothing either,
 * the fallback does not start from scratch.
 */
type ObjectGravity = Extract<Component['gravity'], { kind: 'object' }>;

async function objectTarget(canvas: Canvas, ctx: RenderContext, g: ObjectGravity): Promise<Box | undefined> {
  // A canvas large enough for the detail pass is decoded once for both passes.
  const copies = detectionCopies(canvas);
  let boxes = askedBoxes((await objectsOn(canvas, ctx, false, 'geometry', copies)).objects, g.names);
  if (!boxes.length) {
    if (g.fallback !== 'center') prefetch(subjectUntimed(canvas, ctx, faceNeed({ gravity: g.fallback }), 'geometry'));
    boxes = askedBoxes((await objectsOn(canvas, ctx, true, 'geometry', copies)).objects, g.names);
  }
  return boxes.length ? union(boxes) : undefined;
}

/**
 * Plain `g_auto`'s object cue: objects found with at least this score join the subject, each
 * weighted by its score. Not when faces were found (they decide), nor with
 * APERTURE_GAUTO_OBJECTS=0 or APERTURE_OBJECTS=0. Measured with bench/gauto-score.ts (the
 * `server` column): held-out 0.969 without the cue, 0.976 with it (the cup at 3:1).
 */
const CUE_SCORE = 0.5;
/** With the cue, the saliency subject keeps this share outside the object boxes: objects refine the subject, they do not replace it. */
const CUE_SALIENCY_SHARE = 0.6;
/** This many listed objects (score ≥ OBJECT_SCORE_THRESHOLD) of one class make a group: no cue. */
const CROWD = 3;

/** `g_auto:<class>…`: the saliency re-weighted by the named objects found (unchanged when none); plain `g_auto`: the object cue. */
async function autoWithObjects(canvas: Canvas, ctx: RenderContext, g: AutoGravity, sal: SaliencyAnalysis, W: number, H: number): Promise<SaliencyAnalysis> {
  const sx = sal.width / W, sy = sal.height / H;
  if (!g.objects?.length) {
    if (g.focus !== 'default' || !ctx.config.objects || !ctx.config.gautoObjects || sal.faces.length) return sal;
    const { objects } = await objectsOn(canvas, ctx);
    const cue = objects.filter((o) => o.score >= CUE_SCORE);
    // Several objects of one class (a row of boats, a crowd): the saliency subject holds the group better than any member.
    const perClass = new Map<number, number>();
    for (const o of objects) if (o.score >= OBJECT_SCORE_THRESHOLD) perClass.set(o.cls, (perClass.get(o.cls) ?? 0) + 1);
    if ([...perClass.values()].some((n) => n >= CROWD)) return sal;
    return withObjects(sal, cue
      .map((o) => ({ x: o.x * sx, y: o.y * sy, width: o.width * sx, height: o.height * sy, weight: o.score, avoid: false })), CUE_SALIENCY_SHARE);
  }
  const named = g.objects.filter((f) => !f.avoid && f.weight > 0).map((f) => f.name);
  let { objects } = await objectsOn(canvas, ctx);
  // None of the weighted objects in the first pass: look harder (the detail pass), as g_<class> does.
  if (named.length && !askedBoxes(objects, named).length) objects = (await objectsOn(canvas, ctx, true)).objects;
  const boxes: WeightedBox[] = [];
  for (const f of g.objects) {
    for (const o of askedBoxes(objects, [f.name])) {
      boxes.push({ x: o.x * sx, y: o.y * sy, width: o.width * sx, height: o.height * sy, weight: f.weight / 100, avoid: f.avoid });
    }
  }
  return withObjects(sal, boxes);
}

/** Objects for `fl_getinfo`: class name, score and box in canvas pixels, from OBJECT_SCORE_THRESHOLD. */
export async function listObjects(canvas: Canvas, ctx: RenderContext, stage: string): Promise<{ class: string; score: number; box: Box }[]> {
  const key = `objects\n${analysisKey(canvas, ctx, stage)}`;
  return decided(ctx, key, async () => (await objectsOn(canvas, ctx, false, stage)).objects
    .filter((o) => o.score >= OBJECT_SCORE_THRESHOLD)
    .map((o) => {
      const x = Math.max(0, Math.round(o.x)), y = Math.max(0, Math.round(o.y));
      return {
        class: COCO_CLASSES[o.cls], score: o.score,
        box: { x, y, width: Math.max(1, Math.min(canvas.width, Math.round(o.x + o.width)) - x), height: Math.max(1, Math.min(canvas.height, Math.round(o.y + o.height)) - y) },
      };
    }));
}

/** The cached analysis of the canvas as it is at this point of the plan. */
export function subjectAnalysis(canvas: Canvas, ctx: RenderContext, need: FaceNeed, stage = 'geometry'): Promise<SubjectAnalysis> {
  return timed(ctx, () => subjectUntimed(canvas, ctx, need, stage));
}

async function subjectUntimed(canvas: Canvas, ctx: RenderContext, need: FaceNeed, stage: string): Promise<SubjectAnalysis> {
  {
    const e = await entryOf(canvas, ctx, stage);
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
  }
}

function faceNeed(c: Component): FaceNeed {
  const g0 = c.gravity;
  if (g0?.kind === 'object') return g0.fallback === 'center' ? 'never' : faceNeed({ gravity: g0.fallback });
  const g = g0;
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
export function placeBySubject(canvas: Canvas, c: Component, ctx: RenderContext, rw: number, rh: number): Promise<{ left: number; top: number }> {
  const key = `place\n${analysisKey(canvas, ctx, 'geometry')}\n${JSON.stringify(c.gravity)}\n${rw}x${rh}`;
  return decided(ctx, key, () => place(canvas, c, ctx, rw, rh));
}

async function place(canvas: Canvas, c: Component, ctx: RenderContext, rw: number, rh: number): Promise<{ left: number; top: number }> {
  const g = c.gravity;
  if (g?.kind === 'object') {
    const t = await objectTarget(canvas, ctx, g);
    if (t) return centreOn(t, canvas.width, canvas.height, rw, rh);
    if (g.fallback === 'center') return centreOn({ x: canvas.width / 2, y: canvas.height / 2, width: 0, height: 0 }, canvas.width, canvas.height, rw, rh);
    return placeByContent(canvas, { gravity: g.fallback }, ctx, rw, rh);
  }
  return placeByContent(canvas, c, ctx, rw, rh);
}

/** `g_auto:<class>` needs saliency and objects: the first detection pass starts beside the saliency analysis. */
function prefetchObjects(canvas: Canvas, c: Component, ctx: RenderContext): void {
  const g = c.gravity;
  if (g?.kind === 'auto' && g.objects?.length) prefetch(objectsUntimed(canvas, ctx, false, 'geometry'));
}

async function placeByContent(canvas: Canvas, c: Component, ctx: RenderContext, rw: number, rh: number): Promise<{ left: number; top: number }> {
  prefetchObjects(canvas, c, ctx);
  const a = await subjectAnalysis(canvas, ctx, faceNeed(c));
  const W = a.width, H = a.height;
  const target = faceTarget(c, a);
  if (target) return centreOn(target, W, H, rw, rh);
  const g = c.gravity;
  if (g?.kind === 'face' && g.fallback === 'center') return centreOn({ x: W / 2, y: H / 2, width: 0, height: 0 }, W, H, rw, rh);
  let sal = g?.kind === 'auto' && g.focus === 'subject' ? a.saliencyNoFaces : a.saliency;
  if (g?.kind === 'auto') sal = await autoWithObjects(canvas, ctx, g, sal, W, H);
  return chooseCrop(sal, W, H, rw, rh);
}

/** The subject (faces for face gravities, else the salient object) in canvas pixels. */
export function subjectBox(canvas: Canvas, c: Component, ctx: RenderContext): Promise<Region | undefined> {
  const key = `subject\n${analysisKey(canvas, ctx, 'geometry')}\n${JSON.stringify(c.gravity)}`;
  return decided(ctx, key, () => subjectOf(canvas, c, ctx));
}

async function subjectOf(canvas: Canvas, c: Component, ctx: RenderContext): Promise<Region | undefined> {
  const g0 = c.gravity;
  if (g0?.kind === 'object') {
    const t = await objectTarget(canvas, ctx, g0);
    if (t) {
      const x = Math.max(0, Math.round(t.x)), y = Math.max(0, Math.round(t.y));
      return { x, y, width: Math.max(1, Math.min(canvas.width, Math.round(t.x + t.width)) - x), height: Math.max(1, Math.min(canvas.height, Math.round(t.y + t.height)) - y) };
    }
    return g0.fallback === 'center' ? undefined : subjectOf(canvas, { gravity: g0.fallback }, ctx);
  }
  prefetchObjects(canvas, c, ctx);
  const a = await subjectAnalysis(canvas, ctx, faceNeed(c));
  const target = faceTarget(c, a);
  if (target) return { x: Math.round(target.x), y: Math.round(target.y), width: Math.max(1, Math.round(target.width)), height: Math.max(1, Math.round(target.height)) };
  const g = c.gravity;
  let sal = g?.kind === 'auto' && g.focus === 'subject' ? a.saliencyNoFaces : a.saliency;
  if (g?.kind === 'auto') sal = await autoWithObjects(canvas, ctx, g, sal, a.width, a.height);
  if (sal.confidence <= 0) return undefined;
  const b = subjectRegion(sal, a.width, a.height);
  return { x: b.x, y: b.y, width: b.width, height: b.height };
}

/** Per-pixel importance of the canvas on a coarse grid (row-major, 0..1). */
export interface ImportanceMap {
  width: number;
  height: number;
  map: Float32Array;
}

/**
 * What liquid rescaling (src/render/liquid.ts) should keep: the saliency map of the `g_auto`
 * analysis (faces as a cue when the picture holds skin tones, as for `g_auto`), with the faces'
 * boxes at full importance. Cached and replayed like the other content decisions.
 */
export function importanceOf(canvas: Canvas, ctx: RenderContext): Promise<ImportanceMap> {
  return decided(ctx, `importance\n${analysisKey(canvas, ctx, 'geometry')}`, async () => {
    const a = await subjectAnalysis(canvas, ctx, 'if-skin');
    const { width, height } = a.saliency;
    const map = Float32Array.from(a.saliency.map, (v) => Math.min(1, Math.max(0, v)));
    const sx = width / a.width, sy = height / a.height;
    for (const f of a.faces) {
      const x0 = Math.max(0, Math.floor(f.x * sx)), x1 = Math.min(width, Math.ceil((f.x + f.width) * sx));
      const y0 = Math.max(0, Math.floor(f.y * sy)), y1 = Math.min(height, Math.ceil((f.y + f.height) * sy));
      for (let y = y0; y < y1; y++) map.fill(1, y * width + x0, y * width + x1);
    }
    return { width, height, map };
  });
}

/** Faces on the canvas as it is now (for e_pixelate_faces / e_blur_faces). */
export function facesOn(canvas: Canvas, ctx: RenderContext, stage: string): Promise<Box[]> {
  return decided(ctx, `faces\n${analysisKey(canvas, ctx, stage)}`, async () => (await subjectAnalysis(canvas, ctx, 'always', stage)).faces);
}
