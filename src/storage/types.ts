/**
 * Where originals are kept and how the Upload and Admin APIs write them
 * (../shared/docs/upload-api.md "Storage, versions, invalidation"). One implementation
 * (assets.ts) over two blob backends: a local folder (blob-file.ts, the layout
 * `<root>/<public_id>.<ext>`) and S3-compatible object storage (blob-s3.ts). Delivery reads the
 * same objects through its origin (origin/local.ts, origin/s3.ts).
 *
 * Every write is atomic: an object is visible under its public id whole or not at all, and its
 * metadata never names bytes that are not there.
 */

/** What is kept with an original (S3 object metadata, or a sidecar file for a folder). */
export interface AssetMeta {
  readonly publicId: string;
  /** Output format of the stored bytes (its file extension). */
  readonly format: string;
  /** Seconds since the epoch of the last write (Cloudinary's `version`). */
  readonly version: number;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly tags: readonly string[];
  readonly context: Readonly<Record<string, string>>;
  readonly originalFilename?: string;
  /** ISO time of the first upload under this public id. */
  readonly createdAt: string;
  /** Content hash (hex MD5, as S3 and Cloudinary report it). */
  readonly etag: string;
  /** Derived results made by `eager` (their transformation and format). */
  readonly derived?: readonly DerivedMeta[];
}

export interface DerivedMeta { readonly transformation: string; readonly format: string; readonly bytes: number; readonly width: number; readonly height: number }

export interface StoredAsset { readonly meta: AssetMeta; readonly body: Buffer }

export interface ListOptions {
  readonly prefix?: string;
  readonly tag?: string;
  /** At most this many (1-500). */
  readonly max: number;
  /** Opaque cursor from the previous page. */
  readonly cursor?: string;
}

export interface AssetPage { readonly assets: readonly AssetMeta[]; readonly nextCursor?: string }

export interface AssetStore {
  /** `file` or `s3`, for logs and the README. */
  readonly kind: string;
  /** The asset stored under `publicId` (any extension), without its bytes. */
  head(publicId: string): Promise<AssetMeta | undefined>;
  /**
   * The metadata object written with the asset (tags, context), without looking at the bytes;
   * undefined for an asset that has none (an original placed by hand) or no asset.
   */
  sidecar(publicId: string): Promise<AssetMeta | undefined>;
  /** The asset and its bytes. */
  get(publicId: string): Promise<StoredAsset | undefined>;
  /**
   * Stores `body` under `meta.publicId` with extension `meta.format`, replacing any object of
   * that public id (other extensions included). Atomic.
   */
  put(meta: AssetMeta, body: Buffer): Promise<void>;
  /** Rewrites the metadata only (tags, context). */
  putMeta(meta: AssetMeta): Promise<void>;
  /** Removes the asset; false when there was none. */
  delete(publicId: string): Promise<boolean>;
  /** Assets in public-id order. */
  list(options: ListOptions): Promise<AssetPage>;
  close(): Promise<void>;
}
