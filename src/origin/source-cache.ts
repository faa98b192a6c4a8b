/**
 * The source cache: original bytes (and what an origin keeps with them: validators, freshness,
 * remembered failures) for every origin together, in one byte-bounded LRU of
 * APERTURE_SOURCE_CACHE_BYTES. Before, the local folders and the HTTP origin each had a cache
 * of that size, so sources could hold twice the documented bound.
 *
 * Each origin works in a scope of its own (its entries' keys are prefixed by the scope's name)
 * and says how many bytes a value of its holds; an entry counts that, its key and a fixed
 * overhead. `fetch()` is lru-cache's: concurrent loads of one key share one load, and a load
 * that says `keep: false` is handed to the callers waiting for it without being stored.
 */
import { LRUCache } from 'lru-cache';

/** lru-cache's bookkeeping and the entry object, roughly. */
const ENTRY_OVERHEAD = 256;

/** What a load gives the cache: the value, and whether it may be kept for later loads. */
export interface Loaded<V> {
  readonly value: V;
  readonly keep: boolean;
}

/** Loads the value of a key; `stale` is the value kept before (a refresh), `signal` aborts when the cache drops the load. */
export type Loader<V> = (stale: V | undefined, signal: AbortSignal) => Promise<Loaded<V>>;

/** A key of the source cache: an origin's own key (a path, a URL) in its scope (`scope.key`). */
export type ScopedKey = string & { readonly __scoped: unique symbol };

/** One origin's part of the source cache. */
export interface SourceCacheScope<V> {
  /**
   * The cache key of the origin's key `key`. Making one joins two strings, and a string made
   * anew is hashed anew on every lookup (~200 ns for 40 characters), so a hot path keeps the
   * keys it made (local.ts keeps them with its resolutions).
   */
  key(key: string): ScopedKey;
  /** The kept value, counting as a use (LRU order). */
  get(key: ScopedKey): V | undefined;
  /** The kept value, without counting as a use. */
  peek(key: ScopedKey): V | undefined;
  /**
   * The value of `key`: the kept one, unless `forceRefresh`; else one load shared by every
   * caller asking meanwhile (a refresh already in flight is shared even with `forceRefresh`).
   * Rejects with the loader's error.
   */
  fetch(key: ScopedKey, load: Loader<V>, opts?: { readonly forceRefresh?: boolean }): Promise<V>;
  delete(key: ScopedKey): void;
  /** Drop this scope's entries; loads in flight are aborted. */
  clear(): void;
}

export interface SourceCache {
  /** A scope named `name` (unique per origin) whose values hold `sizeOf(value)` bytes. */
  scope<V extends {}>(name: string, sizeOf: (value: V) => number): SourceCacheScope<V>;
  /** The bound (APERTURE_SOURCE_CACHE_BYTES). */
  readonly maxBytes: number;
  /** Bytes counted now over all scopes: never above maxBytes. */
  bytes(): number;
  /** Entries kept now over all scopes (loads in flight included). */
  entries(): number;
  clear(): void;
}

/** A kept value and the bytes it holds (counted once, when stored). */
interface Held {
  readonly value: {};
  readonly bytes: number;
}

/** What a fetch hands lru-cache's fetchMethod: the scope's loader and size function. */
interface FetchContext {
  readonly load: Loader<{}>;
  readonly sizeOf: (value: {}) => number;
}

export function createSourceCache(maxBytes: number): SourceCache {
  const lru: LRUCache<string, Held, FetchContext> = new LRUCache<string, Held, FetchContext>({
    // lru-cache needs a positive bound; with 0 every entry is over it and nothing is kept.
    maxSize: Math.max(1, maxBytes),
    sizeCalculation: (h, key) => ENTRY_OVERHEAD + key.length + h.bytes,
    fetchMethod: async (_key, stale, { signal, options, context }) => {
      const { value, keep } = await context.load(stale?.value, signal);
      // An entry above maxEntrySize is handed to the waiting callers but never stored: the
      // only way to keep an answer out of the cache without racing a later delete().
      if (!keep) options.size = lru.maxEntrySize + 1;
      return { value, bytes: Math.max(0, Math.ceil(context.sizeOf(value))) };
    },
  });
  const scopes = new Set<string>();

  return {
    scope<V extends {}>(name: string, sizeOf: (value: V) => number): SourceCacheScope<V> {
      if (scopes.has(name)) throw new Error(`source cache scope ${name} exists already`);
      scopes.add(name);
      const prefix = `${name}\n`;
      const context: Pick<FetchContext, 'sizeOf'> = { sizeOf: sizeOf as (value: {}) => number };
      /** This scope's kept keys (lru-cache's keys() skips loads in flight: those are in `inFlight`). */
      const mine = (): string[] => {
        const out: string[] = [];
        for (const k of lru.keys()) if (k.startsWith(prefix)) out.push(k);
        return out;
      };
      /** Keys this scope is loading now, so that clear() aborts them too. */
      const inFlight = new Set<string>();
      /** Loads in flight that a delete() aborted (an invalidation during the load); clear() ends them. */
      const aborted = new Set<string>();
      const abort = (k: string) => {
        if (inFlight.has(k)) aborted.add(k);
        lru.delete(k);
      };
      return {
        key: (key) => (prefix + key) as ScopedKey,
        get: (key) => lru.get(key)?.value as V | undefined,
        peek: (key) => lru.peek(key)?.value as V | undefined,
        async fetch(k, load, opts = {}) {
          // A load aborted by an invalidation (the source changed while it was read) is done
          // once more, fresh: the caller gets the new source, not an error.
          for (let attempt = 0; ; attempt++) {
            inFlight.add(k);
            aborted.delete(k);
            try {
              const held = await lru.fetch(k, {
                forceRefresh: attempt > 0 || (opts.forceRefresh ?? false),
                context: { ...context, load: load as unknown as Loader<{}> },
              });
              // lru-cache resolves undefined when the load was aborted (clear(), delete()).
              if (held === undefined) {
                if (attempt === 0 && aborted.has(k)) continue;
                throw new Error(`load of ${k.slice(prefix.length)} was cancelled`);
              }
              return held.value as V;
            } catch (e) {
              if (attempt === 0 && aborted.has(k)) continue;
              throw e;
            } finally {
              inFlight.delete(k);
            }
          }
        },
        delete: (key) => { abort(key); },
        clear() {
          for (const k of [...mine(), ...inFlight]) lru.delete(k);
        },
      };
    },
    maxBytes,
    bytes: () => lru.calculatedSize,
    entries: () => lru.size,
    clear: () => lru.clear(),
  };
}
