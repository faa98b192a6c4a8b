/**
 * `l_<layer>` — overlay (Cloudinary `overlay`); `u_<layer>` is the same layer placed under the
 * base (transforms/underlay.ts). Layers:
 *   - `l_<public_id>`: an image from the same storage; folders are written with `:`
 *     (`l_docs:logo` is `docs/logo`); an image extension may follow (`l_sample.jpg`).
 *   - `l_text:<font>_<size>[_<style>…]:<text>`: text rendered with Pango. Styles: `bold`,
 *     `semibold`, `light`, `thin`, `normal`, `italic`, `underline`, `strikethrough`, `left`,
 *     `center`, `right`, `justify`, `letter_spacing_<n>`, `line_spacing_<n>`; `antialias_*`
 *     and `hinting_*` are accepted and ignored. Size 1-1000 (points = pixels). The text is
 *     percent-decoded; `,` and `/` arrive double-encoded (`%252C`, `%252F`). `co_` colours the
 *     text (default black), `b_` fills its box (default transparent), `c_fit,w_<px>` wraps it.
 *   - `l_fetch:<base64url of an http(s) URL>`: a remote image, loaded through the fetch route's
 *     SSRF-guarded origin (allow-list, ports, private addresses refused before connecting).
 *   - `l_lut:<public_id>.3dl|.cube`: a 3D colour look-up table from storage, applied to the
 *     base (trilinear); it takes no transformations or placement of its own.
 *   - `l_$<name>`: the image an asset-reference variable names (`$name_ref:!folder:id!`, or
 *     `$name_current`, the asset delivered), made a stored image (or, for a `fetch` delivery's
 *     own source, a remote) layer by `compute` once the variables are known.
 *   - `l_video:`, `l_subtitles:`, `l_audio:`, private/authenticated layers and text styles by
 *     public id: answered 400 unsupported.
 *
 * The token alone only names the layer source. The plan parser (src/plan/parse.ts) groups the
 * layer's own transformations (its component, and the following ones up to `fl_layer_apply`)
 * and its placement (`g_` — compass, `xy_center`, `face`, `faces` —, `x_`, `y_`, the layer
 * flags `relative`, `region_relative`, `no_overflow`, `tiled`, `cutter`, and a blend mode
 * `e_multiply|screen|overlay|mask|anti_removal`, of the `fl_layer_apply` component or of its own component)
 * into this value, in a component of its own. The renderer (src/render/layers.ts) composites it
 * in the overlay phase.
 */
import { defineTransform, type ApplyContext, type BoundsContext, type Component, type ComputeContext, type ImageRef, type PlanDims, type PlanKey } from './types.ts';
import type { Canvas } from '../src/render/canvas.ts';
import { colourCanonical, dimCanonical, parseIntIn, type Dim, type Rgba } from './args.ts';
import type { Gravity } from './gravity.ts';
import { Errors } from '../src/errors.ts';
import type { GallerySample } from './effects/types.ts';
import { FORMAT_BY_EXTENSION } from '../src/formats.ts';
import { applyLayer, layerBounds } from '../src/render/layers.ts';

export type TextAlign = 'left' | 'center' | 'right' | 'justify';

export interface TextStyle {
  font: string;
  size: number;
  weight?: 'bold' | 'semibold' | 'light' | 'thin';
  italic?: boolean;
  underline?: boolean;
  strikethrough?: boolean;
  align?: TextAlign;
  letterSpacing?: number;
  lineSpacing?: number;
}

export type LayerSource =
  | { readonly kind: 'image'; readonly publicId: string; readonly ext?: string }
  | { readonly kind: 'fetch'; readonly url: string }
  | { readonly kind: 'lut'; readonly publicId: string; readonly ext: 'cube' | '3dl' }
  | { readonly kind: 'text'; readonly style: TextStyle; readonly text: string; readonly colour?: Rgba; readonly background?: Rgba }
  /** `l_$name`: the stored image an asset-reference variable names; resolved to `image` by `compute`. */
  | { readonly kind: 'ref'; readonly variable: string };

