/**
 * Making a result: the plan sized before any pixel (render/plan-bounds.ts), the render in an
 * admission slot within the request's deadline (the render latch of tests waits there), the
 * encoded size held to APERTURE_MAX_OUTPUT_BYTES, the answer shaped by the transforms' `respond`
 * hooks (fl_getinfo, fl_attachment, fl_immutable_cache, dpr), and a fast encoding handed to the
 * refiner to be replaced by a slower, better one when the server is idle.
 */
import type { Delivery, RenderStage } from '../delivery.ts';
import type { DeliveryUrl } from '../url/parse-url.ts';
import type { Plan } from '../plan/parse.ts';
import { TRANSFORMS } from '../../transforms/index.ts';
import type { RespondContext } from '../../transforms/types.ts';
import { Errors } from '../errors.ts';
import type { Source } from '../origin/types.ts';
import { readSourceMeta } from '../render/source-meta.ts';
import { outputSettings, render } from '../render/render.ts';
import { refinedConfig } from '../render/encode.ts';
import { formatRow, type OutputFormat } from '../formats.ts';
import type { CachedResult } from '../cache/result-cache.ts';
import type { RenderContext } from '../render/context.ts';
import { Deadline } from '../render/deadline.ts';
import { checkPlanBounds } from '../render/plan-bounds.ts';
import type { Sources } from './source.ts';
import { etagOf, sharedKey, toStored } from './key.ts';

/** The transforms that shape the answer (TransformDef.respond), in registry order. */
const RESPONDERS = TRANSFORMS.filter((t) => t.respond);

/**
 * Gives up the caller's admission slot while `wait` runs, and takes one again (at the head of
 * the queue) before returning: for work that waits on another process (the background removal
 * model's queue), so that the slot serves other renders meanwhile.
 */
export type OutsideSlot = <T>(wait: () => Promise<T>) => Promise<T>;

/**
 * Pixel work of a request (a render, breakpoint sampling): in an admission slot, answered by the
 * request's deadline at the latest. The slot is held until the work has really stopped (libvips
 * stops at its own timeout or the next deadline check), so admission counts it. The work may
 * step out of its slot through `outside` while it waits on another process.
 */
export async function admitted<T>(delivery: Delivery, deadline: Deadline, what: string, work: (outside: OutsideSlot) => Promise<T>): Promise<T> {
  const { metrics, admission } = delivery;
  deadline.check(what);
  const take = async (resume: boolean) => {
    metrics.transformsQueued.set(admission.queued + 1);
    try {
      return await admission.acquire(resume);
    } finally {
      metrics.transformsQueued.set(admission.queued);
      metrics.transformsInFlight.set(admission.inFlight);
    }
  };
  let release: (() => void) | undefined = await take(false);
  const giveBack = () => {
    release?.();
    release = undefined;
    metrics.transformsInFlight.set(admission.inFlight);
  };
  const outside: OutsideSlot = async (wait) => {
    giveBack();
    try {
      return await wait();
    } finally {
      release = await take(true);
    }
  };
  const running = Promise.resolve().then(() => work(outside)).finally(giveBack);
  return deadline.race(running, what);
}

export interface Producer {
  /** Render and encode `plan` on `src` as the result to cache; `stage` tells the render latch which it is. */
  produce(url: DeliveryUrl, plan: Plan, src: Source, ctx: RenderContext, stage?: RenderStage): Promise<CachedResult>;
  /**
   * Queue the refinement of the provisional result cached as `key`, made with `first`: when the
   * server is idle it is rendered again with the slower encoder setting and replaces the cached
   * result (L1 and the shared tier); a refined encoding that is not smaller keeps the first
   * bytes, now final. A queued job holds only the parsed request (no pixels, no bytes): it
   * reloads the source, and gives up if the provisional result has left L1 or the source changed.
   */
  refine(key: string, url: DeliveryUrl, plan: Plan, first: RenderContext, format: OutputFormat): void;
}

