import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { testConfig, type Config } from '../../src/config.ts';
import {
  createRedisTier, createNoopTier, encodeResult, decodeResult, type StoredResult, type SharedTier,
} from '../../src/cache/redis-tier.ts';
import { startRedis, freePort, redisAvailable, redisSkipReason, type RedisServer } from '../helpers/redis.ts';
import { manualClock, waitFor } from '../helpers/harness.ts';

function recordingLog() {
  const lines: string[] = [];
  return {
    lines,
    info: (m: string) => { lines.push(`info ${m}`); },
    warn: (m: string) => { lines.push(`warn ${m}`); },
  };
}

function sample(bytes = 4096, tag = 'x'): StoredResult {
  const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(bytes)]);
  return { body, contentType: 'image/avif', etag: `"${tag}-${body.length}"`, meta: { format: 'avif', width: 400, dpr: 2, vary: 'Accept' } };
}

/**
 * Whether `p` settles before the event loop gets to its next check phase, i.e. with no I/O in
 * between: a tier that answers without waiting on Redis does; one that sends a command cannot.
 */
async function answersWithoutIo(p: Promise<unknown>): Promise<boolean> {
  const io = new Promise<'io'>((r) => setImmediate(r, 'io'));
  return (await Promise.race([p.then(() => 'answered' as const), io])) === 'answered';
}

/** Holds a compute until released: the compute is in flight for as long as the test wants. */
function held<T>(value: () => T) {
  let go!: () => void;
  const gate = new Promise<void>((r) => { go = r; });
  let started = 0;
  return { compute: async () => { started++; await gate; return value(); }, release: () => go(), get started() { return started; } };
}

t.test('encoding round trip without Redis', async (t) => {
  const v = sample(1000);
  const back = decodeResult(encodeResult(v));
  t.ok(back, 'decodes');
  t.ok(back!.body.equals(v.body), 'body bytes identical');
  t.same({ ...back, body: undefined }, { ...v, body: undefined });
  t.equal(decodeResult(Buffer.from('not ours')), undefined, 'foreign value is a miss');
  const truncated = encodeResult(v).subarray(0, 12);
  t.equal(decodeResult(truncated), undefined, 'truncated value is a miss');
});

t.test('no URL → no-op tier that still computes', async (t) => {
  const tier = createRedisTier(testConfig({ redisUrl: '' }), recordingLog());
  t.equal(tier.connected, false);
  await tier.setResult('k', sample(10));
  t.equal(await tier.getResult('k'), undefined);
  const { result, source } = await tier.coalesce('k', async () => sample(10, 'noop'));
  t.equal(source, 'computed');
  t.match(result.etag, /noop/);
  t.equal(typeof createNoopTier().close, 'function');
});

