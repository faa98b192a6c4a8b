/**
 * The result for a key: the process cache (L1), then the shared tier (Redis, L2), then made once
 * (identical concurrent requests share the work here, and across instances the shared tier
 * lets exactly one of them make it). A key whose result was refused as too large is refused
 * again at once, without rendering.
 */
import type { Delivery } from '../delivery.ts';
import type { CachedResult } from '../cache/result-cache.ts';
import type { RenderContext } from '../render/context.ts';
import type { OutputFormat } from '../formats.ts';
import { hasCode, type HttpError } from '../errors.ts';
import { parseHints } from '../negotiate/client-hints.ts';
import { byteMemo } from '../cache/memo.ts';
import type { Sources } from './source.ts';
import type { Producer } from './produce.ts';
import type { Job } from './resolve.ts';
import type { CacheState } from './respond.ts';
import { fromStored, sharedKey, toStored } from './key.ts';

const L1_MISS = { tier: 'l1', result: 'miss' } as const;
const LOAD_PHASE = { phase: 'load' } as const;

export interface Lookup {
  /** The L1 result for `key`, counted as a hit; undefined (not counted) otherwise. No I/O. */
  l1(key: string): CachedResult | undefined;
  /** The result for a resolved request and its key, and where it came from. */
  get(key: string, job: Job): Promise<{ result: CachedResult; cache: CacheState }>;
}

export function createLookup(delivery: Delivery, sources: Sources, producer: Producer): Lookup {
  const { config, metrics, results, tier } = delivery;
  /** Results refused as too large (Errors.TOO_LARGE), by result key: the same request is refused at once. */
  const oversize = byteMemo<HttpError>(config.oversizeMemoBytes, (e) => 64 + e.message.length);

  /**
   * A provisional L1 result that another instance rendered (so no refinement of it is queued
   * here) is dropped once older than its max-age, so that the lookup reads the shared tier
   * again, where that instance stores the refined result.
   */
  function fromL1(key: string): CachedResult | undefined {
    const r = results.get(key);
    if (r?.meta.provisional && config.redisUrl && !delivery.refiner.has(key)
      && delivery.now() - Number(r.meta.provisional) > config.provisionalMaxAgeSeconds * 1000) {
      results.delete(key);
      return undefined;
    }
    return r;
  }

  function l1(key: string): CachedResult | undefined {
    const r = fromL1(key);
    if (r) metrics.countL1Hit();
    return r;
  }

  return {
    l1,
    async get(key, job) {
      const hit = l1(key);
      if (hit) return { result: hit, cache: 'l1' };
      metrics.cacheLookups.inc(L1_MISS);
      const refused = oversize.get(key);
      if (refused) throw refused;
      const { parsed: { url }, plan, src } = job;
      const ctx: RenderContext = {
        config, hints: job.hints ?? parseHints(job.headers), vary: job.vary ?? new Set<string>(), sourceIdentity: src.identity,
        prefix: '', timing: {}, deadline: job.deadline, loadLayer: sources.loadLayer, decisions: new Map(),
        ...(config.redisUrl ? { shared: tier } : {}),
      };
      let from = 'computed' as 'l2' | 'computed';
      const r = await results.getOrCompute(key, async () => {
        const shared = await tier.coalesce(sharedKey(key), async () => toStored(await producer.produce(url, plan, src, ctx)));
        from = shared.source;
        return fromStored(shared.result);
      }).catch((e: unknown) => {
        if (hasCode(e, 'TOO_LARGE')) oversize.set(key, e);
        throw e;
      });
      const cache: CacheState = !r.computed ? 'l1' : from === 'l2' ? 'l2' : 'miss';
      // The load phase of a render (a cache hit is not one).
      if (cache === 'miss') metrics.transformPhase.observe(LOAD_PHASE, job.loadMs / 1000);
      if (r.computed) metrics.cacheLookups.inc({ tier: 'l2', result: from === 'l2' ? 'hit' : 'miss' });
      if (cache === 'miss' && r.result.meta.provisional) producer.refine(key, url, plan, ctx, r.result.meta.format as OutputFormat);
      return { result: r.result, cache };
    },
  };
}
