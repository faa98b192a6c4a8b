/**
 * Blobs as files under a root folder (`file://` storage, the default). A put writes a temporary
 * file beside the target and renames it over the target: rename(2) within one folder is atomic,
 * so a reader (the delivery origin watches this folder) sees the old file or the new one. A
 * crash mid-write leaves only a `.tmp-*` file, which no public id can name (public ids may not
 * have a segment starting with a dot).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Blob, BlobStore } from './blob.ts';

/** Bytes hashed between two turns of the event loop (~0.5 ms): a 4 MB upload never blocks a cache hit for long. */
const HASH_SLICE = 256 * 1024;

/** Hex MD5 (S3's ETag of a single-part object), hashed in slices that yield to the event loop. */
async function md5(b: Buffer): Promise<string> {
  const h = crypto.createHash('md5');
  for (let i = 0; i < b.length; i += HASH_SLICE) {
    if (i > 0) await new Promise<void>((r) => setImmediate(r));
    h.update(b.subarray(i, i + HASH_SLICE));
  }
  return h.digest('hex');
}

export function createFileBlobs(root: string): BlobStore {
  const abs = path.resolve(root);
  const fileOf = (key: string) => {
    const f = path.resolve(abs, key);
    if (!f.startsWith(abs + path.sep)) throw new Error(`storage key leaves the root: ${key}`);
    return f;
  };
  const missing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR';

  /** Keys under `dir` (`rel` from the root) that start with `prefix`; folders that cannot hold one are not entered. */
  async function walk(dir: string, rel: string, out: string[], prefix: string): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (missing(e)) return;
      throw e;
    }
    for (const e of entries) {
      if (e.name.includes('.tmp-')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (r.startsWith(prefix) || prefix.startsWith(`${r}/`)) await walk(path.join(dir, e.name), r, out, prefix);
      } else if (e.isFile() && r.startsWith(prefix)) {
        out.push(r);
      }
    }
  }

  return {
    kind: 'file',
    async get(key): Promise<Blob | undefined> {
      try {
        const body = await fs.readFile(fileOf(key));
        return { body, etag: await md5(body) };
      } catch (e) {
        if (missing(e)) return undefined;
        throw e;
      }
    },
    async head(key) {
      const b = await this.get(key);
      return b && { size: b.body.length, etag: b.etag };
    },
    async put(key, body) {
      const file = fileOf(key);
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${crypto.randomBytes(6).toString('hex')}`);
      try {
        try {
          await fs.writeFile(tmp, body, { flag: 'wx' });
        } catch (e) {
          // The folder is made when it is missing, not asked for on every write.
          if (!missing(e)) throw e;
          await fs.mkdir(path.dirname(file), { recursive: true });
          await fs.writeFile(tmp, body, { flag: 'wx' });
        }
        await fs.rename(tmp, file);
      } catch (e) {
        await fs.rm(tmp, { force: true });
        throw e;
      }
      return { etag: await md5(body) };
    },
    async delete(key) {
      try {
        await fs.unlink(fileOf(key));
        return true;
      } catch (e) {
        if (missing(e)) return false;
        throw e;
      }
    },
    async list(prefix, startAfter, max) {
      // The folder that holds the prefix, and only the sub-folders that can hold matching keys (a
      // public id's own files are one folder read, however many assets the storage holds).
      const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const keys: string[] = [];
      await walk(base ? fileOf(base) : abs, base, keys, prefix);
      const sorted = keys.filter((k) => startAfter === undefined || k > startAfter).sort();
      return { keys: sorted.slice(0, max), more: sorted.length > max };
    },
    close: async () => {},
  };
}
