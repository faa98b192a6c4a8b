/**
 * Layers through the route (url-api.md §2 `l`, `u`, `fl_layer_apply`): real images in a scratch
 * storage, real HTTP via inject, pixel checks for placement. The base is a 100×80 white PNG
 * (or a transparent one for underlays); the layer a 20×20 red square, so where red lands says
 * where the layer went.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-layers-'));
const solid = (width: number, height: number, r: number, g: number, b: number, alpha = 1) =>
  sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } }).png().toBuffer();
await fs.mkdir(path.join(storage, 'docs'));
await fs.writeFile(path.join(storage, 'white.png'), await solid(100, 80, 255, 255, 255));
// left half opaque white, right half transparent (an underlay shows only on the right)
await fs.writeFile(path.join(storage, 'half-clear.png'), await sharp({ create: { width: 100, height: 80, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
  .composite([{ input: await solid(50, 80, 255, 255, 255), left: 0, top: 0 }]).png().toBuffer());
await fs.writeFile(path.join(storage, 'docs', 'red.png'), await solid(20, 20, 255, 0, 0));
// 40×20: left half green, right half blue (tells which part of a layer survived a crop or flip)
await fs.writeFile(path.join(storage, 'gb.png'), await sharp({ create: { width: 40, height: 20, channels: 3, background: '#00ff00' } })
  .composite([{ input: await solid(20, 20, 0, 0, 255), left: 20, top: 0 }]).png().toBuffer());

// Registered first, so it runs after the server's close (tap runs teardowns last-in first-out).
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
// Remote layers are refused by the allow-list before any DNS lookup (test/transforms/layer-fetch.test.ts has the loopback ones).
const { app } = await startServer(t, { listen: false, config: { storageDir: storage, fetchAllow: ['127.0.0.1'] } });

interface Pixels { width: number; height: number; channels: number; at(x: number, y: number): number[] }

async function get(url: string): Promise<{ status: number; error?: string; px?: Pixels }> {
  const res = await app.inject({ url: `/image/upload/${url}` });
  if (res.statusCode !== 200) return { status: res.statusCode, error: String(res.headers['x-cld-error'] ?? '') };
  const { data, info } = await sharp(res.rawPayload).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels)];
  return { status: 200, px: { width: info.width, height: info.height, channels: info.channels, at } };
}

const isRed = (p: number[]) => p[0] > 200 && p[1] < 60 && p[2] < 60;
const isWhite = (p: number[]) => p[0] > 230 && p[1] > 230 && p[2] > 230;

/** Bounding box of the red pixels. */
function redBox(px: Pixels): { left: number; top: number; right: number; bottom: number } | undefined {
  let left = Infinity, top = Infinity, right = -1, bottom = -1;
  for (let y = 0; y < px.height; y++) for (let x = 0; x < px.width; x++) {
    const p = px.at(x, y);
    if (isRed(p) && (p.length < 4 || p[3] > 200)) { left = Math.min(left, x); top = Math.min(top, y); right = Math.max(right, x); bottom = Math.max(bottom, y); }
  }
  return right < 0 ? undefined : { left, top, right, bottom };
}


type Box = { left: number; top: number; right: number; bottom: number };
const box = (left: number, top: number, w: number, h: number): Box => ({ left, top, right: left + w - 1, bottom: top + h - 1 });

async function redAt(t: Test, url: string, expected: Box | undefined, size?: [number, number]): Promise<void> {
  const r = await get(url);
  t.equal(r.status, 200, `${url}: ${r.error ?? ''}`);
  if (!r.px) return;
  t.same(redBox(r.px), expected, url);
  if (size) t.same([r.px.width, r.px.height], size, `${url} size`);
}

t.test('compass gravity places the layer (default centre)', async (t) => {
  const table: [string, Box][] = [
    ['north_west', box(0, 0, 20, 20)], ['north', box(40, 0, 20, 20)], ['north_east', box(80, 0, 20, 20)],
    ['west', box(0, 30, 20, 20)], ['center', box(40, 30, 20, 20)], ['east', box(80, 30, 20, 20)],
    ['south_west', box(0, 60, 20, 20)], ['south', box(40, 60, 20, 20)], ['south_east', box(80, 60, 20, 20)],
  ];
  for (const [g, b] of table) await redAt(t, `l_docs:red/fl_layer_apply,g_${g}/white.png`, b, [100, 80]);
  await redAt(t, 'l_docs:red/fl_layer_apply/white.png', box(40, 30, 20, 20));
});

t.test('a layer extension is any of the format table\'s, as in a delivery URL', async (t) => {
  // The stored docs/red.png serves `.jp2` (and `.jpe`) like the base's `/docs/red.jp2` would:
  // before the one format table, layers did not know these extensions and answered 400 not found.
  await redAt(t, 'l_docs:red.jp2/fl_layer_apply/white.png', box(40, 30, 20, 20));
  await redAt(t, 'l_docs:red.jpe/fl_layer_apply/white.png', box(40, 30, 20, 20));
});

