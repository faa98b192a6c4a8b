/**
 * The shape every URL parameter shares. A transform is data plus behaviour: its URL key, the
 * phase it runs in, a pure `parse` of the raw value, a canonical printer for cache keys, and
 * optionally `apply` (touches the sharp pipeline through a Canvas). Geometry keys have no
 * `apply`: one owner (src/render/geometry.ts) reads them all and makes the single resize.
 *
 * Each transform file adds its value type to `PlanValues` by declaration merging, so the
 * compiler checks that every plan key has a registered owner.
 *
 * transforms/ sits below the planner, the renderer and the resolver, which all import the
 * registry: a hook reaches them only through the context it is handed (ApplyContext,
 * BoundsContext, ResolveContext, RespondContext), never by an import, so the import graph has no cycle
 * (`npx dpdm --no-tree src/main.ts transforms/index.ts`).
 */
import type { Sharp } from 'sharp';
import type { Canvas } from '../src/render/canvas.ts';
import type { RenderContext, RequestHints } from '../src/render/context.ts';
import type { Config } from '../src/config.ts';
import type { SourceMeta } from '../src/render/source-meta.ts';
import type { Source } from '../src/origin/types.ts';
import type { Deadline } from '../src/render/deadline.ts';
import type { Condition, Expr, Value } from '../src/plan/expr.ts';
import type { Region } from '../src/render/affine.ts';
import type { OutputSettings } from '../src/render/auto-encode.ts';

// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface PlanValues {}
export type PlanKey = keyof PlanValues;

/** A parsed component: typed values by plan key (URL order never matters inside a component). */
export type Component = { -readonly [K in PlanKey]?: PlanValues[K] };

/** A parsed transformation: its components in order, and their canonical text. */
export interface Plan {
  readonly components: readonly Component[];
  /** Canonical text: sorted keys, canonical values; equal plans have equal text. */
  readonly canonical: string;
  /**
   * The plan holds computed values, variables or conditions (url-api.md §8): it is resolved per
   * source (src/plan/compute.ts) before its cache key is built.
   */
  readonly computed?: boolean;
}

/** Run order inside a component; within a phase, registry order. */
export const PHASES = ['input', 'geometry', 'orient', 'effect', 'overlay', 'output'] as const;
export type Phase = (typeof PHASES)[number];

