/**
 * Background removal (issue 16 item 3): e_background_removal / e_bgremoval with the real ISNet
 * model in its child process, through the real server. The composite is a real photo patch (the
 * cat's face, an ellipse cut from images/cat.png) pasted on a real textured wallpaper
 * (../shared/corpus/graphics/kay-alpha.png), so the ground-truth mask is exact. One mask is
 * computed for it and every derived URL reuses it; a second (another preceding component)
 * shows the 423 answer while a mask is being computed, with the job held by a latch. The same
 * patch on a plain grey background is scored with the default (medium) model (the small one
 * finds 0.72 there); the small one is scored on the textured composite.
 * With Redis, a mask one instance computed is served by another without a model process.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { corpusDir, startServer, waitFor } from '../helpers/harness.ts';
import { makeStorage, removeStorage, repoRoot } from '../helpers/core-fixtures.ts';
import { loadConfig } from '../../src/config.ts';
import { bgRemovalState, clearBgRemovalCache, configureBgRemoval, stopBgRemoval, type IdleTimer } from '../../src/analyze/bgremoval.ts';
import { createClient } from 'redis';
import { startRedis, redisAvailable, redisSkipReason } from '../helpers/redis.ts';

const wallpaper = path.join(corpusDir, 'graphics/kay-alpha.png');
const haveShared = await fs.access(wallpaper).then(() => true, () => false);
if (!haveShared) {
  t.comment(`SKIP: ${wallpaper} is absent (../shared beside the checkout); background removal not tested`);
  t.pass('skipped: no shared corpus');
} else {
  const W = 480, H = 360, L = 140, T = 50, EW = 200, EH = 260;
  const dir = await makeStorage('aperture-bgremoval-');
  t.teardown(() => removeStorage(dir));
  const ell = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${EW}" height="${EH}"><ellipse cx="${EW / 2}" cy="${EH / 2}" rx="${EW / 2}" ry="${EH / 2}" fill="#fff"/></svg>`);
  const patch = await sharp(path.join(repoRoot, 'images/cat.png')).extract({ left: 150, top: 20, width: EW, height: EH })
    .ensureAlpha().composite([{ input: ell, blend: 'dest-in' }]).png().toBuffer();
  await sharp(wallpaper).resize(W, H, { fit: 'cover' }).removeAlpha().composite([{ input: patch, left: L, top: T }])
    .png().toFile(path.join(dir, 'comp.png'));
  await sharp({ create: { width: W, height: H, channels: 3, background: { r: 200, g: 200, b: 205 } } })
    .composite([{ input: patch, left: L, top: T }]).png().toFile(path.join(dir, 'plain.png'));
  // ground truth: the patch's alpha placed on the canvas
  const truth = await sharp({ create: { width: W, height: H, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite([{ input: await sharp(patch).extractChannel(3).png().toBuffer(), left: L, top: T }]).extractChannel(0).raw().toBuffer();

  // the latch: each job waits here until the test lets it go
  let holding = true;
  const waiting: Array<() => void> = [];
  configureBgRemoval({ jobLatch: () => (holding ? new Promise<void>((go) => { waiting.push(go); }) : Promise.resolve()) });
  const releaseAll = () => { holding = false; for (const go of waiting.splice(0)) go(); };
  // the idle timer: armed by the owner, fired by the test
  let idleFire: (() => void) | null = null;
  const idleTimer: IdleTimer = (_ms, fire) => { idleFire = fire; return () => { if (idleFire === fire) idleFire = null; }; };
  configureBgRemoval({ idleTimer });
  t.teardown(() => { configureBgRemoval({ jobLatch: null }); stopBgRemoval(); });

  const s = await startServer(t, { config: { storageDir: dir, bgRemovalWaitMs: 600_000, processTimeoutMs: 600_000 } });
  const alphaOf = async (body: Buffer) => {
    const { data, info } = await sharp(body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data, info };
  };

  t.test('a request waits for its mask (within its budget); the alpha matches the ground truth (IoU >= 0.80)', async (t) => {
    const pending = s.get('/image/upload/e_background_removal/comp.png');
    await waitFor(() => waiting.length === 1, 'the job held at the latch');
    t.equal(bgRemovalState().masksComputed, 0, 'no mask yet');
    releaseAll();
    const r = await pending;
    t.equal(r.status, 200, `200 (${r.headers.get('x-cld-error') ?? ''})`);
    t.equal(r.headers.get('content-type'), 'image/png');
    const { data, info } = await alphaOf(r.body);
    t.same([info.width, info.height], [W, H], 'the size is kept');
    let inter = 0, union = 0;
    for (let i = 0; i < W * H; i++) {
      const p = data[4 * i + 3] >= 128, g = truth[i] >= 128;
      if (p && g) inter++;
      if (p || g) union++;
    }
    const iou = inter / union;
    t.comment(`IoU of the delivered alpha vs ground truth: ${iou.toFixed(3)}`);
    t.ok(iou >= 0.8, `IoU ${iou.toFixed(3)} >= 0.80`);
    t.equal(bgRemovalState().masksComputed, 1);
    t.equal(bgRemovalState().starts, 1, 'the model process started once');
  });

  t.test('derived URLs reuse the mask: b_red fills, f_jpg flattens onto it, WebP/AVIF keep the alpha, e_bgremoval is the same', async (t) => {
    const before = bgRemovalState().masksComputed, hitsBefore = bgRemovalState().cacheHits;
    // a background point far from the subject (ground truth 0) and a subject point
    const bgPt = 20 * W + 20, fgPt = (T + EH / 2) * W + L + EW / 2;
    t.equal(truth[bgPt], 0);
    t.equal(truth[fgPt], 255);
    for (const url of ['/image/upload/e_background_removal/b_red/comp.png', '/image/upload/e_background_removal/b_red/f_jpg/comp.png', '/image/upload/b_red,e_background_removal/comp.png']) {
      const r = await s.get(url);
      t.equal(r.status, 200, `${url} → 200 (${r.headers.get('x-cld-error') ?? ''})`);
      const { data } = await alphaOf(r.body);
      const [R, G, B, A] = data.subarray(4 * bgPt, 4 * bgPt + 4);
      t.ok(R > 230 && G < 25 && B < 25 && A === 255, `${url}: the background is red (${[R, G, B, A]})`);
    }
    const jpg = await s.get('/image/upload/e_background_removal/b_red/f_jpg/comp.png');
    t.equal(jpg.headers.get('content-type'), 'image/jpeg');
    const white = await s.get('/image/upload/e_background_removal/f_jpg/comp.png');
    const w = await alphaOf(white.body);
    t.ok(w.data[4 * bgPt] > 240 && w.data[4 * bgPt + 2] > 240, 'JPEG without b_ flattens onto white');
    for (const [f, type] of [['webp', 'image/webp'], ['avif', 'image/avif']]) {
      const r = await s.get(`/image/upload/e_background_removal/f_${f}/comp.png`);
      t.equal(r.headers.get('content-type'), type);
      const { data } = await alphaOf(r.body);
      t.ok(data[4 * bgPt + 3] < 20 && data[4 * fgPt + 3] > 235, `${f} keeps the alpha (${data[4 * bgPt + 3]}, ${data[4 * fgPt + 3]})`);
    }
    const legacy = await s.get('/image/upload/e_bgremoval/comp.png');
    t.equal(legacy.status, 200);
    t.equal(bgRemovalState().masksComputed, before, 'no other mask was computed');
    // 7 renders (the repeated f_jpg URL is a result cache hit; an AVIF refinement may add one)
    t.ok(bgRemovalState().cacheHits - hitsBefore >= 7, 'every derived render was a mask cache hit');
  });

  t.test('a mask still being computed after APERTURE_BGREMOVAL_WAIT_MS is a 423 with Retry-After; the work goes on', async (t) => {
    const quick = await startServer(t, { config: { storageDir: dir, bgRemovalWaitMs: 0 } });
    holding = true;
    const url = '/image/upload/a_hflip/e_background_removal/comp.png';
    const r = await quick.get(url);
    t.equal(r.status, 423, 'answered at once');
    t.match(r.headers.get('x-cld-error') ?? '', /being computed/);
    t.ok(Number(r.headers.get('retry-after')) >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
    t.equal(r.headers.get('cache-control'), 'no-store');
    await waitFor(() => waiting.length === 1, 'the job held at the latch');
    const done = bgRemovalState().masksComputed;
    releaseAll();
    await waitFor(() => bgRemovalState().masksComputed === done + 1, 'the mask computed after the 423');
    const again = await quick.get(url);
    t.equal(again.status, 200, 'the next request finds it cached');
  });

  t.test('beyond APERTURE_BGREMOVAL_QUEUE masks in progress, another source is a 423 at once; the mask in progress is still served', async (t) => {
    const capped = await startServer(t, { config: { storageDir: dir, bgRemovalQueue: 1, bgRemovalWaitMs: 600_000, processTimeoutMs: 600_000 } });
    holding = true;
    const first = capped.get('/image/upload/a_vflip/e_background_removal/comp.png');
    await waitFor(() => waiting.length === 1, 'the first mask held at the latch');
    const done = bgRemovalState().masksComputed;
    const other = await capped.get('/image/upload/a_180/e_background_removal/comp.png');
    t.equal(other.status, 423, 'a second mask would exceed the queue of 1: 423 at once');
    t.match(other.headers.get('x-cld-error') ?? '', /1 background removals are being computed/);
    t.ok(Number(other.headers.get('retry-after')) >= 1, `Retry-After: ${other.headers.get('retry-after')}`);
    const same = capped.get('/image/upload/a_vflip/e_background_removal/c_scale,w_100/comp.png');
    releaseAll();
    t.equal((await first).status, 200, 'the held mask completes');
    t.equal((await same).status, 200, 'another size of the mask in progress: 200');
    t.equal(bgRemovalState().masksComputed, done + 1, 'one mask computed for both (in progress or cached, never twice)');
  });

  t.test('the model process stops when idle', async (t) => {
    await waitFor(() => idleFire !== null && !bgRemovalState().busy, 'the idle countdown armed');
    const pid = bgRemovalState().pid!;
    t.ok(pid > 0, 'running');
    idleFire!();
    t.equal(bgRemovalState().pid, undefined, 'stopped');
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the process gone');
    t.pass('its process has exited');
  });

  t.test('masks are shared through Redis: instance B serves a source instance A computed without starting a model', { skip: redisAvailable ? false : redisSkipReason }, async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const raw = createClient({ url: redis.url });
    await raw.connect();
    t.teardown(() => raw.close());
    // its own copy of the composite: a source identity no earlier subtest computed a mask for
    await fs.copyFile(path.join(dir, 'comp.png'), path.join(dir, 'comp-redis.png'));
    const redisConfig = { storageDir: dir, redisUrl: redis.url, redisTimeoutMs: 10_000, bgRemovalWaitMs: 600_000, processTimeoutMs: 600_000 };
    const a = await startServer(t, { config: redisConfig });
    const computed = bgRemovalState().masksComputed;
    const ra = await a.get('/image/upload/e_background_removal/f_png/comp-redis.png');
    t.equal(ra.status, 200, `A: 200 (${ra.headers.get('x-cld-error') ?? ''})`);
    t.equal(bgRemovalState().masksComputed, computed + 1, 'A computed the mask');
    const keys = await raw.keys('aperture:b:bgmask:*');
    t.equal(keys.length, 1, 'one mask record in Redis');
    const png = await raw.sendCommand<Buffer>(['GET', keys[0]!], { typeMapping: { [36]: Buffer } });
    const meta = await sharp(png).metadata();
    t.same([meta.format, meta.width, meta.height, meta.channels], ['png', 1024, 1024, 1], 'stored as a 1024² grey PNG');
    t.comment(`mask record: ${png.length} bytes`);

    // B: a fresh instance (its own result caches; the mask cache and the model process of this
    // test process forgotten, as in another process), on the same Redis
    clearBgRemovalCache();
    stopBgRemoval();
    const starts = bgRemovalState().starts, sharedHits = bgRemovalState().sharedHits;
    const b = await startServer(t, { config: redisConfig });
    // another derived URL than A's: not a rendered result B could read from Redis
    const rb = await b.get('/image/upload/e_background_removal/b_red/f_png/comp-redis.png');
    t.equal(rb.status, 200, `B: 200 (${rb.headers.get('x-cld-error') ?? ''})`);
    t.equal(bgRemovalState().starts, starts, 'B started no model process');
    t.equal(bgRemovalState().pid, undefined, 'no model process is running');
    t.equal(bgRemovalState().masksComputed, computed + 1, 'no mask was computed again');
    t.equal(bgRemovalState().sharedHits, sharedHits + 1, 'the mask came from Redis');
    // B's output is A's mask: the same alpha wherever A's is decided (B's background is red)
    const { data: da } = await alphaOf(ra.body);
    const { data: db } = await alphaOf(rb.body);
    let same = 0, decided = 0;
    for (let i = 0; i < W * H; i++) {
      const al = da[4 * i + 3];
      if (al > 5 && al < 250) continue;
      decided++;
      const fg = al >= 250;
      const red = db[4 * i] > 230 && db[4 * i + 1] < 25 && db[4 * i + 2] < 25;
      if (fg ? db[4 * i] === da[4 * i] && db[4 * i + 1] === da[4 * i + 1] : red) same++;
    }
    t.ok(same / decided > 0.99, `B's pixels follow A's mask (${((100 * same) / decided).toFixed(2)}%)`);

    // a record that is not a mask PNG reads as a miss: the mask is computed again, not a 500
    await raw.set(keys[0]!, 'not a png');
    clearBgRemovalCache();
    const again = bgRemovalState();
    const rc = await b.get('/image/upload/e_background_removal/f_webp/comp-redis.png');
    t.equal(rc.status, 200, `a corrupt record: 200 (${rc.headers.get('x-cld-error') ?? ''})`);
    t.equal(bgRemovalState().masksComputed, again.masksComputed + 1, 'the mask was computed again');
    t.equal(bgRemovalState().sharedHits, again.sharedHits, 'the corrupt record was not used');
    const repaired = await raw.sendCommand<Buffer>(['GET', keys[0]!], { typeMapping: { [36]: Buffer } });
    t.equal((await sharp(repaired).metadata()).format, 'png', 'and stored again');
  });

  const iouOf = (data: Buffer) => {
    let inter = 0, union = 0;
    for (let i = 0; i < W * H; i++) {
      const p = data[4 * i + 3] >= 128, g = truth[i] >= 128;
      if (p && g) inter++;
      if (p || g) union++;
    }
    return inter / union;
  };

  t.test('the default model (medium) on the plain-background composite; APERTURE_BGREMOVAL_MODEL=small restarts the process with the other ISNet', async (t) => {
    const r = await s.get('/image/upload/e_background_removal/plain.png');
    t.equal(r.status, 200, `200 (${r.headers.get('x-cld-error') ?? ''})`);
    const iou = iouOf((await alphaOf(r.body)).data);
    t.comment(`default (medium) model, plain background: IoU ${iou.toFixed(3)}`);
    t.ok(iou >= 0.8, `IoU ${iou.toFixed(3)} >= 0.80`);

    const small = await startServer(t, { config: { storageDir: dir, bgRemovalModel: 'small', bgRemovalWaitMs: 600_000, processTimeoutMs: 600_000 } });
    const { starts, masksComputed } = bgRemovalState();
    const rs = await small.get('/image/upload/e_background_removal/comp.png');
    t.equal(rs.status, 200, `200 (${rs.headers.get('x-cld-error') ?? ''})`);
    const iouSmall = iouOf((await alphaOf(rs.body)).data);
    t.comment(`small model, textured background: IoU ${iouSmall.toFixed(3)}`);
    t.ok(iouSmall >= 0.8, `IoU ${iouSmall.toFixed(3)} >= 0.80`);
    t.equal(bgRemovalState().starts, starts + 1, 'the model process was restarted with the small model');
    t.equal(bgRemovalState().masksComputed, masksComputed + 1, "the medium model's mask of this source is not reused for the small one");
  });

  t.test('options and APERTURE_BGREMOVAL=0 are 400 unsupported', async (t) => {
    const opt = await s.get('/image/upload/e_background_removal:fineedges_y/comp.png');
    t.equal(opt.status, 400);
    t.match(opt.headers.get('x-cld-error') ?? '', /Unsupported transformation e_background_removal:fineedges_y/);
    t.throws(() => loadConfig({ APERTURE_BGREMOVAL_MODEL: 'large' }), /APERTURE_BGREMOVAL_MODEL must be one of small, medium/, 'an unknown model stops the boot');
    t.throws(() => loadConfig({ APERTURE_BGREMOVAL_THREADS: '-1' }), /APERTURE_BGREMOVAL_THREADS/, 'a negative thread count stops the boot');
    t.equal(loadConfig({}).bgRemovalModel, 'medium', 'medium is the default model');
    const off = await startServer(t, { config: { storageDir: dir, bgRemoval: false } });
    for (const e of ['background_removal', 'bgremoval']) {
      const r = await off.get(`/image/upload/e_${e}/comp.png`);
      t.equal(r.status, 400, `e_${e} off → 400`);
      t.match(r.headers.get('x-cld-error') ?? '', new RegExp(`Unsupported transformation e_${e}: background removal is turned off`));
    }
  });
}
