/**
 * Local storage: public id → file under the storage folder. `shoes/red` serves
 * `shoes/red.<any image ext>`; an exact `<id>.<ext>` file wins (so `shoes/red.webp` serves
 * `shoes/red.webp` if it exists, else `shoes/red.jpg` converted). Paths can never leave the
 * folder. Bytes are cached (bounded), keyed by path and revalidated by mtime + size on every
 * request, so a changed file is never served stale.
 *
 * Metadata calls are synchronous on purpose: a stat of a cached inode takes microseconds,
 * while an async one waits in libuv's thread pool behind sharp's transforms, which would make
 * cache hits as slow as the busiest transform.
 */
import fs from 'node:fs/promises';
import { statSync, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { Errors } from '../errors.ts';
import type { Origin, Source } from './types.ts';

const IMAGE_EXT = ['jpg', 'jpeg', 'png', 'webp', 'avif', 'gif', 'tif', 'tiff', 'svg', 'heic', 'heif', 'jp2', 'jxl', 'bmp'];
const IMAGE_EXT_SET = new Set(IMAGE_EXT);

interface Listing { mtimeMs: number; byStem: Map<string, string[]>; names: Set<string> }
interface CachedBytes { buffer: Buffer; mtimeMs: number; size: number }

export interface LocalOrigin extends Origin {
  /** `ext` is the URL's extension (it may name an exact file). */
  loadWithExt(publicId: string, ext: string | undefined): Promise<Source>;
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

export function createLocalOrigin(root: string, opts: { cacheBytes: number; maxSourceBytes: number }): LocalOrigin {
  const base = path.resolve(root);
  const listings = new LRUCache<string, Listing>({ max: 10_000 });
  const bytes = new LRUCache<string, CachedBytes>({
    maxSize: Math.max(1, opts.cacheBytes),
    sizeCalculation: (v) => Math.max(1, v.size),
  });

  function inside(p: string): boolean {
    return p === base || p.startsWith(base + path.sep);
  }

  async function listing(dir: string): Promise<Listing | undefined> {
    const st = statOrUndefined(dir);
    if (!st) return undefined;
    const hit = listings.get(dir);
    if (hit && hit.mtimeMs === st.mtimeMs) return hit;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      names = [];
    }
    const byStem = new Map<string, string[]>();
    for (const n of names) {
      const dot = n.lastIndexOf('.');
      if (dot <= 0) continue;
      const e = n.slice(dot + 1).toLowerCase();
      if (!IMAGE_EXT_SET.has(e)) continue;
      const stem = n.slice(0, dot);
      const arr = byStem.get(stem) ?? [];
      arr.push(n);
      byStem.set(stem, arr);
    }
    // Prefer a stable order: the order of IMAGE_EXT.
    for (const arr of byStem.values()) arr.sort((a, b) => IMAGE_EXT.indexOf(a.slice(a.lastIndexOf('.') + 1).toLowerCase()) - IMAGE_EXT.indexOf(b.slice(b.lastIndexOf('.') + 1).toLowerCase()));
    const l = { mtimeMs: st.mtimeMs, byStem, names: new Set(names) };
    listings.set(dir, l);
    return l;
  }

  async function resolveFile(publicId: string, ext: string | undefined): Promise<string | undefined> {
    const full = path.resolve(base, publicId);
    if (!inside(full) || full === base) return undefined;
    const dir = path.dirname(full);
    const stem = path.basename(full);
    const l = await listing(dir);
    if (!l) return undefined;
    if (ext && l.names.has(`${stem}.${ext}`)) return path.join(dir, `${stem}.${ext}`);
    const candidates = l.byStem.get(stem);
    if (candidates?.length) return path.join(dir, candidates[0]);
    // An id that already carries a non-image extension, or a file without extension.
    if (!ext && l.names.has(stem)) return full;
    return undefined;
  }

  async function read(file: string, name: string): Promise<Source> {
    const st = statOrUndefined(file);
    if (!st || !st.isFile()) throw new Errors.NOT_FOUND(name);
    if (st.size > opts.maxSourceBytes) throw new Errors.TOO_LARGE(`source is ${st.size} bytes, limit ${opts.maxSourceBytes}`);
    const identity = `file:${file}:${st.mtimeMs}:${st.size}`;
    const hit = bytes.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return { buffer: hit.buffer, identity, name };
    let buffer: Buffer;
    try {
      buffer = await fs.readFile(file);
    } catch {
      throw new Errors.NOT_FOUND(name);
    }
    bytes.set(file, { buffer, mtimeMs: st.mtimeMs, size: st.size });
    return { buffer, identity, name };
  }

  return {
    async loadWithExt(publicId, ext) {
      const file = await resolveFile(publicId, ext);
      if (!file) throw new Errors.NOT_FOUND(publicId);
      return read(file, publicId);
    },
    load(publicId) {
      return this.loadWithExt(publicId, undefined);
    },
  };
}