t.test('with a real redis-server', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const raw = createClient({ url: redis.url });
  await raw.connect();
  t.teardown(() => raw.close());

  const tiers: SharedTier[] = [];
  const open = async (over: Partial<Config> = {}, log = recordingLog(), server: RedisServer = redis) => {
    // A generous reply budget: on a loaded machine a 100 ms Redis reply can be late, and a late
    // lock heartbeat or poll would change the outcome (by design); the timeout cases set their own.
    const tier = createRedisTier(testConfig({ redisUrl: server.url, redisTimeoutMs: 10_000, ...over }), log);
    tiers.push(tier);
    await waitFor(() => tier.connected, 'tier connected');
    return tier;
  };
  t.teardown(async () => { await Promise.all(tiers.map((x) => x.close())); });

  t.test('binary round trip, JSON round trip, miss', async (t) => {
    const tier = await open();
    const v = sample(100_000);
    await tier.setResult('rt', v);
    const back = await tier.getResult('rt');
    t.ok(back && back.body.equals(v.body), 'same bytes back, including every byte value');
    t.equal(back?.contentType, 'image/avif');
    t.equal(back?.etag, v.etag);
    t.same(back?.meta, v.meta);
    t.equal(await tier.getResult('absent'), undefined, 'miss is undefined');
    t.equal(await raw.exists('aperture:r:rt'), 1, 'namespaced key');

    await tier.setJson('faces', 'img1', { boxes: [[1, 2, 3, 4]], n: 1 });
    t.same(await tier.getJson('faces', 'img1'), { boxes: [[1, 2, 3, 4]], n: 1 });
    t.equal(await raw.exists('aperture:j:faces:img1'), 1, 'JSON namespaced by ns');
    t.equal(await tier.getJson('faces', 'nope'), undefined);

    const bytes = Buffer.from([0, 1, 2, 255, 13, 10, 0x89, 0x50]);
    await tier.setBytes('bgmask', 'img1', bytes);
    t.same(await tier.getBytes('bgmask', 'img1'), bytes, 'bytes come back as they were (binary-safe)');
    t.equal(await raw.exists('aperture:b:bgmask:img1'), 1, 'bytes namespaced by ns');
    t.equal(await tier.getBytes('bgmask', 'nope'), undefined);
  });

  t.test('TTL applied', async (t) => {
    const tier = await open({ redisTtlSeconds: 120 });
    await tier.setResult('ttl', sample(10));
    const ttl = await raw.ttl('aperture:r:ttl');
    t.ok(ttl > 0 && ttl <= 120, `result TTL ${ttl} from config (120), not the default`);
    await tier.setJson('q', 'ttl', { q: 72 }, 7);
    const jttl = await raw.ttl('aperture:j:q:ttl');
    t.ok(jttl > 0 && jttl <= 7, `JSON TTL ${jttl} as given`);
    await tier.setJson('q', 'ttl-default', { q: 72 });
    const dttl = await raw.ttl('aperture:j:q:ttl-default');
    t.ok(dttl > 7 && dttl <= 120, `JSON default TTL ${dttl}: the configured 120`);
  });

  t.test('oversized entry is skipped', async (t) => {
    const tier = await open({ redisMaxEntryBytes: 2000 });
    await tier.setResult('big', sample(5000));
    t.equal(await raw.exists('aperture:r:big'), 0, 'not stored');
    t.equal(await tier.getResult('big'), undefined);
    await tier.setResult('small', sample(100));
    t.ok(await tier.getResult('small'), 'small one under the same limit is stored');
  });

  t.test('two instances share entries', async (t) => {
    const [a, b] = [await open(), await open()];
    const v = sample(2048, 'shared');
    await a.setResult('shared', v);
    const got = await b.getResult('shared');
    t.ok(got && got.body.equals(v.body), 'B reads what A wrote');
  });

  t.test('coalesce: 20 calls across two instances → one compute', async (t) => {
    const [a, b] = [await open(), await open()];
    // The compute is held until the lock is seen in Redis, so the other instance has to wait for it.
    const h = held(() => sample(50_000, 'co'));
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).coalesce('co', h.compute));
    await waitFor(async () => h.started === 1 && await raw.exists('aperture:lock:co') === 1, 'the lock taken');
    h.release();
    const out = await Promise.all(calls);
    const computes = h.started;
    t.equal(computes, 1, 'exactly one compute');
    const first = out[0].result.body;
    t.ok(out.every((o) => o.result.body.equals(first)), 'all 20 got the same bytes');
    t.ok(out.some((o) => o.source === 'computed'), 'someone computed');
    t.ok(out.some((o) => o.source === 'l2'), 'the other instance read it from L2');
    t.equal(await raw.exists('aperture:lock:co'), 0, 'lock released');
    const again = await a.coalesce('co', h.compute);
    t.equal(again.source, 'l2', 'later call is an L2 hit');
    t.equal(h.started, 1);
  });

  t.test('coalesce: dead holder is taken over after the lock expires', async (t) => {
    const tier = await open({ redisLockMs: 300 });
    await raw.set('aperture:lock:dead', 'ghost', { expiration: { type: 'PX', value: 300 } });
    let computes = 0;
    let lockDuringCompute: string | null = null;
    const { source, result } = await tier.coalesce('dead', async () => {
      computes++;
      lockDuringCompute = await raw.get('aperture:lock:dead');
      return sample(10, 'taken');
    });
    t.equal(computes, 1, 'computed once');
    t.equal(source, 'computed');
    t.match(result.etag, /taken/);
    t.ok(lockDuringCompute && lockDuringCompute !== 'ghost', 'it computed under its own lock, once the dead one had expired');
    t.ok(await tier.getResult('dead'), 'and stored the result');
  });

  t.test('coalesce: long render keeps its lock alive', async (t) => {
    // Beats every LOCK_MS/3: only an event-loop stall of over a second could lose the lock.
    const LOCK_MS = 3000;
    const [a, b] = [await open({ redisLockMs: LOCK_MS }), await open({ redisLockMs: LOCK_MS })];
    const h = held(() => sample(10, 'slow'));
    const first = a.coalesce('slow', h.compute);
    await waitFor(async () => h.started === 1 && await raw.exists('aperture:lock:slow') === 1, 'A holds the lock');
    const second = b.coalesce('slow', h.compute);
    // Hold the render until Redis' own clock says the first lock TTL is long past (an event, not a bound).
    const redisMs = async () => { const [sec, usec] = await raw.time(); return Number(sec) * 1000 + Number(usec) / 1000; };
    const since = await redisMs();
    await waitFor(async () => await redisMs() - since > 2 * LOCK_MS, 'two lock TTLs on the Redis clock');
    t.equal(await raw.exists('aperture:lock:slow'), 1, 'the lock is still there, renewed by the holder');
    h.release();
    const [r1, r2] = await Promise.all([first, second]);
    t.equal(h.started, 1, 'renewed lock: no takeover while the holder is alive');
    t.ok(r1.result.body.equals(r2.result.body));
  });

  t.test('coalesce: a failing holder lets waiters compute without waiting for the lock TTL', async (t) => {
    // A lock TTL and give-up time far beyond tap's timeout: waiting for either would fail the test.
    const over = { redisLockMs: 600_000, processTimeoutMs: 600_000 };
    const [a, b] = [await open(over), await open(over)];
    let fail: (() => void) | undefined;
    const failing = a.coalesce('fail', () => new Promise<StoredResult>((_, reject) => { fail = () => reject(new Error('origin 502')); }));
    await waitFor(async () => fail !== undefined && await raw.exists('aperture:lock:fail') === 1, 'A computing under its lock');
    let bComputes = 0;
    const waiting = b.coalesce('fail', async () => { bComputes++; return sample(10, 'b'); });
    fail!();
    await t.rejects(failing, /origin 502/, 'holder error reaches its caller');
    const r = await waiting;
    t.equal(bComputes, 1, 'waiter computed itself');
    t.equal(r.source, 'computed');
  });

  t.test('coalesce: result too large to share → waiters compute for themselves', async (t) => {
    const over = { redisMaxEntryBytes: 1000, redisLockMs: 600_000, processTimeoutMs: 600_000 };
    const [a, b] = [await open(over), await open(over)];
    const h = held(() => sample(5000, 'big'));
    const first = a.coalesce('huge', h.compute);
    await waitFor(async () => h.started === 1 && await raw.exists('aperture:lock:huge') === 1, 'A holds the lock');
    const second = b.coalesce('huge', h.compute);
    h.release();
    const out = await Promise.all([first, second]);
    t.equal(h.started, 2, 'one per instance, without waiting for the lock TTL');
    t.ok(out.every((o) => o.source === 'computed'));
  });
});

