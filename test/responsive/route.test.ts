/**
 * dpr_auto / w_auto / w_auto:breakpoints through HTTP (app.inject): delivered sizes decoded
 * with sharp, exact Vary, the delivered-width headers, and the bound on variants.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { breakpointStats } from '../../src/responsive/breakpoints.ts';

const HINT_VARY = 'Sec-CH-Width, Width, Sec-CH-Viewport-Width, Viewport-Width, Sec-CH-DPR, DPR';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-responsive-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

// A 1600×1000 photo-like image (smoothed noise) and the shipped 320 px fixture.
const photo = await sharp({ create: { width: 1600, height: 1000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
  .blur(1.5).jpeg({ quality: 90 }).toBuffer();
fs.writeFileSync(path.join(dir, 'photo.jpg'), photo);
fs.copyFileSync(new URL('../fixtures/astronaut-320.jpg', import.meta.url), path.join(dir, 'small.jpg'));

const { app } = await startServer(t, { listen: false, config: { storageDir: dir, maxOutputSide: 3000 } });

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await app.inject({ url, headers });
  const isImage = String(r.headers['content-type'] ?? '').startsWith('image/');
  const m = isImage ? await sharp(r.rawPayload).metadata() : undefined;
  return { r, width: m?.width, height: m?.height };
}

t.test('dpr_auto: hint rounded up, capped, 1 without; Vary on both DPR names always', async (t) => {
  const u = '/image/upload/dpr_auto,w_100/photo.jpg';
  const cases: Array<[Record<string, string>, number]> = [
    [{}, 100], [{ 'sec-ch-dpr': '1' }, 100], [{ 'sec-ch-dpr': '1.3' }, 200], [{ dpr: '1.3' }, 200],
    [{ 'sec-ch-dpr': '2', dpr: '3' }, 200], [{ 'sec-ch-dpr': '2.5' }, 300], [{ 'sec-ch-dpr': '7' }, 300], [{ 'sec-ch-dpr': 'abc' }, 100],
  ];
  for (const [h, w] of cases) {
    const { r, width } = await get(u, h);
    t.equal(r.statusCode, 200);
    t.equal(width, w, `${JSON.stringify(h)} → ${w} px`);
    t.equal(r.headers['x-aperture-dpr'], String(w / 100), 'delivered DPR header');
    t.match(String(r.headers['server-timing']), new RegExp(`width;desc=${w}, dpr;desc=${w / 100}`));
    t.equal(r.headers.vary, 'Sec-CH-DPR, DPR', 'Vary names both DPR hints, hint sent or not');
    t.match(String(r.headers['accept-ch']), /Sec-CH-DPR/);
  }
});

t.test('w_auto: Width hint, viewport × DPR, fallback, unchanged; exact Vary', async (t) => {
  const cases: Array<[string, Record<string, string>, number]> = [
    ['w_auto', { 'sec-ch-width': '823' }, 900],
    ['w_auto', { width: '350' }, 400],
    ['w_auto', { 'sec-ch-width': '400', width: '1000' }, 400],
    ['w_auto', { 'sec-ch-viewport-width': '390', 'sec-ch-dpr': '1.5' }, 800],
    ['w_auto', { 'viewport-width': '390' }, 400],
    ['w_auto:100:387', {}, 400],
    ['w_auto:50', { 'sec-ch-width': '310' }, 350],
    ['w_auto', {}, 1600],
    ['w_auto', { 'sec-ch-dpr': '1' }, 1600],
    // never more than the source's 1600 px (the browser upscales for free)
    ['w_auto', { 'sec-ch-width': '99999' }, 1600],
    ['w_auto,c_scale/c_limit,w_500', { 'sec-ch-width': '900' }, 500],
    ['w_auto,c_scale/c_limit,w_500', { 'sec-ch-width': '301' }, 400],
  ];
  for (const [tr, h, w] of cases) {
    const { r, width } = await get(`/image/upload/${tr}/photo.jpg`, h);
    t.equal(r.statusCode, 200, tr);
    t.equal(width, w, `${tr} ${JSON.stringify(h)} → ${w}`);
    t.equal(r.headers['x-aperture-width'], String(w));
    t.equal(r.headers.vary, HINT_VARY, 'Vary: every hint w_auto reads');
  }
  const plain = await get('/image/upload/w_300/photo.jpg', { 'sec-ch-width': '823', 'sec-ch-dpr': '2' });
  t.equal(plain.width, 300);
  t.equal(plain.r.headers.vary, undefined, 'no auto value → no Vary');
});

t.test('w_auto with DPR: a hinted width is device pixels and is not multiplied again', async (t) => {
  const h = { 'sec-ch-width': '800', 'sec-ch-dpr': '2' };
  let x = await get('/image/upload/w_auto,dpr_auto/photo.jpg', h);
  t.equal(x.width, 800, 'Sec-CH-Width 800 at DPR 2 → 800, not 1600');
  t.equal(x.r.headers['x-aperture-dpr'], '2');
  t.equal(x.r.headers.vary, HINT_VARY);
  x = await get('/image/upload/c_fill,dpr_auto,h_300,w_auto/photo.jpg', h);
  t.same([x.width, x.height], [800, 600], 'h_ is CSS px: × DPR; the hinted w is not');
  x = await get('/image/upload/dpr_2,w_auto/photo.jpg', { 'sec-ch-width': '700' });
  t.equal(x.width, 700, 'explicit dpr_2: the hint is still the final width');
  x = await get('/image/upload/dpr_2,w_auto:100:387/photo.jpg');
  t.equal(x.width, 800, 'fallback is CSS px: 387 × 2 = 774 → 800');
  x = await get('/image/upload/dpr_auto,w_auto/photo.jpg', { 'sec-ch-viewport-width': '300', 'sec-ch-dpr': '3' });
  t.equal(x.width, 900, 'viewport 300 × DPR 3');
  x = await get('/image/upload/dpr_auto,w_auto:100:250/photo.jpg', { 'sec-ch-dpr': '2' });
  t.equal(x.width, 500, 'fallback × dpr_auto');
});

t.test('breakpoints: :json shape, delivered width = smallest breakpoint >= required', async (t) => {
  const j = await app.inject({ url: '/image/upload/c_scale,w_auto:breakpoints:json/photo.jpg', headers: { 'sec-ch-width': '500' } });
  t.equal(j.statusCode, 200);
  t.match(String(j.headers['content-type']), /^application\/json/);
  t.equal(j.headers.vary, undefined, 'the list does not depend on hints');
  const body = j.json() as { breakpoints: number[] };
  t.same(Object.keys(body), ['breakpoints']);
  const bps = body.breakpoints;
  t.ok(bps.length >= 3 && bps.length <= 20, `${bps.length} breakpoints: ${bps.join(',')}`);
  t.equal(bps[0], 50);
  t.equal(bps[bps.length - 1], 1000);
  t.ok(bps.every((w, i) => Number.isInteger(w) && (i === 0 || w > bps[i - 1])), 'integers, strictly ascending');

  for (const need of [1, 50, 51, bps[2] - 1, bps[2], bps[2] + 1, 999, 5000]) {
    const want = bps.find((w) => w >= need) ?? bps[bps.length - 1];
    const { r, width } = await get('/image/upload/c_scale,w_auto:breakpoints/photo.jpg', { 'sec-ch-width': String(need) });
    t.equal(width, want, `need ${need} → ${want}`);
    t.equal(r.headers.vary, HINT_VARY);
  }
  t.equal((await get('/image/upload/w_auto:breakpoints/photo.jpg')).width, 1000, 'no hint, no fallback → the largest');
  const auto = await app.inject({ url: '/image/upload/f_auto,w_auto:breakpoints:json/photo.jpg', headers: { accept: 'image/webp,*/*' } });
  t.equal(auto.statusCode, 200);
  t.equal(auto.headers.vary, 'Accept', 'with f_auto the list is per delivered format, so it varies on Accept');
  t.equal((auto.json() as { breakpoints: number[] }).breakpoints.at(-1), 1000);
  const fb = bps.find((w) => w >= 420)!;
  t.equal((await get('/image/upload/w_auto:breakpoints:420/photo.jpg')).width, fb, 'fallback snaps like a hint');
  t.equal((await get('/image/upload/w_auto:breakpoints/small.jpg', { 'sec-ch-width': '900' })).width, 320, 'max capped at the source width');
  const small = (await app.inject('/image/upload/w_auto:breakpoints:json/small.jpg')).json() as { breakpoints: number[] };
  t.equal(small.breakpoints[small.breakpoints.length - 1], 320);
});

