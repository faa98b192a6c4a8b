/**
 * Issue 12 item 1 through real HTTP: SVG sanitization runs in a worker thread (held there by a
 * latch while /health answers), it is linear on the whitespace bomb and bounded in size
 * (APERTURE_MAX_SVG_BYTES → 413), and no SVG reaches librsvg unsanitized, whatever precedes
 * `<svg` (a long comment, a processing instruction, whitespace) or however it is packed (gzip,
 * as `.svgz`), as a base image or as a layer.
 *
 * The canary: an internal entity that expands to a red rectangle and an xml-stylesheet PI that
 * paints rectangles red. librsvg honours both, so an unsanitized document renders red; the
 * sanitizer drops the DOCTYPE (with its entities) and every PI, so a sanitized one stays white.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import t from 'tap';
import { testConfig } from '../../src/config.ts';
import { readSourceMeta } from '../../src/render/source-meta.ts';
import { startServer } from '../helpers/harness.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-svg-hostile-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));

const CANARY = `<?xml-stylesheet type="text/css" href="data:text/css,rect%7Bfill:red%7D"?>`
  + `<!DOCTYPE svg [<!ENTITY r "<rect width='20' height='20' fill='red'/>">]>`
  + `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20" height="20" style="fill:white"/>&r;</svg>`;
const VARIANTS: Record<string, Buffer> = {
  'plain': Buffer.from(CANARY),
  'comment-600': Buffer.from(`<!--${'x'.repeat(600)}-->${CANARY}`),
  'comment-5000': Buffer.from(`<!--${'x'.repeat(5000)}-->${CANARY}`),
  'pi': Buffer.from(`<?foo bar?>${CANARY}`),
  'whitespace-1200': Buffer.from(`${'\n'.repeat(1200)}${CANARY}`),
  'gzip': gzipSync(Buffer.from(CANARY)),
  'gzip-comment': gzipSync(Buffer.from(`<!--${'x'.repeat(2000)}-->${CANARY}`)),
};
for (const [name, bytes] of Object.entries(VARIANTS)) await fs.writeFile(path.join(dir, `canary-${name}.svg`), bytes);
await fs.writeFile(path.join(dir, 'white.png'), await sharp({ create: { width: 20, height: 20, channels: 3, background: '#fff' } }).png().toBuffer());

// The whitespace bomb: 150,000 spaces inside the root element.
const BOMB = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">${' '.repeat(150_000)}<rect width="40" height="30" fill="teal"/></svg>`);
const origin = await startOriginServer({
  '*': (req, res) => {
    res.writeHead(200, { 'content-type': 'image/svg+xml' });
    res.end(req.url?.startsWith('/canary') ? VARIANTS['comment-600'] : BOMB);
  },
});
t.teardown(() => origin.close());
const O = `http://127.0.0.1:${origin.port}`;

/** The colour of pixel (x, y) of a PNG body, flattened on white. */
async function pixel(body: Buffer, x = 0, y = 0): Promise<string> {
  const { data, info } = await sharp(body).flatten({ background: '#fff' }).raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return `${data[o]},${data[o + 1]},${data[o + 2]}`;
}

/** Resolves once the worker has reached the latch (Atomics.waitAsync: Node 16+, typed in ES2024). */
function arrived(latch: Int32Array): Promise<unknown> {
  const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
  const w = waitAsync(latch, 1, 0);
  return w.async ? (w.value as Promise<string>) : Promise.resolve(w.value);
}