export interface Placement {
  readonly gravity?: Gravity;
  readonly x?: Dim;
  readonly y?: Dim;
  /** `fl_relative`: fractional w/h of the layer are relative to the base, not to the layer. */
  readonly relative?: boolean;
  /** `fl_no_overflow`: clip the layer to the base instead of growing the canvas. */
  readonly noOverflow?: boolean;
  /** `fl_tiled`: repeat the layer over the whole base. */
  readonly tiled?: boolean;
  /** `fl_cutter`: the layer's alpha cuts the base (kept where the layer is opaque). */
  readonly cutter?: boolean;
  /** `fl_region_relative`: fractional w/h of the layer are relative to the face it is placed on. */
  readonly regionRelative?: boolean;
  /** `e_multiply|screen|overlay|mask|anti_removal` (transforms/effects/blend.ts): how the layer is composited. */
  readonly blend?: string;
  /** The blend mode's argument (`e_anti_removal:<level>`). */
  readonly blendLevel?: number;
  /** `fl_text_no_trim`: a text layer keeps a margin around its ink (src/render/layers.ts textPadding). */
  readonly textNoTrim?: boolean;
}

export interface LayerSpec {
  readonly under: boolean;
  readonly source: LayerSource;
  /** The layer's own transformations, in order (set by the plan's layer grouping). */
  readonly components: readonly Component[];
  readonly placement: Placement;
  /** Canonical text of `components` (set with them; transforms cannot see the plan printer). */
  readonly nested: string;
}

/**
 * The layer options as the gallery (GET /gallery) shows them: each layer flag of
 * transforms/flags.ts LAYER_FLAGS (`fl_<flag>`), face placement and each kind of layer source,
 * as a whole transformation on a bundled sample (`sample`, default the photo). `l_fetch:` is
 * not shown: it needs a remote origin. A test fails when a layer flag has no entry here.
 */
export const LAYER_EXAMPLES: readonly { readonly name: string; readonly doc: string; readonly transformation: string; readonly sample?: GallerySample }[] = [
  { name: 'l_<public_id>', doc: 'An image layer, placed by the fl_layer_apply component\'s g_, x_, y_.', transformation: 'l_logo-cutout,w_50/fl_layer_apply,g_south_east,x_6,y_6' },
  { name: 'u_<public_id>', doc: 'An underlay: the same layer placed under the base.', transformation: 'u_coffee,c_fill,h_1.0,w_1.0,fl_relative/fl_layer_apply', sample: 'logo' },
  { name: 'fl_relative', doc: 'The layer\'s fractional w/h are relative to the base.', transformation: 'l_logo-cutout,w_0.3,fl_relative/fl_layer_apply,g_north_east' },
  { name: 'fl_region_relative', doc: 'The layer\'s fractional w/h are relative to the face it is placed on.', transformation: 'l_logo-cutout,w_1.3,fl_region_relative/fl_layer_apply,g_face', sample: 'portrait' },
  { name: 'g_face', doc: 'The layer placed on the largest face.', transformation: 'l_logo-cutout,w_40/fl_layer_apply,g_face', sample: 'portrait' },
  { name: 'g_faces', doc: 'The layer placed on each face.', transformation: 'l_logo-cutout,w_40/fl_layer_apply,g_faces', sample: 'portrait' },
  { name: 'fl_tiled', doc: 'The layer repeated over the whole base.', transformation: 'l_logo-cutout,w_32,o_70/fl_layer_apply,fl_tiled' },
  { name: 'fl_cutter', doc: 'The layer\'s alpha cuts the base: kept where the layer is opaque.', transformation: 'l_logo-cutout,w_100/fl_cutter,fl_layer_apply' },
  { name: 'fl_no_overflow', doc: 'A layer reaching past the base is clipped instead of growing the canvas.', transformation: 'l_logo-cutout,w_80/fl_layer_apply,fl_no_overflow,g_south_east,x_-30,y_-30' },
  { name: 'fl_text_no_trim', doc: 'A text layer keeps a margin around its ink (b_ shows the box).', transformation: 'l_text:Arial_20_bold:Aperture,co_white,b_rgb:2f6fde/fl_layer_apply,fl_text_no_trim,g_south,y_8' },
  { name: 'l_text', doc: 'Text: l_text:<font>_<size>[_<style>…]:<text>, coloured by co_.', transformation: 'l_text:Arial_22_bold:Hello%20world,co_white/fl_layer_apply,g_south,y_8' },
  { name: 'l_lut', doc: 'A 3D colour look-up table (.cube or .3dl) from storage, applied to the base.', transformation: 'l_lut:teal-orange.cube' },
];

