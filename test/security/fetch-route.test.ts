/**
 * `fetch` and remote folder mappings through the real delivery route, against a real loopback
 * origin: success, the URL spellings the SDKs and proxies produce, origin failures mapped to
 * 404/502/504/413, the SSRF guard (stubbed DNS answers for private, link-local and loopback
 * addresses → 403 with zero connections), and `Cache-Control: no-store` on every error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import type { Config } from '../../src/config.ts';
import { guardedLookup, type Resolver } from '../../src/security/ssrf.ts';
import { onGone, startOriginServer } from '../helpers/origin-server.ts';
import { startServer } from '../helpers/harness.ts';

const require = createRequire(import.meta.url);
const cloudinary = require('cloudinary') as {
  v2: { url(publicId: string, options: Record<string, unknown>): string };
};

const TIMEOUT_MS = 300;
const MAX_BYTES = 256 * 1024;

const jpeg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#2a7' } }).jpeg().toBuffer();
const png = await sharp({ create: { width: 120, height: 80, channels: 4, background: '#f00a' } }).png().toBuffer();

function send(res: ServerResponse, body: Buffer, type = 'image/jpeg'): void {
  res.writeHead(200, { 'content-type': type, 'content-length': String(body.length), 'cache-control': 'max-age=60' });
  res.end(body);
}

let queryHits = 0;
const origin = await startOriginServer({
  '/a.jpg': (_req, res) => send(res, jpeg),
  '/b.png': (_req, res) => send(res, png, 'image/png'),
  // Only the exact query gives the image: proves `%3F` reached the origin as `?`.
  '/q.jpg': (req: IncomingMessage, res) => {
    if (req.url === '/q.jpg?v=2&size=big') { queryHits++; send(res, jpeg); } else { res.writeHead(404); res.end(); }
  },
  '/missing.jpg': (_req, res) => { res.writeHead(404); res.end('nope'); },
  '/gone.jpg': (_req, res) => { res.writeHead(410); res.end(); },
  '/boom.jpg': (_req, res) => { res.writeHead(500); res.end('boom'); },
  '/busy.jpg': (_req, res) => { res.writeHead(503); res.end(); },
  '/slow.jpg': () => { /* never answers */ },
  '/huge.jpg': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(MAX_BYTES * 8) });
    res.end(Buffer.alloc(MAX_BYTES * 8));
  },
  '/huge-chunked.jpg': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    const timer = setInterval(() => res.write(Buffer.alloc(32 * 1024)), 1);
    onGone(res, () => clearInterval(timer));
  },
  '/html.jpg': (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>not an image</html>'); },
  '/base/a.jpg': (_req, res) => send(res, jpeg),
  '/base/sub/b.png': (_req, res) => send(res, png, 'image/png'),
});
t.teardown(() => origin.close());
const O = `http://127.0.0.1:${origin.port}`;

/** Loopback fetching with the test's bounds; origins listen on random ports (the port policy has its own test, fetch-ports.test.ts). */
const FETCH: Partial<Config> = {
  fetchAllow: ['127.0.0.1'], fetchTimeoutMs: TIMEOUT_MS, maxSourceBytes: MAX_BYTES, fetchPorts: '*',
  remoteMappings: { remote: `${O}/base/` },
};

async function width(r: LightMyRequestResponse): Promise<number | undefined> {
  return (await sharp(r.rawPayload).metadata()).width;
}

