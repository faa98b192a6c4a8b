/**
 * Local storage: public id → file under the storage folder. `shoes/red` serves
 * `shoes/red.<any image ext>`; an exact `<id>.<ext>` file wins (so `shoes/red.webp` serves
 * `shoes/red.webp` if it exists, else `shoes/red.jpg` converted). Paths can never leave the
 * folder. Bytes are kept in the shared source cache (source-cache.ts), keyed by path, and a
 * changed, replaced, added or deleted file is never served stale. Each stored delivery type
 * (`upload`, `private`, `authenticated`) is a local origin of its own folder.
 *
 * Validation. Without watching, every request stats the folder (its listing decides which file
 * an extension-less id names) and the file (mtime + size). With `watch` (the default), each
 * folder that served a file, and its parents up to the storage root, is watched with
 * `fs.watch` (inotify): any event there bumps a generation counter, and a resolution checked
 * at the current generation is trusted without a system call. A write is queued as an inotify
 * event before the writer can send its next request, and libuv reads ready descriptors in the
 * order they became ready, so the event is handled before that request is parsed. A folder
 * that cannot be watched (watch limit reached, filesystem without events) falls back to the
 * stats. Network filesystems do not report changes made by other machines: turn `watch` off
 * there (APERTURE_STORAGE_WATCH=0).
 *
 * Metadata calls are synchronous on purpose: a stat of a cached inode takes microseconds,
 * while an async one waits in libuv's thread pool behind sharp's transforms, which would make
 * cache hits as slow as the busiest transform.
 */
