/**
 * Which origin serves a source, and the parts all origins share. The backends are listed in
 * BACKENDS; the first origin whose `matches()` is true serves a ref, so a new backend (an S3
 * bucket) is one file exporting an OriginFactory and one line here, above the one it replaces.
 *
 * - A staged upload (staging.ts) is served first, under its random id, while its Upload API
 *   call renders the incoming transformation.
 * - `fetch` takes the remote URL from the path, and `upload` ids under a folder mapped to a
 *   remote base URL (auto-upload mapping, as in Cloudinary) are loaded from there: both through
 *   the SSRF-guarded HTTP origin (http.ts).
 * - Each stored delivery type reads its own local folder: `upload` the storage folder,
 *   `private` and `authenticated` theirs (APERTURE_PRIVATE_DIR, APERTURE_AUTHENTICATED_DIR).
 *   Cloudinary stores the delivery type with the asset, so an asset uploaded as `upload` is not
 *   found as `private` and the other way round; the folders play that part until storage
 *   records the type.
 *
 * All origins keep their bytes in one source cache of APERTURE_SOURCE_CACHE_BYTES, made here.
 */
import type { Config } from '../config.ts';
import { Errors } from '../errors.ts';
import type { Origin, OriginFactory, OriginServices, Source, SourceRef, SourceStat } from './types.ts';
import { createSourceCache, type SourceCache } from './source-cache.ts';
import type { AssetMetadata } from '../../transforms/types.ts';
import { httpOrigins } from './http.ts';
import { localOrigins } from './local.ts';
import { s3Origins } from './s3.ts';
import { stagingOrigins } from './staging.ts';

/** The storage backends, in the order they are asked. */
export const BACKENDS: readonly OriginFactory[] = [
  stagingOrigins,
  httpOrigins,
  s3Origins,
  localOrigins,
];

export interface Origins {
  load(ref: SourceRef): Promise<Source>;
  /**
   * The source `load` would return, when its origin knows it is current without any I/O (a
   * local file validated at the current watch generation); undefined otherwise. Lets a cache
   * hit be answered synchronously.
   */
  peek(ref: SourceRef): Source | undefined;
  /** The identity `load` would give; without reading the bytes where the origin has `stat`. */
  stat(ref: SourceRef): Promise<SourceStat>;
  /** The asset metadata of `ref` from its origin (Origin.asset); undefined where there is none. */
  asset(ref: SourceRef): Promise<AssetMetadata | undefined>;
  /** Forget what any origin keeps about `ref` (the Upload API changed it). */
  invalidate(ref: SourceRef): void;
  /** The one source cache of every origin (for metrics and tests). */
  readonly cache: SourceCache;
  close(): Promise<void>;
}

/** Test and embedding hooks of the origins (DeliveryOptions.http). */
export type OriginOptions = Partial<Pick<OriginServices, 'now' | 'resolver' | 'negativeTtlMs'>>;

/** `backends` replaces BACKENDS (an embedder's own storage; tests of the contract). */
export function createOrigins(config: Config, opts: OriginOptions = {}, backends: readonly OriginFactory[] = BACKENDS): Origins {
  const cache = createSourceCache(config.sourceCacheBytes);
  const services: OriginServices = { ...opts, config, cache, now: opts.now ?? Date.now };
  const origins: readonly Origin[] = backends.flatMap((make) => make(services));
  const names = new Set(origins.map((o) => o.name));
  if (names.size !== origins.length) throw new Error('two origins share a name');

  const matching = (ref: SourceRef): Origin | undefined => origins.find((o) => o.matches(ref));
  function originOf(ref: SourceRef): Origin {
    const origin = matching(ref);
    if (!origin) throw new Errors.NOT_FOUND(ref.publicId);
    return origin;
  }

  return {
    cache,
    load: async (ref) => originOf(ref).load(ref),
    peek: (ref) => matching(ref)?.peek?.(ref),
    invalidate: (ref) => matching(ref)?.invalidate?.(ref),
    asset: async (ref) => matching(ref)?.asset?.(ref),
    async stat(ref) {
      const origin = originOf(ref);
      if (origin.stat) return origin.stat(ref);
      const source = await origin.load(ref);
      return { identity: source.identity, size: source.buffer.length };
    },
    async close() {
      await Promise.all(origins.map((o) => o.close()));
      cache.clear();
    },
  };
}