export interface TransformDef<K extends PlanKey = PlanKey> {
  /** URL key, e.g. `w`. */
  readonly key: string;
  /** Other URL keys meaning the same. */
  readonly aliases?: readonly string[];
  /** Where the parsed value lives in a Component. */
  readonly planKey: K;
  /** Human name used in error messages ("Invalid width in transformation: abc"). */
  readonly name: string;
  readonly phase: Phase;
  /** Pure: raw value text (after `key_`) → typed value; throws Errors.INVALID_PARAM / UNSUPPORTED. */
  parse(raw: string): PlanValues[K];
  /** Canonical text of the value (defaults to JSON) for cache keys and the canonical URL. */
  canonical?(value: PlanValues[K]): string;
  /** Touch the pipeline. Absent for keys owned by the geometry step or read by the encoder. */
  apply?(canvas: Canvas, value: PlanValues[K], component: Component, ctx: ApplyContext): void | Promise<void>;
  /** Plan-time hook: replace this token by other components (named transformations). */
  expand?(value: PlanValues[K], named: Readonly<Record<string, string>>): string[];
  /**
   * Encode-time hook: adjust the encoder's pipeline just before the output format's encoder
   * runs (colour space, ICC profile, density metadata). Every encoding of the plan (q_auto's
   * trials, f_auto's alternatives, breakpoint samples) goes through it.
   */
  encode?(value: PlanValues[K], img: Sharp, info: EncodeInfo): Sharp;
  /** Load-time hook: adjust how the source is opened (page choice, EXIF orientation). */
  load?(value: PlanValues[K], options: LoadOptions): void;
  /**
   * Request-time hook for `auto` values (client hints, Accept, Save-Data, per-image
   * breakpoints): returns the concrete value the cache key and renderer will see, and adds the
   * request headers it read to `rc.vary`. Only called when `dynamic(value)` is true.
   */
  resolve?(value: PlanValues[K], rc: ResolveContext): PlanValues[K] | Promise<PlanValues[K]>;
  /** True when the value depends on the request (then `resolve` runs per request). */
  readonly dynamic?: (value: PlanValues[K]) => boolean;
  /**
   * Plan-time hook: the canvas after this transform, from the canvas before, without making
   * a pixel. src/render/plan-bounds.ts walks the plan with it and refuses a plan whose work or
   * any intermediate size is over the limits before anything renders. Absent: the size is
   * unchanged (geometry keys are sized by the geometry owner).
   */
  bounds?(value: PlanValues[K], dims: PlanDims, component: Component, bc: BoundsContext): PlanDims | Promise<PlanDims>;
  /**
   * Where computed numbers (url-api.md §8: `iw_div_2`, `$w`) may stand in the raw value:
   * `value`, the whole value; `parts`, each `:`-separated part; `words`, a `_`-separated word
   * that is a `$variable` (`bo_5px_solid_$colour`). The plan parser keeps such a
   * value as its expression, and src/plan/compute.ts evaluates it once the source is known and
   * hands the resulting text to `parse`. Absent: the value is never computed.
   */
  readonly computes?: 'value' | 'parts' | 'words';
  /** The key given twice in one component: the combined value (flags, variables). Absent: a 400. */
  merge?(a: PlanValues[K], b: PlanValues[K]): PlanValues[K];
  /**
   * Resolve-time hook of the language's own keys (`$` variables, `if` conditions): runs for
   * each component in order, before its computed values, and may bind variables or decide
   * whether the component (or a block of components) applies. Its key is consumed: the
   * resolved plan no longer holds it.
   */
  flow?(value: PlanValues[K], component: Component, f: FlowContext): void | Promise<void>;
  /**
   * Resolve-time hook for a value that holds variable references or components of its own
   * (a layer's text `$(name)`, its transformations, its placement): the value with everything
   * computed made concrete. Runs on plans that hold computed values only.
   */
  compute?(value: PlanValues[K], cc: ComputeContext): PlanValues[K] | Promise<PlanValues[K]>;
  /**
   * Delivery-time hook: how this value shapes the answer once the image is encoded (a JSON
   * description instead of the image, a download name, the DPR reported, the caching). The
   * pipeline (src/pipeline/produce.ts) calls it for each component holding the value, in plan
   * order, so a later component's setting wins.
   */
  respond?(value: PlanValues[K], rc: RespondContext): void;
  /**
   * Render-time hook: looks at the opened source (the oriented input, before the first
   * component runs) for what the answer reports about it (fl_getinfo's objects). The renderer
   * (src/render/render.ts `render`) calls it for each component holding the value, in plan
   * order, before the components run, and merges what it returns into the render's `Findings`,
   * which the `respond` hooks read as `rc.findings`. Delivered images only, not layers. Absent
   * or undefined: nothing is looked at (no analysis runs).
   */
  inspect?(value: PlanValues[K], canvas: Canvas, ctx: RenderContext): Promise<Findings | undefined>;
  /**
   * Plan-time hook: the stored images this value draws besides the delivered source (an image
   * layer's), and the components it nests (a layer's own), walked for more. The pipeline
   * (src/pipeline/source.ts) loads them as it loads the source and keys results on them.
   */
  images?(value: PlanValues[K]): { readonly refs: readonly ImageRef[]; readonly nested: readonly Component[] };
  /**
   * Keys of the same component this value reads as its settings (a text layer and `e_colorize`,
   * `e_outline`, `e_shadow`, `e_make_transparent` read `co_`). See `inert`.
   */
  reads?(value: PlanValues[K]): readonly PlanKey[];
  /**
   * The value does nothing by itself (`co_`): the plan parser refuses, with a 400 naming it, a
   * component that holds it where no other value `reads` it (a parameter that parses and does
   * nothing would be a stub).
   */
  readonly inert?: boolean;
  /**
   * Source-stage hook: the stored upload to deliver instead when the requested source does not
   * exist (the origin answered NOT_FOUND): `d_<id>` default images. The pipeline
   * (src/pipeline/source.ts) asks the plan's components in order, the last one holding such a
   * value wins; the result is keyed by that image's identity and answered with `X-Cld-Default`.
   */
  fallback?(value: PlanValues[K]): ImageRef;
  /**
   * Keys of the same component that this value reads itself (e_blur_region's x, y, w, h name
   * its region): the geometry owner leaves them out of that component. Absent: none.
   */
  claims?(value: PlanValues[K]): readonly PlanKey[];
  /**
   * Plan-time hook: adjust the output settings merged over the plan's components (e_vectorize
   * turns an automatic or unstated format into SVG). `format` is undefined when neither an
   * `f_` nor the URL's extension asks for one (the source's format is used then).
   */
  output?(value: PlanValues[K], out: PlannedOutput): PlannedOutput;
  /**
   * Plan-time hook for layers: when this value says how the enclosing layer is composited (a
   * blend mode such as `e_multiply`) rather than acting on pixels, the placement fields it sets.
   * The plan's layer grouping (src/plan/parse.ts) then moves it from the layer's opener or
   * `fl_layer_apply` component into the layer's placement, and refuses it anywhere else.
   * Undefined (or absent): an ordinary value.
   */
  layerPlacement?(value: PlanValues[K]): Readonly<Record<string, unknown>> | undefined;
}


