/**
 * Layer compositing options through the real route (transforms/effects/blend.ts,
 * src/render/layers.ts): blend modes `e_multiply`, `e_screen`, `e_overlay`, `e_mask`,
 * `fl_cutter`, `fl_tiled` (also with a layer larger than the base), on generated images whose
 * expected pixels are known, and on a real photograph. Each check reads the delivered pixels.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-blend-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const solid = (width: number, height: number, r: number, g: number, b: number, alpha = 1) =>
  sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } }).png().toBuffer();
// base 100×80 of (200, 100, 50); layers 40×40
await fs.writeFile(path.join(storage, 'base.png'), await sharp({ create: { width: 100, height: 80, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toBuffer());
await fs.writeFile(path.join(storage, 'grey.png'), await solid(40, 40, 64, 64, 64));
// a disc: opaque red inside radius 20, transparent corners
await fs.writeFile(path.join(storage, 'disc.png'), await sharp(Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="20" fill="#f00"/></svg>')).png().toBuffer());
// a horizontal ramp black → white, no alpha (a JPEG-like mask)
const ramp = Buffer.alloc(40 * 40 * 3);
for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) ramp.fill(Math.round((x / 39) * 255), (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
await fs.writeFile(path.join(storage, 'ramp.png'), await sharp(ramp, { raw: { width: 40, height: 40, channels: 3 } }).png().toBuffer());
// 20×20 tile: red 10×10 at its top left, transparent elsewhere
await fs.writeFile(path.join(storage, 'tile.png'), await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
  .composite([{ input: await solid(10, 10, 255, 0, 0), left: 0, top: 0 }]).png().toBuffer());
await fs.writeFile(path.join(storage, 'big.png'), await solid(300, 200, 0, 0, 255));
await fs.copyFile(path.join(repoRoot, 'images/coffee.png'), path.join(storage, 'coffee.png'));

const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

interface Px { width: number; height: number; channels: number; at(x: number, y: number): number[]; data: Buffer }

async function get(url: string): Promise<{ status: number; error: string; px?: Px }> {
  const res = await app.inject({ url: `/image/upload/${url}` });
  const error = String(res.headers['x-cld-error'] ?? '');
  if (res.statusCode !== 200) return { status: res.statusCode, error };
  const { data, info } = await sharp(res.rawPayload).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels)];
  return { status: 200, error, px: { width: info.width, height: info.height, channels: info.channels, at, data } };
}

async function ok(url: string): Promise<Px> {
  const r = await get(url);
  t.equal(r.status, 200, `${url} ${r.error}`);
  if (!r.px) throw new Error(`${url}: ${r.status} ${r.error}`);
  return r.px;
}

const near = (a: number[], b: number[], tol = 3) => a.length >= b.length && b.every((v, i) => Math.abs(a[i] - v) <= tol);

t.test('multiply, screen and overlay blend the layer with the base', async (t) => {
  // Layer (64,64,64) at the centre (30..69 × 20..59) of a (200,100,50) base.
  const blend = (f: (b: number, l: number) => number) => [200, 100, 50].map((b) => Math.round(f(b / 255, 64 / 255) * 255));
  const cases: [string, number[]][] = [
    ['multiply', blend((b, l) => b * l)],
    ['screen', blend((b, l) => 1 - (1 - b) * (1 - l))],
    ['overlay', blend((b, l) => (b <= 0.5 ? 2 * b * l : 1 - 2 * (1 - b) * (1 - l)))],
  ];
  for (const [mode, inside] of cases) {
    for (const url of [`l_grey,e_${mode}/base.png`, `l_grey/e_${mode},fl_layer_apply/base.png`]) {
      const px = await ok(url);
      t.same([px.width, px.height], [100, 80], `${url}: size kept`);
      t.ok(near(px.at(50, 40), inside), `${url}: inside ${px.at(50, 40)} ≈ ${inside}`);
      t.ok(near(px.at(5, 5), [200, 100, 50], 1), `${url}: outside the layer the base is untouched`);
      t.equal(px.channels, 3, 'an opaque base stays opaque');
    }
  }
  // Without a blend mode the grey layer simply covers the base.
  t.ok(near((await ok('l_grey/base.png')).at(50, 40), [64, 64, 64], 1));
});

t.test('multiply darkens a photograph, screen lightens it, only under the layer', async (t) => {
  const mean = async (url: string, region: { left: number; top: number; width: number; height: number }) => {
    const res = await app.inject({ url: `/image/upload/${url}` });
    t.equal(res.statusCode, 200, url);
    const { data, info } = await sharp(res.rawPayload).raw().toBuffer({ resolveWithObject: true });
    let sum = 0;
    for (let y = region.top; y < region.top + region.height; y++) for (let x = region.left; x < region.left + region.width; x++) {
      const o = (y * info.width + x) * info.channels;
      sum += data[o] + data[o + 1] + data[o + 2];
    }
    return sum / (3 * region.width * region.height);
  };
  const centre = { left: 150, top: 110, width: 100, height: 80 }, corner = { left: 0, top: 0, width: 60, height: 60 };
  const plain = await mean('w_400/coffee.png', centre);
  const layer = 'l_grey,w_200,h_160,c_scale';
  const darker = await mean(`w_400/${layer},e_multiply/coffee.png`, centre);
  const lighter = await mean(`w_400/${layer},e_screen/coffee.png`, centre);
  t.ok(darker < plain * 0.5, `multiply by a 25 % grey darkens (${plain.toFixed(1)} → ${darker.toFixed(1)})`);
  t.ok(lighter > plain + 20, `screen lightens (${plain.toFixed(1)} → ${lighter.toFixed(1)})`);
  t.equal(await mean(`w_400/${layer},e_multiply/coffee.png`, corner), await mean('w_400/coffee.png', corner), 'outside the layer: unchanged');
});

t.test('fl_cutter keeps the base where the layer is opaque, transparent elsewhere', async (t) => {
  for (const url of ['l_disc,fl_cutter,g_north_west/base.png', 'l_disc/fl_cutter,fl_layer_apply,g_north_west/base.png']) {
    const px = await ok(url);
    t.same([px.width, px.height, px.channels], [100, 80, 4], `${url}: base size, with alpha`);
    t.same(px.at(20, 20), [200, 100, 50, 255], 'disc centre: the base colour, not the layer\'s');
    t.equal(px.at(1, 1)[3], 0, 'transparent corner of the layer cuts the base');
    t.equal(px.at(70, 60)[3], 0, 'outside the layer: transparent');
  }
  // A layer hanging outside does not grow the base.
  const off = await ok('l_disc/fl_cutter,fl_layer_apply,g_north_west,x_-20,y_-20/base.png');
  t.same([off.width, off.height], [100, 80]);
  t.same(off.at(5, 5), [200, 100, 50, 255]);
  t.equal(off.at(30, 30)[3], 0);
  // JPEG output flattens the cut-away area onto white.
  const jpg = await app.inject({ url: '/image/upload/l_disc,fl_cutter,g_north_west/base.jpg' });
  t.equal(jpg.statusCode, 200);
});

t.test('e_mask: the layer\'s luminance becomes the base\'s alpha', async (t) => {
  const px = await ok('l_ramp/e_mask,fl_layer_apply,g_north_west/base.png');
  t.same([px.width, px.height, px.channels], [100, 80, 4]);
  t.equal(px.at(0, 10)[3], 0, 'black mask: transparent');
  t.equal(px.at(39, 10)[3], 255, 'white mask: opaque');
  t.ok(Math.abs(px.at(20, 10)[3] - Math.round((20 / 39) * 255)) <= 2, `mid-grey: half (${px.at(20, 10)[3]})`);
  t.same(px.at(39, 10).slice(0, 3), [200, 100, 50], 'the colour is the base\'s');
  t.equal(px.at(60, 10)[3], 0, 'outside the mask: transparent');
  // The red disc (luminance 76) masks less than its own alpha would: e_mask differs from fl_cutter.
  const m = await ok('l_disc,e_mask,g_north_west/base.png');
  t.ok(Math.abs(m.at(20, 20)[3] - 76) <= 2, `red disc: alpha ≈ 76 (${m.at(20, 20)[3]})`);
});

t.test('fl_tiled repeats the layer at several positions', async (t) => {
  const px = await ok('l_tile/fl_tiled,fl_layer_apply/base.png');
  t.same([px.width, px.height], [100, 80]);
  for (const [x, y] of [[0, 0], [25, 5], [45, 25], [85, 65], [65, 45]]) t.same(px.at(x, y).slice(0, 3), [255, 0, 0], `red tile at ${x},${y}`);
  for (const [x, y] of [[15, 15], [35, 5], [55, 75]]) t.same(px.at(x, y).slice(0, 3), [200, 100, 50], `base between tiles at ${x},${y}`);
  // A tile larger than the base is cut to it (it used to be a 422).
  const big = await ok('l_big,o_30,fl_tiled/base.png');
  t.same([big.width, big.height], [100, 80]);
  t.ok(near(big.at(99, 79), [140, 70, 112], 3), `30 % blue over the whole base (${big.at(99, 79)})`);
  // Tiled and blended, tiled and cut.
  const mul = await ok('l_tile,fl_tiled,e_multiply/base.png');
  t.ok(near(mul.at(25, 5), [200, 0, 0], 1) && near(mul.at(15, 15), [200, 100, 50], 1), 'multiplied tiles');
  const cut = await ok('l_tile,fl_tiled,fl_cutter/base.png');
  t.same(cut.at(45, 25), [200, 100, 50, 255]);
  t.equal(cut.at(15, 15)[3], 0, 'between the tiles: cut away');
});

t.test('e_anti_removal warps the layer, more with a higher level, and leaves the rest alone', async (t) => {
  const plain = await ok('w_200/l_disc,w_80,g_north_west/coffee.png');
  const diff = (a: Px, b: Px, x0: number, x1: number, y0: number, y1: number) => {
    let d = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) { const p = a.at(x, y), q = b.at(x, y); d += Math.abs(p[0] - q[0]) + Math.abs(p[1] - q[1]) + Math.abs(p[2] - q[2]); }
    return d;
  };
  const reds = (a: Px) => { let n = 0; for (let y = 0; y < 80; y++) for (let x = 0; x < 80; x++) { const p = a.at(x, y); if (p[0] > 200 && p[1] < 80 && p[2] < 80) n++; } return n; };
  const low = await ok('w_200/l_disc,w_80,g_north_west,e_anti_removal:10/coffee.png');
  const high = await ok('w_200/l_disc,w_80/e_anti_removal:90,fl_layer_apply,g_north_west/coffee.png');
  const dLow = diff(plain, low, 0, 80, 0, 80), dHigh = diff(plain, high, 0, 80, 0, 80);
  t.ok(dLow > 0, `level 10 changes the layer (${dLow})`);
  t.ok(dHigh > 2 * dLow, `level 90 changes it more (${dHigh} > 2 × ${dLow})`);
  t.equal(diff(plain, high, 100, 200, 0, plain.height), 0, 'outside the layer the base is untouched');
  t.ok(Math.abs(reds(high) - reds(plain)) < 0.3 * reds(plain), `the watermark stays as visible (${reds(high)} vs ${reds(plain)} red pixels)`);
  t.equal((await ok('w_200/l_disc,w_80,g_north_west,e_anti_removal/coffee.png')).data.equals((await ok('w_200/l_disc,w_80,g_north_west,e_anti_removal:50/coffee.png')).data), true, 'level 50 by default');
  const bad = await get('l_disc,e_anti_removal:0/base.png');
  t.equal(bad.error, 'Invalid effect in transformation: anti_removal:0');
});

t.test('blend modes and cutter: refusals', async (t) => {
  const table: [string, string][] = [
    ['e_multiply/base.png', 'Invalid effect in transformation: multiply (says how a layer is composited: only valid with l_ or in its fl_layer_apply component)'],
    ['u_grey,e_screen/base.png', 'Invalid underlay in transformation: e_screen (blend modes and fl_cutter apply to overlays, l_)'],
    ['l_grey,e_overlay:3/base.png', 'Invalid effect in transformation: overlay:3'],
    ['fl_cutter/base.png', 'Invalid flags in transformation: cutter (only valid with a layer)'],
  ];
  for (const [url, msg] of table) {
    const r = await get(url);
    t.equal(r.status, 400, url);
    t.equal(r.error, msg, url);
  }
});