t.test('x/y offsets move the layer away from the anchored edge', async (t) => {
  await redAt(t, 'l_docs:red/fl_layer_apply,g_north_west,x_10,y_5/white.png', box(10, 5, 20, 20));
  await redAt(t, 'l_docs:red/fl_layer_apply,g_south_east,x_10,y_5/white.png', box(70, 55, 20, 20));
  await redAt(t, 'l_docs:red/fl_layer_apply,x_10,y_-5/white.png', box(50, 25, 20, 20));
  // fractions are of the base: 0.1 × 100 = 10, 0.25 × 80 = 20
  await redAt(t, 'l_docs:red/fl_layer_apply,g_north_west,x_0.1,y_0.25/white.png', box(10, 20, 20, 20));
  await redAt(t, 'l_docs:red/fl_layer_apply,g_xy_center,x_30,y_30/white.png', box(20, 20, 20, 20));
});

t.test('without fl_layer_apply the layer component places itself', async (t) => {
  await redAt(t, 'l_docs:red,g_south_east,x_5,y_5/white.png', box(75, 55, 20, 20));
  await redAt(t, 'l_docs:red,w_10,g_north_west/white.png', box(0, 0, 10, 10));
  // later components act on the composed image: scaling it halves the square
  await redAt(t, 'l_docs:red,g_north_west/w_50/white.png', box(0, 0, 10, 10), [50, 40]);
});

t.test('fl_relative sizes the layer by the base, otherwise fractions are of the layer', async (t) => {
  await redAt(t, 'l_docs:red,w_0.5,fl_relative/fl_layer_apply,g_north_west/white.png', box(0, 0, 50, 50));
  await redAt(t, 'l_docs:red,w_0.5/fl_layer_apply,g_north_west/white.png', box(0, 0, 10, 10));
  await redAt(t, 'l_docs:red,w_1.0,h_1.0,c_scale,fl_relative/white.png', box(0, 0, 100, 80));
  // a decimal above 1 is a multiple too (150 %), and the canvas grows to hold it
  await redAt(t, 'l_docs:red,w_1.5,h_0.5,c_scale,fl_relative,g_north_west/white.png', box(0, 0, 150, 40), [150, 80]);
  await redAt(t, 'l_docs:red,w_1.5,h_0.5,c_scale,fl_relative,g_north_west,fl_no_overflow/white.png', box(0, 0, 100, 40), [100, 80]);
});

t.test('the layer runs its own transformations', async (t) => {
  await redAt(t, 'l_docs:red,w_40/fl_layer_apply,g_north_west/white.png', box(0, 0, 40, 40));
  // r_max: the layer's corners are cut, the base shows through them
  const round = await get('l_docs:red,w_40,r_max/fl_layer_apply,g_north_west/white.png');
  t.ok(isWhite(round.px!.at(1, 1)), 'rounded corner shows the base');
  t.ok(isRed(round.px!.at(20, 20)), 'centre is the layer');
  // o_50: half-transparent red over white is pink
  const half = await get('l_docs:red,o_50/fl_layer_apply/white.png');
  const p = half.px!.at(50, 40);
  t.ok(p[0] > 240 && p[1] > 100 && p[1] < 160 && Math.abs(p[1] - p[2]) < 4, `pink ${p}`);
  // components between l_ and fl_layer_apply act on the layer: a_180 turns green|blue into blue|green
  const turned = await get('l_gb/a_180/fl_layer_apply,g_north_west/white.png');
  t.same(turned.px!.at(5, 5).slice(0, 3), [0, 0, 255], 'layer turned: blue first');
  t.same(turned.px!.at(25, 5).slice(0, 3), [0, 255, 0]);
  t.ok(isWhite(turned.px!.at(45, 5)), 'base untouched next to the layer');
});

t.test('layers nest: fl_layer_apply closes the innermost one', async (t) => {
  const r = await get('l_gb/l_docs:red,w_10/fl_layer_apply,g_north_west/fl_layer_apply,g_south_east/white.png');
  t.equal(r.status, 200, r.error ?? '');
  t.same(redBox(r.px!), box(60, 60, 10, 10), 'red inside the green/blue layer');
  t.same(r.px!.at(90, 70).slice(0, 3), [0, 0, 255], 'outer layer at the south-east corner');
  t.ok(isWhite(r.px!.at(10, 10)));
});

