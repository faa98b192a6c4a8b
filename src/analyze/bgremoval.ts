/**
 * Background removal (e_background_removal, e_bgremoval): the foreground mask of an image,
 * computed by ISNet in a child process (./bgremoval-child.ts) and kept per source.
 *
 * - The child starts on the first mask asked for (0.3-0.6 s to start and load the 88 MB
 *   model), takes one job at a time (FIFO here), and is stopped once it has had no job for `idleMs`
 *   (APERTURE_BGREMOVAL_IDLE_MS): a process, not a worker thread, so everything onnxruntime took
 *   (~1.1 GB while inferring, 120-440 MB between jobs; BENCHMARKS.md) is given back whole.
 * - The model sees the image squeezed to MODEL_SIDE² (1024 px, its fixed input); the mask is kept
 *   at that size (1 MB) and scaled to the canvas by the effect, so every size derived from a
 *   source reuses it. Masks are cached by key (source identity + the components before the
 *   effect), byte-bounded (APERTURE_BGREMOVAL_CACHE_BYTES); a mask being computed is shared by
 *   every request that asks for it meanwhile.
 * - A request waits for its mask at most `waitMs` (APERTURE_BGREMOVAL_WAIT_MS), and never past
 *   its processing budget; then it is answered 423 with Retry-After (Cloudinary's answer while a
 *   derived asset is being generated) and the computation goes on, so a later request finds it
 *   cached.
 * - With a shared tier (Redis), a mask missing here is looked for there before the model runs,
 *   and a computed one is stored there (PNG, ~30-150 KB, namespace `bgmask`, the same key), so
 *   one instance computes a mask and the others reuse it without starting their own model.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import sharp from 'sharp';
import { Errors } from '../errors.ts';
import type { Deadline } from '../render/deadline.ts';
import { MODEL_SIDE, type BgModel, type ChildReply, type ChildRequest } from './bgremoval-protocol.ts';

export { MODEL_SIDE, type BgModel };

export interface BgRemovalSettings {
  model: BgModel;
  /** onnxruntime intra-op threads; 0: one per core. */
  threads: number;
  idleMs: number;
  waitMs: number;
  cacheBytes: number;
  /** Masks computed or waiting at once (APERTURE_BGREMOVAL_QUEUE); another is a 423 at once. */
  queue: number;
}

/** Calls `fire` once after `ms` unless the returned cancel function is called first. */
export type IdleTimer = (ms: number, fire: () => void) => () => void;
const realTimer: IdleTimer = (ms, fire) => {
  const t = setTimeout(fire, ms);
  t.unref();
  return () => clearTimeout(t);
};

interface Job { model: BgModel; threads: number; rgb: Uint8Array; resolve: (mask: Buffer) => void; reject: (e: Error) => void }

let idleTimer: IdleTimer = realTimer;
/** Tests: awaited before each job is handed to the child, so a test can hold a job in flight. */
let jobLatch: (() => Promise<void>) | undefined;
let child: ChildProcess | null = null;
/** The model and thread count the running child was started with (`medium/0`). */
let childModel: string | null = null;
let ready: Promise<void> | null = null;
let cancelIdle: (() => void) | null = null;
const queue: Job[] = [];
/** The job in hand: waiting at the latch or for the child (no `child` yet), or sent to `child`. */
let current: { id: number; job: Job; child?: ChildProcess } | null = null;
let nextId = 1;
let lastInferenceMs = 5000;
const stats = { starts: 0, inferences: 0, masksComputed: 0, cacheHits: 0, sharedHits: 0 };
let cache: LRUCache<string, Buffer> | null = null;
let cacheBytes = -1;
const inflight = new Map<string, Promise<Buffer>>();

export function configureBgRemoval(opts: { idleTimer?: IdleTimer; jobLatch?: (() => Promise<void>) | null }): void {
  if (opts.idleTimer) idleTimer = opts.idleTimer;
  if (opts.jobLatch !== undefined) jobLatch = opts.jobLatch ?? undefined;
}

/** What tests and benchmarks look at: the child's pid (none when stopped), counters, jobs waiting. */
export function bgRemovalState(): { pid: number | undefined; queued: number; busy: boolean; cached: number } & typeof stats {
  return { pid: child?.pid, queued: queue.length, busy: current !== null, cached: cache?.size ?? 0, ...stats };
}

function childUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './bgremoval-child.ts' : './bgremoval-child.js', import.meta.url);
}

function startChild(model: BgModel, threads: number): Promise<void> {
  const url = childUrl();
  // Under tsx/tap the child loads its TypeScript source through tsx's loader.
  // --expose-gc: the child collects the model's bytes (and medium's fp32 rewrite) once its session holds the weights
  const execArgv = ['--expose-gc', ...(url.pathname.endsWith('.ts') ? [`--import=${import.meta.resolve('tsx/esm')}`] : [])];
  const c = fork(url, [model, String(threads)], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child = c;
  childModel = `${model}/${threads}`;
  stats.starts++;
  holdAlive(c, true);
  ready = new Promise<void>((resolve, reject) => {
    const onMessage = (m: ChildReply) => {
      if ('ready' in m) { resolve(); return; }
      if ('error' in m && m.id === undefined) { reject(new Error(m.error)); return; }
      if (!current || !('id' in m) || m.id !== current.id) return;
      const { job } = current;
      current = null;
      if ('mask' in m) job.resolve(Buffer.from(m.mask.buffer, m.mask.byteOffset, m.mask.byteLength));
      else job.reject(new Error(`background removal failed: ${m.error}`));
      pump();
    };
    c.on('message', onMessage);
    c.once('exit', (code, signal) => {
      const why = new Error(`background removal process exited (${signal ?? code})`);
      reject(why);
      if (child === c) { child = null; ready = null; }
      if (current?.child === c) { const { job } = current; current = null; job.reject(why); }
      pump();
    });
    c.once('error', (e) => reject(e));
  });
  ready.catch(() => undefined);
  return ready;
}

/** While a job is running the child keeps the process alive; idle, it does not. */
function holdAlive(c: ChildProcess | null, on: boolean): void {
  if (!c) return;
  if (on) { c.ref(); c.channel?.ref(); } else { c.unref(); c.channel?.unref(); }
}

function stopChild(): void {
  const c = child;
  child = null;
  ready = null;
  if (c && c.exitCode === null && c.signalCode === null) c.kill();
}

/** Hands the next job to the child; with none left, counts the idle time down. */
function pump(): void {
  if (current) return;
  const job = queue.shift();
  if (!job) {
    holdAlive(child, false);
    cancelIdle?.();
    cancelIdle = child && settingsIdleMs > 0 ? idleTimer(settingsIdleMs, () => { cancelIdle = null; if (!current && !queue.length) stopChild(); }) : null;
    return;
  }
  cancelIdle?.();
  cancelIdle = null;
  const id = nextId++;
  current = { id, job };
  void (async () => {
    try {
      await jobLatch?.();
      // a job for another model or thread count (servers with different settings in one process) restarts it
      if (child && childModel !== `${job.model}/${job.threads}`) stopChild();
      await (ready ?? startChild(job.model, job.threads));
      holdAlive(child, true);
      const t0 = performance.now();
      const c = child!;
      const done = new Promise<Buffer>((resolve, reject) => { current = { id, job: { ...job, resolve, reject }, child: c }; });
      c.send({ id, rgb: job.rgb } satisfies ChildRequest);
      const mask = await done;
      lastInferenceMs = performance.now() - t0;
      stats.inferences++;
      job.resolve(mask);
    } catch (e) {
      if (current?.id === id) current = null;
      job.reject(e as Error);
      pump();
    }
  })();
}

let settingsIdleMs = 60_000;

function runModel(model: BgModel, threads: number, rgb: Uint8Array): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    queue.push({ model, threads, rgb, resolve, reject });
    pump();
  });
}

/** The shared tier's binary records (RenderContext.shared), as far as masks need it. */
export interface MaskStore {
  getBytes(ns: string, key: string): Promise<Buffer | undefined>;
  setBytes(ns: string, key: string, value: Buffer): Promise<void>;
}
const SHARED_NS = 'bgmask';

