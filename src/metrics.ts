/**
 * Prometheus metrics on a registry of their own (never prom-client's global one), so that every
 * server built in a test gets a fresh set and two servers in one process do not collide.
 * Names follow Prometheus conventions: `aperture_` prefix, base units (seconds, bytes), `_total`
 * for counters. Label values are small closed sets; never put a URL or public id in a label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import sharp from 'sharp';

export const TRANSFORM_PHASES = ['load', 'analyze', 'resize', 'encode'] as const;
export type TransformPhase = (typeof TRANSFORM_PHASES)[number];
export const CACHE_TIERS = ['l1', 'l2', 'edge'] as const;
export type CacheTier = (typeof CACHE_TIERS)[number];
export const CACHE_RESULTS = ['hit', 'miss'] as const;

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'status'>;
  httpDuration: Histogram<'route' | 'status'>;
  /** Seconds per pipeline phase: load, analyze, resize, encode. */
  transformPhase: Histogram<'phase'>;
  /** tier: l1 | l2 | edge; result: hit | miss. */
  cacheLookups: Counter<'tier' | 'result'>;
  transformsInFlight: Gauge;
  transformsQueued: Gauge;
  /** Seconds to fetch a source; result: ok | error | not_found | timeout | too_large ... */
  originFetch: Histogram<'result'>;
  originErrors: Counter<'reason'>;
  transformsTotal: Counter;
}

export interface MetricsOptions {
  /** Process metrics (RSS, heap, event-loop lag, GC...). Default true; tests may turn it off. */
  collectDefault?: boolean;
  /** When given, `aperture_shared_tier_up` reports whether the Redis tier is usable at scrape time. */
  sharedTier?: { readonly connected: boolean };
}

const MB = 1024 * 1024;

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry });

  const httpRequests = new Counter({
    name: 'aperture_http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  const httpDuration = new Histogram({
    name: 'aperture_http_request_duration_seconds',
    help: 'Time from request to last byte, by route and status code.',
    labelNames: ['route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const transformPhase = new Histogram({
    name: 'aperture_transform_phase_seconds',
    help: 'Time spent in each phase of a transform (load, analyze, resize, encode).',
    labelNames: ['phase'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const cacheLookups = new Counter({
    name: 'aperture_cache_lookups_total',
    help: 'Result cache lookups by tier (l1 memory, l2 Redis, edge) and outcome.',
    labelNames: ['tier', 'result'] as const,
    registers,
  });
  const transformsInFlight = new Gauge({
    name: 'aperture_transforms_in_flight',
    help: 'Transforms running now.',
    registers,
  });
  const transformsQueued = new Gauge({
    name: 'aperture_transforms_queued',
    help: 'Transforms waiting for a slot.',
    registers,
  });
  const originFetch = new Histogram({
    name: 'aperture_origin_fetch_seconds',
    help: 'Time to load a source from its origin, by outcome.',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const originErrors = new Counter({
    name: 'aperture_origin_errors_total',
    help: 'Failed source loads, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const transformsTotal = new Counter({
    name: 'aperture_transforms_total',
    help: 'Transforms completed (results rendered, not served from a cache).',
    registers,
  });

  // libvips allocates outside the V8 heap, so RSS alone cannot tell a leak in JS from a busy
  // libvips; sharp reports its tracked memory in whole MB.
  new Gauge({
    name: 'aperture_libvips_memory_bytes',
    help: 'Memory tracked by libvips (current and high-water mark), from sharp.cache().',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const { memory } = sharp.cache();
      this.set({ kind: 'current' }, memory.current * MB);
      this.set({ kind: 'high' }, memory.high * MB);
    },
  });
  new Gauge({
    name: 'aperture_libvips_cache_items',
    help: 'Operations held in the libvips operation cache.',
    registers,
    collect() {
      this.set(sharp.cache().items.current);
    },
  });
  new Gauge({
    name: 'aperture_sharp_tasks',
    help: 'sharp tasks waiting for a libuv thread (queued) and running (processing).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const c = sharp.counters();
      this.set({ state: 'queued' }, c.queue);
      this.set({ state: 'processing' }, c.process);
    },
  });
  if (opts.sharedTier) {
    const tier = opts.sharedTier;
    new Gauge({
      name: 'aperture_shared_tier_up',
      help: '1 when the Redis shared tier is connected and answering, else 0.',
      registers,
      collect() {
        this.set(tier.connected ? 1 : 0);
      },
    });
  }

  // Zero the known series so rate() and absent() work from the first scrape, not the first event.
  for (const phase of TRANSFORM_PHASES) transformPhase.zero({ phase });
  for (const tier of CACHE_TIERS) for (const result of CACHE_RESULTS) cacheLookups.inc({ tier, result }, 0);

  return {
    registry, httpRequests, httpDuration, transformPhase, cacheLookups,
    transformsInFlight, transformsQueued, originFetch, originErrors, transformsTotal,
  };
}