declare module './types.ts' {
  interface PlanValues { layer: LayerSpec }
}

const UNSUPPORTED_SOURCES: Record<string, string> = {
  video: 'video layers are not supported for images',
  subtitles: 'subtitle layers are video-only',
  audio: 'audio layers are video-only',
  private: 'private layers are not supported',
  authenticated: 'authenticated layers are not supported',
};

const WEIGHTS = new Set(['bold', 'semibold', 'light', 'thin']);
const ALIGNS = new Set(['left', 'center', 'right', 'justify']);

function decode(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new Errors.INVALID_PARAM(name, raw);
  }
}

function parseTextStyle(name: string, raw: string, whole: string): TextStyle {
  const parts = raw.split('_');
  const font = decode(name, parts[0]);
  if (!/^[\p{L}\p{N} .\-]{1,64}$/u.test(font)) throw new Errors.INVALID_PARAM(name, whole);
  if (parts.length < 2 || !/^\d+$/.test(parts[1])) {
    throw new Errors.UNSUPPORTED(`${name === 'underlay' ? 'u' : 'l'}_${whole}`, 'text styles by public id are not supported (give <font>_<size>)');
  }
  const style: TextStyle = { font, size: parseIntIn(name, parts[1], 1, 1000) };
  for (let i = 2; i < parts.length; i++) {
    const p = parts[i];
    if (WEIGHTS.has(p)) style.weight = p as TextStyle['weight'];
    else if (p === 'normal') continue;
    else if (p === 'italic') style.italic = true;
    else if (p === 'underline') style.underline = true;
    else if (p === 'strikethrough') style.strikethrough = true;
    else if (ALIGNS.has(p)) style.align = p as TextAlign;
    else if ((p === 'letter' || p === 'line') && parts[i + 1] === 'spacing' && parts[i + 2] !== undefined) {
      const v = parseIntIn(name, parts[i + 2], -100, 1000);
      if (p === 'letter') style.letterSpacing = v; else style.lineSpacing = v;
      i += 2;
    } else if ((p === 'antialias' || p === 'hinting') && parts[i + 1] !== undefined) {
      // Rendering hints: Pango's defaults are kept.
      i += 1;
    } else if (p === 'stroke' || p === 'font' || p === 'text') {
      throw new Errors.UNSUPPORTED(`${name === 'underlay' ? 'u' : 'l'}_${whole}`, `text option ${p} is not supported`);
    } else throw new Errors.INVALID_PARAM(name, whole);
  }
  return style;
}

/** The source part of `l_…` / `u_…`; shared by both keys. */
export function parseLayerSource(name: 'overlay' | 'underlay', raw: string): LayerSource {
  const key = name === 'overlay' ? 'l' : 'u';
  if (raw.startsWith('$')) {
    const variable = raw.slice(1);
    if (!/^[a-zA-Z][a-zA-Z0-9]*$/.test(variable)) throw new Errors.INVALID_PARAM(name, `${raw} (a layer named by a variable is ${key}_$<name>, the variable holding an asset reference)`);
    return { kind: 'ref', variable };
  }
  const colon = raw.indexOf(':');
  const prefix = colon > 0 ? raw.slice(0, colon) : '';
  if (UNSUPPORTED_SOURCES[prefix]) throw new Errors.UNSUPPORTED(`${key}_${prefix}`, UNSUPPORTED_SOURCES[prefix]);
  if (prefix === 'fetch') return { kind: 'fetch', url: fetchUrl(name, raw.slice(colon + 1)) };
  if (prefix === 'lut') {
    if (name === 'underlay') throw new Errors.INVALID_PARAM(name, `${raw} (a LUT is applied with l_lut:)`);
    const id = decode(name, raw.slice(colon + 1)).split(':').join('/');
    const m = /^(.+)\.(cube|3dl)$/i.exec(id);
    if (!m) throw new Errors.INVALID_PARAM(name, `${raw} (a LUT file is <public_id>.cube or .3dl)`);
    checkId(name, raw, m[1]);
    return { kind: 'lut', publicId: m[1], ext: m[2].toLowerCase() as 'cube' | '3dl' };
  }
  if (prefix === 'text') {
    const rest = raw.slice(colon + 1);
    const c2 = rest.indexOf(':');
    if (c2 <= 0) throw new Errors.INVALID_PARAM(name, raw);
    const style = parseTextStyle(name, rest.slice(0, c2), raw);
    // One decode undoes the URL's encoding; `,` and `/` were encoded twice so that they could
    // not split the component or the path (and `%` with them, as `%2525`).
    const text = decode(name, rest.slice(c2 + 1)).replace(/%(?:2C|2F|25)/gi, (m) => decodeURIComponent(m));
    if (!text || text.length > 1000) throw new Errors.INVALID_PARAM(name, raw);
    return { kind: 'text', style, text };
  }
  return imageSource(name, raw, decode(name, raw).split(':').join('/'));
}

