/**
 * `pg_` selections (issue 14 item 4) on a 5-frame animated GIF through the real server: which
 * frames the delivered image holds, their delays, the still case, and the 400s.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { parsePlan } from '../../src/plan/parse.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-pg-'));
const COLOURS = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 255, 255]];
const frames = Buffer.concat(COLOURS.map((c) => Buffer.alloc(10 * 10 * 3, Buffer.from(c))));
await fs.writeFile(path.join(storage, 'anim.gif'), await sharp(frames, { raw: { width: 10, height: 50, channels: 3, pageHeight: 10 } })
  .gif({ delay: [100, 200, 300, 400, 500], loop: 0 }).toBuffer());
// a 3-page TIFF (pages, not an animation): red, green, blue
await fs.writeFile(path.join(storage, 'multi.tif'), await sharp(frames.subarray(0, 900), { raw: { width: 10, height: 30, channels: 3, pageHeight: 10 } }).tiff().toBuffer());
await fs.writeFile(path.join(storage, 'still.png'), await sharp({ create: { width: 10, height: 10, channels: 3, background: '#808080' } }).png().toBuffer());

// Registered first, so it runs after the server's own teardown (tap runs them last-in first-out).
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

/** Colour index of each delivered frame, and the delays. */
async function get(url: string): Promise<{ frames: number[]; delay?: number[]; format?: string }> {
  const res = await app.inject({ url: `/image/upload/${url}` });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.headers['x-cld-error']}`);
  const meta = await sharp(res.rawPayload).metadata();
  const n = meta.pages ?? 1;
  const { data, info } = await sharp(res.rawPayload, { pages: -1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const ph = info.height / n;
  const out: number[] = [];
  for (let p = 0; p < n; p++) {
    const i = ((p * ph + Math.floor(ph / 2)) * info.width + Math.floor(info.width / 2)) * info.channels;
    const px = [data[i], data[i + 1], data[i + 2]];
    out.push(COLOURS.findIndex((c) => c.every((v, j) => Math.abs(v - px[j]) < 10)));
  }
  return { frames: out, ...(meta.delay ? { delay: meta.delay } : {}), ...(meta.format ? { format: meta.format } : {}) };
}
const error = async (url: string) => {
  const res = await app.inject({ url: `/image/upload/${url}` });
  return `${res.statusCode} ${res.headers['x-cld-error']}`;
};

t.test('selections of an animation stay animated, in order, with their delays', async (t) => {
  t.same((await get('anim.gif')).frames, [0, 1, 2, 3, 4], 'all five frames without pg_');
  const r = await get('pg_2-4/anim.gif');
  t.same(r.frames, [1, 2, 3], 'pg_2-4: frames 2, 3, 4');
  t.same(r.delay, [200, 300, 400], 'with their own delays');
  t.same((await get('pg_1;3/anim.gif')).frames, [0, 2], 'pg_1;3');
  t.same((await get('pg_3;1/anim.gif')).frames, [2, 0], 'the order given');
  t.same((await get('pg_4-/anim.gif')).frames, [3, 4], 'pg_4-: to the last');
  t.same((await get('pg_2-4;6;8/anim.gif').catch((e) => String(e))), 'Error: pg_2-4;6;8/anim.gif: 400 Invalid page in transformation: 6 (the source has 5)', 'a page past the last is named');
  t.same((await get('pg_-1/anim.gif')).frames, [4], 'pg_-1: the last, one frame');
  t.same((await get('pg_-2;-1/anim.gif')).frames, [3, 4], 'negative items in a list');
  t.same((await get('pg_1-5/anim.gif')).frames, [0, 1, 2, 3, 4], 'the whole range is the animation');
  t.same((await get('pg_2-3,w_6/anim.gif')).frames, [1, 2], 'later steps see the kept frames');
});

t.test('a still output takes the first page of the selection', async (t) => {
  const r = await get('pg_2-4/anim.png');
  t.same(r.frames, [1], 'PNG: frame 2');
  t.equal(r.format, 'png');
  t.same((await get('pg_-1/anim.png')).frames, [4]);
  t.same((await get('pg_3;1/anim.png')).frames, [2]);
  t.same((await get('pg_2-3/multi.tif')).frames, [1], 'a multi-page TIFF does not animate: page 2');
  t.same((await get('pg_-1/multi.png')).frames, [2], 'its last page');
  t.equal(await error('pg_4/multi.tif'), '400 Invalid page in transformation: 4 (the source has 3)');
});

t.test('errors', async (t) => {
  t.equal(await error('pg_2-9/anim.gif'), '400 Invalid page in transformation: 2-9 (the source has 5)');
  t.equal(await error('pg_-6/anim.gif'), '400 Invalid page in transformation: -6 (the source has 5)');
  t.equal(await error('pg_2/still.png'), '400 Invalid page in transformation: 2 (the source has 1)');
  t.equal(await error('pg_1/still.png'), '200 undefined', 'pg_1 of a still is the still');
  for (const v of ['0', '4-2', 'a', '1;;2', '2-x', '-0', '1--2']) t.equal(await error(`pg_${v}/anim.gif`), `400 Invalid page in transformation: ${v}`, v);
  t.match(await error('pg_name:skyline/anim.gif'), /^400 Unsupported transformation pg_name:skyline: named layers need PSD input/);
  t.match(await error('pg_embedded:3/anim.gif'), /^400 Unsupported transformation pg_embedded:3: embedded images need PSD input/);
});

t.test('canonical', async (t) => {
  const c = (s: string) => parsePlan([s]).canonical;
  for (const s of ['pg_2', 'pg_2-4;6;8', 'pg_-1', 'pg_4-7;9', 'pg_4-']) t.equal(c(c(s)), c(s), s);
  t.equal(c('pg_2'), 'pg_2', 'one page prints as before');
});