function assertError(t: Test, r: LightMyRequestResponse, status: number, what: string): void {
  t.equal(r.statusCode, status, `${what}: ${status} (${String(r.headers['x-cld-error'] ?? '')})`);
  t.ok(r.headers['x-cld-error'], `${what}: X-Cld-Error`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: Cache-Control no-store`);
  t.notOk(r.headers.etag, `${what}: no ETag`);
}

t.test('fetch through the route', async (t) => {
  const { app } = await startServer(t, { listen: false, config: FETCH, http: { negativeTtlMs: 0 } });
  const r = await app.inject(`/image/fetch/w_100/${O}/a.jpg`);
  t.equal(r.statusCode, 200, `w_100 fetch: ${String(r.headers['x-cld-error'] ?? '')}`);
  t.equal(await width(r), 100, 'width 100');
  t.equal(r.headers['content-type'], 'image/jpeg');
  t.match(String(r.headers['cache-control']), /public/, 'a success is cacheable');

  // f_ picks the format of a fetched image; the remote extension otherwise.
  const f = await app.inject(`/image/fetch/f_webp,w_60/${O}/b.png`);
  t.equal(f.statusCode, 200);
  t.equal(f.headers['content-type'], 'image/webp', 'f_webp');
  t.equal(await width(f), 60);

  // `?` inside the remote URL arrives as %3F (and & as %26 from the SDK).
  const before = queryHits;
  const q = await app.inject(`/image/fetch/w_50/${O}/q.jpg%3Fv=2&size=big`);
  t.equal(q.statusCode, 200, `%3F: ${String(q.headers['x-cld-error'] ?? '')}`);
  t.equal(await width(q), 50);
  const sdk = new URL(cloudinary.v2.url(`${O}/q.jpg?v=2&size=big`, {
    type: 'fetch', width: 40, crop: 'scale', secure: true, private_cdn: true, secure_distribution: '127.0.0.1', cloud_name: 'demo',
  }));
  t.match(sdk.pathname, /q\.jpg%3Fv%3D2%26size%3Dbig$/, 'the SDK escapes the query');
  const s = await app.inject(sdk.pathname + sdk.search);
  t.equal(s.statusCode, 200, `SDK fetch URL: ${String(s.headers['x-cld-error'] ?? '')}`);
  t.equal(await width(s), 40);
  t.equal(queryHits - before, 1, 'the origin saw the query once (the SDK spelling shares the source)');

  // A proxy that collapses `//` leaves `http:/host`.
  const c = await app.inject(`/image/fetch/w_70/http:/127.0.0.1:${origin.port}/a.jpg`);
  t.equal(c.statusCode, 200, `collapsed http:/ tolerated: ${String(c.headers['x-cld-error'] ?? '')}`);
  t.equal(await width(c), 70);

  // The origin is asked once per source, then served from the source cache.
  const hits = origin.hits('/a.jpg');
  t.equal((await app.inject(`/image/fetch/w_80/${O}/a.jpg`)).statusCode, 200);
  t.equal(origin.hits('/a.jpg'), hits, 'second transform of a fresh source: no new origin request');
});

t.test('origin failures', async (t) => {
  const { app } = await startServer(t, { listen: false, config: FETCH, http: { negativeTtlMs: 0 } });
  assertError(t, await app.inject(`/image/fetch/w_100/${O}/missing.jpg`), 404, 'origin 404');
  assertError(t, await app.inject(`/image/fetch/w_100/${O}/gone.jpg`), 404, 'origin 410');
  assertError(t, await app.inject(`/image/fetch/w_100/${O}/boom.jpg`), 502, 'origin 500');
  assertError(t, await app.inject(`/image/fetch/w_100/${O}/busy.jpg`), 502, 'origin 503');
  // The origin never answers (until the client goes away): only the fetch timeout ends this.
  assertError(t, await app.inject(`/image/fetch/w_100/${O}/slow.jpg`), 504, 'slow origin');
  assertError(t, await app.inject(`/image/fetch/w_100/${O}/huge.jpg`), 413, 'Content-Length over maxSourceBytes');
  assertError(t, await app.inject(`/image/fetch/w_100/${O}/huge-chunked.jpg`), 413, 'chunked body over maxSourceBytes');
  const html = await app.inject(`/image/fetch/w_100/${O}/html.jpg`);
  assertError(t, html, 415, 'origin answers HTML');
  // Closed port: nothing listens there (the origin server's port + a closed listener's port).
  const dead = await startOriginServer({});
  const deadPort = dead.port;
  await dead.close();
  const r = await app.inject(`/image/fetch/w_100/http://127.0.0.1:${deadPort}/a.jpg`);
  assertError(t, r, 502, 'connection refused');
  // Not http(s), credentials, garbage.
  assertError(t, await app.inject('/image/fetch/w_100/ftp://127.0.0.1/a.jpg'), 400, 'ftp scheme');
  assertError(t, await app.inject(`/image/fetch/w_100/http://user:pw@127.0.0.1:${origin.port}/a.jpg`), 400, 'credentials');
  assertError(t, await app.inject('/image/fetch/w_100/file:///etc/passwd'), 400, 'file scheme');
});

