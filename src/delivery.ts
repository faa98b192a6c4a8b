/** The parts a delivery request uses, built once per server from the config. */
import type { Config } from './config.ts';
import { ResultCache } from './cache/result-cache.ts';
import { Admission } from './admission.ts';
import { createAccess, type Access } from './security/access.ts';
import { createOrigins, type Origins } from './origin/index.ts';
import type { HttpOriginOptions } from './origin/http.ts';

export interface Delivery {
  readonly config: Config;
  readonly results: ResultCache;
  readonly admission: Admission;
  readonly access: Access;
  readonly origins: Origins;
}

export interface DeliveryOptions {
  /** For tests: a DNS stub for the SSRF guard. */
  http?: HttpOriginOptions;
}

export function createDelivery(config: Config, opts: DeliveryOptions = {}): Delivery {
  return {
    config,
    results: new ResultCache(config.cacheBytes),
    admission: new Admission(config.concurrency, config.queueSize, config.queueTimeoutMs),
    access: createAccess(config),
    origins: createOrigins(config, opts.http),
  };
}