t.test('Redis stopped, then restarted', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const log = recordingLog();
  const tier = createRedisTier(testConfig({ redisUrl: redis.url, redisTimeoutMs: 10_000 }), log);
  t.teardown(() => tier.close());
  await waitFor(() => tier.connected, 'connected');
  await tier.setResult('k', sample(100));
  t.ok(await tier.getResult('k'), 'hit before the outage');

  await redis.stop();
  await waitFor(() => !tier.connected, 'the tier to notice');
  t.equal(tier.connected, false, 'reports not connected');
  for (let i = 0; i < 30; i++) {
    const r = tier.getResult('k');
    if (!await answersWithoutIo(r)) t.fail('getResult waited on Redis while it is down');
    if (await r !== undefined) t.fail('no hit while Redis is down');
    await tier.setResult('k2', sample(10));
  }
  t.pass('30 getResult calls while down: undefined, without waiting on Redis');
  let computes = 0;
  const c = tier.coalesce('k', async () => { computes++; return sample(10, 'down'); });
  t.ok(await answersWithoutIo(c), 'coalesce computes without waiting on Redis');
  t.equal((await c).source, 'computed');
  t.equal(computes, 1, 'coalesce still computes');

  await redis.restart();
  await waitFor(() => tier.connected, 'reconnected');
  t.ok(tier.connected, 'reconnects by itself');
  await tier.setResult('k3', sample(100, 'after'));
  const back = await tier.getResult('k3');
  t.match(back?.etag, /after/, 'hits resume after the restart');

  const downs = log.lines.filter((l) => /down/.test(l));
  const ups = log.lines.filter((l) => /back up/.test(l));
  t.equal(downs.length, 1, `one "down" line for the whole outage: ${JSON.stringify(log.lines)}`);
  t.equal(ups.length, 1, 'one "back up" line');
  t.equal(log.lines.filter((l) => /connected to/.test(l)).length, 1, 'one "connected" line at start');
  t.notMatch(log.lines.join('\n'), /password/);
});

