/**
 * Request-time resolution of `w_auto…` and `dpr_auto` (called from the `w` and `dpr`
 * transforms' `resolve` hooks).
 *
 * Vary: a response lists every hint header that *could* change it, whether or not this
 * request sent it, because a cache stores the response under its Vary and a later request
 * that sends the hint must not get it: `dpr_auto` → `Sec-CH-DPR, DPR`; `w_auto` → the Width
 * and Viewport-Width hints plus the DPR hints (Viewport-Width × DPR). Both spellings are
 * listed because both are read.
 */
import type { ResolveContext, Component } from '../../transforms/types.ts';
import { resolveDim, type Dim } from '../../transforms/args.ts';
import {
  DPR_AUTO, DPR_VARY, WIDTH_VARY, autoDpr, requiredWidth, roundWidth, snapToBreakpoint, type AutoWidth,
} from './auto-width.ts';

type Size = { width: number; height: number };

/**
 * The size this component's input has: the source's (synchronous, the common case), else the
 * size the preceding components make, from the plan (no pixels). Undefined when the plan cannot
 * tell (an image layer or a trim before): then automatic values are not capped by it.
 */
function inputSize(rc: ResolveContext): Size | Promise<Size | undefined> {
  if (rc.before.length === 0) return { width: rc.meta.width, height: rc.meta.height };
  return rc.plannedSize(rc.before, rc.meta, rc.config);
}

/** Chain a value that is usually synchronous (the hot path of hinted cache hits stays sync). */
function then<A, B>(v: A | Promise<A>, f: (a: A) => B): B | Promise<B> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** The component being resolved (resolvePlan resolves components in order). */
function currentComponent(rc: ResolveContext): Component | undefined {
  return rc.plan?.components[rc.before.length];
}

/** The DPR the geometry owner will multiply this component's `w` by. */
function componentDpr(rc: ResolveContext): number {
  const d = currentComponent(rc)?.dpr;
  if (d === undefined) return 1;
  return Math.min(d === DPR_AUTO ? autoDpr(rc.hints, rc.config.dprCap) : d, rc.config.dprCap);
}

/**
 * `dpr_auto`: the hinted DPR, lowered so that the component delivers no more pixels than its
 * input has (the browser upscales for free): with `w`/`h` in pixels or fractions, at most
 * input ÷ size; with neither, 1. Never below 1. With `w_auto` the width resolver caps instead.
 */
export function resolveAutoDpr(rc: ResolveContext): number | Promise<number> {
  for (const h of DPR_VARY) rc.vary.add(h);
  const dpr = autoDpr(rc.hints, rc.config.dprCap);
  const c = currentComponent(rc);
  if (dpr === 1 || !c || (c.width && 'auto' in c.width)) return dpr;
  return then(inputSize(rc), (size) => (size ? capDpr(dpr, c, size) : dpr));
}

function capDpr(dpr: number, c: Component, size: Size): number {
  const caps: number[] = [];
  if (c.width) caps.push(size.width / resolveDim(c.width, size.width));
  if (c.height) caps.push(size.height / resolveDim(c.height, size.height));
  if (!caps.length) caps.push(1);
  return Math.max(1, Math.min(dpr, ...caps));
}

/**
 * The concrete `w` for a `w_auto…` value: a pixel width such that the geometry owner, after
 * multiplying by the component's DPR, produces the device width chosen here; `undefined`
 * (no width: the component is not resized by `w`) when there is neither a hint nor a fallback.
 */
export function resolveAutoWidth(a: AutoWidth, rc: ResolveContext): Dim | undefined | Promise<Dim | undefined> {
  if (a.mode === 'breakpoints') return resolveBreakpointWidth(a, rc);
  // Synchronous: this runs on every hinted request, a cache hit included.
  const dpr = componentDpr(rc);
  for (const h of WIDTH_VARY) rc.vary.add(h);
  const need = requiredWidth(rc.hints, rc.config.dprCap, a.fallback, dpr);
  if (need === undefined) return undefined;
  const width = roundWidth(need, a.step, rc.config.maxOutputSide);
  // Never more pixels than the input has: a hint cannot ask for an upscale (nor, through one, an error).
  return then(inputSize(rc), (size): Dim => ({ kind: 'px', value: (size ? Math.min(width, size.width) : width) / dpr }));
}

async function resolveBreakpointWidth(a: Extract<AutoWidth, { mode: 'breakpoints' }>, rc: ResolveContext): Promise<Dim | undefined> {
  const dpr = componentDpr(rc);
  const cap = rc.config.dprCap;

  const sampler = await rc.breakpoints(rc);
  const spec = { min: a.min, max: a.max, kb: a.kb, count: a.count };
  if (a.json) {
    rc.json = { breakpoints: await sampler.sample(spec) };
    return undefined;
  }
  for (const h of WIDTH_VARY) rc.vary.add(h);
  const need = requiredWidth(rc.hints, cap, a.fallback, dpr);
  // Without any hint or fallback, the largest breakpoint: a breakpoints URL never delivers
  // more than its max, and the variants stay within the breakpoint list.
  const w0 = sampler.inputWidth;
  const hi = w0 === undefined ? undefined : Math.max(1, Math.min(a.max, w0, rc.config.maxOutputSide));
  let width: number;
  if (hi !== undefined && (need === undefined || need >= hi)) width = hi;
  else if (hi !== undefined && need !== undefined && need <= Math.min(a.min, hi)) width = Math.min(a.min, hi);
  else {
    const bps = await sampler.sample(spec);
    width = need === undefined ? bps[bps.length - 1] : snapToBreakpoint(bps, need);
  }
  return { kind: 'px', value: width / dpr };
}
