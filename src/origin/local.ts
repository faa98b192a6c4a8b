/**
 * Local storage: public id → file under the storage folder. `shoes/red` serves
 * `shoes/red.<any image ext>`; an exact `<id>.<ext>` file wins (so `shoes/red.webp` serves
 * `shoes/red.webp` if it exists, else `shoes/red.jpg` converted). Paths can never leave the
 * folder. Bytes are cached (bounded), keyed by path, and a changed, replaced, added or deleted
 * file is never served stale.
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
import { statSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { Errors } from '../errors.ts';
import type { Origin, Source } from './types.ts';
import { EXTENSIONS } from '../formats.ts';

/** A file is an image of its stem when its extension is in the format table, which ranks them. */
const EXT_RANK: ReadonlyMap<string, number> = new Map(EXTENSIONS.map((e, i) => [e, i]));
/** Most folders watched at once; beyond it, folders are validated by stats. */
const MAX_WATCHED = 4096;

interface Listing { mtimeMs: number; byStem: Map<string, string[]>; names: Set<string> }
/** A file's cached bytes, and the Source handed out while the file is unchanged. */
interface CachedBytes { mtimeMs: number; size: number; source: Source }
/** Which file a (public id, extension) names, validated at a watch generation (-1: not watched). */
interface Resolution { file: string; generation: number }

/** Cached file bytes keyed by absolute path; several roots may share one (one budget for all). */
export type SourceBytes = LRUCache<string, CachedBytes>;

export function createSourceBytes(cacheBytes: number): SourceBytes {
  return new LRUCache<string, CachedBytes>({
    maxSize: Math.max(1, cacheBytes),
    sizeCalculation: (v) => Math.max(1, v.size),
  });
}

export interface LocalOriginOptions {
  cacheBytes: number;
  /** A byte cache shared with other roots (default: a cache of its own of `cacheBytes`). */
  bytes?: SourceBytes;
  maxSourceBytes: number;
  /** Validate by filesystem events instead of a stat per request (default true). */
  watch?: boolean;
}

export interface LocalOrigin extends Origin {
  /** `ext` is the URL's extension (it may name an exact file). */
  loadWithExt(publicId: string, ext: string | undefined): Promise<Source>;
  /** The Source `loadWithExt` would return, if it is validated at the current generation. */
  peek(publicId: string, ext: string | undefined): Source | undefined;
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

export function createLocalOrigin(root: string, opts: LocalOriginOptions): LocalOrigin {
  const base = path.resolve(root);
  const listings = new LRUCache<string, Listing>({ max: 10_000 });
  const resolutions = new LRUCache<string, Resolution>({ max: 50_000 });
  const bytes = opts.bytes ?? createSourceBytes(opts.cacheBytes);

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
      if (!EXT_RANK.has(n.slice(dot + 1).toLowerCase())) continue;
      const stem = n.slice(0, dot);
      const arr = byStem.get(stem) ?? [];
      arr.push(n);
      byStem.set(stem, arr);
    }
    // Prefer a stable order: the table's (src/formats.ts).
    for (const arr of byStem.values()) arr.sort((a, b) => extRank(a) - extRank(b));
    const l = { mtimeMs: st.mtimeMs, byStem, names: new Set(names) };
    listings.set(dir, l);
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

  async function read(file: string, name: string): Promise<{ source: Source; cached: boolean }> {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st || !st.isFile()) throw new Errors.NOT_FOUND(name);
    if (st.size > opts.maxSourceBytes) throw new Errors.TOO_LARGE(`source is ${st.size} bytes, limit ${opts.maxSourceBytes}`);
    const hit = bytes.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return { source: named(hit.source, name), cached: true };
    let buffer: Buffer;
    try {
      buffer = await fs.readFile(file);
    } catch {
      throw new Errors.NOT_FOUND(name);
    }
    const source = { buffer, identity: `file:${file}:${st.mtimeMs}:${buffer.length}`, name };
    // Keep the bytes only if they are the ones the stat described (no write meanwhile).
    const same = buffer.length === st.size;
    if (same) bytes.set(file, { mtimeMs: st.mtimeMs, size: st.size, source });
    return { source, cached: same };
  }

  function peek(publicId: string, ext: string | undefined): Source | undefined {
    const r = resolutions.get(ext ? `${publicId}\n${ext}` : publicId);
    if (!r || r.generation !== generation) return undefined;
    const hit = bytes.get(r.file);
    return hit && named(hit.source, publicId);
  }

  return {
    peek,
    async loadWithExt(publicId, ext) {
      const known = peek(publicId, ext);
      if (known) return known;
      const key = ext ? `${publicId}\n${ext}` : publicId;
      const full = path.resolve(base, publicId);
      if (!inside(full) || full === base || !nameFits(full)) throw new Errors.NOT_FOUND(publicId);
      // Watch first, then look: a change after this point bumps the generation.
      const isWatched = watched(path.dirname(full));
      const gen = generation;
      const file = resolveFile(full, ext);
      if (!file) {
        resolutions.delete(key);
        throw new Errors.NOT_FOUND(publicId);
      }
      const { source, cached } = await read(file, publicId);
      if (isWatched && cached) resolutions.set(key, { file, generation: gen });
      else resolutions.delete(key);
      return source;
    },
    load(publicId) {
      return this.loadWithExt(publicId, undefined);
    },
    close() {
      closed = true;
      for (const w of watchers.values()) w?.close();
      watchers.clear();
      generation++;
    },
  };
}