t.test('Redis hangs (SIGSTOP): bounded latency and a breaker', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
  const redis = await startRedis();
  t.teardown(async () => { redis.resume(); await redis.stop(); });
  const log = recordingLog();
  // The breaker's clock is moved by hand: it stays open until the test says time has passed.
  const clock = manualClock();
  const tier = createRedisTier(testConfig({ redisUrl: redis.url, redisTimeoutMs: 1000 }), log, clock.now);
  t.teardown(() => tier.close());
  await waitFor(() => tier.connected, 'connected');
  await tier.setResult('h', sample(10));

  redis.pause();
  for (let i = 0; i < 3; i++) t.equal(await tier.getResult('h'), undefined, `call ${i + 1} gives up after the timeout`);
  t.equal(tier.connected, false, 'after 3 timeouts the breaker is open');
  for (let i = 0; i < 7; i++) {
    const r = tier.getResult('h');
    t.ok(await answersWithoutIo(r), 'the open breaker answers at once (no Redis round trip)');
    t.equal(await r, undefined);
  }
  const c = await tier.coalesce('h', async () => sample(10, 'hung'));
  t.equal(c.source, 'computed');

  redis.resume();
  clock.advance(1000);
  t.ok(tier.connected, 'breaker closes again once its open time has passed');
  const r = await tier.getResult('h');
  t.ok(r, 'hit once Redis answers again');
  t.equal(log.lines.filter((l) => /down/.test(l)).length, 1, 'down logged once');
  t.equal(log.lines.filter((l) => /back up/.test(l)).length, 1, 'up logged once');
});

t.test('Redis unavailable at boot', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
  const port = await freePort();
  const log = recordingLog();
  const tier = createRedisTier(testConfig({ redisUrl: `redis://:secretpw@127.0.0.1:${port}` }), log);
  const first = tier.getResult('x');
  t.ok(await answersWithoutIo(first), 'no waiting on a Redis that is not there');
  t.equal(await first, undefined);
  const c = tier.coalesce('x', async () => sample(10, 'boot'));
  t.ok(await answersWithoutIo(c), 'coalesce computes at once');
  t.equal((await c).source, 'computed');
  await waitFor(() => tier.reconnects >= 3, 'three reconnect attempts');
  const warns = log.lines.filter((l) => l.startsWith('warn'));
  t.equal(warns.length, 1, `one warning despite ${tier.reconnects} reconnect attempts: ${JSON.stringify(log.lines)}`);
  t.notMatch(warns[0], /secretpw/, 'password redacted');
  await tier.close();
  t.pass('close does not hang');
});
