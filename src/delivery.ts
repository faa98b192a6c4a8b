/** The parts a delivery request uses, built once per server from the config. */
import type { Config } from './config.ts';
import { ResultCache } from './cache/result-cache.ts';
import { Admission } from './admission.ts';
import { createAccess, type Access } from './security/access.ts';
import { createOrigins, type Origins } from './origin/index.ts';
import type { HttpOriginOptions } from './origin/http.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createNoopTier, createRedisTier, type SharedTier, type TierLog } from './cache/redis-tier.ts';
import { Refiner } from './cache/refiner.ts';

export interface Delivery {
  readonly config: Config;
  readonly results: ResultCache;
  readonly admission: Admission;
  readonly access: Access;
  readonly origins: Origins;
  readonly metrics: Metrics;
  /** Shared L2 (Redis) when APERTURE_REDIS_URL is set; a no-op tier otherwise. */
  readonly tier: SharedTier;
  /** Re-renders results served with a fast encoder setting, when no transform is waiting. */
  readonly refiner: Refiner;
}

export interface DeliveryOptions {
  /** For tests: a DNS stub for the SSRF guard. */
  http?: HttpOriginOptions;
  /** Where the shared tier reports going down/up (default: console). */
  log?: TierLog;
  /** Process-level metrics (RSS, GC, ...); off in most tests. Default true. */
  defaultMetrics?: boolean;
}

export function createDelivery(config: Config, opts: DeliveryOptions = {}): Delivery {
  const log: TierLog = opts.log ?? { info: (m) => console.log(m), warn: (m) => console.warn(m) };
  const tier = config.redisUrl ? createRedisTier(config, log) : createNoopTier();
  const admission = new Admission(config.concurrency, config.queueSize, config.queueTimeoutMs);
  const refiner = new Refiner(() => admission.inFlight === 0 && admission.queued === 0, config.refineQueue, (e) => log.warn(`refinement failed: ${e instanceof Error ? e.message : String(e)}`));
  return {
    tier,
    metrics: createMetrics({ collectDefault: opts.defaultMetrics ?? true, refiner, ...(config.redisUrl ? { sharedTier: tier } : {}) }),
    config,
    results: new ResultCache(config.cacheBytes, config.maxOutputBytes),
    admission,
    refiner,
    access: createAccess(config),
    origins: createOrigins(config, opts.http),
  };
}
