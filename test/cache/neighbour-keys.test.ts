/**
 * Issue 12 item 9: two URLs that mean different images must never share a result-cache key.
 * For each pair of neighbouring URLs (values that an inexact canonical text would merge), one
 * server renders A then B and a second, fresh server renders B then A, through real HTTP. Each
 * URL must give the same bytes whether it was rendered first (alone) or after its neighbour,
 * and the two neighbours must differ (or the pair would prove nothing).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { parsePlan } from '../../src/plan/parse.ts';
import { startServer, type TestServer } from '../helpers/harness.ts';

/** Deterministic noise, so that a one-pixel shift of a crop changes the bytes. */
function noise(width: number, height: number, channels: 3 | 4, seed: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * channels);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = channels === 4 && i % 4 === 3 ? 255 : s >>> 24;
  }
  return sharp(data, { raw: { width, height, channels } }).png().toBuffer();
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-neighbours-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
// 5120 px: w_0.12354 is 632.5 → 633 px, w_0.12352 is 632.4 → 632 px.
await fs.writeFile(path.join(dir, 'wide.png'), await noise(5120, 6, 3, 1));
await fs.writeFile(path.join(dir, 'tall.png'), await noise(6, 5120, 3, 2));
// An opaque red frame around blue: trimming on opaque red and on transparent red differ.
const blue = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 1 } } }).png().toBuffer();
await fs.writeFile(path.join(dir, 'framed.png'), await sharp({ create: { width: 60, height: 60, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } })
  .composite([{ input: blue, left: 10, top: 10 }]).png().toBuffer());

/** Neighbouring URLs, per parameter whose canonical text could merge them. */
const PAIRS: readonly [string, string, string][] = [
  ['width fraction', 'w_0.12354/wide.png', 'w_0.12352/wide.png'],
  ['height fraction', 'h_0.12354/tall.png', 'h_0.12352/tall.png'],
  ['x fraction', 'c_crop,w_8,h_6,x_0.12354/wide.png', 'c_crop,w_8,h_6,x_0.12352/wide.png'],
  ['y fraction', 'c_crop,w_6,h_8,y_0.12354/tall.png', 'c_crop,w_6,h_8,y_0.12352/tall.png'],
  // 400 / 88.88888887 = 4.5000000006 → 5 px high; 400 / 88.8888889 = 4.4999999994 → 4 px.
  ['aspect ratio', 'c_scale,w_400,ar_88.88888887/wide.png', 'c_scale,w_400,ar_88.8888889/wide.png'],
  ['trim colour alpha', 'e_trim:10:rgb:ff000000/framed.png', 'e_trim:10:rgb:ff0000/framed.png'],
  ['layer width fraction', 'l_wide,w_0.12354,h_2,c_scale/fl_layer_apply/w_700,h_6,c_pad/wide.png',
    'l_wide,w_0.12352,h_2,c_scale/fl_layer_apply/w_700,h_6,c_pad/wide.png'],
];

/** The rendered bytes of `p`, which must be answered 200. */
async function body(server: TestServer, p: string): Promise<Buffer> {
  const r = await server.get(`/image/upload/${p}`);
  if (r.status !== 200) throw new Error(`${p}: ${r.status} ${r.headers.get('x-cld-error') ?? ''}`);
  return r.body;
}

t.test('each URL renders the same alone and after its neighbour', async (t) => {
  const first = await startServer(t, { config: { storageDir: dir } });
  const second = await startServer(t, { config: { storageDir: dir } });
  const aThenB = new Map<string, Buffer>();
  const bThenA = new Map<string, Buffer>();
  for (const [, a, b] of PAIRS) {
    aThenB.set(a, await body(first, a));
    aThenB.set(b, await body(first, b));
    bThenA.set(b, await body(second, b));
    bThenA.set(a, await body(second, a));
  }
  for (const [name, a, b] of PAIRS) {
    t.ok(aThenB.get(a)!.equals(bThenA.get(b)!) === false, `${name}: the two neighbours are different images`);
    t.ok(aThenB.get(a)!.equals(bThenA.get(a)!), `${name}: ${a} alone = after ${b}`);
    t.ok(bThenA.get(b)!.equals(aThenB.get(b)!), `${name}: ${b} alone = after ${a}`);
  }
  const [wa, wb] = await Promise.all([sharp(aThenB.get(PAIRS[0][1])!).metadata(), sharp(aThenB.get(PAIRS[0][2])!).metadata()]);
  t.same([wa.width, wb.width], [633, 632], 'w_0.12354 is 633 px and w_0.12352 is 632 px on a 5120 px image');
});

t.test('canonical text of free text in layers cannot imitate the key punctuation', async (t) => {
  const texts = ['l_a%28b%29', 'l_a%40b', 'l_a~b', 'l_text:Arial_10:a%2528x%2529', 'l_text:Arial_10:a~co:rgb:ff0000'];
  const seen = new Set<string>();
  for (const x of texts) {
    const c = parsePlan([x], {}).canonical;
    t.notMatch(c.replace(/^[lu]_/, '').split('(')[0], /[~@;()!'*]/, `${x}: ${c} has no raw punctuation in its source`);
    t.notOk(seen.has(c), `${x} prints uniquely`);
    seen.add(c);
  }
});

t.test('every colour alpha byte prints distinctly, in every parameter that takes a colour', async (t) => {
  for (const key of ['b_', 'e_colorize,co_', 'bo_1px_solid_', 'e_trim:10:']) {
    const seen = new Set<string>();
    for (let a = 0; a < 256; a++) seen.add(parsePlan([`${key}rgb:ff0000${a.toString(16).padStart(2, '0')}`], {}).canonical);
    t.equal(seen.size, 256, `${key}: 256 alpha values, 256 canonical texts`);
  }
});
