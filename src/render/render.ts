/**
 * Plan → pixels → bytes. Components run in order; inside one, transforms run by phase then
 * registry order, geometry being one step owned by geometry.ts. The last component's pixels
 * are materialized (the "transform" time) and then encoded (the "encode" time), which also
 * gives automatic quality and format choices the exact pixels they judge.
 */
import sharp, { type Sharp } from 'sharp';
import { TRANSFORMS, PHASES, withoutClaimed, type Component, type PlanKey, type PlannedOutput, type TransformDef } from '../../transforms/index.ts';
import type { ApplyContext, Findings, LoadOptions } from '../../transforms/types.ts';
import type { FormatRequest } from '../../transforms/format.ts';
import { animates, deliveredFormat, encoderOf, formatRow, searchesQuality, sourceFormatName, type OutputFormat } from '../formats.ts';
import type { Flags } from '../../transforms/flags.ts';
import type { Quality } from '../../transforms/quality.ts';
import { canonicalComponent, type Plan } from '../plan/parse.ts';
import type { Source } from '../origin/types.ts';
import type { SourceMeta } from './source-meta.ts';
import type { RenderContext } from './context.ts';
import { Canvas } from './canvas.ts';
import { applyGeometry, computeGeometry, hasGeometry, refuseOver, refuseOverEncoder } from './geometry.ts';
import { applyEncoder } from './encode.ts';
import { animatedSettings, encodeStill, pickFormat, plainSettings, type Encoded, type OutputSettings } from './auto-encode.ts';
import type { RawImage } from '../analyze/types.ts';
import { Errors } from '../errors.ts';
import { blame } from './blame.ts';
import type { Region } from './affine.ts';

export type { OutputSettings };

export interface RenderResult {
  body: Buffer;
  format: OutputFormat;
  width: number;
  height: number;
  /** The region of the (oriented) input that the output shows; undefined = all of it. */
  crop?: Region;
  /** Encoder quality chosen by q_auto. */
  quality?: number;
  /** What the plan's `inspect` hooks found out about the opened source (TransformDef.inspect). */
  findings?: Findings;
}

/** Format a source is delivered in when neither f_ nor an extension asks for one. */
export function sourceFormat(meta: SourceMeta): OutputFormat {
  return deliveredFormat(meta.format, meta.hasAlpha);
}

/** Merge the output parameters of all components (last one wins; flags accumulate). */
export function outputSettings(plan: Plan, extFormat: OutputFormat | undefined, meta: SourceMeta): OutputSettings {
  let format: FormatRequest | undefined;
  let quality: Quality | undefined;
  let flags: Flags = {};
  for (const c of plan.components) {
    if (c.format) format = c.format;
    if (c.quality) quality = c.quality;
    if (c.flags) flags = { ...flags, ...c.flags };
  }
  // Encode hooks (cs_, dn_ …), in plan order.
  const finish: ((img: Sharp, f: OutputFormat) => Sharp)[] = [];
  for (const c of plan.components) {
    for (const t of ENCODE_HOOKS) {
      const v = (c as Record<string, unknown>)[t.planKey];
      if (v !== undefined) finish.push((img, f) => t.encode!(v as never, img, { format: f, sourceSpace: meta.space }));
    }
  }
  let o: PlannedOutput = { format: format ?? (extFormat ? { kind: 'fixed', format: extFormat } : undefined), quality, flags, ...(finish.length ? { finish } : {}) };
  for (const c of plan.components) {
    for (const t of WITH_OUTPUT) {
      const v = (c as Record<string, unknown>)[t.planKey];
      if (v !== undefined) o = t.output!(v as never, o);
    }
  }
  return { ...o, format: o.format ?? { kind: 'fixed', format: sourceFormat(meta) } };
}

const ENCODE_HOOKS = TRANSFORMS.filter((t) => t.encode);
/** Transforms whose `output` hook adjusts the merged output settings (e_vectorize). */
const WITH_OUTPUT = TRANSFORMS.filter((t) => t.output);

