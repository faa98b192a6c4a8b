/**
 * The origin contract. An origin (a storage backend) says which sources it serves (`matches`),
 * loads them (`load`), and may vouch for one without I/O (`peek`) or give its identity without
 * its bytes (`stat`). Bytes it keeps go in the one source cache it is handed (source-cache.ts),
 * never in a cache of its own, so all origins together stay within APERTURE_SOURCE_CACHE_BYTES.
 * A backend is one file exporting an OriginFactory, plus its line in BACKENDS (index.ts).
 */
import type { Config } from '../config.ts';
import type { DeliveryType } from '../url/parse-url.ts';
import type { SourceCache } from './source-cache.ts';
import type { Resolver } from '../security/ssrf.ts';
import type { AssetMetadata } from '../../transforms/types.ts';

/** What every storage adapter hands to the renderer. */
export interface Source {
  /** The original bytes. Never mutated by anyone. */
  readonly buffer: Buffer;
  /**
   * A stable identity of these exact bytes for cache keys: for local files path + mtime + size,
   * for remote ones URL + ETag/Last-Modified or a content hash. Changes whenever the bytes do.
   */
  readonly identity: string;
  /** Where it came from, for logs and errors (public id or URL). */
  readonly name: string;
  /** How long (ms) this source may be reused without revalidation; undefined = until it changes. */
  readonly maxAgeMs?: number;
}

/**
 * Which source is asked for: a delivery URL's type, public id (for `fetch`, the remote URL as
 * it appears in the path, still percent-encoded) and extension. A DeliveryUrl is one.
 */
export interface SourceRef {
  readonly type: DeliveryType;
  readonly publicId: string;
  /** The URL's extension: selects the output format, and may name an exact stored file. */
  readonly ext?: string | undefined;
}

/** A source's identity without its bytes. */
export interface SourceStat {
  /** Equal to the `identity` of the Source `load` gives for the same bytes. */
  readonly identity: string;
  readonly size: number;
  /** Modification time (ms since the epoch), where the backend has one. */
  readonly mtimeMs?: number;
  /** The backend's entity tag (HTTP, S3), where it has one. */
  readonly etag?: string;
}

export interface Origin {
  /** Unique among the configured origins: logs and the origin's source cache scope. */
  readonly name: string;
  /**
   * Whether this origin serves `ref`; the first origin in BACKENDS order that matches serves it.
   * Synchronous and without I/O. May throw an Errors.* 4xx for a ref no origin may serve.
   */
  matches(ref: SourceRef): boolean;
  /** The source `ref` names. Throws Errors.* (NOT_FOUND, TOO_LARGE, ORIGIN_FAILED, ...). */
  load(ref: SourceRef): Promise<Source>;
  /**
   * The Source `load` would return, when the origin knows without any I/O that it is current;
   * undefined otherwise. Lets a cache hit be answered synchronously.
   */
  peek?(ref: SourceRef): Source | undefined;
  /** The identity `load` would give, without reading the bytes where the backend can (stat, HEAD). */
  stat?(ref: SourceRef): Promise<SourceStat>;
  /**
   * The tags and context stored with the asset `ref` names (the Upload API's metadata, read
   * through the asset store), for `tags`/`ctx`/`md` in conditions; undefined when the asset has
   * none. Absent: the backend keeps no metadata (remote origins).
   */
  asset?(ref: SourceRef): Promise<AssetMetadata | undefined>;
  /** Forget what is kept about `ref` (its original was overwritten, renamed or deleted here). */
  invalidate?(ref: SourceRef): void;
  /** Stop watching, cancel loads in flight, drop this origin's cache entries. */
  close(): void | Promise<void>;
}

/** What a backend is built from: the config and the parts all origins share. */
export interface OriginServices {
  readonly config: Config;
  /** The one source cache (APERTURE_SOURCE_CACHE_BYTES) every origin keeps its bytes in. */
  readonly cache: SourceCache;
  /** The clock freshness is judged by (Date.now unless a test injects its own). */
  readonly now: () => number;
  /** Host name resolver of the SSRF guard (tests: a DNS stub; default the system's). */
  readonly resolver?: Resolver;
  /** How long a remote NOT_FOUND / TOO_LARGE is remembered (default APERTURE_FETCH_NEGATIVE_TTL_MS). */
  readonly negativeTtlMs?: number;
}

/** A backend: the origins it serves under `config` (none when it is not configured). */
export type OriginFactory = (services: OriginServices) => readonly Origin[];
