/**
 * Per-image responsive breakpoints (`w_auto:breakpoints…`): widths between `min` and `max`
 * (capped at the width the preceding components produce) whose encoded sizes are about `kb`
 * kilobytes apart, at most `count`, both ends included.
 *
 * Few encodes: the preceding components run once and are shrunk to the largest width, then
 * four widths spread evenly in area are encoded with the request's own encoder settings. Size
 * is close to linear in pixel area for a given image and encoder (with a fixed header cost),
 * so sizes are interpolated piecewise-linearly in width², the breakpoints are read off at
 * equal size steps, and the two predictions furthest from any sample are checked by encoding
 * them; a miss by more than a quarter of a step becomes a sample and the pick is redone once.
 * Results are cached per source identity, preceding plan, output settings and parameters.
 */
import sharp from 'sharp';
import { byteMemo, settingSized } from '../cache/memo.ts';
import { TRANSFORMS } from '../../transforms/index.ts';
import type { BreakpointSampler, Component, ResolveContext } from '../../transforms/types.ts';
import type { OutputFormat } from '../formats.ts';
import type { Source } from '../origin/types.ts';
import type { SourceMeta } from '../render/source-meta.ts';
import type { RenderContext } from '../render/context.ts';
import type { Config } from '../config.ts';
import { canonicalComponent, type Plan } from '../plan/parse.ts';
import { openSource, outputSettings, transform, type OutputSettings } from '../render/render.ts';
import { applyGeometry } from '../render/geometry.ts';
import { applyEncoder } from '../render/encode.ts';
import { plainSettings } from '../render/auto-encode.ts';
import { classifyContent } from '../analyze/content-class.ts';
import { blame } from '../render/blame.ts';
import { Deadline } from '../render/deadline.ts';
import { formatRow } from '../formats.ts';
import { checkPlanBounds } from '../render/plan-bounds.ts';

declare module '../../transforms/types.ts' {
  interface ResolveContext {
    /** The URL extension's format: the output breakpoints are sampled in when no f_ says. */
    readonly extFormat?: OutputFormat;
  }
}

export interface BreakpointSpec {
  readonly min: number;
  readonly max: number;
  /** Size step in KB (1024 bytes). */
  readonly kb: number;
  readonly count: number;
}

/** A measured or predicted point: width in px, encoded size in bytes. */
export interface SizePoint { width: number; bytes: number }

export interface BreakpointResult {
  readonly breakpoints: readonly number[];
  /** The encodes actually made, ascending by width (for the demo chart and the benchmark). */
  readonly samples: readonly SizePoint[];
}

/** A memoized computation, and the widths it will give at most (its size is known before it ends). */
interface Memoized { readonly result: Promise<BreakpointResult>; readonly count: number }
/**
 * Estimated heap bytes of a memoized result (its key is counted by the memo): the promise, the
 * result and its six samples at most (four spread, two checks) ~400 bytes, plus 16 per
 * breakpoint (at most `count`): heapUsed after gc over 20,000 entries of 20 breakpoints, Node
 * 20, was 681 bytes each.
 */
const memoizedBytes = (m: Memoized): number => 400 + 16 * m.count;
/** One memo per process, sized by APERTURE_BREAKPOINT_MEMO_BYTES (cache/memo.ts). */
const memos = settingSized((bytes) => byteMemo<Memoized>(bytes, memoizedBytes));
const stats = { computed: 0, hits: 0, encodes: 0 };

/** For tests and the benchmark. */
export function breakpointStats(): Readonly<typeof stats> {
  return { ...stats };
}
export function clearBreakpointCache(): void {
  memos.clear();
}

/** Widths `lo..hi` (lo < hi) in `n` steps evenly spaced in area (width²). */
function spreadByArea(lo: number, hi: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Math.round(Math.sqrt(lo * lo + ((hi * hi - lo * lo) * i) / (n - 1))));
  }
  return [...new Set(out)];
}

/** Sizes made non-decreasing in width, so the inverse below is well defined. */
function monotone(points: readonly SizePoint[]): SizePoint[] {
  const out = [...points].sort((a, b) => a.width - b.width);
  for (let i = 1; i < out.length; i++) {
    if (out[i].bytes < out[i - 1].bytes) out[i] = { width: out[i].width, bytes: out[i - 1].bytes };
  }
  return out;
}

/** Predicted size at `w`, linear in w² between samples. */
export function predictBytes(points: readonly SizePoint[], w: number): number {
  const p = points;
  let i = 0;
  while (i < p.length - 2 && p[i + 1].width < w) i++;
  const a = p[i], b = p[i + 1] ?? p[i];
  const da = b.width * b.width - a.width * a.width;
  if (da === 0) return a.bytes;
  return a.bytes + ((b.bytes - a.bytes) * (w * w - a.width * a.width)) / da;
}