function loadOptions(plan: Plan): LoadOptions {
  const o: LoadOptions = { autoOrient: true };
  for (const c of plan.components) {
    for (const t of TRANSFORMS) {
      const v = (c as Record<string, unknown>)[t.planKey];
      if (v !== undefined && t.load) t.load(v as never, o);
    }
  }
  return o;
}

/** Transforms that look at the opened source for the answer (TransformDef.inspect). */
const INSPECTORS = TRANSFORMS.filter((t) => t.inspect);

/** The plan's `inspect` hooks on the opened source, in plan order; undefined when none found anything. */
async function inspect(canvas: Canvas, plan: Plan, ctx: RenderContext): Promise<Findings | undefined> {
  let found: Findings | undefined;
  for (const c of plan.components) {
    for (const t of INSPECTORS) {
      const v = (c as Record<string, unknown>)[t.planKey];
      if (v === undefined) continue;
      const f = await t.inspect!(v as never, canvas, ctx);
      if (f) found = { ...found, ...f };
    }
  }
  return found;
}

const BY_PHASE: ReadonlyMap<string, readonly TransformDef<PlanKey>[]> = new Map(
  PHASES.map((p) => [p, TRANSFORMS.filter((t) => t.phase === p && t.apply)]),
);

async function runComponent(canvas: Canvas, c: Component, ctx: ApplyContext): Promise<void> {
  canvas.background = undefined;
  canvas.padWith = undefined;
  for (const phase of PHASES) {
    if (phase === 'geometry') {
      const gc = withoutClaimed(c);
      if (hasGeometry(gc)) {
        await canvas.ensureDims();
        const g = await computeGeometry(canvas, gc, ctx);
        // Planned sizes were checked before rendering (plan-bounds.ts, same rule: a step that
        // grows the canvas); after a trim they are known only now.
        if (g.width > canvas.width || g.height > canvas.height) {
          refuseOver({ width: g.width, height: g.height, pages: canvas.pages }, ctx.config, canonicalComponent(c));
        }
        await applyGeometry(canvas, g, canvas.background);
      }
      continue;
    }
    for (const t of BY_PHASE.get(phase)!) {
      const v = (c as Record<string, unknown>)[t.planKey];
      if (v === undefined) continue;
      ctx.deadline.check(`${t.key}_`);
      await t.apply!(canvas, v as never, c, ctx);
    }
  }
}

export interface OpenedSource {
  canvas: Canvas;
  animated: boolean;
  /** Frames of the animation to keep (LoadOptions.pages), zero-based, in order. */
  frames?: readonly number[];
}

/** How the source opens for this plan: load options, whether animated, and its size. */
export function sourceStart(meta: SourceMeta, plan: Plan, out: OutputSettings): { lo: LoadOptions; animated: boolean; width: number; height: number; frames?: number[] } {
  const lo = loadOptions(plan);
  const f = out.format;
  const animatable = meta.pages > 1 && animates(sourceFormatName(meta.format)) && (f.kind === 'fixed' ? animates(f.format) : !f.still);
  let frames: number[] | undefined;
  if (lo.pages) {
    // Several pages stay an animation when source and output animate; else the first of them.
    const sel = lo.pages(meta.pages);
    if (sel.length > 1 && animatable) frames = sel.length === meta.pages && sel.every((p, i) => p === i) ? undefined : sel;
    else lo.page = sel[0];
  }
  if (lo.page !== undefined && lo.page >= meta.pages) throw new Errors.INVALID_PARAM('page', `${lo.page + 1} (the source has ${meta.pages})`);
  const animated = animatable && lo.page === undefined;
  const swap = lo.autoOrient && meta.orientation >= 5;
  return { lo, animated, width: swap ? meta.rawHeight : meta.rawWidth, height: swap ? meta.rawWidth : meta.rawHeight, ...(frames ? { frames } : {}) };
}

