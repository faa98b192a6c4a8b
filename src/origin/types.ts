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

export interface Origin {
  /** Load the source named by `id` (a public id for upload, a URL for fetch). Throws Errors.*. */
  load(id: string): Promise<Source>;
}