export function createProducer(delivery: Delivery, sources: Sources): Producer {
  const { config, metrics } = delivery;

  async function produce(url: DeliveryUrl, plan: Plan, src: Source, ctx: RenderContext, stage: RenderStage = 'render'): Promise<CachedResult> {
    const meta = await readSourceMeta(src, config);
    const out = outputSettings(plan, url.extFormat, meta);
    // Sizes and work from the plan: refused before any pixel is made or a slot is taken.
    await ctx.deadline.race(checkPlanBounds(plan, meta, out, config, ctx.loadLayer), 'sizing the plan');
    const r = await admitted(delivery, ctx.deadline, 'the transformation', async (outside) => {
      if (delivery.renderLatch) await delivery.renderLatch(stage);
      return render(src, meta, plan, out, { ...ctx, outsideSlot: outside });
    });
    if (r.body.length > config.maxOutputBytes) {
      const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
      throw new Errors.TOO_LARGE(`the encoded result (${mb(r.body.length)}) exceeds the ${mb(config.maxOutputBytes)} limit`, 'output');
    }
    metrics.transformsTotal.inc();
    for (const [phase, ms] of Object.entries(ctx.timing)) {
      metrics.transformPhase.observe({ phase: phase === 'transform' ? 'resize' : phase }, ms / 1000);
    }
    const row = formatRow(r.format);
    const rc: RespondContext = {
      config,
      input: { width: meta.width, height: meta.height, format: meta.format, bytes: meta.bytes },
      output: { width: r.width, height: r.height, format: r.format, bytes: r.body.length, extension: row.extensions[0], ...(r.crop ? { crop: r.crop } : {}) },
      findings: r.findings ?? {},
      name: url.publicId.split('/').pop() || 'image',
    };
    for (const c of plan.components) {
      for (const t of RESPONDERS) {
        const v = (c as Record<string, unknown>)[t.planKey];
        if (v !== undefined) t.respond!(v as never, rc);
      }
    }
    const m: Record<string, string | number> = { format: r.format, width: r.width, height: r.height, dpr: rc.dpr ?? 1 };
    if (rc.immutable) m.immutable = 1;
    const made = { vary: [...ctx.vary], meta: m, timing: { ...ctx.timing } };
    if (rc.json !== undefined) {
      const body = Buffer.from(JSON.stringify(rc.json));
      return { body, contentType: 'application/json', etag: etagOf(body), ...made };
    }
    // A fast encoding of a format that has a better, slower one: marked provisional, and the
    // lookup queues its refinement.
    if (refinedConfig(r.format, ctx.config)) m.provisional = delivery.now();
    if (rc.attachment) m.attachment = rc.attachment;
    return { body: r.body, contentType: row.mime, etag: etagOf(r.body), ...made };
  }

  function refine(key: string, url: DeliveryUrl, plan: Plan, first: RenderContext, format: OutputFormat): void {
    const refined = refinedConfig(format, config);
    if (!refined) return;
    const { hints, sourceIdentity, loadLayer, decisions } = first;
    const vary = [...first.vary];
    delivery.refiner.schedule(key, async () => {
      if (!delivery.results.get(key)?.meta.provisional) return;
      const { src } = await sources.loadOrFallback(url, plan);
      if (src.identity !== sourceIdentity) return;
      const ctx: RenderContext = { config: refined, hints, vary: new Set(vary), sourceIdentity, prefix: '', timing: {}, deadline: new Deadline(config.processTimeoutMs), ...(loadLayer ? { loadLayer } : {}), ...(decisions ? { decisions } : {}) };
      // (the first render's content decisions are replayed: no second g_auto analysis or face detection)
      let next = await produce(url, plan, src, ctx, 'refine');
      const provisional = delivery.results.get(key);
      if (!provisional?.meta.provisional) return;
      if (next.meta.format !== provisional.meta.format || next.body.length >= provisional.body.length) {
        const { provisional: _, ...meta } = provisional.meta;
        next = { ...provisional, meta };
      }
      delivery.results.set(key, next);
      await delivery.tier.setResult(sharedKey(key), toStored(next));
    });
  }

  return { produce, refine };
}
