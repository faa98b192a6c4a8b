/**
 * The single owner of geometry (w, h, c, g, x, y, ar, z, dpr): turns a component's values and
 * the current canvas size into at most one extract, one resize and one extend, because sharp
 * performs one resize per pipeline. `computeGeometry` is pure; `applyGeometry` queues it.
 */
import type { Component } from '../../transforms/types.ts';
import type { Compass } from '../../transforms/gravity.ts';
import { resolveDim, resolveOffset, type Rgba } from '../../transforms/args.ts';
import type { Canvas } from './canvas.ts';
import { scale, translate, type Region } from './affine.ts';
import { Errors } from '../errors.ts';
import type { RenderContext } from './context.ts';
import type { Config } from '../config.ts';
import { encoderOf, formatRow, type OutputFormat } from '../formats.ts';
import { importanceOf, placeBySubject, subjectBox, type ImportanceMap } from '../analyze/subject.ts';
import { liquidRescale, MAX_LIQUID_RATIO } from './liquid.ts';

export interface GeometryPlan {
  extract?: Region;
  resize?: { width: number; height: number };
  /** `c_scale,g_liquid`: instead of `resize`, seam carving to this ratio then a resize to this size (liquid.ts). */
  liquid?: { width: number; height: number; importance?: ImportanceMap };
  extend?: { top: number; left: number; bottom: number; right: number };
  /** Final size after all three. */
  width: number;
  height: number;
}


const H_ANCHOR: Record<Compass, number> = {
  north_west: 0, west: 0, south_west: 0, north: 0.5, center: 0.5, south: 0.5, north_east: 1, east: 1, south_east: 1,
};
const V_ANCHOR: Record<Compass, number> = {
  north_west: 0, north: 0, north_east: 0, west: 0.5, center: 0.5, east: 0.5, south_west: 1, south: 1, south_east: 1,
};

/** Refuse a canvas of `d` over the side limit (unless `sides` is false) or the pixel limit (frames counted). */
export function refuseOver(d: { width: number; height: number; pages: number }, config: Config, what: string, sides = true): void {
  const side = config.maxOutputSide;
  if (sides) {
    for (const [name, v] of [['width', d.width], ['height', d.height]] as const) {
      if (v > side) throw new Errors.TOO_LARGE(`${name} ${v} exceeds the ${side} px limit (${what})`, 'output');
    }
  }
  const px = d.width * d.height * d.pages;
  if (px > config.maxOutputPixels) {
    const frames = d.pages > 1 ? ` x ${d.pages} frames` : '';
    throw new Errors.TOO_LARGE(`${d.width}x${d.height}${frames} exceeds ${config.maxOutputPixels} pixels (${what})`, 'output');
  }
}

/** Throws when `d` is over its output format's own bounds (Encoder.maxSide, Encoder.maxPixels). */
export function refuseOverEncoder(format: OutputFormat, d: { width: number; height: number; pages: number }, config: Config): void {
  const encoder = encoderOf(format);
  const side = encoder.maxSide;
  if (side !== undefined && (d.width > side || d.height > side)) {
    throw new Errors.TOO_LARGE(`${formatRow(format).extensions[0].toUpperCase()} of ${d.width}x${d.height} exceeds the format's ${side} px side limit`, 'output');
  }
  const bound = encoder.maxPixels?.(config);
  if (!bound || d.width * d.height * d.pages <= bound.limit) return;
  const frames = d.pages > 1 ? `x${d.pages} frames` : '';
  throw new Errors.TOO_LARGE(`${formatRow(format).extensions[0].toUpperCase()} of ${d.width}x${d.height}${frames} exceeds ${bound.limit} pixels (${bound.setting})`, 'output');
}

