/**
 * Sizes from the plan, before any pixel exists. The walk follows the renderer's order
 * (components, then phases, then registry order; geometry by its owner, every other
 * transform by its `bounds` hook) from the source's size, and refuses the plan when a step
 * that grows the canvas goes over APERTURE_MAX_OUTPUT_SIDE or APERTURE_MAX_OUTPUT_PIXELS
 * (frames counted), or when the final image is over the pixel limit. Layers walk their own
 * plans from their sources' sizes (hooks in layers.ts), which also counts them against the
 * layer limits. A step whose size depends on the pixels (e_trim) makes the rest inexact: those
 * sizes are then held to the same limits while rendering (render.ts, geometry.ts).
 */
import { TRANSFORMS, PHASES, withoutClaimed, type Component, type PlanKey, type TransformDef } from '../../transforms/index.ts';
import type { BoundsContext, PlanDims } from '../../transforms/types.ts';
import type { Config } from '../config.ts';
import { canonicalComponent, type Plan } from '../plan/parse.ts';
import type { SourceMeta } from './source-meta.ts';
import { geometrySize, hasGeometry, refuseOver, refuseOverEncoder } from './geometry.ts';
import { pickFormat } from './auto-encode.ts';
import { sourceStart, type OutputSettings } from './render.ts';
import { Errors } from '../errors.ts';

const WITH_BOUNDS: ReadonlyMap<string, readonly TransformDef<PlanKey>[]> = new Map(
  PHASES.map((p) => [p, TRANSFORMS.filter((t) => t.phase === p && t.bounds)]),
);

function label(c: Component): string {
  const text = canonicalComponent(c);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A step that grows the canvas in either direction is held to the limits. */
function step(before: PlanDims, after: PlanDims, config: Config, what: () => string): PlanDims {
  if (after.exact && (after.width > before.width || after.height > before.height)) refuseOver(after, config, what());
  return after;
}

async function walk(components: readonly Component[], start: PlanDims, bc: BoundsContext): Promise<PlanDims> {
  let d = start;
  for (const c of components) {
    // The parser counts the URL's top-level components; layers' own count too.
    if (++bc.seen.components > bc.config.maxComponents) {
      throw new Errors.BAD_URL(`too many components (more than ${bc.config.maxComponents} with the layers' own, APERTURE_MAX_COMPONENTS)`);
    }
    for (const phase of PHASES) {
      if (phase === 'geometry') {
        const gc = withoutClaimed(c);
        if (!hasGeometry(gc)) continue;
        const g = await geometrySize(gc, d.width, d.height, bc.config);
        d = step(d, { ...g, pages: d.pages, exact: d.exact }, bc.config, () => label(c));
        continue;
      }
      for (const t of WITH_BOUNDS.get(phase)!) {
        const v = (c as Record<string, unknown>)[t.planKey];
        if (v === undefined) continue;
        d = step(d, await t.bounds!(v as never, d, c, bc), bc.config, () => label(c));
      }
    }
  }
  return d;
}

function context(config: Config, depth: number, seen: BoundsContext['seen'], loadLayer?: BoundsContext['loadLayer']): BoundsContext {
  return {
    config, depth, seen,
    ...(loadLayer ? { loadLayer } : {}),
    walk: (components, start) => walk(components, start, context(config, depth + 1, seen, loadLayer)),
  };
}

/**
 * Walk `plan` on its source and throw (400, naming the step and the limit) when it asks for
 * too much; returns the planned output size (`exact` false when it depends on the pixels).
 */
export async function checkPlanBounds(plan: Plan, meta: SourceMeta, out: OutputSettings, config: Config,
  loadLayer?: BoundsContext['loadLayer']): Promise<PlanDims> {
  const s = sourceStart(meta, plan, out);
  const start: PlanDims = { width: s.width, height: s.height, pages: s.animated ? (s.frames?.length ?? meta.pages) : 1, exact: true };
  const d = await walk(plan.components, start, context(config, 0, { layers: 0, components: 0 }, loadLayer));
  if (d.exact) {
    refuseOver(d, config, 'the output', false);
    // The output format as far as the plan tells it (alpha is known only from the pixels; it
    // never decides between formats that carry a pixel bound).
    refuseOverEncoder(pickFormat(out, meta, s.animated, false, 'photo'), d, config);
  }
  return d;
}

/**
 * The size `components` make on the oriented source, from the plan alone; undefined when it
 * depends on the pixels or on a layer's source (not loaded here), or is over the limits.
 */
export async function plannedSize(components: readonly Component[], meta: SourceMeta, config: Config): Promise<{ width: number; height: number } | undefined> {
  try {
    const d = await walk(components, { width: meta.width, height: meta.height, pages: 1, exact: true }, context(config, 0, { layers: 0, components: 0 }));
    return d.exact ? { width: d.width, height: d.height } : undefined;
  } catch {
    return undefined;
  }
}