/** A stored image layer of public id `id` (folders with `/`), an image extension split off. */
function imageSource(name: 'overlay' | 'underlay', raw: string, id: string): LayerSource {
  let ext: string | undefined;
  const dot = id.lastIndexOf('.');
  // The same extensions as a delivery URL's public id (src/formats.ts).
  if (dot > id.lastIndexOf('/') + 0 && FORMAT_BY_EXTENSION.has(id.slice(dot + 1).toLowerCase())) {
    ext = id.slice(dot + 1).toLowerCase();
    id = id.slice(0, dot);
  }
  checkId(name, raw, id);
  return { kind: 'image', publicId: id, ...(ext ? { ext } : {}) };
}

/** Same storage rules as the base's public id: no empty, `.` or `..` segments. */
function checkId(name: string, raw: string, id: string): void {
  if (!id || id.length > 512 || id.split('/').some((s) => !s || s === '.' || s === '..') || /[\0\\]/.test(id)) {
    throw new Errors.INVALID_PARAM(name, raw);
  }
}

/** Longest remote layer URL accepted (as the fetch route's). */
const MAX_FETCH_URL = 2048;

/**
 * `l_fetch:<base64>`: Cloudinary encodes the URL in base64, URL-safe alphabet or standard (the
 * SDKs write both), padding optional. It must decode to an absolute http(s) URL.
 */
