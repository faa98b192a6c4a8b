/** The parts a delivery request uses, built once per server from the config. */
import type { Config } from './config.ts';
import { ResultCache } from './cache/result-cache.ts';
import { Admission } from './admission.ts';
import { createAccess, type Access } from './security/access.ts';
import { createOrigins, type OriginOptions, type Origins } from './origin/index.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createNoopTier, createRedisTier, type SharedTier, type TierLog } from './cache/redis-tier.ts';
import { Refiner } from './cache/refiner.ts';
import { createSvgSanitizer, type SvgSanitizer } from './security/svg.ts';
import { createInvalidations, type Invalidations } from './cache/invalidation.ts';

export interface Delivery {
  readonly config: Config;
  readonly results: ResultCache;
  readonly admission: Admission;
  /**
   * Upload API calls in progress: at most `concurrency - 1` (at least 1) at once, each also
   * taking `admission` slots for its pixel work, so uploads never hold every transform slot and
   * a burst of them waits here rather than in front of the renders.
   */
  readonly uploads: Admission;
  readonly access: Access;
  readonly origins: Origins;
  readonly metrics: Metrics;
  /** Shared L2 (Redis) when APERTURE_REDIS_URL is set; a no-op tier otherwise. */
  readonly tier: SharedTier;
  /** Re-renders results served with a fast encoder setting, when no transform is waiting. */
  readonly refiner: Refiner;
  /** Forgets changed originals here and on the other instances (Redis pub/sub). */
  readonly invalidations: Invalidations;
  /** Sanitizes SVG sources in a worker thread (security/svg.ts). */
  readonly svg: SvgSanitizer;
  /** The wall clock behaviour is judged by (provisional max-age, source freshness); Date.now unless injected. */
  readonly now: () => number;
  /** DeliveryOptions.renderLatch, when set. */
  readonly renderLatch?: RenderLatch;
}

/** What a render waits on before it starts: a first render for a request, or a background refinement. */
export type RenderStage = 'render' | 'refine';
/**
 * Awaited by a transform while it holds its admission slot, right before it renders. Tests hold
 * renders in flight with it and release them when they choose; unset, it costs nothing.
 */
export type RenderLatch = (stage: RenderStage) => Promise<void>;

export interface DeliveryOptions {
  /** For tests: a DNS stub for the SSRF guard, the negative TTL of remote sources. */
  http?: OriginOptions;
  /** Where the shared tier reports going down/up (default: console). */
  log?: TierLog;
  /** Process-level metrics (RSS, GC, ...); off in most tests. Default true. */
  defaultMetrics?: boolean;
  /** For tests: holds every SVG sanitization in the worker until released (see SvgWorkerData.latch). */
  svgLatch?: Int32Array;
  /** For tests: hold each render in flight until the returned promise settles (see RenderLatch). */
  renderLatch?: RenderLatch;
  /** For tests: the clock (milliseconds since the epoch) instead of Date.now, so a test advances time instead of sleeping. */
  now?: () => number;
}

export function createDelivery(config: Config, opts: DeliveryOptions = {}): Delivery {
  const log: TierLog = opts.log ?? { info: (m) => console.log(m), warn: (m) => console.warn(m) };
  const tier = config.redisUrl ? createRedisTier(config, log, opts.now) : createNoopTier();
  const admission = new Admission(config.concurrency, config.queueSize, config.queueTimeoutMs);
  const refiner = new Refiner(() => admission.inFlight === 0 && admission.queued === 0, config.refineQueue, (e) => log.warn(`refinement failed: ${e instanceof Error ? e.message : String(e)}`));
  const origins = createOrigins(config, opts.now ? { now: opts.now, ...opts.http } : opts.http);
  return {
    tier,
    invalidations: createInvalidations(tier, origins),
    metrics: createMetrics({ collectDefault: opts.defaultMetrics ?? true, refiner, ...(config.redisUrl ? { sharedTier: tier } : {}) }),
    config,
    results: new ResultCache(config.cacheBytes, config.maxOutputBytes),
    admission,
    uploads: new Admission(Math.max(1, config.concurrency - 1), config.queueSize, config.queueTimeoutMs),
    refiner,
    access: createAccess(config),
    svg: createSvgSanitizer({ maxBytes: config.maxSvgBytes, ...(opts.svgLatch ? { latch: opts.svgLatch } : {}) }),
    origins,
    now: opts.now ?? Date.now,
    ...(opts.renderLatch ? { renderLatch: opts.renderLatch } : {}),
  };
}
