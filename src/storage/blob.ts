/**
 * The byte layer under the asset store: keys (`/`-separated, relative) to whole objects. A put
 * is atomic (the key holds the old bytes or the new ones, never a part). Backends: a folder
 * (blob-file.ts) and S3-compatible object storage (blob-s3.ts); the asset logic above them
 * (assets.ts) is written once.
 */
export interface Blob { readonly body: Buffer; readonly etag: string }

export interface BlobStore {
  readonly kind: string;
  get(key: string): Promise<Blob | undefined>;
  /** Size and etag without the bytes. */
  head(key: string): Promise<{ size: number; etag: string } | undefined>;
  put(key: string, body: Buffer, contentType: string): Promise<{ etag: string }>;
  /** False when there was nothing to delete. */
  delete(key: string): Promise<boolean>;
  /** Keys under `prefix`, in byte order, strictly after `startAfter`, at most `max`. */
  list(prefix: string, startAfter: string | undefined, max: number): Promise<{ keys: string[]; more: boolean }>;
  close(): Promise<void>;
}
