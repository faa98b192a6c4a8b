/**
 * Background refinement of AVIF results: the queue's rules (idle-only, one job per key, bounded,
 * closed on shutdown), then through the real server over HTTP: a cold f_auto AVIF is answered
 * at the fast effort with a short max-age, and once the server is idle the same URL answers with
 * the refined (effort 3, smaller) bytes, a new ETag and the long max-age.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { Refiner } from '../../src/cache/refiner.ts';
import { buildServer } from '../../src/server.ts';
import { testConfig } from '../../src/config.ts';
import { closeMetricWorker } from '../../src/analyze/metric.ts';
import { makeStorage } from '../helpers/core-fixtures.ts';
import { startRedis, redisAvailable, redisSkipReason } from '../helpers/redis.ts';

const AVIF_ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.teardown(closeMetricWorker);

t.test('Refiner: runs jobs only while idle, once per key, bounded, and stops on close', async (t) => {
  // The refiner's poll timer does not hold the process open (a server does); this test must.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  let busy = true;
  const ran: string[] = [];
  const r = new Refiner(() => !busy, 2, () => {}, 10);
  t.ok(r.schedule('a', async () => { ran.push('a'); }));
  t.notOk(r.schedule('a', async () => { ran.push('a2'); }), 'a key already queued is not queued twice');
  t.ok(r.schedule('b', async () => { ran.push('b'); throw new Error('boom'); }));
  t.notOk(r.schedule('c', async () => { ran.push('c'); }), 'a full queue drops new jobs');
  await sleep(60);
  t.same(ran, [], 'nothing runs while the server is busy');
  busy = false;
  await r.settled();
  t.same(ran, ['a', 'b'], 'queued jobs run in order once idle');
  t.equal(r.done, 1);
  t.equal(r.failed, 1, 'a failing job is counted and does not stop the queue');
  busy = true;
  r.schedule('d', async () => { ran.push('d'); });
  await r.close();
  busy = false;
  await sleep(40);
  t.same(ran, ['a', 'b'], 'close drops what is queued');
  t.notOk(r.schedule('e', async () => {}), 'nothing is queued after close');
});

async function serve(overrides: Parameters<typeof testConfig>[0], shared?: string) {
  const dir = shared ?? await makeStorage('aperture-refine-');
  const app = await buildServer(testConfig({ storageDir: dir, ...overrides }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const get = async (path: string, accept = AVIF_ACCEPT) => {
    const res = await fetch(base + path, { headers: { accept } });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };
  return { app, base, get, dir, close: async () => { await app.close(); if (!shared) await fs.rm(dir, { recursive: true, force: true }); } };
}

t.test('a cold AVIF is provisional, then replaced by the refined encoding', async (t) => {
  const s = await serve({});
  t.teardown(s.close);
  const url = '/image/upload/c_scale,w_480/f_auto,q_auto/rocket.jpg';
  const first = await s.get(url);
  t.equal(first.status, 200);
  t.equal(first.headers.get('content-type'), 'image/avif');
  t.equal(first.headers.get('cache-control'), 'public, max-age=60', 'short max-age while a refinement is pending');
  t.match(first.headers.get('server-timing') ?? '', /refine;desc="pending"/);
  t.match(first.headers.get('vary') ?? '', /Accept/);

  let last = first;
  for (let i = 0; i < 200 && last.headers.get('cache-control') !== 'public, max-age=2592000'; i++) {
    await sleep(100);
    last = await s.get(url);
  }
  t.equal(last.status, 200);
  t.equal(last.headers.get('cache-control'), 'public, max-age=2592000', 'the refined result is final');
  t.notMatch(last.headers.get('server-timing') ?? '', /refine/);
  t.equal(last.headers.get('content-type'), 'image/avif');
  t.match(last.headers.get('vary') ?? '', /Accept/, 'the refined result keeps Vary');
  t.ok(last.body.length < first.body.length, `refined ${last.body.length} B < first ${first.body.length} B`);
  t.not(last.headers.get('etag'), first.headers.get('etag'), 'new bytes, new ETag');
  const metrics = await (await fetch(`${s.base}/metrics`)).text();
  t.match(metrics, /aperture_refinements_total\{result="done"\} 1\b/, 'the refinement is counted in /metrics');
  t.match(metrics, /aperture_refinements_pending 0\b/);
  const a = await sharp(first.body).metadata(), b = await sharp(last.body).metadata();
  t.same([b.format, b.width, b.height], [a.format, a.width, a.height], 'same image, same size');
  // JPEG for a */* client is never provisional.
  const jpeg = await s.get(url, '*/*');
  t.equal(jpeg.headers.get('content-type'), 'image/jpeg');
  t.equal(jpeg.headers.get('cache-control'), 'public, max-age=2592000');
});

t.test('APERTURE_AVIF_REFINE_EFFORT=0: no refinement, the long max-age at once', async (t) => {
  const s = await serve({ avifRefineEffort: 0 });
  t.teardown(s.close);
  const r = await s.get('/image/upload/c_scale,w_300/f_auto/rocket.jpg');
  t.equal(r.headers.get('content-type'), 'image/avif');
  t.equal(r.headers.get('cache-control'), 'public, max-age=2592000');
  t.notMatch(r.headers.get('server-timing') ?? '', /refine/);
});

t.test('another instance picks up the refined result from Redis once its copy is past max-age', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const cfg = { redisUrl: redis.url, redisTimeoutMs: 500, provisionalMaxAgeSeconds: 1 };
  const a = await serve(cfg);
  const b = await serve(cfg, a.dir); // the same originals, so the same result keys
  t.teardown(async () => { await b.close(); await a.close(); });
  // Both must be connected to Redis before the first request (the tier connects in the background).
  for (const s of [a, b]) {
    for (let i = 0; i < 100 && !/aperture_shared_tier_up 1\b/.test(await (await fetch(`${s.base}/metrics`)).text()); i++) await sleep(50);
  }
  const url = '/image/upload/c_scale,w_400/f_auto,q_auto/rocket.jpg';
  const first = await a.get(url);
  t.equal(first.headers.get('cache-control'), 'public, max-age=1', 'A: provisional, with the configured max-age');
  const fromB = await b.get(url);
  t.match(fromB.headers.get('server-timing') ?? '', /cache;desc="l2"/, 'B reads A\'s result from Redis');
  let final = first;
  for (let i = 0; i < 200 && final.headers.get('cache-control') !== 'public, max-age=2592000'; i++) {
    await sleep(100);
    final = await a.get(url);
  }
  t.equal(final.headers.get('cache-control'), 'public, max-age=2592000', 'A refined it');
  if (fromB.headers.get('etag') === final.headers.get('etag')) {
    t.comment('B read the refined result already (A refined before B asked)');
  } else {
    t.equal(fromB.headers.get('etag'), first.headers.get('etag'), 'B first served the provisional bytes');
    await sleep(1100);
  }
  const later = await b.get(url);
  t.equal(later.headers.get('etag'), final.headers.get('etag'), 'B now serves A\'s refined bytes');
  t.equal(later.headers.get('cache-control'), 'public, max-age=2592000');
  t.match(later.headers.get('server-timing') ?? '', /cache;desc="l2"/, 'from Redis, not rendered again');
  const transformsB = /aperture_transforms_total (\d+)/.exec(await (await fetch(`${b.base}/metrics`)).text())?.[1];
  t.equal(transformsB, '0', 'B rendered nothing');
});
