/**
 * Layers through the route (url-api.md §2 `l`, `u`, `fl_layer_apply`): real images in a scratch
 * storage, real HTTP via inject, pixel checks for placement. The base is a 100×80 white PNG
 * (or a transparent one for underlays); the layer a 20×20 red square, so where red lands says
 * where the layer went.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { buildServer } from '../../src/server.ts';
import { testConfig } from '../../src/config.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-layers-'));
const solid = (width: number, height: number, r: number, g: number, b: number, alpha = 1) =>
  sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } }).png().toBuffer();
await fs.mkdir(path.join(storage, 'docs'));
await fs.writeFile(path.join(storage, 'white.png'), await solid(100, 80, 255, 255, 255));
await fs.writeFile(path.join(storage, 'clear.png'), await solid(100, 80, 0, 0, 0, 0));
await fs.writeFile(path.join(storage, 'docs', 'red.png'), await solid(20, 20, 255, 0, 0));
// 40×20: left half green, right half blue (tells which part of a layer survived a crop or flip)
await fs.writeFile(path.join(storage, 'gb.png'), await sharp({ create: { width: 40, height: 20, channels: 3, background: '#00ff00' } })
  .composite([{ input: await solid(20, 20, 0, 0, 255), left: 20, top: 0 }]).png().toBuffer());

const app = await buildServer(testConfig({ storageDir: storage }), { defaultMetrics: false });
t.teardown(async () => {
  await app.close();
  await fs.rm(storage, { recursive: true, force: true });
});

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

t.test('smoke', async (t) => {
  const r = await get('l_docs:red/fl_layer_apply,g_north_west/white.png');
  t.equal(r.status, 200, r.error);
  t.same(redBox(r.px!), { left: 0, top: 0, right: 19, bottom: 19 });
});
