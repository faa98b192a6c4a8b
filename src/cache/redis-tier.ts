/**
 * The shared L2 tier: rendered results and small analysis records in Redis, so that several
 * Aperture instances behind one edge render each variant once between them.
 *
 * Redis is an accelerator, never a dependency: every call is bounded (own timeout, offline queue
 * disabled, a short circuit breaker when Redis hangs) and a failure reads as a miss. A request
 * must never be slower with a sick Redis than with no Redis at all, beyond one timeout.
 */
import { randomUUID } from 'node:crypto';
import { createClient, RESP_TYPES } from 'redis';
import type { Config } from '../config.ts';

/** A rendered variant as the server needs it to answer without rendering again. */
export interface StoredResult {
  body: Buffer;
  contentType: string;
  etag: string;
  /** The resolved variant (format, width, dpr, ...) and headers the server replays. */
  meta: Record<string, string | number>;
}

export interface SharedTier {
  /** Never throws: undefined on miss, Redis down, or timeout. */
  getResult(key: string): Promise<StoredResult | undefined>;
  /** Never throws; skips entries over `redisMaxEntryBytes`; TTL `redisTtlSeconds`. */
  setResult(key: string, value: StoredResult): Promise<void>;
  /** Small analysis records (g_auto regions, faces, chosen quality, breakpoints, source metadata). */
  getJson<T>(ns: string, key: string): Promise<T | undefined>;
  setJson(ns: string, key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  /** Binary analysis records (background removal masks, PNG): the same contract as getJson/setJson, bytes kept as they are. */
  getBytes(ns: string, key: string): Promise<Buffer | undefined>;
  setBytes(ns: string, key: string, value: Buffer, ttlSeconds?: number): Promise<void>;
  /**
   * Render once across instances. The first caller takes a lock (kept alive while it renders),
   * stores the result and releases the lock; the others poll for the result. A holder that dies
   * loses its lock after `redisLockMs` and one waiter takes over. A holder that fails, or whose
   * result is too large to share, leaves a short "skip" marker so waiters render for themselves
   * instead of queueing behind one another. With Redis down this is just `compute()`.
   * Concurrent calls for one key in this process share one flow (and one error).
   */
  coalesce(key: string, compute: () => Promise<StoredResult>): Promise<{ result: StoredResult; source: 'l2' | 'computed' }>;
  /**
   * Publish `message` on `channel` to every instance subscribed to it (Redis pub/sub). Never
   * throws; false when Redis is down or slow (the message is lost, not queued).
   */
  publish(channel: string, message: string): Promise<boolean>;
  /**
   * Call `handler` for every message on `channel`, on a second connection (a subscribed
   * connection takes no other command). Subscribes when Redis first answers and again after
   * each reconnection; messages published while the connection was down are not delivered.
   */
  subscribe(channel: string, handler: (message: string) => void): void;
  readonly connected: boolean;
  /** Reconnection attempts since start (diagnostics; tests wait for them instead of sleeping). */
  readonly reconnects: number;
  close(): Promise<void>;
}

export interface TierLog {
  info(msg: string): void;
  warn(msg: string): void;
}

const RESULT_PREFIX = 'aperture:r:';
const JSON_PREFIX = 'aperture:j:';
const BYTES_PREFIX = 'aperture:b:';
const LOCK_PREFIX = 'aperture:lock:';

/** Stored layout: magic, header length (u32 BE), JSON header, body. One GET, one SET, no hash. */
const MAGIC = Buffer.from('APR1');
const HEAD_OFFSET = MAGIC.length + 4;

/** Timeouts in a row that trip the breaker; one slow reply is noise, three is a sick server. */
const BREAKER_TIMEOUTS = 3;
const BREAKER_OPEN_MS = 1000;
const RECONNECT_MAX_MS = 1000;
const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 100;
const SKIP_MARKER = '!skip';
const MB = 1024 * 1024;
const WRITE_MS_PER_MB = 25;

export function encodeResult(v: StoredResult): Buffer {
  const head = Buffer.from(JSON.stringify({ t: v.contentType, e: v.etag, m: v.meta }));
  const out = Buffer.allocUnsafe(HEAD_OFFSET + head.length + v.body.length);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(head.length, MAGIC.length);
  head.copy(out, HEAD_OFFSET);
  v.body.copy(out, HEAD_OFFSET + head.length);
  return out;
}

/** Anything unreadable (older layout, foreign writer) is a miss, not an error. */
export function decodeResult(buf: Buffer): StoredResult | undefined {
  if (buf.length < HEAD_OFFSET || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const headLen = buf.readUInt32BE(MAGIC.length);
  if (HEAD_OFFSET + headLen > buf.length) return undefined;
  try {
    const h = JSON.parse(buf.toString('utf8', HEAD_OFFSET, HEAD_OFFSET + headLen)) as { t?: unknown; e?: unknown; m?: unknown };
    if (typeof h.t !== 'string' || typeof h.e !== 'string' || !h.m || typeof h.m !== 'object') return undefined;
    // subarray, not a copy: results are up to megabytes and the reply buffer is ours alone.
    return { body: buf.subarray(HEAD_OFFSET + headLen), contentType: h.t, etag: h.e, meta: h.m as StoredResult['meta'] };
  } catch {
    return undefined;
  }
}

/** One atomic step of a waiter: the result if present, else try the lock, else report a skip marker. */
const POLL_SCRIPT = `
local r = redis.call('GET', KEYS[1])
if r then return r end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[2]) == ARGV[3] then return 2 end
return 0`;
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const EXTEND_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const SKIP_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`;

class TierTimeout extends Error {}
class TierUnavailable extends Error {}

const BINARY = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable APERTURE_REDIS_URL)';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A tier that never stores anything: what `createRedisTier` returns when no Redis is configured. */
export function createNoopTier(): SharedTier {
  return {
    getResult: async () => undefined,
    setResult: async () => {},
    getJson: async () => undefined,
    setJson: async () => {},
    getBytes: async () => undefined,
    setBytes: async () => {},
    coalesce: async (_key, compute) => ({ result: await compute(), source: 'computed' }),
    publish: async () => false,
    subscribe: () => {},
    connected: false,
    reconnects: 0,
    close: async () => {},
  };
}

/**
 * Connects in the background and returns at once: boot never waits for Redis, and the tier
 * joins in when Redis answers. With `config.redisUrl` empty, a no-op tier. `now` is the clock
 * of the breaker and of the waiters' give-up time (tests move it by hand).
 */
export function createRedisTier(config: Config, log: TierLog, now: () => number = Date.now): SharedTier {
  if (!config.redisUrl) return createNoopTier();
  const where = redactUrl(config.redisUrl);
  const timeoutMs = config.redisTimeoutMs;
  const lockMs = config.redisLockMs;
  const skipMs = Math.min(lockMs, 1000);

  const client = createClient({
    url: config.redisUrl,
    // Queueing commands while disconnected would turn an outage into latency; fail instead.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: Math.max(250, timeoutMs * 4),
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, RECONNECT_MAX_MS) + Math.floor(Math.random() * 50),
    },
  });

  // 'up' | 'down' | 'unknown' (never connected yet): logged on transitions only.
  let state: 'unknown' | 'up' | 'down' = 'unknown';
  let closed = false;
  let timeoutsInRow = 0;
  let breakerUntil = 0;

  const markUp = () => {
    if (state === 'up') return;
    log.info(state === 'unknown' ? `redis shared tier: connected to ${where}` : `redis shared tier: back up (${where})`);
    state = 'up';
  };
  const markDown = (reason: string) => {
    if (state === 'down' || closed) return;
    log.warn(state === 'unknown'
      ? `redis shared tier: ${where} unavailable (${reason}); serving without it, retrying in the background`
      : `redis shared tier: down (${reason}); serving without it until it is back`);
    state = 'down';
  };

  let reconnects = 0;
  client.on('reconnecting', () => { reconnects++; });
  client.on('ready', () => {
    timeoutsInRow = 0;
    breakerUntil = 0;
    markUp();
  });
  // node-redis emits 'error' for every failed reconnect attempt; without a listener it would crash.
  client.on('error', (err: Error) => {
    if (!client.isReady) markDown(err.message || err.name);
  });
  client.connect().catch(() => { /* reported through 'error'; the reconnect loop keeps going */ });

  const isConnected = () => !closed && client.isReady && now() >= breakerUntil;

  /**
   * node-redis' own `timeout` option stops counting once a command is written, so a hung server
   * (connection open, no replies) would stall callers forever: time the whole round trip here.
   */
  async function exec<T>(args: ReadonlyArray<string | Buffer>, binary = false, budgetMs = timeoutMs): Promise<T> {
    if (!isConnected()) throw new TierUnavailable();
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const deadline = new Promise<never>((_, reject) => {
      // When the event loop itself was stalled (GC, a burst of sync work), the timers phase runs
      // before the poll phase reads a reply that arrived in time. setImmediate runs after poll,
      // so only a reply that truly is not there yet counts as a timeout.
      timer = setTimeout(() => setImmediate(() => { if (!settled) reject(new TierTimeout()); }), budgetMs);
    });
    const sent = client.sendCommand<T>(args, binary ? { typeMapping: BINARY } : undefined);
    sent.then(() => { settled = true; }, () => { settled = true; });
    try {
      const reply = await Promise.race([sent, deadline]);
      timeoutsInRow = 0;
      if (state === 'down') markUp();
      return reply;
    } catch (err) {
      if (err instanceof TierTimeout) {
        sent.catch(() => {});
        if (++timeoutsInRow >= BREAKER_TIMEOUTS) {
          breakerUntil = now() + BREAKER_OPEN_MS;
          markDown(`no reply within ${timeoutMs} ms`);
        }
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async function storeResult(key: string, value: StoredResult): Promise<boolean> {
    const payload = encodeResult(value);
    if (payload.length > config.redisMaxEntryBytes) return false;
    try {
      // A 5 MB write is legitimately slower than a lookup; only a stuck one should trip the breaker.
      const budget = timeoutMs + Math.ceil(payload.length / MB) * WRITE_MS_PER_MB;
      await exec(['SET', RESULT_PREFIX + key, payload, 'EX', String(config.redisTtlSeconds)], false, budget);
      return true;
    } catch {
      return false;
    }
  }

  async function runScript<T>(script: string, keys: string[], args: string[], binary = false): Promise<T> {
    return exec<T>(['EVAL', script, String(keys.length), ...keys, ...args], binary);
  }

  async function holdAndCompute(key: string, token: string, compute: () => Promise<StoredResult>): Promise<StoredResult> {
    const lockKey = LOCK_PREFIX + key;
    // Keep the lock alive while rendering so a slow render is not mistaken for a dead holder.
    const beat = setInterval(() => {
      runScript(EXTEND_SCRIPT, [lockKey], [token, String(lockMs)]).catch(() => {});
    }, Math.max(50, Math.floor(lockMs / 3)));
    beat.unref();
    let result: StoredResult;
    try {
      result = await compute();
    } catch (err) {
      clearInterval(beat);
      await runScript(SKIP_SCRIPT, [lockKey], [token, SKIP_MARKER, String(skipMs)]).catch(() => {});
      throw err;
    }
    clearInterval(beat);
    // Result first, then release: a waiter that sees the lock gone must find the result.
    if (await storeResult(key, result)) {
      await runScript(RELEASE_SCRIPT, [lockKey], [token]).catch(() => {});
    } else {
      await runScript(SKIP_SCRIPT, [lockKey], [token, SKIP_MARKER, String(skipMs)]).catch(() => {});
    }
    return result;
  }

  async function coalesceAcross(key: string, compute: () => Promise<StoredResult>): Promise<{ result: StoredResult; source: 'l2' | 'computed' }> {
    const computeLocally = async () => ({ result: await compute(), source: 'computed' as const });
    if (!isConnected()) return computeLocally();
    const token = randomUUID();
    // Past this, the holder is slower than any request may take; stop waiting for it.
    const giveUpAt = now() + config.processTimeoutMs + lockMs;
    let delay = POLL_FIRST_MS;
    for (;;) {
      let step: Buffer | number;
      try {
        step = await runScript<Buffer | number>(POLL_SCRIPT,
          [RESULT_PREFIX + key, LOCK_PREFIX + key], [token, String(lockMs), SKIP_MARKER], true);
      } catch {
        return computeLocally();
      }
      if (Buffer.isBuffer(step)) {
        const result = decodeResult(step);
        if (result) return { result, source: 'l2' };
        // Unreadable entry: render and overwrite it rather than wait on it forever.
        const fresh = await compute();
        await storeResult(key, fresh);
        return { result: fresh, source: 'computed' };
      }
      if (step === 1) return { result: await holdAndCompute(key, token, compute), source: 'computed' };
      if (step === 2 || now() > giveUpAt) return computeLocally();
      await sleep(delay);
      delay = Math.min(POLL_MAX_MS, Math.ceil(delay * 1.5));
    }
  }

  const inflight = new Map<string, Promise<{ result: StoredResult; source: 'l2' | 'computed' }>>();

  // The subscriber connection, made on the first subscribe(). node-redis subscribes it again
  // after every reconnection; until its first connection succeeds, 'ready' does it.
  let subscriber: ReturnType<typeof client.duplicate> | undefined;
  const channels = new Map<string, (message: string) => void>();
  const subscribed = new Set<string>();
  function subscribeAll(): void {
    const sub = subscriber;
    if (!sub?.isReady) return;
    for (const [channel, handler] of channels) {
      if (subscribed.has(channel)) continue;
      subscribed.add(channel);
      sub.subscribe(channel, handler).catch(() => { subscribed.delete(channel); });
    }
  }

  return {
    async getResult(key) {
      try {
        const buf = await exec<Buffer | null>(['GET', RESULT_PREFIX + key], true);
        return buf ? decodeResult(buf) : undefined;
      } catch {
        return undefined;
      }
    },
    async setResult(key, value) {
      await storeResult(key, value);
    },
    async getJson<T>(ns: string, key: string) {
      try {
        const raw = await exec<string | null>(['GET', `${JSON_PREFIX}${ns}:${key}`]);
        return raw === null ? undefined : JSON.parse(raw) as T;
      } catch {
        return undefined;
      }
    },
    async setJson(ns, key, value, ttlSeconds = config.redisTtlSeconds) {
      try {
        const raw = JSON.stringify(value);
        if (raw === undefined || Buffer.byteLength(raw) > config.redisMaxEntryBytes) return;
        await exec(['SET', `${JSON_PREFIX}${ns}:${key}`, raw, 'EX', String(ttlSeconds)]);
      } catch { /* a lost analysis record is recomputed later */ }
    },
    async getBytes(ns, key) {
      try {
        return (await exec<Buffer | null>(['GET', `${BYTES_PREFIX}${ns}:${key}`], true)) ?? undefined;
      } catch {
        return undefined;
      }
    },
    async setBytes(ns, key, value, ttlSeconds = config.redisTtlSeconds) {
      try {
        if (value.length > config.redisMaxEntryBytes) return;
        await exec(['SET', `${BYTES_PREFIX}${ns}:${key}`, value, 'EX', String(ttlSeconds)]);
      } catch { /* a lost analysis record is recomputed later */ }
    },
    coalesce(key, compute) {
      const running = inflight.get(key);
      if (running) return running;
      const flow = coalesceAcross(key, compute).finally(() => inflight.delete(key));
      inflight.set(key, flow);
      return flow;
    },
    async publish(channel, message) {
      try {
        await exec(['PUBLISH', channel, message]);
        return true;
      } catch {
        return false;
      }
    },
    subscribe(channel, handler) {
      if (closed) return;
      channels.set(channel, handler);
      if (!subscriber) {
        const sub = client.duplicate();
        subscriber = sub;
        sub.on('error', () => { /* the main client reports Redis' state; this one just reconnects */ });
        sub.on('ready', subscribeAll);
        sub.connect().catch(() => { /* retried by the reconnect strategy */ });
      }
      subscribeAll();
    },
    get connected() {
      return isConnected();
    },
    get reconnects() {
      return reconnects;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (subscriber?.isOpen) subscriber.destroy();
      if (!client.isOpen) return;
      if (!client.isReady || breakerUntil > now()) {
        client.destroy();
        return;
      }
      // close() waits for pending replies (so queued SETs land), but a server that hangs now
      // would never send them: cap the wait and let the socket stop holding the process open.
      const done = await Promise.race([
        client.close().then(() => true, () => true),
        new Promise<boolean>((r) => { setTimeout(r, 500, false).unref(); }),
      ]);
      if (!done) client.unref();
    },
  };
}