t.test('breakpoints of the delivered quality: q_auto later in the plan is resolved for them (Save-Data)', async (t) => {
  const json = async (tr: string, headers: Record<string, string>) => {
    const r = await app.inject({ url: `/image/upload/${tr}/photo.jpg`, headers });
    t.equal(r.statusCode, 200, tr);
    return { vary: r.headers.vary, bps: (r.json() as { breakpoints: number[] }).breakpoints };
  };
  const saving = await json('q_auto,w_auto:breakpoints:json', { 'save-data': 'on' });
  t.equal(saving.vary, 'Save-Data', 'the list depends on Save-Data through q_auto');
  const before = breakpointStats();
  const eco = await json('q_auto:eco,w_auto:breakpoints:json', {});
  t.same(eco.bps, saving.bps, 'the same list as q_auto:eco');
  t.equal(breakpointStats().computed, before.computed, 'the same computation (sampled at eco, not good)');
  t.equal(breakpointStats().hits, before.hits + 1);
});

t.test('bounded variants: 1000 different width hints → at most 30 cache entries', async (t) => {
  const before = app.delivery.results.size;
  const widths = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const w = 1 + ((i * 7919) % 3000);
    widths.add(w);
    const r = await app.inject({ url: '/image/upload/c_limit,w_auto/small.jpg', headers: { 'sec-ch-width': String(w) } });
    if (r.statusCode !== 200) t.fail(`status ${r.statusCode} for ${w}`);
  }
  const added = app.delivery.results.size - before;
  t.equal(widths.size, 1000, `${widths.size} distinct hints sent`);
  t.ok(added <= 30 && added >= 2, `${added} cache entries (3000 / step 100)`);
});
