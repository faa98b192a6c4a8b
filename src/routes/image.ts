/**
 * The delivery route: `GET|HEAD /[<cloud>/]image/<type>/...` (and `/iu/...`). Parses the URL
 * and plan (memoized), checks access, loads the source, then answers from the result cache or
 * computes once (identical concurrent requests share the work) and sets the HTTP semantics of
 * url-api.md §5.
 */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseDeliveryUrl, type DeliveryUrl } from '../url/parse-url.ts';
import { parsePlan, type Plan } from '../plan/parse.ts';
import type { Component } from '../../transforms/types.ts';
import { Errors } from '../errors.ts';
import type { Source } from '../origin/types.ts';
import { readSourceMeta } from '../render/source-meta.ts';
import { outputSettings, render } from '../render/render.ts';
import { refinedConfig } from '../render/encode.ts';
import { formatRow, type OutputFormat } from '../formats.ts';
import type { CachedResult } from '../cache/result-cache.ts';
import type { StoredResult } from '../cache/redis-tier.ts';
import type { RenderContext } from '../render/context.ts';
import type { Delivery, RenderStage } from '../delivery.ts';
import type { Config } from '../config.ts';
import { isDynamic, resolvePlan } from '../negotiate/resolve.ts';
import { maybeSvg } from '../security/svg.ts';
import { ACCEPT_CH, parseHints } from '../negotiate/client-hints.ts';
import { attachmentDisposition, ifNoneMatchHits } from './http-headers.ts';
import type { RequestHints } from '../render/context.ts';
import { Deadline } from '../render/deadline.ts';
import { checkPlanBounds } from '../render/plan-bounds.ts';
import { byteMemo, deepFreeze, memoizedParse, parseMemo } from '../cache/memo.ts';

/** A URL's parse, memoized (cache/memo.ts): its url and plan are frozen, shared by every request for it. */
interface Parsed {
  url: DeliveryUrl;
  plan: Plan;
  /** Cacheable as immutable: a versioned URL, or fl_immutable_cache. */
  immutable: boolean;
  /** No automatic values and no image layers: the result depends on the URL and the source only. */
  simple: boolean;
  /** For simple plans: the result key last built, and the source identity it was built for. */
  lastKey?: { identity: string; key: string };
  /** Access also depends on the source's format (Access.needsFormatCheck). */
  formatCheck: boolean;
}

/** Headers a cached result always answers with, computed once per result. */
interface ResultHeaders {
  vary?: string;
  width?: string;
  dpr?: string;
  /** Server-Timing entries after the timings (`, width;desc=800, dpr;desc=2`). */
  timingTail: string;
  disposition?: string;
  /** Cache-Control of a provisional result (one a background refinement will replace). */
  cacheControl?: string;
}

const L1_MISS = { tier: 'l1', result: 'miss' } as const;
const LOAD_PHASE = { phase: 'load' } as const;

const headerMemo = new WeakMap<CachedResult, ResultHeaders>();
function responseHeaders(r: CachedResult, config: Config): ResultHeaders {
  let h = headerMemo.get(r);
  if (!h) {
    const { width, dpr = 1, attachment } = r.meta;
    h = {
      ...(r.vary.length ? { vary: r.vary.join(', ') } : {}),
      ...(width !== undefined ? { width: String(width), dpr: String(dpr) } : {}),
      timingTail: (width !== undefined ? `, width;desc=${width}, dpr;desc=${dpr}` : '') + (r.meta.provisional ? ', refine;desc="pending"' : ''),
      // A result answered with a fast encoder setting and queued for refinement
      // (src/cache/refiner.ts): edges and browsers keep it briefly, then get the refined bytes.
      ...(r.meta.provisional ? { cacheControl: `public, max-age=${config.provisionalMaxAgeSeconds}` } : {}),
      ...(attachment ? { disposition: attachmentDisposition(String(attachment)) } : {}),
    };
    headerMemo.set(r, h);
  }
  return h;
}

const IMMUTABLE = 'public, max-age=2592000, immutable';
const CACHEABLE = 'public, max-age=2592000';

/** Keys in Redis: a digest, since L1 keys hold paths and long canonical plans. */
function sharedKey(key: string): string {
  return crypto.createHash('sha1').update(key).digest('base64url');
}

function toStored(r: CachedResult): StoredResult {
  return { body: r.body, contentType: r.contentType, etag: r.etag, meta: { ...r.meta, vary: r.vary.join(', '), timing: JSON.stringify(r.timing) } };
}

