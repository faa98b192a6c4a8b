/**
 * In-process result cache: an LRU bounded in bytes, whose `fetch()` makes identical concurrent
 * misses share one computation (lru-cache keeps one in-flight promise per key).
 */
import { LRUCache } from 'lru-cache';

export interface CachedResult {
  body: Buffer;
  contentType: string;
  /** Strong ETag, quoted. */
  etag: string;
  /** Request headers that changed this result (for Vary). */
  vary: readonly string[];
  /** Resolved variant and facts the pipeline turns into headers (pipeline/respond.ts) (format, width, dpr, ...). */
  meta: Record<string, string | number>;
  /** Timings of the computation that made it, in ms. */
  timing: Record<string, number>;
}

export type Compute = () => Promise<CachedResult>;

/** Fixed overhead per entry so that many tiny results still count against the bound. */
const ENTRY_OVERHEAD = 512;

export class ResultCache {
  private readonly lru: LRUCache<string, CachedResult, Compute>;

  /**
   * `maxEntryBytes`: the largest result kept (the pipeline refuses larger ones,
   * APERTURE_MAX_OUTPUT_BYTES), so every result served is cached; capped at the whole bound.
   */
  constructor(maxBytes: number, maxEntryBytes = Math.floor(maxBytes / 8)) {
    this.lru = new LRUCache<string, CachedResult, Compute>({
      maxSize: Math.max(ENTRY_OVERHEAD, maxBytes),
      sizeCalculation: (v) => v.body.length + ENTRY_OVERHEAD,
      maxEntrySize: Math.max(ENTRY_OVERHEAD, Math.min(maxBytes, maxEntryBytes + ENTRY_OVERHEAD)),
      fetchMethod: (_key, _stale, { context }) => context(),
      // A failed computation is never cached; the next request tries again.
      noDeleteOnFetchRejection: false,
    });
  }

  get(key: string): CachedResult | undefined {
    return this.lru.get(key);
  }

  /** Cached value, or the one shared computation for this key. `computed` tells who did the work. */
  async getOrCompute(key: string, compute: Compute): Promise<{ result: CachedResult; computed: boolean }> {
    const hit = this.lru.get(key);
    if (hit) return { result: hit, computed: false };
    let ran = false;
    const result = await this.lru.fetch(key, { context: () => { ran = true; return compute(); } });
    if (!result) throw new Error('result cache fetch returned nothing');
    return { result, computed: ran };
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  set(key: string, value: CachedResult): void {
    this.lru.set(key, value);
  }

  get size(): number {
    return this.lru.size;
  }

  get calculatedSize(): number {
    return this.lru.calculatedSize;
  }

  clear(): void {
    this.lru.clear();
  }
}