/** Sources opened for rendering so far (bases, layers, breakpoint bases): tests assert that a refused plan opened none. */
let opened = 0;
export function sourcesOpened(): number {
  return opened;
}

/** Open the source as a Canvas with the plan's load options. */
export function openSource(src: Source, meta: SourceMeta, plan: Plan, out: OutputSettings, ctx: RenderContext): OpenedSource {
  ctx.deadline.check('opening the source');
  const { lo, animated, width: w, height: h, frames } = sourceStart(meta, plan, out);
  opened++;
  const options = {
    autoOrient: lo.autoOrient,
    animated,
    ...(lo.page !== undefined ? { page: lo.page } : {}),
    ...(lo.density !== undefined ? { density: lo.density } : {}),
    limitInputPixels: ctx.config.maxSourcePixels,
    sequentialRead: true,
  };
  ctx.decodes?.push({ buffer: src.buffer, options });
  const img = sharp(src.buffer, options);
  const canvas = new Canvas(img, w, h, animated ? meta.pages : 1, meta.channels);
  canvas.deadline = ctx.deadline;
  // A vector source rendered at another density has another size: known once decoded.
  if (lo.density !== undefined) canvas.markDimsUnknown();
  return { canvas, animated, ...(frames ? { frames } : {}) };
}

/** Run every component; returns the canvas ready to encode. */
export async function transform(opened: OpenedSource, plan: Plan, ctx: RenderContext): Promise<Canvas> {
  const { canvas } = opened;
  if (opened.frames) await canvas.keepFrames(opened.frames);
  const done: string[] = [];
  // What the renderer lends the transforms, plus the request's context (its vary, timing and
  // deadline objects shared). Set per component below: prefix and step.
  const ac: ApplyContext = { renderStill, ...ctx, step: '' };
  for (const c of plan.components) {
    // Per-step analysis caches (g_auto, faces) are keyed by what ran before this component.
    ac.prefix = done.join('/');
    ac.step = canonicalComponent(c);
    ac.deadline.check(`component ${done.length + 1}`);
    await runComponent(canvas, c, ac);
    done.push(ac.step);
  }
  return canvas;
}

/** RenderServices.renderStill: a layer's own plan on its source, first frame only, whatever the base's format. */
function renderStill(src: Source, meta: SourceMeta, plan: Plan, ctx: RenderContext): Promise<Canvas> {
  const out: OutputSettings = { format: { kind: 'auto', still: true }, flags: {} };
  return transform(openSource(src, meta, plan, out, ctx), plan, ctx);
}

/**
 * Whether a still image can be encoded straight from its pipeline: a fixed lossy format (one
 * q_auto can search: JPEG, WebP, AVIF; 8-bit output like the raw path) at a fixed or default
 * quality, and no alpha to flatten (JPEG). f_auto and q_auto judge the exact pixels, so they
 * take the raw path.
 */
function streamable(out: OutputSettings, canvas: Canvas): boolean {
  if (out.format.kind !== 'fixed' || out.quality?.kind === 'auto') return false;
  const f = out.format.format;
  return searchesQuality(f) && (formatRow(f).alpha || !canvas.hasAlpha);
}


function now(): number {
  return performance.now();
}

/** A canvas's pipeline with the plan's encoder (no q_auto search), e.g. for breakpoint samples. */
export function encodePipeline(canvas: Canvas, out: OutputSettings, meta: SourceMeta, animated: boolean, ctx: RenderContext): Sharp {
  const s = plainSettings(out, meta, animated, canvas.hasAlpha);
  let img = canvas.pipeline();
  if (canvas.hasAlpha && !formatRow(s.format).alpha) {
    const bg = canvas.background ?? { r: 255, g: 255, b: 255 };
    img = img.flatten({ background: { r: bg.r, g: bg.g, b: bg.b } });
  }
  return applyEncoder(img, s, ctx.config).timeout({ seconds: ctx.deadline.seconds('encoding') });
}