function fromStored(s: StoredResult): CachedResult {
  const { vary, timing, ...meta } = s.meta;
  let t: Record<string, number> = {};
  try { t = JSON.parse(String(timing ?? '{}')) as Record<string, number>; } catch { /* older entry */ }
  return { body: s.body, contentType: s.contentType, etag: s.etag, vary: vary ? String(vary).split(', ').filter(Boolean) : [], meta, timing: t };
}

function etagOf(body: Buffer): string {
  return `"${crypto.createHash('sha1').update(body).digest('base64url')}"`;
}

function timingHeader(t: Record<string, number>, cache: string): string {
  const parts = Object.entries(t).map(([k, v]) => `${k};dur=${v.toFixed(1)}`);
  parts.push(`cache;desc="${cache}"`);
  return parts.join(', ');
}

/** The route pattern of image delivery (every GET/HEAD path the other routes do not claim). */
export const IMAGE_ROUTE = '/*';

export function imageRoutes(app: FastifyInstance, delivery: Delivery): void {
  const { config } = delivery;
  /** Parsed URLs, and the 4xx of refused ones (cache/memo.ts): a repeated URL is parsed once. */
  const parsedMemo = parseMemo<Parsed>(config.urlMemoBytes);

  function parseFresh(path: string): Parsed {
    const url = parseDeliveryUrl(path);
    if (!url) throw new Errors.NOT_FOUND(path);
    // A URL that needs a signature it lacks is refused before its transformation is read. The
    // outcome depends on the path and the config only, so a memoized path has passed it.
    delivery.access.check(url);
    const plan = parsePlan(url.components, config.namedTransformations, config.maxComponents, config.planMemoBytes);
    return {
      url: deepFreeze(url),
      plan,
      formatCheck: delivery.access.needsFormatCheck(url, plan),
      immutable: url.version !== undefined || plan.components.some((c) => Boolean(c.flags?.immutableCache)),
      simple: !isDynamic(plan) && imageLayers(plan).length === 0,
    };
  }
  const parse = (path: string): Parsed => memoizedParse(parsedMemo, path, parseFresh);

  /**
   * Sanitized SVG sources per source identity (security/svg.ts), bounded by bytes, and the
   * sanitizations in flight (concurrent requests for one new SVG share one).
   */
  const svgMemo = byteMemo<Source>(config.svgMemoBytes, (s) => 256 + s.buffer.length);
  const svgPending = new Map<string, Promise<Source>>();
  app.addHook('onClose', () => delivery.svg.close());

  /** The source as libvips may see it: an SVG only once sanitized, in the worker. */
  function sanitized(src: Source): Source | Promise<Source> {
    if (!maybeSvg(src.buffer)) return src;
    const hit = svgMemo.get(src.identity);
    if (hit) return hit;
    let p = svgPending.get(src.identity);
    if (!p) {
      p = delivery.svg.sanitize(src.buffer)
        .then((buffer) => {
          const clean = { ...src, buffer };
          svgMemo.set(src.identity, clean);
          return clean;
        })
        .finally(() => svgPending.delete(src.identity));
      svgPending.set(src.identity, p);
    }
    return p;
  }

  async function loadSource(url: DeliveryUrl): Promise<Source> {
    return sanitized(await delivery.origins.load(url));
  }

  /** The source, if the origin can vouch for it without I/O (see Origins.peek). */
  function peekSource(url: DeliveryUrl): Source | undefined {
    const src = delivery.origins.peek(url);
    if (!src || !maybeSvg(src.buffer)) return src;
    return svgMemo.get(src.identity);
  }

  /** `l_`/`u_` image layers: stored uploads, through the same origins (and sanitizer) as the base. */
  async function loadLayer(publicId: string, ext?: string): Promise<Source> {
    return sanitized(await delivery.origins.load({ type: 'upload', publicId, ...(ext ? { ext } : {}) }));
  }

  /** Image layers a plan draws (nested ones included), memoized per plan. */
  const layerMemo = new WeakMap<Plan, { publicId: string; ext?: string }[]>();
  function imageLayers(plan: Plan): { publicId: string; ext?: string }[] {
    let list = layerMemo.get(plan);
    if (!list) {
      const found: { publicId: string; ext?: string }[] = [];
      const walk = (components: readonly Component[]) => {
        for (const c of components) {
          for (const spec of [c.layer, c.underlay]) {
            if (!spec) continue;
            if (spec.source.kind === 'image') found.push({ publicId: spec.source.publicId, ...(spec.source.ext ? { ext: spec.source.ext } : {}) });
            walk(spec.components);
          }
        }
      };
      walk(plan.components);
      list = found;
      layerMemo.set(plan, list);
    }
    return list;
  }

  /** Identities of the layer images, so a changed layer file is never served stale. */
  async function layerIdentities(plan: Plan): Promise<string> {
    const layers = imageLayers(plan);
    if (!layers.length) return '';
    const ids = await Promise.all(layers.map((l) => loadLayer(l.publicId, l.ext).then((s) => s.identity, () => `missing:${l.publicId}`)));
    return ids.join('|');
  }

  /**
   * Pixel work of a request (a transform, breakpoint sampling): in an admission slot, answered
   * by the request's deadline at the latest. The slot is held until the work has really stopped
   * (libvips stops at its own timeout or the next deadline check), so admission counts it.
   */
  async function admitted<T>(deadline: Deadline, what: string, work: () => Promise<T>): Promise<T> {
    const { metrics, admission } = delivery;
    deadline.check(what);
    metrics.transformsQueued.set(admission.queued + 1);
    let release;
    try {
      release = await admission.acquire();
    } finally {
      metrics.transformsQueued.set(admission.queued);
    }
    metrics.transformsInFlight.set(admission.inFlight);
    const running = Promise.resolve().then(work).finally(() => {
      release();
      metrics.transformsInFlight.set(admission.inFlight);
    });
    return deadline.race(running, what);
  }

  /** Encoded results refused as larger than APERTURE_MAX_OUTPUT_BYTES, by result key: never rendered again. */
  const oversize = byteMemo<string>(config.oversizeMemoBytes, (reason) => 64 + reason.length);
  const oversizeErrors = new WeakSet<Error>();

  async function compute(url: DeliveryUrl, plan: Plan, src: Source, ctx: RenderContext, stage: RenderStage = 'render'): Promise<CachedResult> {
    const meta = await readSourceMeta(src, config);
    const out = outputSettings(plan, url.extFormat, meta);
    const { metrics } = delivery;
    // Sizes and work from the plan: refused before any pixel is made or a slot is taken.
    await ctx.deadline.race(checkPlanBounds(plan, meta, out, config, ctx.loadLayer), 'sizing the plan');
    const r = await admitted(ctx.deadline, 'the transformation', async () => {
      if (delivery.renderLatch) await delivery.renderLatch(stage);
      return render(src, meta, plan, out, ctx);
    });
    if (r.body.length > config.maxOutputBytes) {
      const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
      const e = new Errors.OUTPUT_TOO_LARGE(`the encoded result (${mb(r.body.length)}) exceeds the ${mb(config.maxOutputBytes)} limit`);
      oversizeErrors.add(e);
      throw e;
    }
    metrics.transformsTotal.inc();
    for (const [phase, ms] of Object.entries(ctx.timing)) {
      metrics.transformPhase.observe({ phase: phase === 'transform' ? 'resize' : phase }, ms / 1000);
    }
    // The DPR the last component that names one applied (dpr_auto is resolved by now).
    let dpr = 1;
    for (const c of plan.components) if (c.dpr !== undefined) dpr = Math.min(c.dpr, config.dprCap);
    const meta2: Record<string, string | number> = { format: r.format, width: r.width, height: r.height, dpr };
    if (out.flags.getinfo) {
      const info = {
        input: { width: meta.width, height: meta.height, format: meta.format, bytes: meta.bytes },
        output: { width: r.width, height: r.height, format: r.format, bytes: r.body.length },
        ...(r.crop ? { crop: r.crop } : {}),
        ...(r.objects ? { objects: r.objects } : {}),
      };
      const body = Buffer.from(JSON.stringify(info));
      return { body, contentType: 'application/json', etag: etagOf(body), vary: [...ctx.vary], meta: meta2, timing: { ...ctx.timing } };
    }
    // A fast encoding of a format that has a better, slower one: marked provisional, and the
    // route queues its refinement.
    if (refinedConfig(r.format, ctx.config)) meta2.provisional = delivery.now();
    if (out.flags.attachment) {
      const base = typeof out.flags.attachment === 'string' ? out.flags.attachment : url.publicId.split('/').pop() || 'image';
      meta2.attachment = `${base}.${formatRow(r.format).extensions[0]}`;
    }
    return { body: r.body, contentType: formatRow(r.format).mime, etag: etagOf(r.body), vary: [...ctx.vary], meta: meta2, timing: { ...ctx.timing } };
  }

  /**
   * Render `key` again with the slower encoder setting when the server is idle, and replace the
   * cached result (L1 and the shared tier). A refined encoding that is not smaller keeps the
   * first bytes, now final. A queued job holds only the parsed request (no pixels, no bytes):
   * when it runs it reloads the source, and it gives up if the provisional result has left L1 or
   * the source changed since (a later request renders and queues again).
   */
  function scheduleRefinement(key: string, url: DeliveryUrl, plan: Plan, first: RenderContext, format: OutputFormat): void {
    const refined = refinedConfig(format, config);
    if (!refined) return;
    const { hints, sourceIdentity, loadLayer, decisions } = first;
    const vary = [...first.vary];
    delivery.refiner.schedule(key, async () => {
      if (!delivery.results.get(key)?.meta.provisional) return;
      const src = await loadSource(url);
      if (src.identity !== sourceIdentity) return;
      // The first render's content decisions are replayed (no second g_auto analysis or face detection).
      const ctx: RenderContext = { config: refined, hints, vary: new Set(vary), sourceIdentity, prefix: '', timing: {}, deadline: new Deadline(config.processTimeoutMs), ...(loadLayer ? { loadLayer } : {}), ...(decisions ? { decisions } : {}) };
      let next = await compute(url, plan, src, ctx, 'refine');
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

  /**
   * The L1 result for `key`. A provisional one that another instance rendered (so no refinement
   * of it is queued here) is dropped once older than its max-age, so that the lookup reads the
   * shared tier again, where that instance stores the refined result.
   */
  function fromL1(key: string): CachedResult | undefined {
    const r = delivery.results.get(key);
    if (r?.meta.provisional && config.redisUrl && !delivery.refiner.has(key)
      && delivery.now() - Number(r.meta.provisional) > config.provisionalMaxAgeSeconds * 1000) {
      delivery.results.delete(key);
      return undefined;
    }
    return r;
  }

  /** Result cache key: source bytes, plan, URL extension, resolved variant, layer files. */
  const resultKey = (src: Source, parsed: Parsed, variant: string, layers: string) =>
    `${src.identity}\n${parsed.plan.canonical}\n${parsed.url.extFormat ?? ''}\n${variant}\n${layers}`;

  /** Headers and body of a result (or 304), per url-api.md §5. Synchronous. */
  function sendResult(request: FastifyRequest, reply: FastifyReply, parsed: Parsed, plan: Plan, result: CachedResult,
    cacheState: string, timing: Record<string, number> | undefined, loadMs: number, t0: number): FastifyReply {
    const h = responseHeaders(result, config);
    reply.header('accept-ch', ACCEPT_CH);
    reply.header('cache-control', h.cacheControl ?? (parsed.immutable ? IMMUTABLE : CACHEABLE));
    reply.header('etag', result.etag);
    if (h.vary) reply.header('vary', h.vary);
    // Delivered width and DPR, also as Server-Timing entries: those are CORS-exposed and
    // readable from PerformanceResourceTiming for an <img> (Timing-Allow-Origin: *).
    if (h.width !== undefined) reply.header('x-aperture-width', h.width).header('x-aperture-dpr', h.dpr);
    const total = performance.now() - t0;
    const st = timing
      ? timingHeader({ load: loadMs, ...timing, total }, cacheState)
      : `load;dur=${loadMs.toFixed(1)}, total;dur=${total.toFixed(1)}, cache;desc="${cacheState}"`;
    reply.header('server-timing', st + h.timingTail);
    if (h.disposition) reply.header('content-disposition', h.disposition);
    if (ifNoneMatchHits(request.headers['if-none-match'], result.etag, config.maxIfNoneMatchBytes)) {
      reply.code(304).send();
    } else {
      reply.header('content-type', result.contentType);
      reply.send(result.body);
    }
    delivery.metrics.recordHttp('image', reply.statusCode, reply.elapsedTime);
    return reply;
  }

  /**
   * The route. A cache hit for a plan that needs nothing from the request (no automatic values,
   * no layers) is answered synchronously when the origin can vouch for its source without I/O
   * (a validated local file); everything else takes the asynchronous path.
   */
  function handler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> | undefined {
    const t0 = performance.now();
    const rawUrl = request.raw.url ?? '/';
    const q = rawUrl.indexOf('?');
    const parsed = parse(q === -1 ? rawUrl : rawUrl.slice(0, q));
    if (parsed.simple && !parsed.formatCheck) {
      const src = peekSource(parsed.url);
      let result: CachedResult | undefined;
      if (src) {
        // The key of a simple plan depends on the source only: reuse the last one built.
        let key = parsed.lastKey;
        if (key?.identity !== src.identity) parsed.lastKey = key = { identity: src.identity, key: resultKey(src, parsed, '', '') };
        result = fromL1(key.key);
      }
      if (result) {
        delivery.metrics.countL1Hit();
        sendResult(request, reply, parsed, parsed.plan, result, 'l1', undefined, 0, t0);
        return undefined;
      }
    }
    return general(request, reply, parsed, t0);
  }

  async function general(request: FastifyRequest, reply: FastifyReply, parsed: Parsed, t0: number): Promise<FastifyReply> {
    const { url } = parsed;
    // The processing budget of the whole request: sampling, layers, components, encode.
    const deadline = new Deadline(config.processTimeoutMs);
    const tl = performance.now();
    const src = await loadSource(url);
    const loadMs = performance.now() - tl;
    if (parsed.formatCheck) delivery.access.checkFormat(url, await readSourceMeta(src, config));

    // Hints and Vary matter to dynamic plans and to computations; a plain cache hit skips them.
    let hints: RequestHints | undefined;
    let vary: Set<string> | undefined;
    let plan = parsed.plan;
    let variant = '';
    if (isDynamic(plan)) {
      hints = parseHints(request.headers);
      vary = new Set<string>();
      const meta = await readSourceMeta(src, config);
      const admit = <T>(work: (d: Deadline) => Promise<T>) => admitted(deadline, 'breakpoint sampling', () => work(deadline));
      const r = await resolvePlan(plan, { hints, vary, config, source: src, meta, plan, extFormat: url.extFormat, admit });
      if (r.json !== undefined) {
        reply.header('Cache-Control', CACHEABLE);
        reply.header('Accept-CH', ACCEPT_CH);
        if (vary.size) reply.header('Vary', [...vary].join(', '));
        reply.type('application/json').send(r.json);
        delivery.metrics.recordHttp('image', reply.statusCode, reply.elapsedTime);
        return reply;
      }
      plan = r.plan;
      variant = r.variant;
    }
    const key = resultKey(src, parsed, variant, imageLayers(plan).length ? await deadline.race(layerIdentities(plan), 'loading the layers') : '');
    const { metrics, tier } = delivery;
    let result = fromL1(key);
    let cacheState = 'l1';
    if (result) {
      metrics.countL1Hit();
    } else {
      metrics.cacheLookups.inc(L1_MISS);
      const refused = oversize.get(key);
      if (refused) throw new Errors.OUTPUT_TOO_LARGE(refused);
      const ctx: RenderContext = { config, hints: hints ?? parseHints(request.headers), vary: vary ?? new Set<string>(), sourceIdentity: src.identity, prefix: '', timing: {}, deadline, loadLayer, decisions: new Map(), ...(config.redisUrl ? { shared: delivery.tier } : {}) };
      // L1 miss: one computation per key in this process; across instances the shared tier
      // serves a result another instance made, or lets exactly one of them make it.
      let from = 'computed' as 'l2' | 'computed';
      const r = await delivery.results.getOrCompute(key, async () => {
        const shared = await tier.coalesce(sharedKey(key), async () => toStored(await compute(url, plan, src, ctx)));
        from = shared.source;
        return fromStored(shared.result);
      }).catch((e: unknown) => {
        if (e instanceof Error && oversizeErrors.has(e)) oversize.set(key, e.message.replace(/^Requested output too large: /, ''));
        throw e;
      });
      result = r.result;
      cacheState = !r.computed ? 'l1' : from === 'l2' ? 'l2' : 'miss';
      // The load phase of a transform (a cache hit is not one).
      if (cacheState === 'miss') metrics.transformPhase.observe(LOAD_PHASE, loadMs / 1000);
      if (r.computed) metrics.cacheLookups.inc({ tier: 'l2', result: from === 'l2' ? 'hit' : 'miss' });
      if (r.computed && from === 'computed' && result.meta.provisional) scheduleRefinement(key, url, plan, ctx, result.meta.format as OutputFormat);
    }
    return sendResult(request, reply, parsed, plan, result, cacheState, cacheState === 'miss' ? result.timing : undefined, loadMs, t0);
  }

  app.get(IMAGE_ROUTE, handler);
}