t.test('sanitization runs in a worker: /health answers while it is held there', async (t) => {
  const latch = new Int32Array(new SharedArrayBuffer(8));
  const live = await startServer(t, { config: { storageDir: dir, fetchAllow: ['127.0.0.1'], fetchPorts: '*' }, svgLatch: latch });
  let answered = false;
  const svg = live.get(`/image/fetch/w_20/${O}/bomb.svg`).then((r) => { answered = true; return r; });
  // Either the worker reaches the latch, or (sanitizing on the main thread) the answer comes first.
  const held = await Promise.race([
    arrived(latch).then(() => true),
    svg.then(() => false),
  ]);
  t.ok(held, 'the sanitization of the fetched SVG is waiting in the worker');
  if (!held) return;
  const health = await live.get('/health');
  t.equal(health.status, 200, '/health answers meanwhile');
  const hit = await live.get('/image/upload/white.png');
  t.equal(hit.status, 200, 'and so does another image');
  t.notOk(answered, 'the SVG request is still waiting for its sanitization');
  Atomics.store(latch, 0, 1);
  Atomics.notify(latch, 0);
  const r = await svg;
  t.equal(r.status, 200, `released: the whitespace bomb renders (got ${r.status} ${String(r.headers.get('x-cld-error') ?? '')})`);
  t.equal(String(r.headers.get('content-type')), 'image/png');
  t.equal(await pixel(r.body, 10, 10), '0,128,128', 'teal, as drawn');
});

t.test('no SVG reaches librsvg unsanitized, whatever precedes <svg or packs it', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir, fetchAllow: ['127.0.0.1'], fetchPorts: '*' } });
  for (const name of Object.keys(VARIANTS)) {
    const r = await live.get(`/image/upload/canary-${name}.png`);
    t.equal(r.status, 200, `${name} → 200 (got ${r.status} ${String(r.headers.get('x-cld-error') ?? '')})`);
    if (r.status === 200) t.equal(await pixel(r.body), '255,255,255', `${name}: white (no entity expanded, no stylesheet applied)`);
  }
  const layer = await live.get('/image/upload/l_canary-comment-600/fl_layer_apply,g_north_west/white.png');
  t.equal(layer.status, 200, `as a layer → 200 (got ${layer.status} ${String(layer.headers.get('x-cld-error') ?? '')})`);
  if (layer.status === 200) t.equal(await pixel(layer.body), '255,255,255', 'as a layer: white');
  const fetched = await live.get(`/image/fetch/${O}/canary.svg`);
  t.equal(fetched.status, 200, 'fetched → 200');
  if (fetched.status === 200) t.equal(await pixel(fetched.body), '255,255,255', 'fetched: white');
});

t.test('SVG size is bounded (APERTURE_MAX_SVG_BYTES)', async (t) => {
  await fs.writeFile(path.join(dir, 'big.svg'), `<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">${' '.repeat(20_000)}</svg>`);
  await fs.writeFile(path.join(dir, 'big-gz.svg'), gzipSync(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">${' '.repeat(200_000)}</svg>`));
  await fs.writeFile(path.join(dir, 'gz-not-svg.svg'), gzipSync('just some text, no markup at all'));
  const live = await startServer(t, { config: { storageDir: dir, fetchAllow: ['127.0.0.1'], fetchPorts: '*', maxSvgBytes: 10_000 } });
  for (const [url, status, message] of [
    ['/image/upload/big.png', 413, /SVG source is \d+ bytes, limit 10000 \(APERTURE_MAX_SVG_BYTES\)/],
    ['/image/upload/big-gz.png', 413, /inflates to more than 10000 bytes/],
    [`/image/fetch/${O}/bomb.svg`, 413, /SVG source is 150\d+ bytes/],
    ['/image/upload/gz-not-svg.png', 415, /not SVG/],
    ['/image/upload/canary-gzip.png', 200, /^null$/], // no X-Cld-Error
  ] as const) {
    const r = await live.get(url);
    t.equal(r.status, status, `${url} → ${status} (got ${r.status})`);
    t.match(String(r.headers.get('x-cld-error')), message, `${url}: ${String(r.headers.get('x-cld-error'))}`);
  }
});

t.test('second line: source metadata refuses an SVG that did not pass the sanitizer', async (t) => {
  const cfg = testConfig({ storageDir: dir });
  const status = await readSourceMeta({ buffer: VARIANTS.plain, identity: 'raw-svg', name: 'raw' }, cfg).then(() => 200, (e: { statusCode?: number }) => e.statusCode);
  t.equal(status, 415, 'an unsanitized SVG buffer: 415');
});