t.test('a layer reaching outside grows the canvas unless fl_no_overflow', async (t) => {
  await redAt(t, 'l_docs:red/fl_layer_apply,g_north_west,x_-10,y_-5/white.png', box(0, 0, 20, 20), [110, 85]);
  await redAt(t, 'l_docs:red/fl_layer_apply,g_north_west,x_-10,y_-5,fl_no_overflow/white.png', box(0, 0, 10, 15), [100, 80]);
  await redAt(t, 'l_docs:red,w_200/fl_layer_apply,fl_no_overflow/white.png', box(0, 0, 100, 80), [100, 80]);
});

t.test('fl_tiled repeats the layer over the base', async (t) => {
  const r = await get('l_gb/fl_layer_apply,fl_tiled/white.png');
  t.equal(r.status, 200, r.error ?? '');
  t.same(r.px!.at(45, 25).slice(0, 3), [0, 255, 0]);
  t.same(r.px!.at(65, 5).slice(0, 3), [0, 0, 255]);
  t.same(r.px!.at(99, 79).slice(0, 3), [0, 255, 0]);
});

t.test('fl_tiled with a tile larger than the base shows the tile\'s top left part', async (t) => {
  // gb scaled to 240×120 on the 100×80 base: the first tile covers it all, green (its left
  // half is 120 px wide). libvips refuses a composite input larger than the base (a 500 once
  // failures stopped being told apart by their wording: found by test/fuzz/plan-bounds.test.ts).
  for (const url of ['l_gb,w_240,c_scale/fl_layer_apply,fl_tiled/white.png', 'l_gb,w_4,h_200,c_scale/fl_layer_apply,fl_tiled/white.png']) {
    const r = await get(url);
    t.equal(r.status, 200, `${url}: ${r.error ?? ''}`);
    t.same([r.px?.width, r.px?.height], [100, 80], 'the base keeps its size');
  }
  const wide = await get('l_gb,w_240,c_scale/fl_layer_apply,fl_tiled/white.png');
  t.same(wide.px!.at(0, 0).slice(0, 3), [0, 255, 0]);
  t.same(wide.px!.at(99, 79).slice(0, 3), [0, 255, 0]);
  // 4×200: 2 px green, 2 px blue, repeated across; the 200 px height is cut to 80.
  const tall = await get('l_gb,w_4,h_200,c_scale/fl_layer_apply,fl_tiled/white.png');
  t.same(tall.px!.at(0, 79).slice(0, 3), [0, 255, 0]);
  t.same(tall.px!.at(3, 79).slice(0, 3), [0, 0, 255]);
  t.same(tall.px!.at(96, 0).slice(0, 3), [0, 255, 0]);
});

t.test('a changed layer file is never served stale (results are keyed on the layer sources)', async (t) => {
  await fs.writeFile(path.join(storage, 'docs', 'swap.png'), await solid(20, 20, 255, 0, 0));
  const before = await get('l_docs:swap/white.png');
  t.equal(before.status, 200, before.error ?? '');
  t.ok(isRed(before.px!.at(50, 40)), 'the layer as first stored');
  await fs.writeFile(path.join(storage, 'docs', 'swap.png'), await solid(20, 20, 0, 0, 255));
  const after = await get('l_docs:swap/white.png');
  t.same(after.px!.at(50, 40).slice(0, 3), [0, 0, 255], 'the rewritten layer, on the next request');
});

t.test('an underlay shows only through the transparent areas of the base', async (t) => {
  const u = await get('u_docs:red,w_1.0,h_1.0,c_scale,fl_relative/half-clear.png');
  t.equal(u.status, 200, u.error ?? '');
  t.ok(isWhite(u.px!.at(10, 40)), 'opaque base covers the underlay');
  t.ok(isRed(u.px!.at(90, 40)), 'transparent base shows it');
  const l = await get('l_docs:red,w_1.0,h_1.0,c_scale,fl_relative/half-clear.png');
  t.ok(isRed(l.px!.at(10, 40)) && isRed(l.px!.at(90, 40)), 'an overlay covers both halves');
});