/** Width whose predicted size is `bytes` (inverse of predictBytes on monotone points). */
function widthForBytes(points: readonly SizePoint[], bytes: number): number {
  const p = points;
  let i = 0;
  while (i < p.length - 2 && p[i + 1].bytes < bytes) i++;
  const a = p[i], b = p[i + 1] ?? p[i];
  if (b.bytes === a.bytes) return a.width;
  const t = (bytes - a.bytes) / (b.bytes - a.bytes);
  return Math.sqrt(a.width * a.width + t * (b.width * b.width - a.width * a.width));
}

/**
 * Breakpoints from measured points: equal size steps of at least `kb` (Cloudinary's "bytes
 * step" is a minimum), at most `count` widths, both ends always present.
 */
export function pickBreakpoints(points: readonly SizePoint[], spec: BreakpointSpec, lo: number, hi: number): number[] {
  if (hi <= lo || spec.count <= 1) return [hi];
  const p = monotone(points);
  const s0 = predictBytes(p, lo), s1 = predictBytes(p, hi);
  const intervals = Math.max(1, Math.min(spec.count - 1, Math.floor((s1 - s0) / (spec.kb * 1024))));
  const step = (s1 - s0) / intervals;
  const out = [lo];
  for (let k = 1; k < intervals; k++) {
    const w = Math.round(widthForBytes(p, s0 + step * k));
    if (w > out[out.length - 1] && w < hi) out.push(w);
  }
  out.push(hi);
  return out;
}

/**
 * Sampled widths, evenly spaced in area: four cover a photo's size curve to a few percent
 * (the two checks below catch the rest), and each one less saves a sizeable encode.
 */
const SAMPLES = 4;

interface Base { data: Buffer; width: number; height: number; channels: 1 | 2 | 3 | 4 }

export interface BreakpointInput {
  readonly source: Source;
  readonly meta: SourceMeta;
  /** The resolved components before the one with `w_auto:breakpoints`. */
  readonly before: readonly Component[];
  readonly out: OutputSettings;
  readonly config: Config;
  /** Runs the sampling in an admission slot within the request's deadline (pipeline/produce.ts admitted). */
  readonly admit?: <T>(work: (deadline: Deadline) => Promise<T>) => Promise<T>;
}

function keyOf(i: BreakpointInput, spec: BreakpointSpec): string {
  const { format, quality, flags } = i.out;
  return `${i.source.identity}\n${i.before.map(canonicalComponent).join('/')}\n${JSON.stringify([format, quality ?? null, flags])}\n${spec.min}_${spec.max}_${spec.kb}_${spec.count}`;
}

/** Breakpoints of one image (cached; concurrent callers share one computation). */
export function computeBreakpoints(input: BreakpointInput, spec: BreakpointSpec): Promise<BreakpointResult> {
  const key = keyOf(input, spec);
  const cache = memos.of(input.config.breakpointMemoBytes);
  const hit = cache.get(key);
  if (hit) {
    stats.hits++;
    return hit.result;
  }
  const p = input.admit
    ? input.admit((deadline) => measure(input, spec, deadline))
    : measure(input, spec, new Deadline(input.config.processTimeoutMs));
  const entry: Memoized = { result: p, count: spec.count };
  cache.set(key, entry);
  p.catch(() => { if (cache.peek(key) === entry) cache.delete(key); });
  return p;
}

/** Output-phase transforms with automatic values (f_auto, q_auto): they decide what is delivered. */
const OUTPUT_RESOLVERS = TRANSFORMS.filter((t) => t.phase === 'output' && t.resolve);

/**
 * The components from the one being resolved on, with their output-phase automatic values
 * resolved through their own transforms (which add their Vary): the resolve pass has not reached
 * them yet, and breakpoints are those of the output this request is delivered.
 */
async function withOutputResolved(rest: readonly Component[], rc: ResolveContext): Promise<Component[]> {
  const out: Component[] = [];
  for (const c of rest) {
    let copy: Component | undefined;
    for (const t of OUTPUT_RESOLVERS) {
      const v = (c as Record<string, unknown>)[t.planKey];
      if (v === undefined || (t.dynamic && !t.dynamic(v as never))) continue;
      copy ??= { ...c };
      (copy as Record<string, unknown>)[t.planKey] = await t.resolve!(v as never, rc);
    }
    out.push(copy ?? c);
  }
  return out;
}

/**
 * ResolveServices.breakpoints: sampling set up for the output this plan delivers. Automatic
 * output values in this or a later component (f_auto, q_auto) are not resolved yet: they are
 * resolved here, so that breakpoints are per delivered format and quality.
 */
