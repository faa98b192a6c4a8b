/**
 * HTTP semantics of the image route (url-api.md §5) through app.inject(): headers on success
 * and on error, conditional requests, HEAD, cache state in Server-Timing, coalescing of
 * identical concurrent requests, freshness after a source change, storage resolution and
 * path-escape attempts.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { makeStorage, removeStorage, decode, pixels, colourDistance, RED, BLUE, GREEN } from '../helpers/core-fixtures.ts';

// The storage folder sits inside a parent that also holds a file the route must never serve.
const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-headers-'));
const storage = await makeStorage('aperture-headers-store-');
const store = path.join(parent, 'store');
await fs.rename(storage, store).catch(async () => {
  await fs.cp(storage, store, { recursive: true });
  await removeStorage(storage);
});
const solidPng = (w: number, h: number, c: readonly number[]) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: c[0], g: c[1], b: c[2] } } });
await fs.writeFile(path.join(parent, 'outside.png'), await solidPng(16, 16, GREEN).png().toBuffer());
await fs.mkdir(path.join(store, 'shoes'));
await fs.writeFile(path.join(store, 'shoes', 'red.jpg'), await solidPng(40, 40, RED).jpeg().toBuffer());
await fs.mkdir(path.join(store, 'boots'));
await fs.writeFile(path.join(store, 'boots', 'red.jpg'), await solidPng(40, 40, RED).jpeg().toBuffer());
await fs.writeFile(path.join(store, 'boots', 'red.webp'), await solidPng(30, 30, BLUE).webp().toBuffer());

// Registered first, so it runs after the server's close (tap runs teardowns last-in first-out).
t.teardown(() => fs.rm(parent, { recursive: true, force: true }));
const { app } = await startServer(t, { listen: false, config: { storageDir: store } });

const cacheState = (h: unknown) => /cache;desc="([^"]+)"/.exec(String(h ?? ''))?.[1];

t.test('200: content headers, strong ETag, cache policy, CORS, timing', async (t) => {
  const res = await app.inject({ url: '/image/upload/c_fill,w_120,h_80/rocket.webp' });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'image/webp');
  t.equal(Number(res.headers['content-length']), res.rawPayload.length, 'Content-Length is the body length');
  t.equal((await decode(res.rawPayload)).format, 'webp', 'the body is what Content-Type says');
  const etag = String(res.headers.etag);
  t.match(etag, /^"[^"]+"$/, 'quoted');
  t.notOk(etag.startsWith('W/'), 'strong');
  t.equal(res.headers['cache-control'], 'public, max-age=2592000', 'no immutable without a version');
  t.equal(res.headers['access-control-allow-origin'], '*');
  t.match(String(res.headers['access-control-expose-headers']), /X-Cld-Error/i);
  t.equal(res.headers['timing-allow-origin'], '*');
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  const st = String(res.headers['server-timing']);
  for (const k of ['load', 'transform', 'encode']) t.match(st, new RegExp(`(^|, )${k};dur=\\d+(\\.\\d+)?`), `Server-Timing has ${k}`);
  t.equal(cacheState(st), 'miss');
  const again = await app.inject({ url: '/image/upload/c_fill,w_120,h_80/rocket.webp' });
  t.equal(cacheState(again.headers['server-timing']), 'l1', 'second request is a hit');
  t.equal(again.headers.etag, etag, 'same ETag');
  t.notMatch(String(again.headers['server-timing']), /transform;dur/, 'a hit reports no transform time');
  t.ok(again.rawPayload.equals(res.rawPayload), 'same bytes');
});

t.test('ETag and If-None-Match', async (t) => {
  const url = '/image/upload/w_64/rocket.jpg';
  const first = await app.inject({ url });
  const etag = String(first.headers.etag);
  const other = await app.inject({ url: '/image/upload/w_65/rocket.jpg' });
  t.not(other.headers.etag, etag, 'different output, different ETag');
  const cond = await app.inject({ url, headers: { 'if-none-match': etag } });
  t.equal(cond.statusCode, 304);
  t.equal(cond.rawPayload.length, 0, '304 has no body');
  t.equal(cond.headers.etag, etag, '304 repeats the ETag');
  t.equal(cond.headers['cache-control'], 'public, max-age=2592000');
  const list = await app.inject({ url, headers: { 'if-none-match': `"nope", ${etag}` } });
  t.equal(list.statusCode, 304, 'any tag of a list matches');
  const miss = await app.inject({ url, headers: { 'if-none-match': '"nope"' } });
  t.equal(miss.statusCode, 200, 'non-matching tag → full response');
  t.ok(miss.rawPayload.equals(first.rawPayload));
});

t.test('immutable only for versioned URLs or fl_immutable_cache', async (t) => {
  const v = await app.inject({ url: '/image/upload/w_50/v123/rocket.jpg' });
  t.equal(v.statusCode, 200);
  t.equal(v.headers['cache-control'], 'public, max-age=2592000, immutable');
  const fl = await app.inject({ url: '/image/upload/w_50,fl_immutable_cache/rocket.jpg' });
  t.equal(fl.statusCode, 200);
  t.equal(fl.headers['cache-control'], 'public, max-age=2592000, immutable');
  const plain = await app.inject({ url: '/image/upload/w_50/rocket.jpg' });
  t.equal(plain.headers['cache-control'], 'public, max-age=2592000');
});

t.test('HEAD: the headers of GET without a body', async (t) => {
  const url = '/image/upload/w_90/rocket.png';
  const get = await app.inject({ url });
  const head = await app.inject({ url, method: 'HEAD' });
  t.equal(head.statusCode, 200);
  t.equal(head.rawPayload.length, 0, 'no body');
  t.equal(head.headers['content-type'], 'image/png');
  t.equal(head.headers['content-length'], get.headers['content-length']);
  t.equal(head.headers.etag, get.headers.etag);
  const missing = await app.inject({ url: '/image/upload/w_90/nothere.png', method: 'HEAD' });
  t.equal(missing.statusCode, 404);
  t.equal(missing.rawPayload.length, 0);
  t.ok(missing.headers['x-cld-error']);
});

t.test('errors: X-Cld-Error, no-store, no ETag, CORS still present', async (t) => {
  const table: [string, number, RegExp][] = [
    ['/image/upload/w_abc/rocket.jpg', 400, /^Invalid width in transformation: abc$/],
    ['/image/upload/w_10,zz_1/rocket.jpg', 400, /^Unknown transformation zz_1$/],
    // overlays are performed: a missing layer image is named
    ['/image/upload/l_foo/rocket.jpg', 400, /overlay.*\bfoo\b/i],
    ['/image/upload/so_2/rocket.jpg', 400, /^Unsupported transformation so_2: video-only/],
    ['/image/upload/w_100/nothere.jpg', 404, /^Resource not found - nothere$/],
    ['/image/bogus/rocket.jpg', 400, /^Invalid URL: unsupported delivery type/],
    ['/image/upload/w_100/%zz.jpg', 400, /^Invalid URL: .*(malformed percent-encoding|not a valid url component)/],
    ['/nothing/here', 404, /^Resource not found/],
    ['/image/upload/pg_5/rocket.jpg', 400, /^Invalid page in transformation/],
  ];
  for (const [url, status, msg] of table) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, status, url);
    t.match(String(res.headers['x-cld-error']), msg, `${url} X-Cld-Error`);
    t.equal(res.headers['cache-control'], 'no-store', `${url} no-store`);
    t.notOk(res.headers.etag, `${url} has no ETag`);
    t.equal(res.headers['access-control-allow-origin'], '*', `${url} CORS`);
    t.equal(res.headers['x-content-type-options'], 'nosniff');
  }
});

t.test('fl_attachment sets Content-Disposition', async (t) => {
  const a = await app.inject({ url: '/image/upload/w_50,fl_attachment/rocket.webp' });
  t.equal(a.statusCode, 200);
  t.equal(a.headers['content-disposition'], 'attachment; filename="rocket.webp"');
  const named = await app.inject({ url: '/image/upload/w_50,fl_attachment:my-file/rocket.jpg' });
  t.equal(named.headers['content-disposition'], 'attachment; filename="my-file.jpg"');
  const folder = await app.inject({ url: '/image/upload/fl_attachment/v1/shoes/red.png' });
  t.equal(folder.headers['content-disposition'], 'attachment; filename="red.png"');
  const none = await app.inject({ url: '/image/upload/w_50/rocket.webp' });
  t.notOk(none.headers['content-disposition'], 'only when asked');
  const bad = await app.inject({ url: '/image/upload/fl_attachment:a%22b/rocket.jpg' });
  t.equal(bad.statusCode, 400, 'a quote in the file name is refused, not echoed into the header');
});

t.test('query string ignored for processing and caching', async (t) => {
  const a = await app.inject({ url: '/image/upload/w_77/rocket.jpg' });
  const b = await app.inject({ url: '/image/upload/w_77/rocket.jpg?_a=BAMAK+GA0' });
  t.equal(b.statusCode, 200);
  t.equal(b.headers.etag, a.headers.etag);
  t.equal(cacheState(b.headers['server-timing']), 'l1');
});

t.test('20 identical concurrent cold requests are computed once', async (t) => {
  const url = '/image/upload/c_fill,w_333,h_222,e_sharpen/rocket.avif';
  const all = await Promise.all(Array.from({ length: 20 }, () => app.inject({ url })));
  t.same(all.map((r) => r.statusCode), Array(20).fill(200));
  const states = all.map((r) => cacheState(r.headers['server-timing']));
  t.equal(states.filter((s) => s === 'miss').length, 1, `exactly one miss (${states.join(' ')})`);
  t.equal(new Set(all.map((r) => r.headers.etag)).size, 1, 'one ETag');
});

t.test('a changed source file is not served stale', async (t) => {
  const file = path.join(store, 'changing.png');
  await fs.writeFile(file, await solidPng(60, 40, RED).png().toBuffer());
  const url = '/image/upload/w_30/changing.png';
  const before = await app.inject({ url });
  t.equal(before.statusCode, 200);
  t.ok(colourDistance((await pixels(before.rawPayload)).at(15, 10), RED) < 10, 'red first');
  t.equal(cacheState((await app.inject({ url })).headers['server-timing']), 'l1', 'cached');
  await fs.writeFile(file, await solidPng(60, 40, BLUE).png().toBuffer());
  const later = new Date(Date.now() + 5000);
  await fs.utimes(file, later, later);
  const after = await app.inject({ url });
  t.equal(after.statusCode, 200);
  t.ok(colourDistance((await pixels(after.rawPayload)).at(15, 10), BLUE) < 10, 'blue after the rewrite');
  t.not(after.headers.etag, before.headers.etag, 'new ETag');
  t.equal(cacheState(after.headers['server-timing']), 'miss');
  const cond = await app.inject({ url, headers: { 'if-none-match': String(before.headers.etag) } });
  t.equal(cond.statusCode, 200, 'the old ETag no longer validates');
});

t.test('storage path escapes are refused and never read outside', async (t) => {
  const attempts = [
    '/image/upload/..%2F..%2Fetc%2Fpasswd',
    '/image/upload/..%2Foutside.png',
    '/image/upload/w_10/..%2Foutside.png',
    '/image/upload/%2e%2e%2foutside.png',
    '/image/upload/%2E%2E/outside.png',
    '/image/upload/..%5Coutside.png',
    '/image/upload/..%5C..%5Cetc%5Cpasswd',
    '/image/upload/v1/../outside.png',
    '/image/upload/shoes/%2e%2e/%2e%2e/outside.png',
    '/image/upload/%2Fetc%2Fpasswd',
    '/image/upload/w_10/%252e%252e%252foutside.png',
    '/image/upload/outside%00.png',
  ];
  for (const url of attempts) {
    const res = await app.inject({ url });
    t.ok(res.statusCode === 400 || res.statusCode === 404, `${url} → ${res.statusCode}`);
    t.ok(res.headers['x-cld-error'], `${url} says why`);
    t.notOk(String(res.headers['content-type']).startsWith('image/'), `${url} serves no image`);
    t.notMatch(res.body, /root:/, 'no passwd content');
  }
});

t.test('public id resolution in storage', async (t) => {
  const bare = await app.inject({ url: '/image/upload/v1/shoes/red' });
  t.equal(bare.statusCode, 200, 'shoes/red → shoes/red.jpg');
  t.equal(bare.headers['content-type'], 'image/jpeg');
  t.same([(await decode(bare.rawPayload)).width], [40]);
  const folderNoVersion = await app.inject({ url: '/image/upload/shoes/red.jpg' });
  t.equal(folderNoVersion.statusCode, 200, 'folder without v1');
  const asWebp = await app.inject({ url: '/image/upload/v1/shoes/red.webp' });
  t.equal(asWebp.statusCode, 200);
  const d = await decode(asWebp.rawPayload);
  t.same([d.format, d.width], ['webp', 40], 'red.jpg converted to WebP');
  t.ok(colourDistance((await pixels(asWebp.rawPayload)).at(20, 20), RED) < 30, 'from the red jpg');
  const exact = await app.inject({ url: '/image/upload/v1/boots/red.webp' });
  t.equal(exact.statusCode, 200);
  const e = await decode(exact.rawPayload);
  t.same([e.format, e.width], ['webp', 30], 'the exact red.webp file wins');
  t.ok(colourDistance((await pixels(exact.rawPayload)).at(15, 15), BLUE) < 30, 'blue: it is the webp file');
  const other = await app.inject({ url: '/image/upload/v1/boots/red.png' });
  t.equal(other.statusCode, 200);
  t.equal((await decode(other.rawPayload)).width, 40, 'no red.png: the jpg is preferred');
  const missing = await app.inject({ url: '/image/upload/v1/shoes/blue.jpg' });
  t.equal(missing.statusCode, 404);
  t.equal(missing.headers['x-cld-error'], 'Resource not found - shoes/blue');
});
