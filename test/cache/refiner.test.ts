/**
 * Background refinement of AVIF results: the queue's rules (idle-only, one job per key, bounded,
 * closed on shutdown), then through the real server over HTTP: a cold f_auto AVIF is answered
 * at the fast effort with a short max-age, and once the server is idle the same URL answers with
 * the refined (effort 3, smaller) bytes, a new ETag and the long max-age.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { Refiner } from '../../src/cache/refiner.ts';
import type { Config } from '../../src/config.ts';
import { closeMetricWorker } from '../../src/analyze/metric.ts';
import { makeStorage } from '../helpers/core-fixtures.ts';
import { startRedis, redisAvailable, redisSkipReason } from '../helpers/redis.ts';
import { manualClock, renderGate, startServer, waitFor, type ManualClock, type RenderGate } from '../helpers/harness.ts';

const AVIF_ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';

t.teardown(closeMetricWorker);

t.test('Refiner: runs jobs only while idle, once per key, bounded, and stops on close', async (t) => {
  // The refiner's poll timer does not hold the process open (a server does); this test must.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  let busy = true;
  let asked = 0;
  const ran: string[] = [];
  const r = new Refiner(() => { asked++; return !busy; }, 2, () => {}, 10);
  t.ok(r.schedule('a', async () => { ran.push('a'); }));
  t.notOk(r.schedule('a', async () => { ran.push('a2'); }), 'a key already queued is not queued twice');
  t.ok(r.schedule('b', async () => { ran.push('b'); throw new Error('boom'); }));
  t.notOk(r.schedule('c', async () => { ran.push('c'); }), 'a full queue drops new jobs');
  // The refiner has asked whether the server is idle several times, and was told no each time.
  await waitFor(() => asked >= 3, 'three idle checks');
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
  t.equal(r.pending, 0, 'close drops what is queued');
  await r.settled();
  t.same(ran, ['a', 'b'], 'the dropped job never ran');
  t.notOk(r.schedule('e', async () => {}), 'nothing is queued after close');
});

async function serve(t: Test, overrides: Partial<Config>, opts: { shared?: string; gate?: RenderGate; clock?: ManualClock } = {}) {
  const dir = opts.shared ?? await makeStorage('aperture-refine-');
  if (!opts.shared) t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await startServer(t, { config: { storageDir: dir, ...overrides }, ...(opts.gate ? { gate: opts.gate } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
  const get = (path: string, accept = AVIF_ACCEPT) => s.get(path, { accept });
  return { app: s.app, base: s.base, get, dir };
}

t.test('a cold AVIF is provisional, then replaced by the refined encoding', async (t) => {
  const s = await serve(t, {});
  const url = '/image/upload/c_scale,w_480/f_auto,q_auto/rocket.jpg';
  const first = await s.get(url);
  t.equal(first.status, 200);
  t.equal(first.headers.get('content-type'), 'image/avif');
  t.equal(first.headers.get('cache-control'), 'public, max-age=60', 'short max-age while a refinement is pending');
  t.match(first.headers.get('server-timing') ?? '', /refine;desc="pending"/);
  t.match(first.headers.get('vary') ?? '', /Accept/);

  // The refinement was queued before the reply went out; wait for it to finish.
  await s.app.delivery.refiner.settled();
  const last = await s.get(url);
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

t.test('the refinement of a g_auto result replays the first render\'s crop: no second analysis or face detection', async (t) => {
  const s = await serve(t, {});
  await fs.copyFile(new URL('../../images/astronaut.png', import.meta.url), `${s.dir}/astronaut.png`);
  const url = '/image/upload/c_fill,g_auto,w_240,h_180/f_auto/astronaut.png';
  const count = async (re: RegExp) => Number(re.exec(await (await fetch(`${s.base}/metrics`)).text())?.[1]);
  const analyses = /aperture_transform_phase_seconds_count\{phase="analyze"\} (\d+)/;
  const first = await s.get(url);
  t.equal(first.headers.get('content-type'), 'image/avif');
  t.equal(await count(analyses), 1, 'the first render analysed the picture (saliency, faces)');
  await s.app.delivery.refiner.settled();
  t.equal(await count(/aperture_refinements_total\{result="done"\} (\d+)/), 1, 'refined');
  t.equal(await count(/aperture_transforms_total (\d+)/), 2, 'rendered twice');
  t.equal(await count(analyses), 1, 'the refinement made no analysis of its own');
  const last = await s.get(url);
  t.equal(last.headers.get('cache-control'), 'public, max-age=2592000');
  const a = await sharp(first.body).metadata(), b = await sharp(last.body).metadata();
  t.same([b.format, b.width, b.height], [a.format, 240, 180], 'same size');
});

t.test('APERTURE_AVIF_REFINE_EFFORT=0: no refinement, the long max-age at once', async (t) => {
  const s = await serve(t, { avifRefineEffort: 0 });
  const r = await s.get('/image/upload/c_scale,w_300/f_auto/rocket.jpg');
  t.equal(r.headers.get('content-type'), 'image/avif');
  t.equal(r.headers.get('cache-control'), 'public, max-age=2592000');
  t.notMatch(r.headers.get('server-timing') ?? '', /refine/);
});

t.test('another instance picks up the refined result from Redis once its copy is past max-age', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  // A generous Redis budget: a late reply on a busy machine would make B render for itself.
  const cfg = { redisUrl: redis.url, redisTimeoutMs: 10_000, provisionalMaxAgeSeconds: 1 };
  // One clock for both instances, moved by hand; A's refinement is held until B has read.
  const clock = manualClock();
  const gate = renderGate({ holding: ['refine'] });
  const a = await serve(t, cfg, { gate, clock });
  const b = await serve(t, cfg, { shared: a.dir, clock }); // the same originals, so the same result keys
  // Both must be connected to Redis before the first request (the tier connects in the background).
  await waitFor(() => a.app.delivery.tier.connected && b.app.delivery.tier.connected, 'both tiers connected');
  const url = '/image/upload/c_scale,w_400/f_auto,q_auto/rocket.jpg';
  const first = await a.get(url);
  t.equal(first.headers.get('cache-control'), 'public, max-age=1', 'A: provisional, with the configured max-age');
  await gate.waitHeld(1, 'refine');
  const fromB = await b.get(url);
  t.match(fromB.headers.get('server-timing') ?? '', /cache;desc="l2"/, 'B reads A\'s result from Redis');
  t.equal(fromB.headers.get('etag'), first.headers.get('etag'), 'B first serves the provisional bytes');
  gate.open();
  await a.app.delivery.refiner.settled();
  const final = await a.get(url);
  t.equal(final.headers.get('cache-control'), 'public, max-age=2592000', 'A refined it');
  t.not(final.headers.get('etag'), first.headers.get('etag'), 'new bytes');
  const stillProvisional = await b.get(url);
  t.equal(stillProvisional.headers.get('etag'), first.headers.get('etag'), 'B keeps its provisional copy within its max-age');
  clock.advance(1001);
  const later = await b.get(url);
  t.equal(later.headers.get('etag'), final.headers.get('etag'), 'B now serves A\'s refined bytes');
  t.equal(later.headers.get('cache-control'), 'public, max-age=2592000');
  t.match(later.headers.get('server-timing') ?? '', /cache;desc="l2"/, 'from Redis, not rendered again');
  const transformsB = /aperture_transforms_total (\d+)/.exec(await (await fetch(`${b.base}/metrics`)).text())?.[1];
  t.equal(transformsB, '0', 'B rendered nothing');
});