/** What a `flow` hook may do (src/plan/compute.ts implements it). */
export interface FlowContext {
  /** False while a condition skips the component being resolved. */
  readonly active: boolean;
  /** The component holds nothing but language keys (a condition, variables): it can open a block. */
  readonly bare: boolean;
  /** The components after this one (unresolved), so that a block opener can see whether an `if_end` follows. */
  readonly later: readonly Component[];
  evaluate(e: Expr): Promise<Value>;
  test(c: Condition): Promise<boolean>;
  /** Define (or redefine) a user variable for the components that follow. */
  bind(name: string, value: Value): void;
  /** A condition in a component of its own: opens a block up to `if_else`/`if_end`. */
  open(ok: boolean, text: string): void;
  /** A condition among the component's other parameters: applies to this component only. */
  only(ok: boolean): void;
  /**
   * `if_else`: switches an open block to its else branch; among other parameters (`inline`)
   * without a block, this component applies when the previous component's inline condition did not.
   */
  otherwise(inline: boolean): void;
  /** `if_end`. */
  close(): void;
}

/** What a `compute` hook may ask (src/plan/compute.ts implements it). */
export interface ComputeContext {
  /** `$(name)` references in text replaced by the variables' values (a 400 for an undefined one). */
  text(s: string): string;
  /** A value that may be computed, made concrete by the parser of URL key `key`. */
  value<T>(key: string, v: T): Promise<T>;
  /** Nested components (a layer's own) with their computed values made concrete. */
  components(list: readonly Component[]): Promise<Component[]>;
  /** Canonical text of components (the plan printer's). */
  canonical(list: readonly Component[]): string;
  /**
   * What an asset-reference variable holds (`$name_ref:!…!`, `$name_current`): a stored image's
   * public id (folders with `/`, maybe an extension), or a `fetch` source's URL; a 400 naming
   * the variable otherwise.
   */
  reference(name: string): { readonly id: string; readonly type: 'upload' | 'fetch' };
}