function fetchUrl(name: string, b64: string): string {
  const bad = (why: string) => new Errors.INVALID_PARAM(name, `fetch:${b64.slice(0, 64)} (${why})`);
  if (!b64 || b64.length > Math.ceil(MAX_FETCH_URL / 3) * 4 + 2 || !/^[A-Za-z0-9+\-_/]+={0,2}$/.test(b64)) throw bad('not base64');
  const text = Buffer.from(b64.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('only http and https URLs');
  return url.href;
}

/**
 * Free text (font names, text, public ids) in the cache key, percent-encoded down to letters,
 * digits and `-_.` so that it can never be read as the key's own punctuation (`:` `~` `(` `)`
 * `@` `;`): two different layers never print alike.
 */
function keyText(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function textStyleCanonical(s: TextStyle): string {
  return [keyText(s.font), s.size, s.weight, s.italic && 'italic', s.underline && 'underline',
    s.strikethrough && 'strikethrough', s.align, s.letterSpacing !== undefined && `letter_spacing_${s.letterSpacing}`,
    s.lineSpacing !== undefined && `line_spacing_${s.lineSpacing}`].filter((v) => v !== undefined && v !== false).join('_');
}

function sourceCanonical(s: LayerSource): string {
  if (s.kind === 'image') return s.publicId.split('/').map(keyText).join(':') + (s.ext ? `.${s.ext}` : '');
  if (s.kind === 'fetch') return `fetch:${keyText(s.url)}`;
  if (s.kind === 'lut') return `lut:${s.publicId.split('/').map(keyText).join(':')}.${s.ext}`;
  if (s.kind === 'ref') return `$${s.variable}`;
  const colours = `${s.colour ? `~co:${colourCanonical(s.colour)}` : ''}${s.background ? `~b:${colourCanonical(s.background)}` : ''}`;
  return `text:${textStyleCanonical(s.style)}:${keyText(s.text)}${colours}`;
}

function placementCanonical(p: Placement): string {
  const g = p.gravity;
  const parts = [
    g && (g.kind === 'compass' ? `g:${g.dir}` : g.kind === 'face' ? `g:${g.multiple ? 'faces' : 'face'}` : `g:${g.kind}`),
    p.x && `x:${dimCanonical(p.x)}`, p.y && `y:${dimCanonical(p.y)}`,
    p.relative && 'relative', p.regionRelative && 'region_relative', p.noOverflow && 'no_overflow', p.tiled && 'tiled',
    p.cutter && 'cutter', p.textNoTrim && 'text_no_trim', p.blend && `e:${p.blend}${p.blendLevel !== undefined ? `:${p.blendLevel}` : ''}`,
  ];
  return parts.filter(Boolean).join(';');
}

/** Cache-key text: source, the layer's own components in brackets, placement. */
export function layerCanonical(v: LayerSpec): string {
  return `${sourceCanonical(v.source)}(${v.nested})@${placementCanonical(v.placement)}`;
}

/**
 * Computed values in a layer (url-api.md §8): `$(name)` in its text, and computed values in
 * its own components and its placement, made concrete (src/plan/compute.ts).
 */
export async function layerCompute(v: LayerSpec, cc: ComputeContext): Promise<LayerSpec> {
  const s = v.source;
  const name = v.under ? 'underlay' : 'overlay';
  const source: LayerSource = s.kind === 'text' && s.text.includes('$(') ? { ...s, text: cc.text(s.text) }
    // An asset reference names a stored image; the resolved plan (and the result key) holds its id.
    : s.kind === 'ref' ? referenced(name, s.variable, cc.reference(s.variable)) : s;
  if (source.kind === 'text' && (!source.text || source.text.length > 1000)) throw new Errors.INVALID_PARAM(v.under ? 'underlay' : 'overlay', source.text.slice(0, 100));
  const components = await cc.components(v.components);
  const p = v.placement;
  const placement: Placement = {
    ...p,
    ...(p.x ? { x: await cc.value('x', p.x) } : {}),
    ...(p.y ? { y: await cc.value('y', p.y) } : {}),
  };
  return { ...v, source, components, placement, nested: cc.canonical(components) };
}

/** The layer source an asset reference names: a stored image, or a `fetch` source's URL. */
function referenced(name: 'overlay' | 'underlay', variable: string, ref: { id: string; type: 'upload' | 'fetch' }): LayerSource {
  return ref.type === 'fetch' ? { kind: 'fetch', url: ref.id } : imageSource(name, `$${variable}`, ref.id);
}

/** A bare parsed token: the plan's layer grouping fills components and placement. */
export function bareLayer(under: boolean, source: LayerSource): LayerSpec {
  return { under, source, components: [], placement: {}, nested: '' };
}

/** TransformDef.images of `l_` and `u_`: an image layer's stored upload, and the layer's own components. */
export function layerImages(spec: LayerSpec): { refs: ImageRef[]; nested: readonly Component[] } {
  const s = spec.source;
  // A LUT file is a stored image's peer: its identity keys the result too.
  return { refs: s.kind === 'image' || s.kind === 'lut' ? [{ publicId: s.publicId, ...(s.ext ? { ext: s.ext } : {}) }] : [], nested: spec.components };
}

const TEXT_READS: readonly PlanKey[] = ['colour'];
const NO_READS: readonly PlanKey[] = [];
/** A text layer's opening component colours the text with its `co_` (TransformDef.reads). */
export const layerReads = (v: LayerSpec): readonly PlanKey[] => (v.source.kind === 'text' ? TEXT_READS : NO_READS);

/** The hooks `l_` and `u_` share (one grammar, one placement, one renderer); they differ in key and parse. */
export const layerHooks = {
  phase: 'overlay',
  canonical: layerCanonical,
  compute: layerCompute,
  apply: (canvas: Canvas, value: LayerSpec, _component: Component, ctx: ApplyContext) => applyLayer(canvas, value, ctx),
  bounds: (value: LayerSpec, dims: PlanDims, _component: Component, bc: BoundsContext) => layerBounds(value, dims, bc),
  images: layerImages,
  reads: layerReads,
} as const;

export const layer = defineTransform({
  key: 'l', planKey: 'layer', name: 'overlay',
  parse: (raw) => bareLayer(false, parseLayerSource('overlay', raw)),
  ...layerHooks,
});
