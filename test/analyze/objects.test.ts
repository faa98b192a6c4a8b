/**
 * Object gravities with the real CenterNet model (loaded once for the file), through the real
 * server, on a composite of two of the repository's photos: the cat (chelsea, left) beside the
 * coffee cup (right) on a white canvas. The crop region comes from fl_getinfo's `crop`.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { objectPasses, objectWorkerStarts, stopObjectWorker } from '../../src/analyze/objects.ts';
import { createClient } from 'redis';
import { startRedis, redisAvailable, redisSkipReason } from '../helpers/redis.ts';

const images = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../images');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-objects-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));

// 1060×400: cat.png (451×300) at (0, 50), coffee.png (600×400) at (460, 0).
const CAT = { x: 0, y: 50, width: 451, height: 300 };
const CUP_LEFT = 460;
await sharp({ create: { width: 1060, height: 400, channels: 3, background: '#ffffff' } })
  .composite([
    { input: path.join(images, 'cat.png'), left: CAT.x, top: CAT.y },
    { input: path.join(images, 'coffee.png'), left: CUP_LEFT, top: 0 },
  ])
  .jpeg({ quality: 90 })
  .toFile(path.join(dir, 'pair.jpg'));
await fs.copyFile(path.join(images, 'rocket.jpg'), path.join(dir, 'rocket.jpg'));

type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) => Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x))
  * Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));

t.test('workloads without objects never start the detector', async (tt) => {
  // APERTURE_GAUTO_OBJECTS=0: plain g_auto keeps to saliency and faces.
  const s = await startServer(tt, { config: { storageDir: dir, gautoObjects: false } });
  tt.teardown(() => s.close());
  const before = objectWorkerStarts();
  for (const u of ['c_fill,g_auto,w_200,h_200/pair.jpg', 'c_fill,g_face,w_200,h_200/pair.jpg', 'c_thumb,g_auto:subject,w_200,h_200/pair.jpg']) {
    tt.equal((await s.get(`/image/upload/${u}`)).status, 200, u);
  }
  tt.equal(objectWorkerStarts(), before, 'no object worker started');
});

t.test('g_<class>, g_auto:<class>_avoid, getinfo objects', async (tt) => {
  const s = await startServer(tt, { config: { storageDir: dir } });
  tt.teardown(async () => { await s.close(); await stopObjectWorker(); });
  const info = async (tr: string) => {
    const r = await s.get(`/image/upload/${tr}/fl_getinfo/pair.jpg`);
    tt.equal(r.status, 200, `${tr}: ${r.headers.get('x-cld-error') ?? ''}`);
    return JSON.parse(r.body.toString()) as { crop?: Box; objects?: { class: string; score: number; box: Box }[] };
  };

  const plain = await info('c_fill,w_300,h_300,g_north_west');
  const cat = plain.objects?.find((o) => o.class === 'cat');
  tt.ok(cat, `getinfo lists the cat: ${JSON.stringify(plain.objects)}`);
  tt.ok(cat && overlap(cat.box, CAT) / (CAT.width * CAT.height) > 0.6, 'its box is on the pasted cat (input pixels)');
  tt.ok(plain.objects?.every((o) => o.score >= 0.3 && o.box.x >= 0 && o.box.x + o.box.width <= 1060), 'each listed object scores 0.3 or more and lies in the input');

  const g = await info('c_fill,w_300,h_400,g_cat');
  tt.ok(g.crop, 'g_cat crops');
  const catInCrop = overlap(g.crop!, CAT) / (Math.min(g.crop!.width, CAT.width) * Math.min(g.crop!.height, CAT.height));
  tt.ok(catInCrop > 0.9, `g_cat keeps the cat (${catInCrop.toFixed(2)} of what a crop of that size can keep)`);

  const cup = await info('c_fill,w_300,h_400,g_cup');
  tt.ok(cup.crop!.x >= CUP_LEFT - 50, `g_cup crops on the cup (x ${cup.crop!.x})`);

  const avoid = await info('c_fill,w_300,h_400,g_auto:cat_avoid');
  tt.ok(overlap(avoid.crop!, CAT) < 0.1 * CAT.width * CAT.height, `g_auto:cat_avoid moves away from the cat (crop ${JSON.stringify(avoid.crop)})`);

  const tight = await info('c_crop,g_cat');
  tt.ok(tight.crop && tight.crop.width < 600 && overlap(tight.crop, CAT) / (CAT.width * CAT.height) > 0.8, `c_crop,g_cat without a size crops to the cat (${JSON.stringify(tight.crop)})`);

  const several = await info('c_crop,g_cat:cup');
  const cupBox = plain.objects?.find((o) => o.class === 'cup')?.box;
  tt.ok(cupBox, 'getinfo lists the cup');
  const keeps = (b: Box) => (several.crop === undefined ? 1 : overlap(several.crop, b) / (b.width * b.height));
  tt.ok(keeps(CAT) > 0.9 && cupBox && keeps(cupBox) > 0.9, `g_cat:cup keeps both (crop ${JSON.stringify(several.crop)}, cup ${JSON.stringify(cupBox)})`);

  // Absent object: g_<class> stays at the centre, g_<class>:auto falls back to g_auto.
  const absent = await info('c_fill,w_300,h_400,g_giraffe');
  tt.equal(absent.crop!.x, Math.round((1060 * 400 / 400 - 300) / 2), 'g_giraffe (absent) crops at the centre');
  const absentAuto = await info('c_fill,w_300,h_400,g_giraffe:auto');
  const auto = await info('c_fill,w_300,h_400,g_auto');
  tt.same(absentAuto.crop, auto.crop, 'g_giraffe:auto (absent) crops like g_auto');

  // Unknown class names are a 400 naming them.
  for (const bad of ['g_unicorn', 'g_auto:unicorn', 'g_auto:cat_200']) {
    const r = await s.get(`/image/upload/c_fill,w_100,h_100,${bad}/pair.jpg`);
    tt.equal(r.status, 400, `${bad} → 400 (${r.headers.get('x-cld-error')})`);
  }
});

t.test('the detail pass runs only for an asked class absent from the first pass, on canvases large enough', async (tt) => {
  // Copies under new names: source identities no earlier subtest analysed in this process.
  await fs.copyFile(path.join(dir, 'pair.jpg'), path.join(dir, 'pair-passes.jpg'));
  await sharp(path.join(dir, 'pair.jpg')).resize(600).toFile(path.join(dir, 'pair-small.jpg'));
  const s = await startServer(tt, { config: { storageDir: dir } });
  tt.teardown(async () => { await s.close(); await stopObjectWorker(); });
  const passesFor = async (u: string) => {
    const before = objectPasses();
    const r = await s.get(`/image/upload/${u}`);
    tt.equal(r.status, 200, `${u}: ${r.headers.get('x-cld-error') ?? ''}`);
    return { passes: objectPasses() - before, body: r.body.toString() };
  };
  const listed = await passesFor('fl_getinfo/pair-passes.jpg');
  tt.equal(listed.passes, 1, 'fl_getinfo: the first pass only');
  tt.equal((await passesFor('c_fill,w_300,h_400,g_cat/pair-passes.jpg')).passes, 0, 'g_cat, found by the (cached) first pass: no pass');
  tt.equal((await passesFor('c_fill,w_300,h_400,g_giraffe/pair-passes.jpg')).passes, 1, 'g_giraffe, absent from the first pass: one detail pass');
  tt.equal((await passesFor('c_fill,w_200,h_200,g_giraffe/pair-passes.jpg')).passes, 0, 'another size: the detail pass is cached');
  tt.equal((await passesFor('c_fill,w_200,h_200,g_cat:giraffe/pair-passes.jpg')).passes, 0, 'g_cat:giraffe: the cat is found, no more pass');
  const after = JSON.parse((await passesFor('c_fill,w_100,h_100,g_north/fl_getinfo/pair-passes.jpg')).body) as { objects?: unknown[] };
  tt.same(after.objects, (JSON.parse(listed.body) as { objects?: unknown[] }).objects, 'fl_getinfo still lists the first pass\'s objects only');
  tt.equal((await passesFor('c_fill,w_300,h_200,g_giraffe/pair-small.jpg')).passes, 1, 'a 600 px canvas: the first pass only (a closer look would see nothing more)');
});

t.test('APERTURE_OBJECTS=0: object gravities are 400 unsupported, nothing loads', async (tt) => {
  await stopObjectWorker();
  const s = await startServer(tt, { config: { storageDir: dir, objects: false } });
  tt.teardown(() => s.close());
  const before = objectWorkerStarts();
  for (const g of ['g_cat', 'g_auto:cat', 'g_dog:cat:auto']) {
    const r = await s.get(`/image/upload/c_fill,w_100,h_100,${g}/pair.jpg`);
    tt.equal(r.status, 400, g);
    tt.match(r.headers.get('x-cld-error') ?? '', /unsupported|turned off/i, `${g}: ${r.headers.get('x-cld-error')}`);
  }
  const r = await s.get('/image/upload/fl_getinfo/pair.jpg');
  tt.notOk(JSON.parse(r.body.toString()).objects, 'getinfo lists no objects');
  tt.equal(objectWorkerStarts(), before, 'no object worker started');
});

t.test('APERTURE_GAUTO_OBJECTS=1: plain g_auto looks for objects too', async (tt) => {
  await stopObjectWorker();
  const s = await startServer(tt, { config: { storageDir: dir, gautoObjects: true } });
  tt.teardown(async () => { await s.close(); await stopObjectWorker(); });
  const before = objectWorkerStarts();
  const r = await s.get('/image/upload/c_fill,w_300,h_400,g_auto/fl_getinfo/rocket.jpg');
  tt.equal(r.status, 200);
  tt.equal(objectWorkerStarts(), before + 1, 'the detector ran for plain g_auto');
});

t.test('detections are stored in the shared tier (Redis) for other instances', { skip: redisAvailable ? false : redisSkipReason }, async (tt) => {
  const redis = await startRedis();
  tt.teardown(() => redis.stop());
  const raw = createClient({ url: redis.url });
  await raw.connect();
  tt.teardown(() => raw.close());
  // Its own copy of the composite: a source identity no earlier subtest analysed in this process.
  await fs.copyFile(path.join(dir, 'pair.jpg'), path.join(dir, 'pair-redis.jpg'));
  const s = await startServer(tt, { config: { storageDir: dir, redisUrl: redis.url, redisTimeoutMs: 10_000 } });
  tt.teardown(async () => { await s.close(); await stopObjectWorker(); });
  tt.equal((await s.get('/image/upload/c_fill,w_300,h_400,g_cat/pair-redis.jpg')).status, 200);
  const keys = await raw.keys('aperture:j:objects:*');
  tt.equal(keys.length, 1, 'one detection record (the first pass found the cat: no detail pass)');
  const stored = JSON.parse((await raw.get(keys[0]!))!) as { cls: number; score: number }[];
  tt.ok(stored.some((o) => o.cls === 15 && o.score >= 0.3), 'holding the cat');
});
