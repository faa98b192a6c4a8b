/**
 * Prometheus metrics on a registry of their own (never prom-client's global one), so that every
 * server built in a test gets a fresh set and two servers in one process do not collide.
 * Names follow Prometheus conventions: `aperture_` prefix, base units (seconds, bytes), `_total`
 * for counters. Label values are small closed sets; never put a URL or public id in a label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import sharp from 'sharp';

export const TRANSFORM_PHASES = ['load', 'analyze', 'resize', 'encode'] as const;
export type TransformPhase = (typeof TRANSFORM_PHASES)[number];
export const CACHE_TIERS = ['l1', 'l2', 'edge'] as const;
export type CacheTier = (typeof CACHE_TIERS)[number];
export const CACHE_RESULTS = ['hit', 'miss'] as const;

export interface Metrics {
  registry: Registry;
  /** Counts come from httpDuration at scrape time; recordHttp() is the way to count a response. */
  httpRequests: Counter<'route' | 'status'>;
  httpDuration: RouteHistogram;
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
  /** Count one L1 result-cache hit (cheaper than cacheLookups.inc on the hit path). */
  countL1Hit(): void;
  /** Count one HTTP response and observe its duration (label objects are reused per route + status). */
  recordHttp(route: string, status: number, ms: number): void;
}

export interface MetricsOptions {
  /** Process metrics (RSS, heap, event-loop lag, GC...). Default true; tests may turn it off. */
  collectDefault?: boolean;
  /** When given, `aperture_shared_tier_up` reports whether the Redis tier is usable at scrape time. */
  sharedTier?: { readonly connected: boolean };
  /** When given, background refinements (src/cache/refiner.ts) are reported at scrape time. */
  refiner?: { readonly pending: number; readonly done: number; readonly failed: number };
}

const MB = 1024 * 1024;

interface Series {
  readonly labels: { route: string; status: string };
  /** Non-cumulative counts per bucket; the last one is +Inf. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram labelled by route and status, in prom-client's registry format (the
 * registry reads any metric through get() → { name, help, type, values, aggregator }).
 */
export class RouteHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly byRoute = new Map<string, Map<number, Series>>();

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {}

  private series(route: string, status: number): Series {
    let byStatus = this.byRoute.get(route);
    if (!byStatus) this.byRoute.set(route, (byStatus = new Map()));
    let s = byStatus.get(status);
    if (!s) {
      s = { labels: { route, status: String(status) }, buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      byStatus.set(status, s);
    }
    return s;
  }

  record(route: string, status: number, seconds: number): void {
    const s = this.series(route, status);
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]) i++;
    s.buckets[i]++;
    s.sum += seconds;
    s.count++;
  }

  /** prom-client's Histogram signature, for callers holding a label object. */
  observe(labels: { route: string; status: string }, seconds: number): void {
    this.record(labels.route, Number(labels.status), seconds);
  }

  *allSeries(): IterableIterator<Series> {
    for (const byStatus of this.byRoute.values()) yield* byStatus.values();
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.allSeries()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.buckets[i];
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry });

  // HTTP metrics are recorded on every response, cache hits included, so their hot path is two
  // Map lookups and a few increments (RouteHistogram); prom-client's own observe() hashes its
  // label object on every call, which measured ~7% of a cache hit's CPU. The request counter
  // is a prom-client Counter brought up to date from the histogram's counts at scrape time.
  const httpDuration = new RouteHistogram(
    'aperture_http_request_duration_seconds',
    'Time from request to response handed to the socket, by route and status code.',
    [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  registry.registerMetric(httpDuration as unknown as Metric);
  const counted = new Map<Series, number>();
  const httpRequests = new Counter({
    name: 'aperture_http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers,
    collect() {
      for (const series of httpDuration.allSeries()) {
        const delta = series.count - (counted.get(series) ?? 0);
        if (delta > 0) this.inc(series.labels, delta);
        counted.set(series, series.count);
      }
    },
  });
  const transformPhase = new Histogram({
    name: 'aperture_transform_phase_seconds',
    help: 'Time spent in each phase of a transform (load, analyze, resize, encode).',
    labelNames: ['phase'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  // L1 hits are counted on the cache-hit path in a plain number and added at scrape time.
  let l1Hits = 0, l1HitsCounted = 0;
  const cacheLookups = new Counter({
    name: 'aperture_cache_lookups_total',
    help: 'Result cache lookups by tier (l1 memory, l2 Redis, edge) and outcome.',
    labelNames: ['tier', 'result'] as const,
    registers,
    collect() {
      if (l1Hits > l1HitsCounted) this.inc({ tier: 'l1', result: 'hit' }, l1Hits - l1HitsCounted);
      l1HitsCounted = l1Hits;
    },
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

  const refiner = opts.refiner;
  if (refiner) {
    new Gauge({
      name: 'aperture_refinements_pending',
      help: 'Results served with a fast encoding, waiting for (or in) their background refinement.',
      registers,
      collect() { this.set(refiner.pending); },
    });
    const counted = { done: 0, failed: 0 };
    new Counter({
      name: 'aperture_refinements_total',
      help: 'Background refinements finished, by result (done | failed).',
      labelNames: ['result'] as const,
      registers,
      collect() {
        for (const k of ['done', 'failed'] as const) {
          if (refiner[k] > counted[k]) this.inc({ result: k }, refiner[k] - counted[k]);
          counted[k] = refiner[k];
        }
      },
    });
  }
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

  function countL1Hit(): void {
    l1Hits++;
  }

  function recordHttp(route: string, status: number, ms: number): void {
    httpDuration.record(route, status, ms / 1000);
  }

  return {
    registry, httpRequests, httpDuration, transformPhase, cacheLookups,
    transformsInFlight, transformsQueued, originFetch, originErrors, transformsTotal, recordHttp, countL1Hit,
  };
}
