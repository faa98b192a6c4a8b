/**
 * Originals in S3-compatible object storage (APERTURE_STORAGE_URL=s3://bucket/prefix): the
 * `upload` type, read through the asset store the Upload API writes (storage/assets.ts). Bytes
 * are kept in the shared source cache with the object's ETag; the identity in result keys is
 * the public id and that ETag, so new bytes never hit an old result.
 *
 * Freshness. A kept source is trusted for APERTURE_STORAGE_REVALIDATE_MS; after that, the next
 * request reads the asset's metadata object (one small GET) and keeps the bytes if the ETag is
 * unchanged. A write through this instance's API drops the entry at once (`invalidate`); a
 * write through another instance is seen within the revalidation period.
 */
import { Errors } from '../errors.ts';
import { assetMetadata, createAssetStore } from '../storage/assets.ts';
import { createS3Blobs } from '../storage/blob-s3.ts';
import type { Origin, OriginFactory, Source, SourceRef } from './types.ts';

interface Kept { readonly source: Source; readonly etag: string; readonly checkedAt: number }

export const s3Origins: OriginFactory = ({ config, cache, now }) => {
  if (!config.storageUrl.startsWith('s3://')) return [];
  const store = createAssetStore(createS3Blobs(config.storageUrl, config.s3Endpoint || undefined));
  const scope = cache.scope<Kept>('s3', (k) => k.source.buffer.length);
  const fresh = (k: Kept | undefined): k is Kept => k !== undefined && now() - k.checkedAt < config.storageRevalidateMs;

  const origin: Origin = {
    name: 's3',
    matches: (ref) => ref.type === 'upload',
    peek(ref) {
      const k = scope.peek(scope.key(ref.publicId));
      return fresh(k) ? k.source : undefined;
    },
    async load(ref: SourceRef) {
      const key = scope.key(ref.publicId);
      const kept = scope.get(key);
      if (fresh(kept)) return kept.source;
      const k = await scope.fetch(key, async (stale) => {
        const meta = await store.head(ref.publicId);
        if (!meta) throw new Errors.NOT_FOUND(ref.publicId);
        if (meta.bytes > config.maxSourceBytes) throw new Errors.TOO_LARGE(`the original is ${meta.bytes} bytes, over APERTURE_MAX_SOURCE_BYTES (${config.maxSourceBytes})`);
        if (stale && stale.etag === meta.etag) return { value: { ...stale, checkedAt: now() }, keep: true };
        const got = await store.get(ref.publicId);
        if (!got) throw new Errors.NOT_FOUND(ref.publicId);
        const source: Source = { buffer: got.body, identity: `s3:${ref.publicId}:${got.meta.etag}:${got.meta.version}`, name: ref.publicId };
        return { value: { source, etag: got.meta.etag, checkedAt: now() }, keep: true };
      }, { forceRefresh: true });
      return k.source;
    },
    async stat(ref) {
      const meta = await store.head(ref.publicId);
      if (!meta) throw new Errors.NOT_FOUND(ref.publicId);
      return { identity: `s3:${ref.publicId}:${meta.etag}:${meta.version}`, size: meta.bytes, etag: meta.etag };
    },
    asset: (ref) => assetMetadata(store, ref.publicId),
    invalidate(ref) {
      scope.delete(scope.key(ref.publicId));
    },
    async close() {
      scope.clear();
      await store.close();
    },
  };
  return [origin];
};
