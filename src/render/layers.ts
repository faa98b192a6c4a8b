/**
 * Overlays and underlays (`l_`, `u_`): render the layer with the same machinery as a delivery
 * (its source opened through the same origins, its own components run by render.ts) into raw
 * pixels, then composite them onto the base canvas at the placement. Cloudinary's rules:
 * compass gravity (default centre) with x/y offsets away from the anchored edge (fractions are
 * of the base); `fl_relative` sizes the layer by the base; a layer reaching outside the base
 * grows the canvas (transparent fill) unless `fl_no_overflow`, which clips it; `fl_tiled`
 * repeats it over the whole base (a layer larger than the base is cut to it); an underlay is
 * drawn under the base.
 *
 * `g_face` places the layer centred on the largest face, `g_faces` one on each face (faces from
 * the cached analysis, as e_pixelate_faces); `fl_region_relative` then sizes fractional w/h by
 * the face. Face-placed layers are clipped to the base (the faces are known only from pixels,
 * so the plan's size cannot depend on them); no face, no layer.
 *
 * Composite modes: `over` (default), `dest-over` (underlay), the blend modes of
 * transforms/effects/blend.ts (multiply, screen, overlay), and two that cut the base: `fl_cutter`
 * keeps the base where the layer is opaque (by its alpha), `e_mask` where the layer is bright and
 * opaque (luminance × alpha). Both make the base transparent outside the layer and never grow it.
 * Each blend mode's composite and pixel preparation are in its table (transforms/effects/blend.ts).
 * `l_lut:` is no composite: the LUT (src/render/lut.ts) maps the base's colours.
 */
import sharp, { type Blend, type OverlayOptions } from 'sharp';
import type { Canvas } from './canvas.ts';
import type { RenderContext } from './context.ts';
import type { ApplyContext, BoundsContext, Component, PlanDims, PlanValues } from '../../transforms/types.ts';
import type { Config } from '../config.ts';
import type { Rgba } from '../../transforms/args.ts';
import type { Compass } from '../../transforms/gravity.ts';
import { resolveOffset } from '../../transforms/args.ts';
import type { Source } from '../origin/types.ts';
import { readSourceMeta } from './source-meta.ts';
import { translate } from './affine.ts';
import { Errors, isHttpError } from '../errors.ts';
import { facesOn } from '../analyze/subject.ts';
import { applyLutRaw, lutFrom } from './lut.ts';
import { layerBlend } from '../../transforms/effects/blend.ts';

// The layer value as transforms/layer.ts declares it into the plan: read through the contract,
// because that file imports this one (its apply and bounds hooks).
type LayerSpec = PlanValues['layer'];
type LayerSource = LayerSpec['source'];
type Placement = LayerSpec['placement'];
type TextStyle = Extract<LayerSource, { kind: 'text' }>['style'];

/** Pixels of a rendered layer. */
export interface LayerPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

const H_ANCHOR: Record<Compass, number> = {
  north_west: 0, west: 0, south_west: 0, north: 0.5, center: 0.5, south: 0.5, north_east: 1, east: 1, south_east: 1,
};
const V_ANCHOR: Record<Compass, number> = {
  north_west: 0, north: 0, north_east: 0, west: 0.5, center: 0.5, east: 0.5, south_west: 1, south: 1, south_east: 1,
};

function layerName(spec: LayerSpec): string {
  const s = spec.source;
  const key = spec.under ? 'u' : 'l';
  if (s.kind === 'image') return `${key}_${s.publicId.split('/').join(':')}`;
  if (s.kind === 'lut') return `${key}_lut:${s.publicId.split('/').join(':')}.${s.ext}`;
  return `${key}_${s.kind}`;
}

/**
 * Top-left of a `lw×lh` layer on a `W×H` base. Unlike a crop (geometry.ts placeByGravity) the
 * result is not clamped: a layer may reach outside the base, which then grows or clips it.
 */
export function layerPosition(p: Placement, W: number, H: number, lw: number, lh: number): { left: number; top: number } {
  const ox = resolveOffset(p.x, W), oy = resolveOffset(p.y, H);
  if (p.gravity?.kind === 'xy_center') return { left: Math.round(ox - lw / 2), top: Math.round(oy - lh / 2) };
  const dir: Compass = p.gravity?.kind === 'compass' ? p.gravity.dir : 'center';
  const hx = H_ANCHOR[dir], vy = V_ANCHOR[dir];
  return {
    left: Math.round((W - lw) * hx + (hx === 1 ? -ox : ox)),
    top: Math.round((H - lh) * vy + (vy === 1 ? -oy : oy)),
  };
}