export function hasGeometry(c: Component): boolean {
  return c.width !== undefined || c.height !== undefined || c.crop !== undefined || c.aspectRatio !== undefined
    || c.dpr !== undefined || c.zoom !== undefined;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * Top-left of a `rw×rh` box inside `iw×ih` by compass gravity and x/y offsets (Cloudinary:
 * offsets move the box away from the anchored edge, or from the centre for centred axes;
 * `xy_center` puts the box's centre at x,y).
 */
export function placeByGravity(c: Component, iw: number, ih: number, rw: number, rh: number, defaultDir: Compass = 'center'): { left: number; top: number } {
  const g = c.gravity;
  const ox = resolveOffset(c.x, iw), oy = resolveOffset(c.y, ih);
  let left: number, top: number;
  if (g?.kind === 'xy_center') {
    left = ox - rw / 2;
    top = oy - rh / 2;
  } else {
    const dir: Compass = g?.kind === 'compass' ? g.dir : defaultDir;
    const hx = H_ANCHOR[dir], vy = V_ANCHOR[dir];
    left = (iw - rw) * hx + (hx === 1 ? -ox : ox);
    top = (ih - rh) * vy + (vy === 1 ? -oy : oy);
  }
  return { left: Math.round(clamp(left, 0, iw - rw)), top: Math.round(clamp(top, 0, ih - rh)) };
}

function isContentGravity(c: Component): boolean {
  return c.gravity?.kind === 'auto' || c.gravity?.kind === 'face' || c.gravity?.kind === 'object';
}

/**
 * What geometry asks about the image's content. Sizes never depend on the answers, only
 * positions do: the plan walk (plan-bounds.ts) answers by compass gravity, without pixels.
 */
interface Look {
  place(rw: number, rh: number, defaultDir?: Compass): Promise<{ left: number; top: number }>;
  subject(): Promise<Region | undefined>;
  /** What liquid rescaling should keep (saliency, faces); undefined without pixels. */
  importance(): Promise<ImportanceMap | undefined>;
}

function lookAt(canvas: Canvas, c: Component, ctx: RenderContext): Look {
  return {
    place: async (rw, rh, defaultDir = 'center') => (isContentGravity(c)
      ? placeBySubject(canvas, c, ctx, rw, rh)
      : placeByGravity(c, canvas.width, canvas.height, rw, rh, defaultDir)),
    subject: () => subjectBox(canvas, c, ctx),
    importance: () => importanceOf(canvas, ctx),
  };
}

function blind(c: Component, iw: number, ih: number): Look {
  return {
    place: async (rw, rh, defaultDir = 'center') => placeByGravity(c, iw, ih, rw, rh, defaultDir),
    subject: async () => undefined,
    importance: async () => undefined,
  };
}

/** Where the resized image sits inside the padded canvas. */
function padOffsets(c: Component, W: number, H: number, w: number, h: number) {
  const dir: Compass = c.gravity?.kind === 'compass' ? c.gravity.dir : 'center';
  const left = Math.round((W - w) * H_ANCHOR[dir]);
  const top = Math.round((H - h) * V_ANCHOR[dir]);
  return { left, top, right: W - w - left, bottom: H - h - top };
}

export function computeGeometry(canvas: Canvas, c: Component, ctx: RenderContext): Promise<GeometryPlan> {
  return planGeometry(canvas.width, canvas.height, c, ctx.config, lookAt(canvas, c, ctx));
}

/** The size a component's geometry produces on an `iw×ih` canvas, without pixels (plan-bounds.ts). */
export async function geometrySize(c: Component, iw: number, ih: number, config: Config): Promise<{ width: number; height: number }> {
  const g = await planGeometry(iw, ih, c, config, blind(c, iw, ih));
  return { width: g.width, height: g.height };
}

async function planGeometry(iw: number, ih: number, c: Component, config: Config, look: Look): Promise<GeometryPlan> {
  const dpr = Math.min(c.dpr ?? 1, config.dprCap);
  let W = c.width ? resolveDim(c.width, iw) : undefined;
  let H = c.height ? resolveDim(c.height, ih) : undefined;
  const mode = c.crop ?? 'scale';
  if (c.gravity?.kind === 'liquid' && mode !== 'scale') {
    // Cloudinary: liquid rescaling is a c_scale gravity only.
    throw new Errors.INVALID_PARAM('gravity', `liquid (g_liquid works with c_scale only, not c_${mode})`);
  }
  const ar = c.aspectRatio;
  if (ar) {
    if (W && !H) H = Math.max(1, Math.round(W / ar));
    else if (H && !W) W = Math.max(1, Math.round(H * ar));
    else if (!W && !H) {
      if (iw / ih > ar) { H = ih; W = Math.max(1, Math.round(ih * ar)); } else { W = iw; H = Math.max(1, Math.round(iw / ar)); }
    }
  }
  if (W) W = Math.max(1, Math.round(W * dpr));
  if (H) H = Math.max(1, Math.round(H * dpr));
  if (!W && !H && dpr !== 1 && mode !== 'crop') {
    W = Math.max(1, Math.round(iw * dpr));
    H = Math.max(1, Math.round(ih * dpr));
  }
  const limit = config.maxOutputSide;
  for (const [name, v] of [['width', W], ['height', H]] as const) {
    if (v !== undefined && v > limit) throw new Errors.TOO_LARGE(`${name} ${v} exceeds the ${limit} px limit`, 'output');
  }

  const whole: GeometryPlan = { width: iw, height: ih };
  if (!W && !H && mode === 'crop' && c.gravity?.kind === 'object' && !c.x && !c.y && !c.zoom) {
    // Object-aware cropping without a size crops to the detected objects' box (Cloudinary:
    // "crop around objects without needing to specify dimensions"); none found: the whole image.
    const subj = await look.subject();
    if (!subj || (subj.width === iw && subj.height === ih)) return whole;
    return { extract: { x: subj.x, y: subj.y, width: subj.width, height: subj.height }, width: subj.width, height: subj.height };
  }
  if (!W && !H) {
    if (mode === 'crop' || mode === 'thumb' || mode === 'fill' || mode === 'lfill') {
      // offsets alone (c_crop,x_10,y_10) still cut; zoom alone zooms
      if (c.x || c.y || c.zoom) W = iw, H = ih;
      else return whole;
    } else return whole;
  }
  // One missing dimension keeps the input's ratio; with fl_ignore_aspect_ratio it keeps its size.
  const keep = c.flags?.ignoreAspectRatio === true;
  const rw = W ?? (keep ? iw : Math.max(1, Math.round((iw * H!) / ih)));
  const rh = H ?? (keep ? ih : Math.max(1, Math.round((ih * W!) / iw)));
  const both = W !== undefined && H !== undefined;
  const sFit = Math.min(rw / iw, rh / ih);
  const sFill = Math.max(rw / iw, rh / ih);
  const fitSize = (s: number) => ({ width: Math.max(1, Math.round(iw * s)), height: Math.max(1, Math.round(ih * s)) });
  const resizeTo = (width: number, height: number): GeometryPlan =>
    width === iw && height === ih ? whole : { resize: { width, height }, width, height };

  switch (mode) {
    case 'scale':
      return c.gravity?.kind === 'liquid' ? liquidPlan(iw, ih, rw, rh, look) : resizeTo(rw, rh);
    case 'fit':
      return both ? resizeTo(fitSize(sFit).width, fitSize(sFit).height) : resizeTo(rw, rh);
    case 'limit': {
      if (sFit >= 1) return whole;
      const f = fitSize(sFit);
      return resizeTo(f.width, f.height);
    }
    case 'mfit': {
      if (sFit <= 1) return whole;
      const f = fitSize(sFit);
      return resizeTo(f.width, f.height);
    }
    case 'pad':
    case 'lpad':
    case 'mpad': {
      if (!both) return mode === 'pad' ? resizeTo(rw, rh) : (mode === 'lpad' ? (sFit >= 1 ? whole : resizeTo(rw, rh)) : whole);
      let s = sFit;
      if (mode === 'lpad') s = Math.min(1, s);
      if (mode === 'mpad') s = 1;
      const f = s === 1 ? { width: iw, height: ih } : fitSize(s);
      const Wp = Math.max(rw, f.width), Hp = Math.max(rh, f.height);
      const plan: GeometryPlan = { width: Wp, height: Hp };
      if (f.width !== iw || f.height !== ih) plan.resize = f;
      if (Wp !== f.width || Hp !== f.height) plan.extend = padOffsets(c, Wp, Hp, f.width, f.height);
      return plan;
    }
    case 'thumb':
    case 'auto':
      if (isContentGravity(c) || mode === 'auto') return subjectCrop(iw, ih, c, look, mode, rw, rh, both);
      if (!both) return resizeTo(rw, rh);
      return fillPlan(iw, ih, look, 'fill', rw, rh, sFill);
    case 'fill':
    case 'lfill':
    case 'fill_pad': {
      if (!both) return mode === 'lfill' && sFit >= 1 ? whole : resizeTo(rw, rh);
      const plan = await fillPlan(iw, ih, look, mode, rw, rh, sFill);
      if (mode === 'fill_pad' && plan.extract) {
        const subj = await look.subject();
        const e = plan.extract;
        const cut = subj && (subj.x < e.x || subj.y < e.y || subj.x + subj.width > e.x + e.width || subj.y + subj.height > e.y + e.height);
        if (cut) {
          // Cropping would cut the subject: pad the whole image instead (Cloudinary fill_pad).
          const f = fitSize(sFit);
          const padded: GeometryPlan = { width: rw, height: rh };
          if (f.width !== iw || f.height !== ih) padded.resize = f;
          if (rw !== f.width || rh !== f.height) padded.extend = padOffsets(c, rw, rh, f.width, f.height);
          return padded;
        }
      }
      return plan;
    }
    case 'crop': {
      const z = c.zoom ?? 1;
      const cw = Math.min(iw, Math.max(1, Math.round(rw / z)));
      const ch = Math.min(ih, Math.max(1, Math.round(rh / z)));
      const defaultDir: Compass = (c.x || c.y) && !c.gravity ? 'north_west' : 'center';
      const { left, top } = await look.place(cw, ch, defaultDir);
      const outW = z === 1 ? cw : Math.min(Math.round(cw * z), rw);
      const outH = z === 1 ? ch : Math.min(Math.round(ch * z), rh);
      const plan: GeometryPlan = { width: outW, height: outH };
      if (cw !== iw || ch !== ih) plan.extract = { x: left, y: top, width: cw, height: ch };
      if (outW !== cw || outH !== ch) plan.resize = { width: outW, height: outH };
      return plan;
    }
  }
}

/** `c_scale,g_liquid`: carve to the ratio of rw×rh, then resize (a ratio kept is a plain resize). */
async function liquidPlan(iw: number, ih: number, rw: number, rh: number, look: Look): Promise<GeometryPlan> {
  if (rw === iw && rh === ih) return { width: iw, height: ih };
  const change = (iw / ih) / (rw / rh);
  if (Math.max(change, 1 / change) > MAX_LIQUID_RATIO) {
    throw new Errors.INVALID_PARAM('gravity', `liquid (changing the aspect ratio from ${iw}x${ih} to ${rw}x${rh} is over the ${MAX_LIQUID_RATIO}x liquid rescaling limit)`);
  }
  const importance = await look.importance();
  return { liquid: { width: rw, height: rh, ...(importance ? { importance } : {}) }, width: rw, height: rh };
}

/** fill / lfill: cover w×h, cut by gravity (content-aware or compass). */
async function fillPlan(iw: number, ih: number, look: Look, mode: string, rw: number, rh: number, sFill: number): Promise<GeometryPlan> {
  let s = sFill;
  let outW = rw, outH = rh;
  if (mode === 'lfill' && s > 1) {
    // never upscale: keep the requested ratio at the input's scale
    const k = Math.min(iw / rw, ih / rh);
    outW = Math.max(1, Math.round(rw * k));
    outH = Math.max(1, Math.round(rh * k));
    s = 1;
  }
  const cw = Math.min(iw, Math.max(1, Math.round(outW / s)));
  const ch = Math.min(ih, Math.max(1, Math.round(outH / s)));
  const { left, top } = await look.place(cw, ch);
  const plan: GeometryPlan = { width: outW, height: outH };
  if (cw !== iw || ch !== ih || left !== 0 || top !== 0) plan.extract = { x: left, y: top, width: cw, height: ch };
  if (cw !== outW || ch !== outH) plan.resize = { width: outW, height: outH };
  return plan;
}

/** Margin around the subject that `c_thumb` keeps (Cloudinary's thumbnails are tight but not cut). */
const THUMB_MARGIN = 0.2;
/** `c_auto` keeps more context: it zooms in only as far as needed. */
const AUTO_MARGIN = 1.0;

/**
 * `c_thumb` / `c_auto` with content gravity: the region of the requested ratio around the
 * subject (with a margin), zoomed by `z_`, then scaled to w×h. `c_auto` never cuts tighter
 * than the output size (it does not upscale to zoom in).
 */
async function subjectCrop(iw: number, ih: number, c: Component, look: Look, mode: 'thumb' | 'auto', rw: number, rh: number, both: boolean): Promise<GeometryPlan> {
  const ratio = rw / rh;
  const subj = await look.subject();
  const margin = mode === 'thumb' ? THUMB_MARGIN : AUTO_MARGIN;
  let cw: number, ch: number;
  if (subj) {
    const sw = subj.width * (1 + margin), sh = subj.height * (1 + margin);
    if (sw / sh > ratio) { cw = sw; ch = sw / ratio; } else { ch = sh; cw = sh * ratio; }
  } else {
    // no subject: the largest region of the ratio, like fill
    if (iw / ih > ratio) { ch = ih; cw = ih * ratio; } else { cw = iw; ch = iw / ratio; }
  }
  cw /= c.zoom ?? 1;
  ch /= c.zoom ?? 1;
  if (mode === 'auto' && both) {
    // never zoom in past 1:1 pixels
    const k = Math.max(1, rw / cw, rh / ch);
    cw *= k; ch *= k;
  }
  const fitK = Math.min(1, iw / cw, ih / ch);
  cw = Math.max(1, Math.round(cw * fitK));
  ch = Math.max(1, Math.round(ch * fitK));
  const { left, top } = subj
    ? { left: Math.round(clamp(subj.x + subj.width / 2 - cw / 2, 0, iw - cw)), top: Math.round(clamp(subj.y + subj.height / 2 - ch / 2, 0, ih - ch)) }
    : await look.place(cw, ch);
  const plan: GeometryPlan = { width: rw, height: rh };
  if (cw !== iw || ch !== ih) plan.extract = { x: left, y: top, width: cw, height: ch };
  if (cw !== rw || ch !== rh) plan.resize = { width: rw, height: rh };
  return plan;
}

export async function applyGeometry(canvas: Canvas, plan: GeometryPlan, background: Rgba | undefined): Promise<void> {
  if (plan.extract) {
    const e = plan.extract;
    await canvas.op('extract', 'extract', (img) => img.extract({ left: e.x, top: e.y, width: e.width, height: e.height }));
    canvas.mapThrough(translate(e.x, e.y), e.width, e.height);
  }
  if (plan.liquid) await liquidRescale(canvas, plan.liquid.width, plan.liquid.height, plan.liquid.importance);
  if (plan.resize) {
    const { width, height } = plan.resize;
    const sx = canvas.width / width, sy = canvas.height / height;
    await canvas.op('resize', 'resize', (img) => img.resize(width, height, { fit: 'fill' }));
    canvas.mapThrough(scale(sx, sy), width, height);
  }
  if (plan.extend) {
    const x = plan.extend;
    const grown = { width: canvas.width + x.left + x.right, height: canvas.height + x.top + x.bottom };
    if (canvas.padWith) {
      // a background that is not one colour (b_blurred, gradient b_auto) fills the padding
      await canvas.padWith(x);
    } else {
      // Default pad colour: transparent when the image has alpha, else white (Cloudinary's).
      const bg = background ?? (canvas.hasAlpha ? { r: 0, g: 0, b: 0, alpha: 0 } : { r: 255, g: 255, b: 255, alpha: 1 });
      await canvas.op('extend', 'extend', (img) => img.extend({ ...x, background: bg }));
      if (bg.alpha < 1) canvas.markAlpha();
    }
    canvas.mapThrough(translate(-x.left, -x.top), grown.width, grown.height);
  }
}
