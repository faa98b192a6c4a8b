/**
 * Default images `d_<id>[.<ext>]` (url-api.md §8) through the real server: a missing source is
 * answered with the stored default, transformed by the URL, 200 with `X-Cld-Default`; without
 * `d_`, or with a missing default, the 404 stays; an existing source ignores `d_`; folders are
 * `:`; the result is keyed by the default's identity (a changed default file is served fresh);
 * a `fetch` URL whose remote answers 404 falls back too, a remote 500 does not.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { startServer } from '../helpers/harness.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-default-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
const solid = (w: number, h: number, background: string) => sharp({ create: { width: w, height: h, channels: 3, background } }).png().toBuffer();
await fs.writeFile(path.join(dir, 'avatar.png'), await solid(300, 200, '#ff0000'));
await fs.writeFile(path.join(dir, 'real.png'), await solid(100, 100, '#0000ff'));
await fs.mkdir(path.join(dir, 'ph'));
await fs.writeFile(path.join(dir, 'ph', 'anon.png'), await solid(50, 50, '#00ff00'));

const s = await startServer(t, { config: { storageDir: dir } });

async function pixel(body: Buffer): Promise<number[]> {
  const { data } = await sharp(body).removeAlpha().resize(1, 1).raw().toBuffer({ resolveWithObject: true });
  return [...data];
}

t.test('a missing image serves the default, transformed', async (t) => {
  const r = await s.get('/image/upload/c_scale,w_150/d_avatar.png/missing.jpg');
  t.equal(r.status, 200, String(r.headers.get('x-cld-error')));
  t.equal(r.headers.get('x-cld-default'), 'avatar.png', 'X-Cld-Default names it');
  const m = await sharp(r.body).metadata();
  t.same([m.width, m.height, m.format], [150, 100, 'jpeg'], 'the URL\'s transformation and extension apply to the default');
  const [red, green, blue] = await pixel(r.body);
  t.ok(red > 200 && green < 60 && blue < 60, `the default's pixels (${red},${green},${blue})`);
});

t.test('without d_ a missing image stays 404; a missing default keeps the 404', async (t) => {
  t.equal((await s.get('/image/upload/c_scale,w_150/missing.jpg')).status, 404);
  const r = await s.get('/image/upload/c_scale,w_150/d_nothing.png/missing.jpg');
  t.equal(r.status, 404);
  t.match(String(r.headers.get('x-cld-error')), /missing/, 'the 404 names the requested image');
  t.equal(r.headers.get('x-cld-default'), null);
});

t.test('an existing image ignores d_', async (t) => {
  const r = await s.get('/image/upload/d_avatar.png/real.png');
  t.equal(r.status, 200);
  t.equal(r.headers.get('x-cld-default'), null);
  const [red, , blue] = await pixel(r.body);
  t.ok(blue > 200 && red < 60, 'the requested image');
});

t.test('folders as `:`; no extension; last d_ wins', async (t) => {
  const r = await s.get('/image/upload/d_ph:anon/w_20/nope/gone.png');
  t.equal(r.status, 200, String(r.headers.get('x-cld-error')));
  t.equal(r.headers.get('x-cld-default'), 'ph/anon');
  t.equal((await sharp(r.body).metadata()).width, 20);
  const r2 = await s.get('/image/upload/d_ph:anon/d_avatar.png/gone.png');
  t.equal(r2.headers.get('x-cld-default'), 'avatar.png');
});

t.test('the key holds the default\'s identity: a changed default is served fresh', async (t) => {
  const url = '/image/upload/w_10/d_swap.png/absent.png';
  await fs.writeFile(path.join(dir, 'swap.png'), await solid(40, 40, '#ff0000'));
  const a = await s.get(url);
  t.equal(a.status, 200);
  await fs.writeFile(path.join(dir, 'swap.png'), await solid(40, 40, '#0000ff'));
  let b = await s.get(url);
  // The storage watcher sees the rewrite by an inotify event; wait for the event, not a time.
  for (let i = 0; i < 200 && b.headers.get('etag') === a.headers.get('etag'); i++) {
    await new Promise((r) => setImmediate(r));
    b = await s.get(url);
  }
  t.not(b.headers.get('etag'), a.headers.get('etag'), 'new result');
  const [red, , blue] = await pixel(b.body);
  t.ok(blue > 200 && red < 60, 'the new default\'s pixels');
  // And the image itself, once it exists, replaces the default.
  await fs.writeFile(path.join(dir, 'absent.png'), await solid(40, 40, '#00ff00'));
  let c = await s.get(url);
  for (let i = 0; i < 200 && c.headers.get('x-cld-default'); i++) {
    await new Promise((r) => setImmediate(r));
    c = await s.get(url);
  }
  t.equal(c.headers.get('x-cld-default'), null, 'the uploaded image replaces the default');
});

t.test('bad default ids are a 400; canonical text round-trips', async (t) => {
  for (const bad of ['d_..:x.png', 'd_.png']) {
    const r = await s.get(`/image/upload/${bad}/missing.jpg`);
    t.equal(r.status, 400, bad);
    t.match(String(r.headers.get('x-cld-error')), /default image/i);
  }
  const p = parsePlan(['d_ph:anon.png', 'w_20']);
  t.equal(p.canonical, parsePlan(p.canonical.split('/')).canonical, p.canonical);
  t.match(p.canonical, /d_ph:anon\.png/);
});

t.test('fetch: a remote 404 falls back to the stored default, another failure does not', async (t) => {
  const origin = await startOriginServer({
    '/gone.png': (_req, res) => { res.writeHead(404); res.end(); },
    '/broken.png': (_req, res) => { res.writeHead(500); res.end(); },
  });
  t.teardown(() => origin.close());
  const f = await startServer(t, { listen: false, config: { storageDir: dir, fetchAllow: ['127.0.0.1'], fetchPorts: '*' }, http: { negativeTtlMs: 0 } });
  const r = await f.app.inject(`/image/fetch/w_30/d_avatar.png/${origin.url('/gone.png')}`);
  t.equal(r.statusCode, 200, String(r.headers['x-cld-error'] ?? ''));
  t.equal(r.headers['x-cld-default'], 'avatar.png');
  t.equal((await sharp(r.rawPayload).metadata()).width, 30);
  const b = await f.app.inject(`/image/fetch/w_30/d_avatar.png/${origin.url('/broken.png')}`);
  t.equal(b.statusCode, 502, 'an origin failure keeps its error');
  t.equal(b.headers['x-cld-default'], undefined);
});

t.test('a default stands in per requested id: fl_attachment is named after the requested image', async (t) => {
  const a = await s.get('/image/upload/fl_attachment,d_avatar.png/first-missing.png');
  const b = await s.get('/image/upload/fl_attachment,d_avatar.png/second-missing.png');
  t.equal(a.status, 200);
  t.match(String(a.headers.get('content-disposition')), /first-missing\.png/);
  t.match(String(b.headers.get('content-disposition')), /second-missing\.png/);
});
