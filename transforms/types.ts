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
 * BoundsContext, ResolveContext), never by an import, so the import graph has no cycle
 * (`npx dpdm --no-tree src/main.ts transforms/index.ts`).
 */
import type { Canvas } from '../src/render/canvas.ts';
import type { RenderContext, RequestHints } from '../src/render/context.ts';
import type { Config } from '../src/config.ts';
import type { SourceMeta } from '../src/render/source-meta.ts';
import type { Source } from '../src/origin/types.ts';
import type { Deadline } from '../src/render/deadline.ts';

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
   * Plan-time hook for layers: when this value says how the enclosing layer is composited (a
   * blend mode such as `e_multiply`) rather than acting on pixels, the placement fields it sets.
   * The plan's layer grouping (src/plan/parse.ts) then moves it from the layer's opener or
   * `fl_layer_apply` component into the layer's placement, and refuses it anywhere else.
   * Undefined (or absent): an ordinary value.
   */
  layerPlacement?(value: PlanValues[K]): Readonly<Record<string, unknown>> | undefined;
}

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
  /** Components before the one being resolved (already resolved), for per-step analysis. */
  readonly before: readonly Component[];
  /**
   * The plan being resolved (unresolved components), so that a resolver can see the rest
   * of its own component (`w_auto` needs the component's `dpr`) and the output settings.
   */
  readonly plan?: Plan;
  /**
   * Runs pixel work (breakpoint sampling) as the route runs a transform: in an admission
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

/** What input-phase transforms may change about how the source is decoded. */
export interface LoadOptions {
  autoOrient: boolean;
  /** Zero-based page/frame to take from a multi-page or animated source (undefined = all/first). */
  page?: number;
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