import fs from 'node:fs/promises';
import { statSync, readdirSync, watch, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import type { LRUCache } from 'lru-cache';
import { Errors } from '../errors.ts';
import type { DeliveryType } from '../url/parse-url.ts';
import type { Origin, OriginFactory, Source, SourceRef, SourceStat } from './types.ts';
import { createSourceCache, type ScopedKey, type SourceCache } from './source-cache.ts';
import { byteMemo } from '../cache/memo.ts';
import { EXTENSIONS } from '../formats.ts';
import { assetMetadata, createAssetStore } from '../storage/assets.ts';
import { createFileBlobs } from '../storage/blob-file.ts';
import type { AssetStore } from '../storage/types.ts';

/** A file is an image of its stem when its extension is in the format table, which ranks them. */
const EXT_RANK: ReadonlyMap<string, number> = new Map(EXTENSIONS.map((e, i) => [e, i]));
/** Most folders watched at once; beyond it, folders are validated by stats. */
const MAX_WATCHED = 4096;

/** A folder's image files by stem, as of the folder's mtime; `bytes` is its estimated heap size. */
interface Listing { readonly mtimeMs: number; readonly byStem: Map<string, string[]>; readonly names: Set<string>; readonly bytes: number }
/** A file's cached bytes, and the Source handed out while the file is unchanged. */
interface CachedBytes { mtimeMs: number; size: number; source: Source }
/** Which file a (public id, extension) names, validated at a watch generation, and its bytes' cache key. */
interface Resolution { readonly file: string; readonly key: ScopedKey; readonly generation: number }

/**
 * Estimated heap bytes (heapUsed after gc over 20,000 entries, Node 20): a listing is ~430
 * bytes plus ~270 per file name and 2 per character of it (a name is in the set, a stem and an
 * array: 3,610 bytes for 10 names of 25 characters, 32,490 for 100 of 22); a resolution of a
 * 60-character path was 194 bytes, and its cache key (the path again, after the scope's name)
 * adds about as much: ~100 plus 3 per character of the path. The memo counts the key besides.
 */
const LISTING_BYTES = 430, LISTING_NAME_BYTES = 270, RESOLUTION_BYTES = 100;

/**
 * Folder listings and resolutions of every local folder together, bounded in bytes
 * (APERTURE_ORIGIN_MEMO_BYTES). Keys: `L<folder>` for listings (absolute paths: folders of
 * different roots never share one), `<origin number>:<ext>:<public id>` for resolutions (the
 * public id last: it may hold any character). A resolution key is made on every cache hit,
 * and a long string made anew costs a hash of all of it, so it does not hold the root's path.
 */
export type LocalMemo = LRUCache<string, Listing | Resolution>;

export function createLocalMemo(maxBytes: number): LocalMemo {
  return byteMemo<Listing | Resolution>(maxBytes, (v) => ('names' in v ? v.bytes : RESOLUTION_BYTES + 3 * v.file.length));
}

type StoredType = Exclude<DeliveryType, 'fetch'>;

export interface LocalOriginOptions {
  /** The delivery type this folder stores (default `upload`); the origin serves refs of that type. */
  type?: StoredType;
  /** The shared source cache (default: one of its own of `cacheBytes`). */
  cache?: SourceCache;
  cacheBytes?: number;
  /** The shared memo of listings and resolutions (default: one of its own of `memoBytes`). */
  memo?: LocalMemo;
  memoBytes?: number;
  maxSourceBytes: number;
  /** Validate by filesystem events instead of a stat per request (default true). */
  watch?: boolean;
}

export interface LocalOrigin extends Origin {
  peek(ref: SourceRef): Source | undefined;
  stat(ref: SourceRef): Promise<SourceStat>;
  /** Stop watching. */
  close(): void;
}

/** Longest file name and path Linux stores (NAME_MAX, PATH_MAX less the NUL). */
const NAME_MAX_BYTES = 255;
const PATH_MAX_BYTES = 4095;

/**
 * Whether a file could have this path: a longer name cannot exist, and asking the filesystem
 * about it fails with ENAMETOOLONG (a 500) instead of ENOENT.
 */
function nameFits(full: string): boolean {
  if (Buffer.byteLength(full) > PATH_MAX_BYTES) return false;
  for (const part of full.split(path.sep)) if (Buffer.byteLength(part) > NAME_MAX_BYTES) return false;
  return true;
}

const extRank = (name: string) => EXT_RANK.get(name.slice(name.lastIndexOf('.') + 1).toLowerCase()) ?? -1;

const DEFAULT_OWN_BYTES = 16 * 1024 * 1024;
/** Numbers the local origins of the process: their resolution keys in a shared memo. */
let originCount = 0;

export function createLocalOrigin(root: string, opts: LocalOriginOptions): LocalOrigin {
  const base = path.resolve(root);
  const type = opts.type ?? 'upload';
  const name = `local:${type}`;
  const memo = opts.memo ?? createLocalMemo(opts.memoBytes ?? DEFAULT_OWN_BYTES);
  const bytes = (opts.cache ?? createSourceCache(opts.cacheBytes ?? DEFAULT_OWN_BYTES))
    .scope<CachedBytes>(name, (v) => v.size);
  const number = originCount++;
  const resolutionKey = (publicId: string, ext: string | undefined) => `${number}:${ext ?? ''}:${publicId}`;

  // --- watching -------------------------------------------------------------------------------
  let generation = 0;
  let closed = false;
  /** Folder → its watcher, or null when it cannot be watched. */
  const watchers = new Map<string, FSWatcher | null>();
  const changed = () => { generation++; };

  function watchOne(dir: string): boolean {
    const known = watchers.get(dir);
    if (known !== undefined) return known !== null;
    if (closed || watchers.size >= MAX_WATCHED) return false;
    try {
      const w = watch(dir, { persistent: false }, changed);
      w.on('error', () => {
        changed();
        w.close();
        watchers.delete(dir);
      });
      watchers.set(dir, w);
      return true;
    } catch (e) {
      // A folder that does not exist (yet) may be watched later; other failures (watch limit,
      // filesystem without events) are remembered and validated by stats.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') watchers.set(dir, null);
      return false;
    }
  }

  /** Watch `dir` and every parent up to the root; true when all of them are watched. */
  function watched(dir: string): boolean {
    if (!opts.watch && opts.watch !== undefined) return false;
    let ok = true;
    for (let d = dir; ; d = path.dirname(d)) {
      ok = watchOne(d) && ok;
      if (d === base || !inside(d)) break;
    }
    return ok;
  }

  // --- resolution -----------------------------------------------------------------------------
  function inside(p: string): boolean {
    return p === base || p.startsWith(base + path.sep);
  }

  function listing(dir: string): Listing | undefined {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st) return undefined;
    const hit = memo.get(`L${dir}`) as Listing | undefined;
    if (hit && hit.mtimeMs === st.mtimeMs) return hit;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      names = [];
    }
    const byStem = new Map<string, string[]>();
    let size = LISTING_BYTES;
    for (const n of names) {
      size += LISTING_NAME_BYTES + 2 * n.length;
      const dot = n.lastIndexOf('.');
      if (dot <= 0) continue;
      if (!EXT_RANK.has(n.slice(dot + 1).toLowerCase())) continue;
      const stem = n.slice(0, dot);
      const arr = byStem.get(stem) ?? [];
      arr.push(n);
      byStem.set(stem, arr);
    }
    // Prefer a stable order: the table's (src/formats.ts).
    for (const arr of byStem.values()) arr.sort((a, b) => extRank(a) - extRank(b));
    const l: Listing = { mtimeMs: st.mtimeMs, byStem, names: new Set(names), bytes: size };
    memo.set(`L${dir}`, l);
    return l;
  }

  function resolveFile(full: string, ext: string | undefined): string | undefined {
    const dir = path.dirname(full);
    const stem = path.basename(full);
    const l = listing(dir);
    if (!l) return undefined;
    if (ext && l.names.has(`${stem}.${ext}`)) return path.join(dir, `${stem}.${ext}`);
    const candidates = l.byStem.get(stem);
    if (candidates?.length) return path.join(dir, candidates[0]);
    // An id that already carries a non-image extension, or a file without extension.
    if (!ext && l.names.has(stem)) return full;
    return undefined;
  }

  const named = (source: Source, name: string): Source => (source.name === name ? source : { ...source, name });

  /** The file's bytes, if they are still the ones `st` describes (no write meanwhile). */
  async function readVersion(file: string, st: Stats, name: string): Promise<{ value: CachedBytes; keep: boolean }> {
    let buffer: Buffer;
    try {
      buffer = await fs.readFile(file);
    } catch {
      throw new Errors.NOT_FOUND(name);
    }
    const source = { buffer, identity: identityOf(file, st.mtimeMs, buffer.length), name };
    // Keep the bytes only if they are the ones the stat described (no write meanwhile).
    return { value: { mtimeMs: st.mtimeMs, size: st.size, source }, keep: buffer.length === st.size };
  }

  /** The file's stats, or the reason it cannot be served. */
  function statFile(file: string, name: string): Stats {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st || !st.isFile()) throw new Errors.NOT_FOUND(name);
    if (st.size > opts.maxSourceBytes) throw new Errors.TOO_LARGE(`source is ${st.size} bytes, limit ${opts.maxSourceBytes}`);
    return st;
  }

  async function read(file: string, key: ScopedKey, name: string): Promise<{ source: Source; cached: boolean }> {
    const st = statFile(file, name);
    const current = (v: CachedBytes | undefined) => v !== undefined && v.mtimeMs === st.mtimeMs && v.size === st.size;
    const hit = bytes.get(key);
    if (hit && current(hit)) return { source: named(hit.source, name), cached: true };
    // Concurrent loads of the file share one read (the source cache's fetch).
    const got = await bytes.fetch(key, () => readVersion(file, st, name), { forceRefresh: hit !== undefined });
    if (current(got)) return { source: named(got.source, name), cached: bytes.peek(key) === got };
    // A read of another version was in flight (the file changed meanwhile): read this one alone.
    const own = await readVersion(file, st, name);
    return { source: own.value.source, cached: false };
  }

  /**
   * The file `ref` names (undefined: none), and the watch generation it was found at (-1 when
   * its folders are not all watched). Throws NOT_FOUND for a path outside the folder.
   */
  function locate(ref: SourceRef): { file: string | undefined; generation: number } {
    const full = path.resolve(base, ref.publicId);
    if (!inside(full) || full === base || !nameFits(full)) throw new Errors.NOT_FOUND(ref.publicId);
    // Watch first, then look: a change after this point bumps the generation.
    const gen = watched(path.dirname(full)) ? generation : -1;
    return { file: resolveFile(full, ref.ext), generation: gen };
  }

  /** The cached bytes `ref` names, if its resolution was validated at the current generation. */
  function peekEntry(ref: SourceRef): CachedBytes | undefined {
    const r = memo.get(resolutionKey(ref.publicId, ref.ext)) as Resolution | undefined;
    if (!r || r.generation !== generation) return undefined;
    return bytes.get(r.key);
  }

  function peek(ref: SourceRef): Source | undefined {
    const hit = peekEntry(ref);
    return hit && named(hit.source, ref.publicId);
  }

  /** The asset store over this folder (the Upload API's layout), for metadata: made when first asked. */
  let assets: AssetStore | undefined;

  return {
    name,
    matches: (ref) => ref.type === type,
    peek,
    asset: (ref) => assetMetadata(assets ??= createAssetStore(createFileBlobs(base)), ref.publicId),
    async load(ref) {
      const known = peek(ref);
      if (known) return known;
      const key = resolutionKey(ref.publicId, ref.ext);
      const { file, generation: gen } = locate(ref);
      if (!file) {
        memo.delete(key);
        throw new Errors.NOT_FOUND(ref.publicId);
      }
      const cacheKey = bytes.key(file);
      const { source, cached } = await read(file, cacheKey, ref.publicId);
      if (gen >= 0 && cached) memo.set(key, { file, key: cacheKey, generation: gen });
      else memo.delete(key);
      return source;
    },
    async stat(ref) {
      const known = peekEntry(ref);
      if (known) return { identity: known.source.identity, size: known.size, mtimeMs: known.mtimeMs };
      // Not remembered as a resolution: only a load, which keeps the bytes, vouches for one.
      const { file } = locate(ref);
      if (!file) throw new Errors.NOT_FOUND(ref.publicId);
      const st = statFile(file, ref.publicId);
      return { identity: identityOf(file, st.mtimeMs, st.size), size: st.size, mtimeMs: st.mtimeMs };
    },
    close() {
      closed = true;
      for (const w of watchers.values()) w?.close();
      watchers.clear();
      generation++;
      bytes.clear();
    },
  };
}

/** A local file's identity: path, mtime and size (the bytes' length when read). */
function identityOf(file: string, mtimeMs: number, size: number): string {
  return `file:${file}:${mtimeMs}:${size}`;
}

/** The local folder of each stored delivery type, sharing the source cache and one memo. */
export const localOrigins: OriginFactory = ({ config, cache }) => {
  const memo = createLocalMemo(config.originMemoBytes);
  const store = (type: StoredType, root: string) => createLocalOrigin(root, {
    type, cache, memo, maxSourceBytes: config.maxSourceBytes, watch: config.storageWatch,
  });
  return [store('upload', config.storageDir), store('private', config.privateDir), store('authenticated', config.authenticatedDir)];
};
