import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import t from 'tap';
import { testConfig, type Config } from '../../src/config.ts';
import { isHttpError } from '../../src/errors.ts';
import { createHttpOrigin, normalizeFetchUrl, type HttpOriginOptions } from '../../src/origin/http.ts';
import { heldRoute, onGone, startOriginServer } from '../helpers/origin-server.ts';
import { manualClock, waitFor } from '../helpers/harness.ts';

const TIMEOUT_MS = 300;
const MAX_BYTES = 64 * 1024;

const png = await sharp({ create: { width: 16, height: 8, channels: 3, background: '#c03' } }).png().toBuffer();

function image(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length), ...headers });
  res.end(png);
}

function redirect(res: ServerResponse, status: number, location: string): void {
  res.writeHead(status, { location });
  res.end();
}

/** Something that keeps writing until the client goes away. */
function endless(res: ServerResponse, headers: Record<string, string>, chunk: Buffer, everyMs: number): void {
  res.writeHead(200, { 'content-type': 'image/png', ...headers });
  const timer = setInterval(() => res.write(chunk), everyMs);
  onGone(res, () => clearInterval(timer));
}

// Where redirects to refused targets would land if the guard let them through.
const trap = await startOriginServer({ '/x': (_req, res) => image(res) });
t.teardown(() => trap.close());

let etagVersion = '"v1"';
const lastModified = new Date(Date.now() - 3600_000).toUTCString();

// Freshness and negative entries are judged by this clock, moved by hand (makeOrigin).
const clock = manualClock();
// Answers once the test releases it: concurrent loads are concurrent whatever the machine's speed.
const concurrent = heldRoute((_req, res) => image(res, { 'cache-control': 'max-age=60' }));
// Never answers: a load in flight for as long as the test wants.
const neverAnswers = heldRoute(() => {});

const server = await startOriginServer({
  '/img.png': (_req, res) => image(res, { 'cache-control': 'public, max-age=60', etag: '"img"' }),
  '/plain.png': (_req, res) => image(res),
  '/etag.png': (req, res) => {
    if (req.headers['if-none-match'] === etagVersion) { res.writeHead(304, { etag: etagVersion }); res.end(); return; }
    image(res, { 'cache-control': 'max-age=0', etag: etagVersion });
  },
  '/lm.png': (req, res) => {
    if (req.headers['if-modified-since'] === lastModified) { res.writeHead(304); res.end(); return; }
    image(res, { 'cache-control': 'no-cache', 'last-modified': lastModified });
  },
  '/nostore.png': (_req, res) => image(res, { 'cache-control': 'no-store' }),
  '/private.png': (_req, res) => image(res, { 'cache-control': 'private, max-age=600' }),
  '/age.png': (_req, res) => image(res, { 'cache-control': 'max-age=100', age: '40' }),
  '/concurrent.png': concurrent.handler,
  '/never': neverAnswers.handler,
  '/slow-headers': (_req, res) => {
    const timer = setTimeout(() => image(res), TIMEOUT_MS * 10);
    onGone(res, () => clearTimeout(timer));
  },
  '/stall-body': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) });
    res.write(png.subarray(0, 10)); // and never the rest
  },
  '/drip': (_req, res) => endless(res, {}, Buffer.from([0]), TIMEOUT_MS / 6),
  '/big-cl': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(MAX_BYTES * 16) });
    res.end(Buffer.alloc(MAX_BYTES * 16));
  },
  '/big-chunked': (_req, res) => endless(res, {}, Buffer.alloc(16 * 1024), 1),
  '/exact': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(Buffer.alloc(MAX_BYTES, 7));
  },
  '/loop': (_req, res) => redirect(res, 302, '/loop'),
  '/r1': (_req, res) => redirect(res, 301, '/r2'),
  '/r2': (_req, res) => redirect(res, 307, 'img.png'),
  '/to-private': (_req, res) => redirect(res, 302, `http://[::ffff:127.0.0.1]:${trap.port}/x`),
  '/to-evil': (_req, res) => redirect(res, 302, `http://evil.test:${trap.port}/x`),
  '/to-file': (_req, res) => redirect(res, 302, 'file:///etc/passwd'),
  '/to-creds': (_req, res) => redirect(res, 302, `http://user:pw@127.0.0.1:${trap.port}/x`),
  '/no-location': (_req, res) => { res.writeHead(302); res.end(); },
  '/500': (_req, res) => { res.writeHead(500); res.end('boom'); },
  '/503': (_req, res) => { res.writeHead(503); res.end(); },
  '/410': (_req, res) => { res.writeHead(410); res.end(); },
  '/403': (_req, res) => { res.writeHead(403); res.end(); },
  '/429': (_req, res) => { res.writeHead(429); res.end(); },
});
t.teardown(() => server.close());