/** A mask from the shared tier (PNG), or undefined when absent or not a MODEL_SIDE² grey image. */
async function sharedMask(store: MaskStore, key: string): Promise<Buffer | undefined> {
  const png = await store.getBytes(SHARED_NS, key);
  if (!png) return undefined;
  try {
    const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return info.width === MODEL_SIDE && info.height === MODEL_SIDE && info.channels === 1 ? data : undefined;
  } catch {
    return undefined;
  }
}

async function storeMask(store: MaskStore, key: string, mask: Buffer): Promise<void> {
  const png = await sharp(mask, { raw: { width: MODEL_SIDE, height: MODEL_SIDE, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 6 }).toBuffer();
  await store.setBytes(SHARED_NS, key, png);
}

/**
 * Where the mask for `key` stands in this process: `cached` (no wait), `computing` (another
 * request started it), `full` (a new one would be refused: APERTURE_BGREMOVAL_QUEUE), or
 * `absent` (a new computation would start; the shared tier may still hold it).
 */
export function maskState(key: string, settings: Pick<BgRemovalSettings, 'model' | 'queue'>): 'cached' | 'computing' | 'full' | 'absent' {
  const k = `${settings.model}\n${key}`;
  if (cache?.has(k)) return 'cached';
  if (inflight.has(k)) return 'computing';
  return inflight.size >= settings.queue ? 'full' : 'absent';
}

/**
 * The MODEL_SIDE² foreground mask (0-255) for `key`: cached, or being computed, or in the shared
 * tier (`shared`), or computed now from `input()` (the image as MODEL_SIDE² RGB). Waits
 * `settings.waitMs` at most, and never past the deadline: then Errors.PENDING (423,
 * Retry-After) while the computation goes on.
 */
export async function foregroundMask(key: string, input: () => Promise<Uint8Array>, settings: BgRemovalSettings, deadline: Deadline, shared?: MaskStore): Promise<Buffer> {
  settingsIdleMs = settings.idleMs;
  if (!cache || cacheBytes !== settings.cacheBytes) {
    cacheBytes = settings.cacheBytes;
    cache = settings.cacheBytes > 0 ? new LRUCache<string, Buffer>({ maxSize: settings.cacheBytes, sizeCalculation: (b) => Math.max(1, b.length) }) : null;
  }
  key = `${settings.model}\n${key}`;
  const hit = cache?.get(key);
  if (hit) { stats.cacheHits++; return hit; }
  let p = inflight.get(key);
  if (!p && inflight.size >= settings.queue) {
    // Counted synchronously (inflight is set below before any await), so a burst cannot start
    // more computations than this, each holding its image while it waits for the model.
    const retry = Math.max(1, Math.ceil(lastInferenceMs * inflight.size / 1000));
    throw new Errors.PENDING(`${inflight.size} background removals are being computed; retry in ${retry} s`, retry);
  }
  if (!p) {
    const l1Key = key;
    p = (async () => {
      const sharedKey = shared ? createHash('sha256').update(l1Key).digest('base64url') : '';
      let mask = shared ? await sharedMask(shared, sharedKey) : undefined;
      if (mask) stats.sharedHits++;
      else {
        const rgb = await input();
        mask = await runModel(settings.model, settings.threads, rgb);
        stats.masksComputed++;
        if (shared) await storeMask(shared, sharedKey, mask).catch(() => undefined);
      }
      if (cache && mask.length <= cache.maxSize) cache.set(l1Key, mask);
      return mask;
    })();
    const mine = p;
    inflight.set(key, mine);
    mine.then(() => inflight.delete(key), () => inflight.delete(key));
  }
  const waitMs = Math.max(0, Math.min(settings.waitMs, deadline.remainingMs()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), waitMs); });
  try {
    const r = await Promise.race([p, late]);
    if (r !== 'late') return r;
  } finally {
    clearTimeout(timer);
  }
  p.catch(() => undefined);
  const retry = Math.max(1, Math.ceil(lastInferenceMs * (1 + queue.length) / 1000));
  throw new Errors.PENDING(`the background removal of this image is being computed; retry in ${retry} s`, retry);
}

/** Tests: forgets the cached masks, as a fresh instance would start (the counters stay). */
export function clearBgRemovalCache(): void {
  cache?.clear();
}

/** Stops the child now (tests, shutdown); the next mask starts it again. */
export function stopBgRemoval(): void {
  cancelIdle?.();
  cancelIdle = null;
  stopChild();
}