export async function render(src: Source, meta: SourceMeta, plan: Plan, out: OutputSettings, context: RenderContext): Promise<RenderResult> {
  const ctx: RenderContext = context.decodes ? context : { ...context, decodes: [] };
  try {
    const t0 = now();
    const opened = openSource(src, meta, plan, out, ctx);
    const findings = await inspect(opened.canvas, plan, ctx);
    const canvas = await transform(opened, plan, ctx);
    // A canvas that carries a vector rendition of its pixels (e_vectorize, nothing drawn after
    // it) is delivered as that document by an encoder that takes one (SVG).
    const vectorFormat = canvas.vector !== undefined ? pickFormat(out, meta, opened.animated, canvas.hasAlpha, 'graphic') : undefined;
    if (canvas.vector !== undefined && vectorFormat && encoderOf(vectorFormat).vector) {
      const body = Buffer.from(canvas.vector);
      ctx.timing.transform = (ctx.timing.transform ?? 0) + (now() - t0);
      return { body, format: vectorFormat, width: canvas.width, height: canvas.height, crop: canvas.visibleInputRegion(), ...(findings ? { findings } : {}) };
    }
    let raw: RawImage | undefined;
    const fused = !opened.animated && streamable(out, canvas);
    if (opened.animated || fused) {
      // Animated output is encoded straight from the pipeline: libvips then reuses the source
      // palette for GIF frames, which re-quantizing raw frames costs 10-20x more time.
      // A still image at a fixed lossy format and quality needs no pixels in memory either:
      // decode, transform and encode run as one libvips pipeline (its time is reported as
      // `encode`), which saves a raw copy and a second pipeline (~10% of a cold request).
      await canvas.ensureDims();
    } else {
      const m = await canvas.materialize();
      raw = { data: m.data, width: m.width, height: m.height, channels: m.channels as RawImage['channels'] };
    }
    const t1 = now();
    const outW = canvas.width, outH = canvas.height;
    refuseOver({ width: outW, height: outH, pages: canvas.pages }, ctx.config, 'the output', false);
    // The plan walk refused what it could size; sizes that depended on the pixels (e_trim) and
    // the format chosen with the real alpha are checked here.
    refuseOverEncoder(pickFormat(out, meta, opened.animated, canvas.hasAlpha, 'photo'), { width: outW, height: outH, pages: canvas.pages }, ctx.config);
    const bg = canvas.background ? { r: canvas.background.r, g: canvas.background.g, b: canvas.background.b } : undefined;
    let enc: Encoded;
    if (raw) {
      enc = await encodeStill(raw, out, meta, `${src.identity}\n${plan.canonical}`, bg, ctx);
    } else {
      // kept frames (pg_ selection) keep their own delays
      const frames = opened.frames;
      const m = frames ? { ...meta, pages: frames.length, ...(meta.delay ? { delay: frames.map((i) => meta.delay![i] ?? meta.delay![0]) } : {}) } : meta;
      const s = opened.animated ? animatedSettings(out, m) : plainSettings(out, meta, false, canvas.hasAlpha);
      const body = await applyEncoder(canvas.pipeline(), s, ctx.config).timeout({ seconds: ctx.deadline.seconds('encoding') }).toBuffer();
      enc = { body, format: s.format };
    }
    const t2 = now();
    ctx.timing.transform = (ctx.timing.transform ?? 0) + (t1 - t0);
    ctx.timing.encode = (ctx.timing.encode ?? 0) + (t2 - t1);
    return { body: enc.body, format: enc.format, width: outW, height: outH, crop: canvas.visibleInputRegion(), ...(enc.quality !== undefined ? { quality: enc.quality } : {}), ...(findings ? { findings } : {}) };
  } catch (e) {
    // A source that does not decode is the request's fault (4xx); the renderer's failures are 500s.
    throw await blame(e, ctx.decodes!, ctx.deadline);
  }
}