t.test('text overlays render in their colour and place', async (t) => {
  const r = await get('l_text:Arial_30_bold:Hi,co_rgb:0000ff/fl_layer_apply,g_north_west/white.png');
  t.equal(r.status, 200, r.error ?? '');
  let blueIn = 0, blueOut = 0;
  for (let y = 0; y < 80; y++) for (let x = 0; x < 100; x++) {
    const p = r.px!.at(x, y);
    const blue = p[2] > 150 && p[0] < 100 && p[1] < 100;
    if (blue && x < 60 && y < 40) blueIn++; else if (blue) blueOut++;
  }
  t.ok(blueIn > 40, `blue text pixels at the top left (${blueIn})`);
  t.equal(blueOut, 0, 'nothing elsewhere');
  // b_ fills the text's box
  const boxed = await get('l_text:Arial_20:Hi,co_white,b_rgb:00ff00/fl_layer_apply/white.png');
  let green = 0, greenFar = 0;
  for (let y = 0; y < 80; y++) for (let x = 0; x < 100; x++) {
    const p = boxed.px!.at(x, y);
    if (p[1] > 200 && p[0] < 60 && p[2] < 60) { if (Math.abs(x - 50) < 25 && Math.abs(y - 40) < 20) green++; else greenFar++; }
  }
  t.ok(green > 100, `green box around the centre (${green})`);
  t.equal(greenFar, 0, 'only there');
  // c_fit,w_ wraps the text at that width: several lines, none wider than 60 px
  const wrapped = await get('l_text:Arial_20:aaa%20bbb%20ccc%20ddd,co_rgb:0000ff,c_fit,w_60/fl_layer_apply,g_north_west/white.png');
  let right = -1, bottom = -1;
  for (let y = 0; y < 80; y++) for (let x = 0; x < 100; x++) {
    const p = wrapped.px!.at(x, y);
    if (p[2] > 150 && p[0] < 100) { right = Math.max(right, x); bottom = Math.max(bottom, y); }
  }
  t.ok(right >= 20 && right < 60, `wrapped within 60 px (right edge ${right})`);
  t.ok(bottom > 40, `on several lines (bottom ${bottom})`);
  const huge = await get('l_text:Arial_1000:a%20very%20long%20line%20of%20text/white.png');
  t.equal(huge.status, 400, 'text over the output limits is refused before rendering');
  t.match(huge.error, /^Requested output too large: text layer/);
  // `,` double-encoded in the text does not split the component
  const comma = await get('l_text:Arial_20:a%252Cb/white.png');
  t.equal(comma.status, 200, comma.error ?? '');
});

t.test('fl_text_no_trim keeps a margin of a fifth of the font size around the text', async (t) => {
  const greenBox = async (url: string) => {
    const r = await get(url);
    t.equal(r.status, 200, `${url} ${r.error ?? ''}`);
    let left = Infinity, top = Infinity, right = -1, bottom = -1;
    for (let y = 0; y < r.px!.height; y++) for (let x = 0; x < r.px!.width; x++) {
      const p = r.px!.at(x, y);
      if (p[1] > 200 && p[0] < 60 && p[2] < 60) { left = Math.min(left, x); top = Math.min(top, y); right = Math.max(right, x); bottom = Math.max(bottom, y); }
    }
    return { w: right - left + 1, h: bottom - top + 1, left, top };
  };
  const trimmed = await greenBox('l_text:Arial_20:Hi,co_white,b_rgb:00ff00/fl_layer_apply,g_north_west/white.png');
  const padded = await greenBox('l_text:Arial_20:Hi,co_white,b_rgb:00ff00/fl_layer_apply,g_north_west,fl_text_no_trim/white.png');
  t.same([padded.w, padded.h], [trimmed.w + 8, trimmed.h + 8], `4 px each side (${trimmed.w}x${trimmed.h} → ${padded.w}x${padded.h})`);
  t.same([padded.left, padded.top], [0, 0]);
  const image = await get('l_docs:red,fl_text_no_trim/white.png');
  t.equal(image.error, 'Invalid flags in transformation: text_no_trim (only valid with a text layer)');
  const alone = await get('fl_text_no_trim/white.png');
  t.equal(alone.error, 'Invalid flags in transformation: text_no_trim (only valid with a layer)');
});

t.test('layer errors name the layer', async (t) => {
  const missing = await get('l_docs:nosuch/fl_layer_apply/white.png');
  t.equal(missing.status, 400);
  t.equal(missing.error, 'Invalid overlay in transformation: docs:nosuch (Resource not found - docs/nosuch)');
  const under = await get('u_nosuch/white.png');
  t.match(under.error, /^Invalid underlay in transformation: nosuch/);
  const fetch = await get('l_fetch:aHR0cDovL2V4YW1wbGUuY29tL2EucG5n/white.png');
  t.equal(fetch.status, 403, 'a remote layer outside the allow-list');
  t.match(fetch.error, /example\.com/);
  const video = await get('l_video:dog/white.png');
  t.equal(video.status, 400);
  t.match(video.error, /^Unsupported transformation l_video/);
});

t.test('opaque bases stay opaque; fl_getinfo reports the base crop', async (t) => {
  const res = await app.inject({ url: '/image/upload/l_docs:red/fl_layer_apply/white.jpg' });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'image/jpeg');
  const withLayer = await app.inject({ url: '/image/upload/c_fill,w_50,h_50,g_east/l_docs:red/fl_layer_apply,fl_getinfo/white.png' });
  const without = await app.inject({ url: '/image/upload/c_fill,w_50,h_50,g_east,fl_getinfo/white.png' });
  t.equal(withLayer.statusCode, 200);
  t.same(JSON.parse(withLayer.body).crop, JSON.parse(without.body).crop);
  t.ok(JSON.parse(without.body).crop, 'the fill crop is reported');
});