t.test('SSRF guard through the route: refused before any connection', async (t) => {
  const asked: string[] = [];
  const answers: Record<string, string> = {
    'private.test': '10.0.0.1',
    'metadata.test': '169.254.169.254',
    'loop.test': '127.0.0.1',
    'mapped.test': '::ffff:127.0.0.1',
  };
  const resolver: Resolver = async (host) => {
    asked.push(host);
    const a = answers[host];
    if (!a) return [];
    return [{ address: a, family: a.includes(':') ? 6 : 4 }];
  };
  // Safety first: the guard itself must refuse these answers, or the route test below would
  // send packets to them. Stop here if it does not.
  const lookup = guardedLookup([], resolver);
  for (const host of Object.keys(answers)) {
    const err = await new Promise<Error | null>((resolve) => lookup(host, {}, (e) => resolve(e)));
    if (!err) { t.fail(`guardedLookup lets ${host} through; not running the route requests`); return; }
  }
  asked.length = 0;

  // An open server (empty allow-list: any public host) with the stubbed DNS.
  const { app: open } = await startServer(t, { listen: false, config: { ...FETCH, fetchAllow: [] }, http: { negativeTtlMs: 0, resolver } });
  const conns = origin.connections();
  for (const host of Object.keys(answers)) {
    const r = await open.inject(`/image/fetch/w_100/http://${host}:${origin.port}/a.jpg`);
    assertError(t, r, 403, `${host} → ${answers[host]}`);
    t.match(String(r.headers['x-cld-error']), new RegExp(answers[host].replace(/[.:]/g, '\\$&')), 'names the address');
  }
  t.same([...new Set(asked)].sort(), Object.keys(answers).sort(), 'each name went through the stubbed resolver');
  // IP literals never reach DNS and are refused as well.
  for (const lit of ['10.0.0.1', '169.254.169.254', '127.0.0.1', '[::1]', '[::ffff:7f00:1]', '2130706433', '0x7f.1']) {
    assertError(t, await open.inject(`/image/fetch/w_100/http://${lit}:${origin.port}/a.jpg`), 403, `literal ${lit}`);
  }
  // A mapping to a refused host is refused too.
  const { app: mapped } = await startServer(t, { listen: false, config: { ...FETCH, fetchAllow: [], remoteMappings: { evil: `http://loop.test:${origin.port}/base/` } }, http: { negativeTtlMs: 0, resolver } });
  assertError(t, await mapped.inject('/image/upload/w_50/evil/a.jpg'), 403, 'remote mapping to a loopback name');
  t.equal(origin.connections(), conns, 'zero connections reached the loopback origin');

  // With an allow-list, a name outside it is refused before DNS.
  asked.length = 0;
  const { app: listed } = await startServer(t, { listen: false, config: FETCH, http: { negativeTtlMs: 0, resolver } });
  assertError(t, await listed.inject(`/image/fetch/w_100/http://loop.test:${origin.port}/a.jpg`), 403, 'not in the allow-list');
  assertError(t, await listed.inject(`/image/fetch/w_100/http://localhost:${origin.port}/a.jpg`), 403, 'localhost not in the allow-list');
  t.same(asked, [], 'no DNS lookup for a host outside the allow-list');
  t.equal(origin.connections(), conns, 'still zero connections');
});

t.test('remote folder mapping through the upload route', async (t) => {
  const { app, getRaw } = await startServer(t, { config: FETCH, http: { negativeTtlMs: 0 } });
  const hits = origin.hits('/base/a.jpg');
  const r = await app.inject('/image/upload/w_50/remote/a.jpg');
  t.equal(r.statusCode, 200, `mapped: ${String(r.headers['x-cld-error'] ?? '')}`);
  t.equal(await width(r), 50, 'width 50');
  t.equal(origin.hits('/base/a.jpg'), hits + 1, 'served from the origin');
  const v = await app.inject('/image/upload/c_scale,w_30/v1/remote/sub/b.png');
  t.equal(v.statusCode, 200, 'nested folder with the SDK version segment');
  t.equal(v.headers['content-type'], 'image/png');
  t.equal(await width(v), 30);
  assertError(t, await app.inject('/image/upload/w_50/remote/missing.jpg'), 404, 'mapped 404');
  // light-my-request resolves %2E%2E like a browser would; send it over a real socket.
  const before = origin.hits();
  for (const p of ['/image/upload/w_50/remote/%2E%2E/a.jpg', '/image/upload/w_50/remote/sub/%2e%2e/%2e%2e/base/a.jpg']) {
    // getRaw (node:http) sends the path as given (undici and fetch would normalise it like a browser).
    const res = await getRaw(p);
    t.equal(res.status, 400, `${p}: dot segment refused (${String(res.headers['x-cld-error'])})`);
    t.equal(res.headers['cache-control'], 'no-store');
  }
  t.equal(origin.hits(), before, 'nothing outside the mapped base was requested');
});

t.test('signed fetch in strict mode', async (t) => {
  const { app } = await startServer(t, { listen: false, config: { ...FETCH, secret: 'b', strict: true }, http: { negativeTtlMs: 0 } });
  const opts = { type: 'fetch', sign_url: true, api_secret: 'b', width: 90, crop: 'scale', secure: true, private_cdn: true, secure_distribution: '127.0.0.1', cloud_name: 'demo' };
  const u = new URL(cloudinary.v2.url(`${O}/a.jpg`, opts));
  const r = await app.inject(u.pathname + u.search);
  t.equal(r.statusCode, 200, `signed fetch: ${String(r.headers['x-cld-error'] ?? '')}`);
  t.equal(await width(r), 90);
  const uq = new URL(cloudinary.v2.url(`${O}/q.jpg?v=2&size=big`, opts));
  t.equal((await app.inject(uq.pathname + uq.search)).statusCode, 200, 'signed fetch with an escaped query (signed as written)');
  assertError(t, await app.inject(`/image/fetch/w_90/${O}/a.jpg`), 401, 'unsigned fetch in strict mode');
  assertError(t, await app.inject(u.pathname.replace('a.jpg', 'b.png')), 401, 'signed URL with another remote');
});