function escapeMarkup(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function hex(c: Rgba): string {
  return `#${[c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Text as a PNG through Pango (sharp's `text` input). Fonts come from fontconfig: an unknown
 * family falls back to its default sans face (DejaVu Sans / Liberation Sans on our images;
 * Arial resolves to the metric-compatible Liberation Sans).
 */
/**
 * The size Pango will make, from the text alone: 0.7 em per character (about the widest
 * average of common faces) plus the letter spacing after each one, 1.5 em per line plus the
 * line spacing between lines; wrapped lines are counted at the wrap width.
 */
export function textBox(style: TextStyle, text: string, wrap?: number): { width: number; height: number } {
  const perChar = Math.max(1, style.size * 0.7 + (style.letterSpacing ?? 0));
  const lineW = text.split('\n').map((l) => perChar * Math.max(1, [...l].length));
  const width = Math.ceil(wrap ? Math.min(wrap, Math.max(...lineW)) : Math.max(...lineW));
  const lines = lineW.reduce((n, w) => n + (wrap ? Math.ceil(w / wrap) : 1), 0);
  const height = Math.ceil(style.size * 1.5 * lines + Math.max(0, style.lineSpacing ?? 0) * (lines - 1));
  return { width, height };
}

/** Pango allocates the whole bitmap at once: refuse a text over the output limits before rendering it. */
function refuseText(box: { width: number; height: number }, limits: { side: number; pixels: number }): void {
  if (box.width > limits.side || box.height > limits.side || box.width * box.height > limits.pixels) {
    throw new Errors.TOO_LARGE(`text layer of about ${box.width}x${box.height} px`, 'output');
  }
}

/**
 * `fl_text_no_trim`: Pango's image is trimmed to the ink, as Cloudinary's text layers are; with
 * the flag a margin of a fifth of the font size is kept on every side (Cloudinary: "a small
 * amount of padding").
 */
export function textPadding(style: TextStyle): number {
  return Math.max(1, Math.round(style.size * 0.2));
}

export async function renderText(style: TextStyle, text: string, colour: Rgba | undefined, background: Rgba | undefined, limits: { side: number; pixels: number }, wrap?: number, pad = 0): Promise<Buffer> {
  // A wider real result is still held to the source limits when it is read.
  const est = textBox(style, text, wrap);
  refuseText({ width: est.width + 2 * pad, height: est.height + 2 * pad }, limits);
  const fg = colour ?? { r: 0, g: 0, b: 0, alpha: 1 };
  const attrs = [`foreground="${hex(fg)}"`];
  if (fg.alpha < 1) attrs.push(`alpha="${Math.max(1, Math.round(fg.alpha * 100))}%"`);
  if (style.underline) attrs.push('underline="single"');
  if (style.strikethrough) attrs.push('strikethrough="true"');
  if (style.letterSpacing) attrs.push(`letter_spacing="${style.letterSpacing * 1024}"`);
  const face = [style.font, style.weight === 'semibold' ? 'Semi-Bold' : style.weight ?? '', style.italic ? 'Italic' : '', String(style.size)]
    .filter(Boolean).join(' ');
  let rendered;
  try {
    rendered = await sharp({
      text: {
        text: `<span ${attrs.join(' ')}>${escapeMarkup(text)}</span>`,
        font: face,
        rgba: true,
        dpi: 72,
        ...(wrap ? { width: wrap, wrap: 'word-char' as const } : {}),
        ...(style.align === 'justify' ? { justify: true } : style.align ? { align: style.align === 'center' ? 'centre' as const : style.align } : {}),
        ...(style.lineSpacing !== undefined ? { spacing: style.lineSpacing } : {}),
      },
    }).png({ compressionLevel: 1 }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    // "no text to render" (blank text) and friends: the request's fault.
    throw new Errors.INVALID_PARAM('overlay', `text:${text} (${e instanceof Error ? e.message.split('\n')[0] : 'cannot render'})`);
  }
  if ((!background || background.alpha === 0) && !pad) return rendered.data;
  const { width, height } = rendered.info;
  const fill = background ?? { r: 0, g: 0, b: 0, alpha: 0 };
  return sharp({ create: { width: width + 2 * pad, height: height + 2 * pad, channels: 4, background: fill } })
    .composite([{ input: rendered.data, left: pad, top: pad }]).png({ compressionLevel: 1 }).toBuffer();
}

/**
 * A text layer's first component: its co_/b_ are the text's colours, not image operations, and
 * `c_fit,w_<px>` there wraps the text at that width (Cloudinary) instead of scaling it. Takes
 * those out of `components[0]`.
 */
function textParts(s: Extract<LayerSource, { kind: 'text' }>, components: Component[]) {
  const first = components[0] ?? {};
  const colour = s.colour ?? first.colour;
  const bg = s.background ?? (first.background && !('auto' in first.background) ? first.background : undefined);
  const wrap = first.crop === 'fit' && first.width?.kind === 'px' && !first.height ? first.width.value : undefined;
  if (components[0]) {
    const { colour: _c, background: _b, ...rest } = first;
    if (wrap) { delete rest.width; delete rest.crop; }
    components[0] = rest;
  }
  return { colour, bg, wrap };
}

function limitsOf(config: Config) {
  return { side: config.maxOutputSide, pixels: config.maxOutputPixels };
}

async function loadSource(spec: LayerSpec, components: Component[], ctx: RenderContext): Promise<Source> {
  const s: LayerSource = spec.source;
  if (s.kind === 'text') {
    const { colour, bg, wrap } = textParts(s, components);
    const pad = spec.placement.textNoTrim ? textPadding(s.style) : 0;
    const buffer = await renderText(s.style, s.text, colour, bg, limitsOf(ctx.config), wrap, pad);
    const id = `text:${JSON.stringify([s.style, s.text, colour ?? null, bg ?? null, wrap ?? null, pad])}`;
    return { buffer, identity: id, name: 'text layer' };
  }
  // Resolution (the layer's compute hook) turns an asset reference into the image it names.
  if (s.kind === 'ref') throw new Error(`layer $${s.variable} reached the renderer unresolved`);
  return loadImage(spec, s, ctx.loadLayer);
}

type FileSource = Exclude<LayerSource, { kind: 'text' } | { kind: 'ref' }>;

/** A layer's file: a stored image or LUT, or a remote image (`l_fetch:`, SSRF-guarded by the origin). */
async function loadImage(spec: LayerSpec, s: FileSource, loadLayer: RenderContext['loadLayer']): Promise<Source> {
  if (!loadLayer) throw new Errors.UNSUPPORTED(layerName(spec), 'layers are not available in this context');
  try {
    return s.kind === 'fetch' ? await loadLayer(s.url, undefined, 'fetch') : await loadLayer(s.publicId, s.ext);
  } catch (e) {
    // The base exists, so the request (its layer) is what is wrong: a 400 naming the layer.
    if (isHttpError(e) && e.statusCode === 404) {
      const shown = s.kind === 'fetch' ? `fetch:${s.url}` : `${s.kind === 'lut' ? 'lut:' : ''}${s.publicId.split('/').join(':')}${s.kind === 'lut' ? `.${s.ext}` : ''}`;
      throw new Errors.INVALID_PARAM(spec.under ? 'underlay' : 'overlay', `${shown} (Resource not found - ${s.kind === 'fetch' ? s.url : s.publicId})`);
    }
    throw e;
  }
}

/**
 * `fl_relative` / `fl_region_relative`: fractional w/h of the layer's first component (`w_0.5`,
 * `w_1.0`, and `w_1.3` which the grouping made a fraction) become multiples of the base's (or
 * the face's) size.
 */
function relativeSized(c: Component, W: number, H: number): Component {
  const out = { ...c };
  if (c.width?.kind === 'fraction') out.width = { kind: 'px', value: Math.max(1, Math.round(c.width.value * W)) };
  if (c.height?.kind === 'fraction') out.height = { kind: 'px', value: Math.max(1, Math.round(c.height.value * H)) };
  return out;
}

/**
 * The layer's pixels after its own components. `region` is what fractional w/h of its first
 * component are relative to, if anything (the base with fl_relative, a face with
 * fl_region_relative).
 */
export async function renderLayer(spec: LayerSpec, region: { width: number; height: number } | undefined, ctx: ApplyContext): Promise<LayerPixels> {
  const components = [...spec.components];
  if (region && components[0]) components[0] = relativeSized(components[0], region.width, region.height);
  const src = await loadSource(spec, components, ctx);
  const meta = await readSourceMeta(src, ctx.config);
  const plan = { components, canonical: spec.nested };
  const child: RenderContext = { ...ctx, sourceIdentity: src.identity, prefix: '' };
  // A layer is a still: its first frame, whatever the base's output format.
  const canvas = await ctx.renderStill(src, meta, plan, child);
  const m = await canvas.materialize();
  return { data: m.data, width: m.width, height: m.height, channels: m.channels as LayerPixels['channels'] };
}

/**
 * The `bounds` hook of `l_`/`u_` (plan-bounds.ts): counts the layer against the layer limits,
 * walks its own components from its source's size (a text layer's estimated box), and returns
 * the base grown as applyLayer grows it.
 */
export async function layerBounds(spec: LayerSpec, base: PlanDims, bc: BoundsContext): Promise<PlanDims> {
  const { maxLayers, maxLayerDepth } = bc.config;
  if (++bc.seen.layers > maxLayers) throw new Errors.BAD_URL(`too many layers (more than ${maxLayers}, APERTURE_MAX_LAYERS)`);
  if (bc.depth + 1 > maxLayerDepth) throw new Errors.BAD_URL(`layers nested more than ${maxLayerDepth} deep (APERTURE_MAX_LAYER_DEPTH)`);
  const s = spec.source;
  // An asset reference not yet resolved (a plan walked before its variables are known): unknown size.
  if (s.kind === 'ref') return { ...base, exact: false };
  if (s.kind === 'lut') {
    // Read (and parse) now: a missing or malformed LUT is refused before anything renders.
    lutFrom(await loadImage(spec, s, bc.loadLayer), s.ext, layerName(spec));
    return base;
  }
  const components = [...spec.components];
  const p = spec.placement;
  // A face lies inside the base: sizing by the base bounds sizing by any face.
  if ((p.relative || p.regionRelative) && components[0]) components[0] = relativeSized(components[0], base.width, base.height);
  let start: { width: number; height: number };
  if (s.kind === 'text') {
    const box = textBox(s.style, s.text, textParts(s, components).wrap);
    const pad = p.textNoTrim ? textPadding(s.style) : 0;
    start = { width: box.width + 2 * pad, height: box.height + 2 * pad };
    refuseText(start, limitsOf(bc.config));
  } else {
    start = await readSourceMeta(await loadImage(spec, s, bc.loadLayer), bc.config);
  }
  const layer = await bc.walk(components, { width: start.width, height: start.height, pages: 1, exact: true });
  if (p.tiled || p.noOverflow || clipped(p)) return base;
  const { left, top } = layerPosition(p, base.width, base.height, layer.width, layer.height);
  return {
    width: base.width + Math.max(0, -left) + Math.max(0, left + layer.width - base.width),
    height: base.height + Math.max(0, -top) + Math.max(0, top + layer.height - base.height),
    pages: base.pages,
    exact: base.exact && layer.exact,
  };
}

/** Layers that never grow the base: cut modes (fl_cutter, a blend mode that cuts) and face placement. */
function clipped(p: Placement): boolean {
  return Boolean(p.cutter || (p.blend && layerBlend(p.blend)?.mode === 'dest-in') || p.gravity?.kind === 'face');
}

/** The sharp composite mode of a layer: its blend mode's (transforms/effects/blend.ts), or over/under. */
function blendOf(spec: LayerSpec): Blend {
  const p = spec.placement;
  if (spec.under) return 'dest-over';
  if (p.cutter) return 'dest-in';
  return (p.blend && layerBlend(p.blend)?.mode) || 'over';
}

/** The part of a layer at (left, top) that lies on a W×H base, or undefined when none does. */
async function clip(l: LayerPixels, left: number, top: number, W: number, H: number): Promise<{ l: LayerPixels; left: number; top: number } | undefined> {
  const x0 = Math.max(0, left), y0 = Math.max(0, top);
  const x1 = Math.min(W, left + l.width), y1 = Math.min(H, top + l.height);
  if (x1 <= x0 || y1 <= y0) return undefined;
  if (x0 === left && y0 === top && x1 - x0 === l.width && y1 - y0 === l.height) return { l, left, top };
  const { data, info } = await sharp(l.data, { raw: { width: l.width, height: l.height, channels: l.channels } })
    .extract({ left: x0 - left, top: y0 - top, width: x1 - x0, height: y1 - y0 })
    .raw().toBuffer({ resolveWithObject: true });
  return { l: { data, width: info.width, height: info.height, channels: info.channels as LayerPixels['channels'] }, left: x0, top: y0 };
}

interface Piece { l: LayerPixels; left: number; top: number }

const overlay = (p: Piece, blend: Blend, tile = false): OverlayOptions => ({
  input: p.l.data, raw: { width: p.l.width, height: p.l.height, channels: p.l.channels }, left: p.left, top: p.top, blend,
  ...(tile ? { tile: true, gravity: 'northwest' as const } : {}),
});

/** Most layers one `g_faces` draws (the largest faces): each may be rendered at its own size. */
const MAX_FACE_LAYERS = 32;

/** Faces the layer is placed on: the largest one for g_face, the largest 32 for g_faces. */
async function targetFaces(canvas: Canvas, spec: LayerSpec, ctx: ApplyContext) {
  const faces = await facesOn(canvas, ctx, `layer:${ctx.step}`);
  const g = spec.placement.gravity;
  const limit = g?.kind === 'face' && g.multiple ? MAX_FACE_LAYERS : 1;
  if (faces.length <= limit) return faces;
  return [...faces].sort((a, b) => b.width * b.height - a.width * a.height).slice(0, limit);
}

/** The layer rendered and positioned: one piece, or one per face. */
async function pieces(canvas: Canvas, spec: LayerSpec, ctx: ApplyContext): Promise<Piece[]> {
  const W = canvas.width, H = canvas.height;
  const p = spec.placement;
  if (p.gravity?.kind !== 'face') {
    const l = await renderLayer(spec, p.relative ? { width: W, height: H } : undefined, ctx);
    if (p.tiled) return [{ l, left: 0, top: 0 }];
    return [{ l, ...layerPosition(p, W, H, l.width, l.height) }];
  }
  const out: Piece[] = [];
  const bySize = new Map<string, Promise<LayerPixels>>();
  const ox = resolveOffset(p.x, W), oy = resolveOffset(p.y, H);
  for (const f of await targetFaces(canvas, spec, ctx)) {
    const region = p.regionRelative ? { width: Math.max(1, Math.round(f.width)), height: Math.max(1, Math.round(f.height)) } : p.relative ? { width: W, height: H } : undefined;
    const key = region ? `${region.width}x${region.height}` : '';
    if (!bySize.has(key)) bySize.set(key, renderLayer(spec, region, ctx));
    const l = await bySize.get(key)!;
    // Centred on the face, moved by x/y.
    out.push({ l, left: Math.round(f.x + f.width / 2 - l.width / 2 + ox), top: Math.round(f.y + f.height / 2 - l.height / 2 + oy) });
  }
  return out;
}

/** `l_lut:`: map the base's colours through the 3D LUT. */
async function applyLut(canvas: Canvas, spec: LayerSpec, s: Extract<LayerSource, { kind: 'lut' }>, ctx: ApplyContext): Promise<void> {
  const lut = lutFrom(await loadImage(spec, s, ctx.loadLayer), s.ext, layerName(spec));
  await toRgb(canvas);
  const m = await canvas.materialize();
  const data = await applyLutRaw(m.data, m.channels, lut, () => ctx.deadline.check(layerName(spec)));
  const raw = { width: m.width, height: m.height, channels: m.channels as LayerPixels['channels'] };
  const opaque = !canvas.hasAlpha;
  await canvas.op('composite', 'composite', (img) => {
    const r = img.composite([{ input: data, raw, blend: 'source' }]);
    return opaque ? r.removeAlpha() : r;
  });
}

/** Composite works in RGB(A): a grey base would drop the layer's colour. */
async function toRgb(canvas: Canvas): Promise<void> {
  if (canvas.channels < 3) {
    // A queued grayscale() (e_grayscale before the layer) would otherwise apply after the
    // conversion and the composite, greying the layer too: settle it first, and the conversion.
    await canvas.materialize();
    if (canvas.channels >= 3) return;
    await canvas.op('colourspace', 'colour', (img) => img.toColourspace('srgb'));
    await canvas.materialize();
  }
}

/** Composite the layer onto (or under) the canvas. */
export async function applyLayer(canvas: Canvas, spec: LayerSpec, ctx: ApplyContext): Promise<void> {
  await canvas.ensureDims();
  if (canvas.pages > 1) throw new Errors.UNSUPPORTED(layerName(spec), 'layers on animated images are not supported');
  if (spec.source.kind === 'lut') return applyLut(canvas, spec, spec.source, ctx);
  const W = canvas.width, H = canvas.height;
  const p = spec.placement;
  let list = await pieces(canvas, spec, ctx);
  if (!list.length) return;
  const prepare = p.blend ? layerBlend(p.blend)?.prepare : undefined;
  if (prepare) list = list.map((x) => ({ ...x, l: prepare(x.l, p.blendLevel) }));
  const blend = blendOf(spec);
  await toRgb(canvas);
  const opaque = !canvas.hasAlpha;

  if (p.tiled) {
    // sharp tiles only a layer no larger than the base.
    const t = (await clip(list[0].l, 0, 0, W, H))!;
    if (blend === 'dest-in') {
      const mask = await sharp({ create: { width: W, height: H, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
        .composite([overlay(t, 'over', true)]).raw().toBuffer();
      await canvas.op('composite', 'composite', (img) => img.composite([overlay({ l: { data: mask, width: W, height: H, channels: 4 }, left: 0, top: 0 }, 'dest-in')]));
      canvas.markAlpha();
      return;
    }
    await canvas.op('composite', 'composite', (img) => {
      const r = img.composite([overlay(t, blend, true)]);
      return opaque ? r.removeAlpha() : r;
    });
    return;
  }

  if (clipped(p) || p.noOverflow) {
    const inside = (await Promise.all(list.map((x) => clip(x.l, x.left, x.top, W, H)))).filter((x): x is Piece => x !== undefined);
    if (blend === 'dest-in') {
      // One mask of every piece, then one cut: pieces cut one after the other would cut each other away.
      const mask = inside.length === 1 ? inside[0] : {
        l: { data: await sharp({ create: { width: W, height: H, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
          .composite(inside.map((x) => overlay(x, 'over'))).raw().toBuffer(), width: W, height: H, channels: 4 as const },
        left: 0, top: 0,
      };
      // Nothing of the layer on the base: nothing of the base is kept.
      const cut = inside.length ? [overlay(mask, 'dest-in')] : [{ input: { create: { width: W, height: H, channels: 4 as const, background: { r: 0, g: 0, b: 0, alpha: 0 } } }, blend: 'dest-in' as const }];
      await canvas.op('composite', 'composite', (img) => img.composite(cut));
      canvas.markAlpha();
      return;
    }
    if (!inside.length) return;
    await canvas.op('composite', 'composite', (img) => {
      const r = img.composite(inside.map((x) => overlay(x, blend)));
      return opaque ? r.removeAlpha() : r;
    });
    return;
  }

  let { l: layer, left, top } = list[0];
  let grew = false;
  if (left < 0 || top < 0 || left + layer.width > W || top + layer.height > H) {
    // Cloudinary grows the canvas to hold the whole layer; the new area is transparent.
    const ext = {
      left: Math.max(0, -left), top: Math.max(0, -top),
      right: Math.max(0, left + layer.width - W), bottom: Math.max(0, top + layer.height - H),
    };
    const nw = W + ext.left + ext.right, nh = H + ext.top + ext.bottom;
    const limit = ctx.config.maxOutputSide;
    if (nw > limit || nh > limit) throw new Errors.TOO_LARGE(`${layerName(spec)} grows the image to ${nw}x${nh}, over the ${limit} px limit`, 'output');
    await canvas.op('extend', 'extend', (img) => img.extend({ ...ext, background: { r: 0, g: 0, b: 0, alpha: 0 } }));
    canvas.markAlpha();
    canvas.mapThrough(translate(-ext.left, -ext.top), nw, nh);
    left += ext.left; top += ext.top;
    grew = true;
  }
  const keepOpaque = opaque && !grew;
  await canvas.op('composite', 'composite', (img) => {
    const r = img.composite([overlay({ l: layer, left, top }, blend)]);
    // sharp's composite always adds alpha; an opaque base stays opaque (JPEG-friendly).
    return keepOpaque ? r.removeAlpha() : r;
  });
  if (!keepOpaque) canvas.markAlpha();
}
