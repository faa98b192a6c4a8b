/**
 * Two real Aperture instances (same originals, same real redis-server) over real HTTP on
 * loopback: a result one instance renders is served by the other from Redis (L2), a burst of
 * identical cold requests spread over both renders once in total, and losing Redis mid-run
 * costs availability nothing; when Redis comes back on the same port, sharing resumes.
 */
import t from 'tap';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config.ts';
import { startRedis, redisAvailable, redisSkipReason } from '../helpers/redis.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';
import { rawGet, renderGate, startServer, waitFor, type RawReply, type RenderGate } from '../helpers/harness.ts';

const storageDir = path.join(repoRoot, 'images');

type Reply = RawReply;

/** One request on its own connection, so concurrent calls are concurrent on the wire too. */
const get = (port: number, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> => rawGet(port, urlPath, headers, false);

function cacheOf(r: Reply): string | undefined {
  return /cache;desc="(\w+)"/.exec(String(r.headers['server-timing'] ?? ''))?.[1];
}

interface Instance {
  name: string;
  app: FastifyInstance;
  port: number;
  lines: string[];
  transforms(): Promise<number>;
  metric(name: string): Promise<number | undefined>;
}

async function startInstance(name: string, overrides: Partial<Config>, gate: RenderGate): Promise<Instance> {
  const lines: string[] = [];
  const { app, port } = await startServer(undefined, {
    config: { storageDir, logLevel: 'silent', ...overrides },
    gate,
    log: { info: (m) => { lines.push(`info ${m}`); }, warn: (m) => { lines.push(`warn ${m}`); } },
  });
  const metric = async (metricName: string) => {
    const r = await get(port, '/metrics');
    const m = new RegExp(`^${metricName}(?:\\{[^}]*\\})?\\s+(\\S+)$`, 'm').exec(r.body.toString('utf8'));
    return m ? Number(m[1]) : undefined;
  };
  return { name, app, port, lines, metric, transforms: async () => (await metric('aperture_transforms_total')) ?? NaN };
}

/** Open TCP connections to a server. */
function connections(app: FastifyInstance): Promise<number> {
  return new Promise((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

const count = (lines: string[], re: RegExp) => lines.filter((l) => re.test(l)).length;

t.test('two instances sharing one real Redis', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  // A generous per-command budget: on busy shared cores a 100 ms Redis reply can be late, and a
  // late poll makes a waiter render for itself (by design), which would blur the one-render
  // count below. The outage case does not depend on it: a stopped server refuses at once.
  const REDIS_TIMEOUT_MS = 10_000;
  const cfg = { redisUrl: redis.url, redisTimeoutMs: REDIS_TIMEOUT_MS };
  // One gate for both instances: open, except where a test holds the render in flight.
  const gate = renderGate({ open: true });
  const a = await startInstance('A', cfg, gate);
  const b = await startInstance('B', cfg, gate);
  t.teardown(async () => { gate.open(); await a.app.close(); await b.app.close(); });
  await waitFor(() => a.lines.some((l) => /connected/.test(l)) && b.lines.some((l) => /connected/.test(l)), 'both tiers connected');
  t.pass('both instances report the shared tier connected');

  await t.test('a result made by A is an L2 hit on B, with no render on B', async (t) => {
    const url = '/image/upload/c_fill,w_320,h_240/rocket.jpg';
    const ra = await get(a.port, url);
    t.equal(ra.status, 200);
    t.equal(cacheOf(ra), 'miss', 'A renders it');
    const rb = await get(b.port, url);
    t.equal(rb.status, 200);
    t.equal(cacheOf(rb), 'l2', 'B serves it from Redis');
    t.ok(rb.body.equals(ra.body), 'same bytes');
    t.equal(rb.headers.etag, ra.headers.etag, 'same ETag');
    t.equal(rb.headers['content-type'], ra.headers['content-type']);
    t.equal(await a.transforms(), 1, 'A: aperture_transforms_total 1');
    t.equal(await b.transforms(), 0, 'B: aperture_transforms_total 0');
    const again = await get(b.port, url);
    t.equal(cacheOf(again), 'l1', 'then it is in B\'s own memory');
  });

  await t.test('20 concurrent identical cold requests over A and B render once in total', async (t) => {
    const before = (await a.transforms()) + (await b.transforms());
    // The one render is held until all 20 requests are on the wire (20 open connections).
    const url = '/image/upload/e_blur:40,w_600,q_80/coffee.png';
    gate.shut();
    const pending = Array.from({ length: 20 }, (_, i) => get(i % 2 ? b.port : a.port, url));
    await gate.waitHeld(1);
    await waitFor(async () => (await connections(a.app)) + (await connections(b.app)) >= 20, '20 requests on the wire');
    t.equal(gate.held, 1, 'one render in flight for 20 requests');
    gate.open();
    const replies = await Promise.all(pending);
    const after = (await a.transforms()) + (await b.transforms());
    t.equal(after - before, 1, 'sum of both instances\' aperture_transforms_total grew by exactly 1');
    t.same(replies.map((r) => r.status), Array(20).fill(200), 'all 200');
    const etags = new Set(replies.map((r) => r.headers.etag));
    t.equal(etags.size, 1, 'one ETag');
    t.ok(replies.every((r) => r.body.equals(replies[0]!.body)), 'identical bytes');
    const states = replies.map(cacheOf);
    t.equal(states.filter((s) => s === 'miss').length, 1, 'one reply says miss (the renderer)');
    t.comment(`cache states: ${JSON.stringify(states.reduce<Record<string, number>>((m, s) => ({ ...m, [String(s)]: (m[String(s)] ?? 0) + 1 }), {}))}`);
  });

  await t.test('Redis stopped: still 200, rendered locally, "down" logged once', async (t) => {
    for (const w of [301, 302]) {
      t.equal(cacheOf(await get(a.port, `/image/upload/w_${w}/coffee.png`)), 'miss', 'a fresh render with Redis up');
    }
    await redis.stop();
    // No waiting for the instances to notice: the first requests race the disconnect.
    const down: Reply[] = [];
    for (const [i, w] of [305, 306, 307, 308, 309, 310, 311, 312].entries()) {
      down.push(await get(i % 2 ? b.port : a.port, `/image/upload/w_${w}/coffee.png`));
    }
    t.same(down.map((r) => r.status), Array(8).fill(200), 'every request 200 with Redis down');
    t.same(down.map(cacheOf), Array(8).fill('miss'), 'rendered locally');
    const l1 = await get(a.port, '/image/upload/c_fill,w_320,h_240/rocket.jpg');
    t.equal(l1.status, 200);
    t.equal(cacheOf(l1), 'l1', 'L1 still serves what it holds');

    await waitFor(() => count(a.lines, /down/) > 0 && count(b.lines, /down/) > 0, 'both to log "down"');
    t.pass('both notice');
    // More traffic and reconnect attempts while down must not log again.
    const [ra, rb] = [a.app.delivery.tier.reconnects, b.app.delivery.tier.reconnects];
    for (const w of [313, 314]) {
      t.equal((await get(a.port, `/image/upload/w_${w}/coffee.png`)).status, 200);
      t.equal((await get(b.port, `/image/upload/w_${w}/coffee.png`)).status, 200);
    }
    await waitFor(() => a.app.delivery.tier.reconnects >= ra + 2 && b.app.delivery.tier.reconnects >= rb + 2, 'two more reconnect attempts on each');
    t.equal(count(a.lines, /down/), 1, `A logs "down" once: ${JSON.stringify(a.lines)}`);
    t.equal(count(b.lines, /down/), 1, `B logs "down" once: ${JSON.stringify(b.lines)}`);
    t.equal(await a.metric('aperture_shared_tier_up'), 0, 'aperture_shared_tier_up 0');
    t.equal((await get(a.port, '/ready')).status, 200, '/ready stays 200: Redis is not a dependency');
  });

  await t.test('Redis restarted on the same port: L2 sharing resumes', async (t) => {
    await redis.restart();
    await waitFor(() => count(a.lines, /back up/) >= 1 && count(b.lines, /back up/) >= 1, 'both to log "back up"');
    t.ok(count(a.lines, /back up/) === 1 && count(b.lines, /back up/) === 1, 'both log "back up" (once)');
    t.equal(await a.metric('aperture_shared_tier_up'), 1, 'aperture_shared_tier_up 1');
    const bBefore = await b.transforms();
    const url = '/image/upload/c_fill,w_200,h_200/astronaut.png';
    const ra = await get(a.port, url);
    t.equal(cacheOf(ra), 'miss', 'A renders after the restart');
    const rb = await get(b.port, url);
    t.equal(rb.status, 200);
    t.equal(cacheOf(rb), 'l2', 'B gets it from the restarted Redis');
    t.ok(rb.body.equals(ra.body), 'same bytes');
    t.equal(await b.transforms(), bBefore, 'B rendered nothing for it');
    t.equal(count(a.lines, /down/), 1, 'still one "down" line on A');
    t.equal(count(b.lines, /down/), 1, 'still one "down" line on B');
  });
});
