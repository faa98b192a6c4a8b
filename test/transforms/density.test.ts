/**
 * `dn_` (issue 14 item 4): an SVG rendered at the requested density (its pixel size scales by
 * dpi/72), geometry after it, density metadata on raster output; the 400s.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { parsePlan } from '../../src/plan/parse.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-dn-'));
await fs.writeFile(path.join(storage, 'shape.svg'),
  '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10" viewBox="0 0 20 10"><rect width="10" height="10" fill="#ff0000"/><rect x="10" width="10" height="10" fill="#0000ff"/></svg>');
await fs.writeFile(path.join(storage, 'photo.jpg'), await sharp({ create: { width: 30, height: 20, channels: 3, background: '#336699' } }).jpeg().toBuffer());

// Registered first, so it runs after the server's own teardown (tap runs them last-in first-out).
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

async function get(url: string) {
  const res = await app.inject({ url: `/image/upload/${url}` });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.headers['x-cld-error']}`);
  const meta = await sharp(res.rawPayload).metadata();
  const { data, info } = await sharp(res.rawPayload).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  return { meta, at };
}

t.test('vector input renders at the density', async (t) => {
  const base = await get('shape.png');
  t.same([base.meta.width, base.meta.height], [20, 10], '72 DPI by default');
  const big = await get('dn_288/shape.png');
  t.same([big.meta.width, big.meta.height], [80, 40], 'dn_288: 4×');
  t.equal(big.meta.density, 288, 'and says so');
  t.ok(big.at(30, 20)[0] > 200 && big.at(50, 20)[2] > 200, 'the picture is the same, larger');
  const small = await get('dn_36/shape.png');
  t.same([small.meta.width, small.meta.height], [10, 5], 'dn_36: half');
  const cropped = await get('dn_144,c_crop,w_20,h_20,g_east/shape.png');
  t.same([cropped.meta.width, cropped.meta.height], [20, 20], 'geometry works on the rendered size');
  t.ok(cropped.at(10, 10)[2] > 200, 'east is the blue half');
  const scaled = await get('dn_144/w_10/shape.png');
  t.same([scaled.meta.width, scaled.meta.height], [10, 5], 'later components see it too');
});

t.test('raster input: density metadata only', async (t) => {
  const r = await get('dn_300/photo.png');
  t.same([r.meta.width, r.meta.height, r.meta.density], [30, 20, 300]);
  const j = await get('dn_150/photo.jpg');
  t.equal(j.meta.density, 150, 'JPEG too');
});

t.test('parse', async (t) => {
  const c = (s: string) => parsePlan([s]).canonical;
  t.equal(c('dn_150'), 'dn_150');
  for (const v of ['0', 'x', '1201', '-5', '1.5']) {
    const res = await app.inject({ url: `/image/upload/dn_${v}/photo.png` });
    t.equal(`${res.statusCode} ${res.headers['x-cld-error']}`, `400 Invalid density in transformation: ${v}`, v);
  }
});