// Generous for the tests that are not about timeouts: the 2 shared cores are often busy.
const base: Partial<Config> = {
  fetchAllow: ['127.0.0.1'], fetchTimeoutMs: 5_000, maxSourceBytes: MAX_BYTES, fetchMaxRedirects: 3,
  // Loopback origins listen on random ports; the port policy has its own test (fetch-ports.test.ts).
  fetchPorts: '*',
};

function makeOrigin(t: { teardown(fn: () => unknown): void }, overrides: Partial<Config> = {}, opts: HttpOriginOptions = {}) {
  const origin = createHttpOrigin(testConfig({ ...base, ...overrides }), {
    resolver: async (host) => (host === 'evil.test' ? [{ address: '127.0.0.1', family: 4 }] : []),
    now: clock.now,
    ...opts,
  });
  t.teardown(() => origin.close());
  return origin;
}

async function failure(p: Promise<unknown>): Promise<{ statusCode: number; message: string }> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!isHttpError(e)) throw new Error(`expected an HTTP error, got ${String(e)}`);
  return e;
}

t.test('loads an image, with identity from the ETag and sensible request headers', async (t) => {
  const origin = makeOrigin(t);
  const src = await origin.loadUrl(server.url('/img.png'));
  t.ok(src.buffer.equals(png), 'same bytes');
  t.equal(src.name, server.url('/img.png'));
  t.equal(src.identity, `${server.url('/img.png')}#etag:"img"`);
  t.equal(src.maxAgeMs, 60_000, 'maxAgeMs from max-age=60');
  const meta = await sharp(src.buffer).metadata();
  t.same([meta.width, meta.height, meta.format], [16, 8, 'png']);
  const h = server.headers('/img.png')[0];
  t.match(h['user-agent'], /^Aperture\//);
  t.equal(h.accept, 'image/*');
});

t.test('without validators the identity is a content hash', async (t) => {
  const origin = makeOrigin(t);
  const src = await origin.loadUrl(server.url('/plain.png'));
  t.match(src.identity, /#sha1:[0-9a-f]{40}$/);
});

t.test('Cache-Control max-age is honoured: the second load does not reach the origin', async (t) => {
  const origin = makeOrigin(t);
  const before = server.hits('/img.png');
  const a = await origin.loadUrl(server.url('/img.png'));
  const b = await origin.loadUrl(server.url('/img.png'));
  t.equal(server.hits('/img.png') - before, 1);
  t.equal(a.buffer, b.buffer, 'the cached buffer itself');
});

t.test('Age is taken off max-age', async (t) => {
  const origin = makeOrigin(t);
  const src = await origin.loadUrl(server.url('/age.png'));
  t.equal(src.maxAgeMs, 60_000, 'maxAgeMs: max-age=100 less Age: 40');
});

t.test('ETag + max-age=0 revalidates with If-None-Match; 304 reuses the bytes', async (t) => {
  const origin = makeOrigin(t);
  etagVersion = '"v1"';
  const a = await origin.loadUrl(server.url('/etag.png'));
  const b = await origin.loadUrl(server.url('/etag.png'));
  const c = await origin.loadUrl(server.url('/etag.png'));
  const seen = server.headers('/etag.png');
  t.equal(seen.length, 3, 'every load asked the origin');
  t.equal(seen[0]['if-none-match'], undefined);
  t.equal(seen[1]['if-none-match'], '"v1"');
  t.equal(seen[2]['if-none-match'], '"v1"');
  t.equal(b.buffer, a.buffer, '304 kept the very same buffer');
  t.equal(c.buffer, a.buffer);
  t.equal(b.identity, a.identity);
  t.equal(b.maxAgeMs, 0);
  etagVersion = '"v2"';
  const d = await origin.loadUrl(server.url('/etag.png'));
  t.equal(d.identity, `${server.url('/etag.png')}#etag:"v2"`, 'a changed resource gets a new identity');
  t.not(d.buffer, a.buffer, 'and fresh bytes');
});

t.test('no-cache + Last-Modified revalidates with If-Modified-Since', async (t) => {
  const origin = makeOrigin(t);
  const a = await origin.loadUrl(server.url('/lm.png'));
  const b = await origin.loadUrl(server.url('/lm.png'));
  const seen = server.headers('/lm.png');
  t.equal(seen.length, 2);
  t.equal(seen[1]['if-modified-since'], lastModified);
  t.equal(b.buffer, a.buffer);
  t.equal(a.identity, `${server.url('/lm.png')}#lm:${lastModified}`);
});

t.test('no-store and private are never kept', async (t) => {
  const origin = makeOrigin(t);
  for (const path of ['/nostore.png', '/private.png']) {
    const before = server.hits(path);
    const a = await origin.loadUrl(server.url(path));
    await origin.loadUrl(server.url(path));
    t.equal(server.hits(path) - before, 2, `${path} fetched twice`);
    t.equal(a.maxAgeMs, 0);
    t.notOk(server.headers(path).at(-1)?.['if-none-match'], 'and not revalidated either');
  }
});

t.test('a source bigger than the whole cache is served but not kept', async (t) => {
  const origin = makeOrigin(t, { sourceCacheBytes: 100 });
  const before = server.hits('/img.png');
  await origin.loadUrl(server.url('/img.png'));
  await origin.loadUrl(server.url('/img.png'));
  t.equal(server.hits('/img.png') - before, 2);
});

t.test('10 concurrent loads of one URL make exactly one origin request', async (t) => {
  const origin = makeOrigin(t);
  const pending = Array.from({ length: 10 }, () => origin.loadUrl(server.url('/concurrent.png')));
  await waitFor(() => concurrent.waiting === 1, 'the origin request');
  concurrent.release();
  const loads = await Promise.all(pending);
  t.equal(server.hits('/concurrent.png'), 1);
  t.ok(loads.every((s) => s.buffer === loads[0].buffer && s.buffer.equals(png)), 'all share one buffer');
});

t.test('sequential loads reuse one keep-alive connection', async (t) => {
  const local = await startOriginServer({ '/a': (_q, r) => image(r, { 'cache-control': 'no-store' }) });
  t.teardown(() => local.close());
  const origin = makeOrigin(t);
  for (let i = 0; i < 6; i++) await origin.loadUrl(local.url('/a'));
  t.equal(local.hits('/a'), 6);
  // A load returns on the body's last byte, a moment before undici frees the socket, so the
  // very next load may open a second one; from then on they are reused.
  t.ok(local.connections() <= 2, `${local.connections()} connections for 6 loads`);
});

t.test('timeouts → 504', async (t) => {
  const origin = makeOrigin(t, { fetchTimeoutMs: TIMEOUT_MS });
  // The drip never idles long enough for the body timeout and is stopped by the overall deadline.
  for (const path of ['/slow-headers', '/stall-body', '/drip']) {
    const err = await failure(origin.loadUrl(server.url(path)));
    t.equal(err.statusCode, 504, `${path} → 504`);
    t.match(err.message, /^Timed out: origin 127\.0\.0\.1:\d+ too slow$/);
  }
});

t.test('oversized bodies → 413, read no further than the cap', async (t) => {
  const origin = makeOrigin(t);
  // /big-chunked never ends: a 413 rather than a 504 shows reading stopped at the cap.
  for (const path of ['/big-cl', '/big-chunked']) {
    const err = await failure(origin.loadUrl(server.url(path)));
    t.equal(err.statusCode, 413, `${path} → 413`);
    t.match(err.message, new RegExp(`over the ${MAX_BYTES} byte limit`));
  }
  t.equal((await failure(origin.loadUrl(server.url('/big-cl')))).statusCode, 413, 'asked again');
  t.equal(server.hits('/big-cl'), 1, 'a too-large source is remembered briefly like a 404');
  const exact = await origin.loadUrl(server.url('/exact'));
  t.equal(exact.buffer.length, MAX_BYTES, 'exactly the cap is fine');
});

t.test('redirects: followed within the limit, loops and refused hops fail', async (t) => {
  const origin = makeOrigin(t);
  const src = await origin.loadUrl(server.url('/r1'));
  t.ok(src.buffer.equals(png), '301 → 307 → relative Location');
  t.equal(src.name, server.url('/r1'), 'named by the URL asked for');

  const before = server.hits('/loop');
  const loop = await failure(origin.loadUrl(server.url('/loop')));
  t.equal(loop.statusCode, 502);
  t.match(loop.message, /more than 3 redirects/);
  t.equal(server.hits('/loop') - before, 4, 'the first request plus 3 redirects');

  const cases: [string, number, RegExp][] = [
    ['/to-private', 403, /address ::ffff:7f00:1 is loopback/],
    ['/to-evil', 403, /host evil\.test is not in the fetch allow-list/],
    ['/to-file', 403, /redirect to file: URL refused/],
    ['/to-creds', 403, /credentials/],
    ['/no-location', 502, /without Location/],
  ];
  for (const [path, status, message] of cases) {
    const err = await failure(origin.loadUrl(server.url(path)));
    t.equal(err.statusCode, status, `${path} → ${status}`);
    t.match(err.message, message);
  }
  t.equal(trap.connections(), 0, 'no refused redirect target was ever connected to');
});

t.test('origin error statuses', async (t) => {
  const origin = makeOrigin(t);
  const table: [string, number][] = [
    ['/500', 502], ['/503', 502], ['/429', 502], ['/missing', 404], ['/410', 404], ['/403', 404],
  ];
  for (const [path, status] of table) {
    const err = await failure(origin.loadUrl(server.url(path)));
    t.equal(err.statusCode, status, `${path} → ${status}`);
    if (status === 404) t.equal(err.message, `Resource not found - ${server.url(path)}`);
  }
});

t.test('404 is remembered briefly, 5xx is not', async (t) => {
  const origin = makeOrigin(t, {}, { negativeTtlMs: 1_000 });
  const b404 = server.hits('/gone-for-now');
  const b500 = server.hits('/500');
  for (let i = 0; i < 3; i++) {
    t.equal((await failure(origin.loadUrl(server.url('/gone-for-now')))).statusCode, 404);
    t.equal((await failure(origin.loadUrl(server.url('/500')))).statusCode, 502);
  }
  t.equal(server.hits('/gone-for-now') - b404, 1, '404 asked once');
  t.equal(server.hits('/500') - b500, 3, '500 asked every time');
  clock.advance(1_001);
  await failure(origin.loadUrl(server.url('/gone-for-now')));
  t.equal(server.hits('/gone-for-now') - b404, 2, 'asked again once the negative entry expired');
});

t.test('normalizeFetchUrl', async (t) => {
  const ok: [string, string][] = [
    ['https://example.com/a.jpg', 'https://example.com/a.jpg'],
    ['https:/example.com/a.jpg', 'https://example.com/a.jpg'],
    ['http:/example.com/a.jpg', 'http://example.com/a.jpg'],
    ['HTTPS:/Example.COM/a.jpg', 'https://example.com/a.jpg'],
    ['https://example.com/a.jpg%3Fw=1', 'https://example.com/a.jpg?w=1'],
    ['https://example.com/a.jpg%3fv=3', 'https://example.com/a.jpg?v=3'],
    ['https://example.com/a%20b.jpg%3Fx%3D1%26y%3D2%23frag', 'https://example.com/a%20b.jpg?x=1&y=2'],
    ['https://example.com/100%2525.jpg', 'https://example.com/100%25.jpg'],
    ['https%3A%2F%2Fexample.com%2Fa.jpg', 'https://example.com/a.jpg'],
    ['https://example.com/a b.jpg', 'https://example.com/a%20b.jpg'],
    ['https://example.com/%C3%A4%E4.jpg', 'https://example.com/%C3%83%C2%A4%C3%A4.jpg'], // not UTF-8: Latin-1
    ['https://example.com/%E4/%C3%A4/100%.jpg', 'https://example.com/%C3%A4/%C3%A4/100%.jpg'],
    ['https://example.com/a.jpg#frag', 'https://example.com/a.jpg'],
    ['http://2130706433/a.jpg', 'http://127.0.0.1/a.jpg'],
    ['http://0x7f.1/a.jpg', 'http://127.0.0.1/a.jpg'],
    ['http://0177.0.0.1/a.jpg', 'http://127.0.0.1/a.jpg'],
  ];
  for (const [raw, want] of ok) t.equal(normalizeFetchUrl(raw), want, raw);
  const bad = [
    'ftp://example.com/a.jpg', 'file:///etc/passwd', 'javascript:alert(1)', '//example.com/a.jpg',
    'example.com/a.jpg', 'https://user:pw@example.com/a.jpg', 'https://user@example.com/a.jpg',
    'https://user%3Apw%40example.com/a.jpg', 'http://[::1/a.jpg', '',
  ];
  for (const raw of bad) {
    let err: unknown;
    try { normalizeFetchUrl(raw); } catch (e) { err = e; }
    t.ok(isHttpError(err) && err.statusCode === 400 && /^Invalid URL: /.test(err.message), `${raw || '(empty)'} → 400`);
  }
});

t.test('normalizeFetchUrl inverts the official SDK escaping of fetch URLs', async (t) => {
  const { v2: cloudinary } = await import('cloudinary');
  cloudinary.config({ cloud_name: 'demo', private_cdn: true, secure_distribution: 'localhost:3000', secure: true });
  const originals = [
    'https://example.com/a b.jpg?x=1&y=2',
    'https://example.com/100%25/a%20b.jpg',
    'https://example.com/ä/ö.png?q=ü',
    'http://example.com:8080/p/a+b.jpg?x=a%26b&z=%3F',
    'https://example.com/cat.jpg',
  ];
  for (const original of originals) {
    const delivery = cloudinary.url(original, { type: 'fetch', width: 100 });
    const raw = new URL(delivery).pathname.replace(/^\/image\/fetch\/w_100\//, '');
    t.not(raw, delivery, `SDK built ${delivery}`);
    t.equal(normalizeFetchUrl(raw), new URL(original).href, original);
  }
});

t.test('load() takes normalised URLs: no second decoding, bad schemes 400', async (t) => {
  const origin = makeOrigin(t);
  const src = await origin.loadUrl(`http:/127.0.0.1:${server.port}/img.png`);
  t.ok(src.buffer.equals(png), 'WHATWG URL already mends a collapsed scheme');
  t.equal((await failure(origin.loadUrl(server.url('/a%2526b.png')))).statusCode, 404);
  t.equal(server.hits('/a%2526b.png'), 1, 'the path went out exactly as given');
  t.equal(server.hits('/a%26b.png'), 0, 'not decoded a second time');
  for (const bad of ['file:///etc/passwd', 'ftp://127.0.0.1/a', `http://u:p@127.0.0.1:${server.port}/img.png`, 'nope']) {
    t.equal((await failure(origin.loadUrl(bad))).statusCode, 400, bad);
  }
});

t.test('close() cancels loads in flight and returns promptly', async (t) => {
  const origin = createHttpOrigin(testConfig({ ...base, fetchTimeoutMs: 5_000 }));
  const pending = failure(origin.loadUrl(server.url('/never')));
  await waitFor(() => neverAnswers.waiting === 1, 'the load at the origin');
  // An origin that never answers: close() returning at all shows it did not wait for it.
  await origin.close();
  const err = await pending;
  t.equal(err.statusCode, 502);
  t.match(err.message, /cancelled|cannot load/);
});
