/**
 * Per-request resolution of automatic values through each transform's `resolve` hook. Plans
 * without automatic values skip this entirely (checked once per plan). The variant string
 * (resolved values in canonical form) goes into the cache key; raw header text never does.
 */
import { TRANSFORMS, type Component, type PlanKey } from '../../transforms/index.ts';
import type { ResolveContext, ResolveServices } from '../../transforms/types.ts';
import { canonicalComponent, type Plan } from '../plan/parse.ts';
import { plannedSize } from '../render/plan-bounds.ts';
import { breakpointSampler } from '../responsive/breakpoints.ts';
import { computeComponents } from '../plan/compute.ts';
import { cachedSourceAnalysis, sourceAnalysis } from '../plan/source-analysis.ts';
import { Deadline } from '../render/deadline.ts';

const dynamicMemo = new WeakMap<Plan, boolean>();

export function isDynamic(plan: Plan): boolean {
  let d = dynamicMemo.get(plan);
  if (d === undefined) {
    // Computed values, variables and conditions (url-api.md §8) resolve per source too.
    d = plan.computed === true || plan.components.some((c) => TRANSFORMS.some((t) => {
      const v = (c as Record<string, unknown>)[t.planKey];
      return v !== undefined && t.resolve !== undefined && (t.dynamic ? t.dynamic(v as never) : true);
    }));
    dynamicMemo.set(plan, d);
  }
  return d;
}

export interface Resolved {
  plan: Plan;
  /** Canonical text of the resolved values, for the cache key. */
  variant: string;
}

export async function resolvePlan(plan: Plan, rc: Omit<ResolveContext, 'before' | keyof ResolveServices>): Promise<Resolved & { json?: unknown }> {
  if (!isDynamic(plan)) return { plan, variant: '' };
  if (plan.computed) {
    // Everything computed first: automatic values below then see concrete components, and the
    // cache key holds concrete values only.
    const analysis = () => cachedSourceAnalysis(rc.source.identity, () => (rc.admit
      ? rc.admit((d) => sourceAnalysis(rc.source, rc.meta, rc.config, d))
      : sourceAnalysis(rc.source, rc.meta, rc.config, new Deadline(rc.config.processTimeoutMs))));
    const components = await computeComponents(plan.components, { meta: rc.meta, config: rc.config, plannedSize, asset: rc.asset, current: rc.current, analysis });
    plan = { components, canonical: components.map(canonicalComponent).join('/') };
    rc = { ...rc, plan };
    if (!isDynamic(plan)) return { plan, variant: '' };
  }
  const out: Component[] = [];
  const variant: string[] = [];
  // What resolvers may ask of the planner and the renderer is handed in here (transforms/ imports
  // neither). Known properties before the spread: V8 copies `rc` fastest so (measured, ~1.8x).
  const ctx: ResolveContext = { plannedSize, breakpoints: breakpointSampler, ...rc, before: out };
  for (const c of plan.components) {
    let copy: Component | undefined;
    for (const t of TRANSFORMS) {
      const v = (c as Record<string, unknown>)[t.planKey];
      if (v === undefined || !t.resolve || (t.dynamic && !t.dynamic(v as never))) continue;
      const r = await t.resolve(v as never, ctx);
      copy ??= { ...c };
      (copy as Record<string, unknown>)[t.planKey as PlanKey] = r;
      variant.push(`${t.key}=${t.canonical ? t.canonical(r as never) : JSON.stringify(r)}`);
      if (ctx.json !== undefined) return { plan, variant: variant.join(';'), json: ctx.json };
    }
    out.push(copy ?? c);
  }
  return { plan: { components: out, canonical: out.map(canonicalComponent).join('/') }, variant: variant.join(';') };
}