export async function breakpointSampler(rc: ResolveContext): Promise<BreakpointSampler> {
  const rest = rc.plan ? await withOutputResolved(rc.plan.components.slice(rc.before.length), rc) : [];
  const out = outputSettings({ components: [...rc.before, ...rest], canonical: '' }, rc.extFormat, rc.meta);
  const input: BreakpointInput = { source: rc.source, meta: rc.meta, before: rc.before, out, config: rc.config, ...(rc.admit ? { admit: rc.admit } : {}) };
  return { inputWidth: knownInputWidth(input), sample: async (spec) => (await computeBreakpoints(input, spec)).breakpoints };
}

/**
 * The width the preceding components produce, without running them when there are none
 * (then it is the oriented source width): lets requests that land on an end skip encoding.
 */
function knownInputWidth(input: BreakpointInput): number | undefined {
  return input.before.length === 0 ? input.meta.width : undefined;
}

async function measure(input: BreakpointInput, spec: BreakpointSpec, deadline: Deadline): Promise<BreakpointResult> {
  stats.computed++;
  const { source, meta, config, out } = input;
  const ctx: RenderContext = { config, hints: {}, vary: new Set(), sourceIdentity: source.identity, prefix: '', timing: {}, deadline, decodes: [] };
  const plan: Plan = { components: input.before, canonical: input.before.map(canonicalComponent).join('/') };
  let base: Base;
  let hi: number;
  try {
    // The preceding components are held to the size limits before any pixel is made.
    await checkPlanBounds(plan, meta, out, config);
    const opened = openSource(source, meta, plan, out, ctx);
    const canvas = await transform(opened, plan, ctx);
    await canvas.ensureDims();
    const w0 = canvas.width, h0 = canvas.height;
    hi = Math.max(1, Math.min(spec.max, w0, config.maxOutputSide));
    if (hi < w0) {
      // First resize of a fresh JPEG pipeline: libvips shrinks on load, so a 2560 px photo is
      // decoded at about half size.
      const h = Math.max(1, Math.round((h0 * hi) / w0));
      await applyGeometry(canvas, { resize: { width: hi, height: h }, width: hi, height: h }, undefined);
    }
    const m = await canvas.materialize();
    base = { data: m.data, width: m.width, height: canvas.height, channels: m.channels as Base['channels'] };
  } catch (e) {
    throw await blame(e, ctx.decodes!, deadline);
  }
  const lo = Math.min(spec.min, hi);
  if (lo === hi || spec.count <= 1) return { breakpoints: [hi], samples: [] };

  // The request's encoder settings without q_auto's search (a fixed quality per level): the
  // search would cost several encodes per sample and moves sizes of all widths alike.
  // f_auto picks JPEG or PNG by content (and transparency): sample the format it will deliver.
  const content = out.format.kind === 'auto' ? classifyContent(base) : undefined;
  const alpha = content ? content.hasAlpha : base.channels === 2 || base.channels === 4;
  const settings = plainSettings(out, meta, false, alpha, content?.kind);
  const encodeAt = async (w: number): Promise<SizePoint> => {
    deadline.check('breakpoint sampling');
    const h = Math.max(1, Math.round((base.height * w) / base.width));
    let img = sharp(base.data, { raw: { width: base.width, height: base.height, channels: base.channels }, limitInputPixels: false });
    if (w !== base.width) img = img.resize(w, h, { fit: 'fill' });
    if (alpha && !formatRow(settings.format).alpha) img = img.flatten({ background: { r: 255, g: 255, b: 255 } });
    stats.encodes++;
    const body = await applyEncoder(img, settings, config).timeout({ seconds: deadline.seconds('breakpoint sampling') }).toBuffer();
    return { width: w, bytes: body.length };
  };

  const samples: SizePoint[] = await Promise.all(spreadByArea(lo, hi, SAMPLES).map(encodeAt));
  let picked = pickBreakpoints(samples, spec, lo, hi);
  // Check the two predictions furthest (in area) from any sample.
  const far = picked
    .filter((w) => w > lo && w < hi)
    .map((w) => ({ w, d: Math.min(...samples.map((s) => Math.abs(s.width * s.width - w * w))) }))
    .sort((a, b) => b.d - a.d)
    .slice(0, 2)
    .map((x) => x.w);
  if (far.length) {
    const step = picked.length > 1 ? (predictBytes(monotone(samples), hi) - predictBytes(monotone(samples), lo)) / (picked.length - 1) : 0;
    const checks = await Promise.all(far.map(encodeAt));
    const predicted = monotone(samples);
    const missed = checks.filter((c) => Math.abs(c.bytes - predictBytes(predicted, c.width)) > step / 4);
    samples.push(...checks);
    if (missed.length) picked = pickBreakpoints(samples, spec, lo, hi);
  }
  samples.sort((a, b) => a.width - b.width);
  return { breakpoints: picked, samples };
}