/** Tags, context and structured metadata of the requested asset (empty until storage provides them). */
export interface AssetMetadata {
  readonly tags: readonly string[];
  readonly context: Readonly<Record<string, string>>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A stored image (upload) a plan draws besides its source. */
export interface ImageRef {
  readonly publicId: string;
  readonly ext?: string;
}

/** Size, format and bytes of an image on either side of a delivery. */
export interface ImageFacts {
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly bytes: number;
}

/**
 * What `inspect` hooks found out about the delivered source, for the `respond` hooks. Each
 * transform with an `inspect` hook adds its fields by declaration merging (flags.ts:
 * fl_getinfo's `objects`), so the renderer and the pipeline carry it without knowing them.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Findings {}

/** What a `respond` hook may read about the delivered result, and what it may set on the answer. */
export interface RespondContext {
  readonly config: Config;
  /** The source, from its header (size after EXIF orientation). */
  readonly input: ImageFacts;
  /** The encoded output, with its format's file extension and the input region it shows (undefined: all of it). */
  readonly output: ImageFacts & { readonly extension: string; readonly crop?: Region };
  /** What the plan's `inspect` hooks found out about the source (empty when none ran). */
  readonly findings: Findings;
  /** The last segment of the public id: the name of a download that names none. */
  readonly name: string;
  /** Answer this JSON document instead of the image. */
  json?: unknown;
  /** Answer with `Content-Disposition: attachment` and this file name. */
  attachment?: string;
  /** The DPR the image was delivered at (`X-Aperture-DPR`, Server-Timing); 1 when unset. */
  dpr?: number;
  /** Cacheable as immutable (`Cache-Control: …, immutable`). */
  immutable?: boolean;
}

/** Output settings while the plan's `output` hooks run (see TransformDef.output). */
export type PlannedOutput = Omit<OutputSettings, 'format'> & { format?: OutputSettings['format'] };

/** A canvas size known from the plan. */
export interface PlanDims {
  readonly width: number;
  readonly height: number;
  /** Frames (1 for a still). */
  readonly pages: number;
  /**
   * False once a step's size depends on the pixels (e_trim): later sizes are then held to the
   * limits while rendering instead.
   */
  readonly exact: boolean;
}

/** What a `bounds` hook may read. */
export interface BoundsContext {
  readonly config: Config;
  /** Layers and components seen so far in the whole plan, layers' own included. */
  readonly seen: { layers: number; components: number };
  /** Nesting depth of the plan being walked (0 = the delivered image). */
  readonly depth: number;
  /** Loads a layer's image source, as RenderContext.loadLayer (absent: image layers are refused). */
  readonly loadLayer?: (publicId: string, ext?: string, type?: 'upload' | 'fetch') => Promise<Source>;
  /** Walk a layer's own components from `start` (one level deeper); returns the final size. */
  walk(components: readonly Component[], start: PlanDims): Promise<PlanDims>;
}

/**
 * The work above transforms/ that a `resolve` hook may ask for. resolvePlan
 * (src/negotiate/resolve.ts) hands it in, so that no transform imports the planner or the
 * renderer (they import the registry: the import graph would have a cycle).
 */
export interface ResolveServices {
  /**
   * The size `components` make on the oriented source, from the plan alone; undefined when it
   * depends on the pixels or on a layer's source (src/render/plan-bounds.ts).
   */
  plannedSize(components: readonly Component[], meta: SourceMeta, config: Config): Promise<{ width: number; height: number } | undefined>;
  /**
   * Per-image breakpoints of the output the plan being resolved delivers, for the component
   * being resolved (src/responsive/breakpoints.ts). Setting up resolves an automatic format
   * (which adds its Vary), whether or not any sample is then taken.
   */
  breakpoints(rc: ResolveContext): Promise<BreakpointSampler>;
}

/** Breakpoint sampling set up for one request (ResolveServices.breakpoints). */
export interface BreakpointSampler {
  /** The width the preceding components produce, when it is known without rendering them. */
  readonly inputWidth: number | undefined;
  /** Widths from `min` to `max` whose encoded sizes are about `kb` KB apart, at most `count` (cached per image). */
  sample(spec: { readonly min: number; readonly max: number; readonly kb: number; readonly count: number }): Promise<readonly number[]>;
}

/** What a `resolve` hook may read, and how it may answer instead of an image. */
export interface ResolveContext extends ResolveServices {
  readonly hints: RequestHints;
  readonly vary: Set<string>;
  readonly config: Config;
  readonly source: Source;
  readonly meta: SourceMeta;
  /**
   * Reads the tags, context and metadata of the asset (its origin's Origin.asset), for `tags`,
   * `ctx`, `md` in expressions; called only when an expression reads them (absent or undefined:
   * empty).
   */
  readonly asset?: () => Promise<AssetMetadata | undefined>;
  /** The asset being delivered (the URL's, or a default image's), for `$name_current`. */
  readonly current?: { readonly type: string; readonly publicId: string; readonly ext?: string };
  /** Components before the one being resolved (already resolved), for per-step analysis. */
  readonly before: readonly Component[];
  /**
   * The plan being resolved (unresolved components), so that a resolver can see the rest
   * of its own component (`w_auto` needs the component's `dpr`) and the output settings.
   */
  readonly plan?: Plan;
  /**
   * Runs pixel work (breakpoint sampling) as the pipeline runs a render (pipeline/produce.ts): in an admission
   * slot, within the request's deadline. Absent (benchmarks): run directly.
   */
  readonly admit?: <T>(work: (deadline: Deadline) => Promise<T>) => Promise<T>;
  /** Set by a resolver to answer this JSON document instead of the image. */
  json?: unknown;
}

/**
 * What the renderer (src/render/render.ts) lends an `apply` hook besides the request's
 * context: handed in, so that no transform imports the renderer or the planner.
 */
export interface RenderServices {
  /**
   * Runs a nested plan (a layer's own components) on its source as a still image (its first
   * frame); returns the canvas after the last component.
   */
  renderStill(source: Source, meta: SourceMeta, plan: Plan, ctx: RenderContext): Promise<Canvas>;
}

/** What an `apply` hook is handed. */
export interface ApplyContext extends RenderContext, RenderServices {
  /** Canonical text of the component being applied (the plan printer's), for per-step caches. */
  step: string;
}

/** What an `encode` hook knows about the encoding. */
export interface EncodeInfo {
  /** The output format (a src/formats.ts row name: jpeg, png, webp, …). */
  readonly format: string;
  /** The source's colour space as libvips names it (srgb, cmyk, b-w, …). */
  readonly sourceSpace: string | undefined;
}

/** What input-phase transforms may change about how the source is decoded. */
export interface LoadOptions {
  autoOrient: boolean;
  /** Zero-based page/frame to take from a multi-page or animated source (undefined = all/first). */
  page?: number;
  /**
   * Pages/frames to take, resolved against the source's page count (zero-based, in order;
   * throws a 400 naming the count). One page opens as `page`; several keep those frames of an
   * animation, or the first of them when the output is a still.
   */
  pages?: (count: number) => number[];
  /** Rendering density (DPI) of vector input (SVG, PDF); the decoded size scales with it. */
  density?: number;
}

/** A key Cloudinary has that Aperture recognises but does not perform: always a 400 naming it. */
export interface UnsupportedKey {
  readonly key: string;
  readonly reason: string;
}

/** Identity helper that keeps each definition's value type tied to its plan key. */
export function defineTransform<K extends PlanKey>(def: TransformDef<K>): TransformDef<K> {
  return def;
}
