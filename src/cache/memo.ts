/**
 * Memos of parsed request text (URLs, transformation strings) and of what was derived from it.
 *
 * Bounded in bytes, not entries: a key can be an 8 KB URL, so a bound of 20,000 entries alone
 * let a stream of long URLs hold hundreds of MB. An entry counts as its key plus an estimate of
 * its value (lru-cache's `sizeCalculation`); the estimates were measured on the heap: a parsed
 * URL is ~800 bytes plus 3.5 bytes per character of its path, a parse error ~1.5 KB.
 *
 * A parse that fails with a 4xx is remembered too, and thrown again: the outcome depends on the
 * text alone, so a hostile URL repeated does not cost a parse each time. What a parse made is
 * frozen before it is shared (`deepFreeze`).
 */
import { LRUCache } from 'lru-cache';
import { isHttpError, type HttpError } from '../errors.ts';

/** lru-cache's own bookkeeping per entry, roughly. */
const ENTRY_BYTES = 64;

/** A memo of at most `maxBytes` (0 keeps nothing): each entry counts its key and `valueBytes`. */
export function byteMemo<V extends {}>(maxBytes: number, valueBytes: (v: V, key: string) => number): LRUCache<string, V> {
  return new LRUCache<string, V>({
    maxSize: Math.max(1, maxBytes),
    sizeCalculation: (v, key) => ENTRY_BYTES + key.length + valueBytes(v, key),
  });
}

/** What parsing `key` made (objects that hold pieces of the text), or the 4xx it failed with. */
export type ParseMemo<V extends {}> = LRUCache<string, V | HttpError>;

/** Estimated bytes of what a parse of `key` made: fixed objects plus copies of the text. */
export const parsedBytes = (_v: unknown, key: string): number => 1024 + 3 * key.length;

export function parseMemo<V extends {}>(maxBytes: number): ParseMemo<V> {
  return byteMemo<V | HttpError>(maxBytes, parsedBytes);
}

/**
 * The memoized outcome of `parse(key)`: the value, or the remembered 4xx thrown again. (`parse`
 * takes the key so that a hot caller can pass one function made once, not a closure per call.)
 */
export function memoizedParse<V extends {}>(memo: ParseMemo<V>, key: string, parse: (key: string) => V): V {
  const hit = memo.get(key);
  if (hit !== undefined) {
    if (hit instanceof Error) throw hit;
    return hit;
  }
  let v: V;
  try {
    v = parse(key);
  } catch (e) {
    // Only the request's fault is a property of the text; anything else is a bug, not remembered.
    if (isHttpError(e) && e.statusCode < 500) memo.set(key, e);
    throw e;
  }
  memo.set(key, v);
  return v;
}

/**
 * Freeze a value and everything in it: what a memo holds is shared by every request with its
 * text, so nothing may change it (a step that needs another value makes a copy). Buffers are
 * left alone (they cannot be frozen).
 */
export function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v) || ArrayBuffer.isView(v)) return v;
  for (const x of Object.values(v)) deepFreeze(x);
  return Object.freeze(v);
}

/**
 * A module-level memo (one per process, shared by the servers in it) whose bound is a setting:
 * made on first use with the bound asked for, and made again, empty, when asked with another
 * (in production the bound never changes; a test may set its own).
 */
export function settingSized<M extends { clear(): void }>(make: (bound: number) => M): { of(bound: number): M; clear(): void } {
  let bound = NaN;
  let memo: M | undefined;
  return {
    of(b) {
      if (b !== bound || !memo) { bound = b; memo = make(b); }
      return memo;
    },
    clear: () => memo?.clear(),
  };
}
