/**
 * Local storage freshness, through real HTTP (a listening server and a separate client), with
 * validation by filesystem events (the default) and by a stat per request
 * (APERTURE_STORAGE_WATCH=0). Every kind of change a deployment makes to its storage folder must
 * show on the very next request: an in-place rewrite, an atomic replace by rename, a delete, a
 * new file that takes precedence, a new folder, and a folder swapped for another.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createLocalOrigin } from '../../src/origin/local.ts';
import { startServer } from '../helpers/harness.ts';

const solid = (w: number, h: number, r: number, g: number, b: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } });

async function dominant(body: Buffer): Promise<'red' | 'blue' | 'green' | 'other'> {
  const { data } = await sharp(body).removeAlpha().resize(1, 1).raw().toBuffer({ resolveWithObject: true });
  const [r, g, b] = data;
  if (r > 180 && g < 80 && b < 80) return 'red';
  if (b > 180 && r < 80 && g < 80) return 'blue';
  if (g > 120 && r < 80 && b < 80) return 'green';
  return 'other';
}

const cacheState = (h: unknown) => /cache;desc="([^"]+)"/.exec(String(h ?? ''))?.[1];

for (const watch of [true, false]) {
  t.test(`changes show on the next request (validation by ${watch ? 'filesystem events' : 'stats'})`, async (t) => {
    const store = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-local-'));
    t.teardown(() => fs.rm(store, { recursive: true, force: true }));
    const server = await startServer(t, { config: { storageDir: store, storageWatch: watch } });
    const get = async (p: string) => {
      const r = await server.get(p);
      return { status: r.status, body: r.body, timing: r.headers.get('server-timing') };
    };
    const url = '/image/upload/w_20/pic.png';

    await fs.writeFile(path.join(store, 'pic.png'), await solid(40, 30, 255, 0, 0).png().toBuffer());
    let r = await get(url);
    t.equal(r.status, 200);
    t.equal(await dominant(r.body), 'red', 'first version');
    r = await get(url);
    t.equal(cacheState(r.timing), 'l1', 'second request is a cache hit');

    // In-place rewrite, same size class; mtime moved forward so a coarse clock cannot hide it.
    await fs.writeFile(path.join(store, 'pic.png'), await solid(40, 30, 0, 0, 255).png().toBuffer());
    const later = new Date(Date.now() + 5000);
    await fs.utimes(path.join(store, 'pic.png'), later, later);
    r = await get(url);
    t.equal(await dominant(r.body), 'blue', 'in-place rewrite seen at once');
    t.equal(cacheState(r.timing), 'miss');

    // Atomic replace: write elsewhere, rename over the file.
    const tmp = path.join(store, '.upload.tmp');
    await fs.writeFile(tmp, await solid(40, 30, 0, 200, 0).png().toBuffer());
    await fs.rename(tmp, path.join(store, 'pic.png'));
    r = await get(url);
    t.equal(await dominant(r.body), 'green', 'rename-over seen at once');

    // Delete.
    await fs.rm(path.join(store, 'pic.png'));
    r = await get(url);
    t.equal(r.status, 404, 'deleted file is gone at once');

    // An extension-less id first resolves to the jpg; an exact-extension file then wins.
    await fs.writeFile(path.join(store, 'shoe.jpg'), await solid(40, 30, 255, 0, 0).jpeg().toBuffer());
    r = await get('/image/upload/w_20/shoe.webp');
    t.equal(await dominant(r.body), 'red', 'shoe.webp is served from shoe.jpg');
    r = await get('/image/upload/w_20/shoe.webp');
    t.equal(cacheState(r.timing), 'l1');
    await fs.writeFile(path.join(store, 'shoe.webp'), await solid(40, 30, 0, 0, 255).webp().toBuffer());
    r = await get('/image/upload/w_20/shoe.webp');
    t.equal(await dominant(r.body), 'blue', 'a new exact shoe.webp takes precedence at once');

    // A folder that did not exist, then does.
    r = await get('/image/upload/w_20/new/dir/pic.png');
    t.equal(r.status, 404);
    await fs.mkdir(path.join(store, 'new', 'dir'), { recursive: true });
    await fs.writeFile(path.join(store, 'new', 'dir', 'pic.png'), await solid(40, 30, 0, 200, 0).png().toBuffer());
    r = await get('/image/upload/w_20/new/dir/pic.png');
    t.equal(r.status, 200, 'new folder served at once');
    t.equal(await dominant(r.body), 'green');
    r = await get('/image/upload/w_20/new/dir/pic.png');
    t.equal(cacheState(r.timing), 'l1');

    // The folder is swapped for another one (rename of a parent).
    await fs.mkdir(path.join(store, 'next', 'dir'), { recursive: true });
    await fs.writeFile(path.join(store, 'next', 'dir', 'pic.png'), await solid(40, 30, 255, 0, 0).png().toBuffer());
    await fs.rename(path.join(store, 'new'), path.join(store, 'old'));
    await fs.rename(path.join(store, 'next'), path.join(store, 'new'));
    r = await get('/image/upload/w_20/new/dir/pic.png');
    t.equal(r.status, 200);
    t.equal(await dominant(r.body), 'red', 'a swapped parent folder is seen at once');
  });
}

t.test('a folder that cannot be watched falls back to stats', async (t) => {
  const store = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-local-'));
  t.teardown(() => fs.rm(store, { recursive: true, force: true }));
  await fs.writeFile(path.join(store, 'a.png'), await solid(8, 8, 255, 0, 0).png().toBuffer());
  const origin = createLocalOrigin(store, { cacheBytes: 1 << 20, maxSourceBytes: 1 << 20, watch: true });
  const first = await origin.load({ type: 'upload', publicId: 'a' });
  origin.close(); // watchers gone: every later load must stat
  await fs.writeFile(path.join(store, 'a.png'), await solid(8, 8, 0, 0, 255).png().toBuffer());
  const later = new Date(Date.now() + 5000);
  await fs.utimes(path.join(store, 'a.png'), later, later);
  const second = await origin.load({ type: 'upload', publicId: 'a' });
  t.not(second.identity, first.identity, 'the change is seen without a watcher');
  t.equal(await dominant(second.buffer), 'blue');
});

t.test('a public id names files of every extension in the format table, ranked by the table', async (t) => {
  // One list since the format table (src/formats.ts): `.jpe` (already a URL extension) and the
  // name-only formats (ico, pdf, tga, psd) are files of their stem too; before, they were not
  // listed and such a stem was not found. The table's row order ranks them (jpe with JPEG).
  const store = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-local-'));
  t.teardown(() => fs.rm(store, { recursive: true, force: true }));
  await fs.writeFile(path.join(store, 'a.jpe'), await solid(8, 8, 255, 0, 0).jpeg().toBuffer());
  await fs.writeFile(path.join(store, 'b.png'), await solid(8, 8, 0, 0, 255).png().toBuffer());
  await fs.writeFile(path.join(store, 'b.jpe'), await solid(8, 8, 255, 0, 0).jpeg().toBuffer());
  await fs.writeFile(path.join(store, 'c.pdf'), '%PDF-1.4\n');
  const origin = createLocalOrigin(store, { cacheBytes: 1 << 20, maxSourceBytes: 1 << 20, watch: false });
  t.teardown(() => origin.close());
  t.match((await origin.load({ type: 'upload', publicId: 'a' })).identity, /a\.jpe:/);
  t.match((await origin.load({ type: 'upload', publicId: 'b' })).identity, /b\.jpe:/, 'JPEG ranks before PNG');
  t.match((await origin.load({ type: 'upload', publicId: 'b', ext: 'png' })).identity, /b\.png:/, 'an exact extension still wins');
  t.match((await origin.load({ type: 'upload', publicId: 'c' })).identity, /c\.pdf:/);

  // Through the route, the PDF is an unsupported source (this libvips reads no PDF), not a missing one.
  const { app } = await startServer(t, { listen: false, config: { storageDir: store } });
  const res = await app.inject({ url: '/image/upload/c' });
  t.equal(res.statusCode, 415);
  t.match(res.headers['x-cld-error'], /^Unsupported image source: /);
});
