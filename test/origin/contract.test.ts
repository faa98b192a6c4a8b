/**
 * The origin contract (src/origin/types.ts) and the one source cache (source-cache.ts): every
 * origin keeps its bytes in one LRU of APERTURE_SOURCE_CACHE_BYTES, so local files and remote
 * sources together never hold more than that; the first origin that matches a ref serves it;
 * `stat` gives the identity `load` gives; a backend is one factory.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { testConfig, type Config } from '../../src/config.ts';
import { isHttpError } from '../../src/errors.ts';
import { BACKENDS, createOrigins } from '../../src/origin/index.ts';
import type { OriginFactory, SourceRef } from '../../src/origin/types.ts';
import { startServer } from '../helpers/harness.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

/** A PNG of noise: about 3 bytes per pixel whatever the encoder does, and never two alike. */
const noisePng = (side: number) => sharp({
  create: { width: side, height: side, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } },
}).png().toBuffer();

const SIDE = 100; // ~30 KB each
const COUNT = 6;
const locals = await Promise.all(Array.from({ length: COUNT }, () => noisePng(SIDE)));
const remotes = await Promise.all(Array.from({ length: COUNT }, () => noisePng(SIDE)));
const remoteRoutes: Record<string, (req: unknown, res: ServerResponse) => void> = {};
remotes.forEach((buf, i) => {
  remoteRoutes[`/r${i}.png`] = (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'public, max-age=600', etag: `"r${i}"` });
    res.end(buf);
  };
});
const remote = await startOriginServer(remoteRoutes);
t.teardown(() => remote.close());

const store = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-contract-'));
t.teardown(() => fs.rm(store, { recursive: true, force: true }));
await Promise.all(locals.map((buf, i) => fs.writeFile(path.join(store, `l${i}.png`), buf)));

const fetchConfig: Partial<Config> = { fetchAllow: ['127.0.0.1'], fetchPorts: '*' };
const each = Math.max(...locals.map((b) => b.length), ...remotes.map((b) => b.length));
// Room for three sources and a half: a fourth load evicts the oldest.
const BOUND = Math.floor(3.5 * each);

const upload = (publicId: string, ext?: string): SourceRef => ({ type: 'upload', publicId, ...(ext ? { ext } : {}) });
const fetchRef = (url: string): SourceRef => ({ type: 'fetch', publicId: url });

async function failure(p: Promise<unknown>): Promise<{ statusCode: number; message: string }> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!isHttpError(e)) throw new Error(`expected an HTTP error, got ${String(e)}`);
  return e;
}

t.test('the source cache bound holds across the local and HTTP origins together', async (t) => {
  const server = await startServer(t, { config: { ...fetchConfig, storageDir: store, sourceCacheBytes: BOUND } });
  const { origins } = server.app.delivery;
  t.equal(origins.cache.maxBytes, BOUND);
  let most = 0;
  let loaded = 0;
  const served = async (url: string) => {
    const r = await server.get(url);
    t.equal(r.status, 200, url);
    most = Math.max(most, origins.cache.bytes());
    t.ok(origins.cache.bytes() <= BOUND, `${origins.cache.bytes()} bytes held after ${url}, bound ${BOUND}`);
  };
  // Interleaved, local and remote: 12 sources, over three times the bound.
  for (let i = 0; i < COUNT; i++) {
    await served(`/image/upload/w_20/l${i}.png`);
    await served(`/image/fetch/w_20/${remote.url(`/r${i}.png`)}`);
    loaded += locals[i].length + remotes[i].length;
  }
  t.ok(loaded > 3 * BOUND, `${loaded} source bytes loaded`);
  t.ok(most > BOUND / 2, `the cache was used (${most} bytes at most)`);

  // Local sources that fit the bound are all kept...
  for (let i = 0; i < 3; i++) await served(`/image/upload/w_21/l${i}.png`);
  for (let i = 0; i < 3; i++) t.ok(origins.peek(upload(`l${i}`, 'png')), `l${i} is held`);
  // ...until remote sources push them out: one bound, not one each.
  for (let i = 0; i < 3; i++) await served(`/image/fetch/w_21/${remote.url(`/r${i}.png`)}`);
  t.notOk(origins.peek(upload('l0', 'png')), 'the oldest local source was evicted by remote ones');
  // And the other way round: a remote source still fresh (max-age=600) is fetched again once
  // local loads have evicted it.
  const before = remote.hits('/r0.png');
  for (let i = 3; i < COUNT; i++) await served(`/image/upload/w_22/l${i}.png`);
  await served(`/image/fetch/w_22/${remote.url('/r0.png')}`);
  t.equal(remote.hits('/r0.png') - before, 1, 'r0 was evicted by local sources and fetched again');
  t.ok(most <= BOUND, `never above the bound: ${most} <= ${BOUND}`);
});

t.test('the first origin that matches serves a ref; a backend is one factory', async (t) => {
  const served: string[] = [];
  let loads = 0;
  const memoryBytes = locals[0];
  // A whole backend: it keeps its bytes in the shared cache, in a scope of its own.
  const memory: OriginFactory = ({ cache }) => {
    const scope = cache.scope<Buffer>('memory', (b) => b.length);
    return [{
      name: 'memory',
      matches: (ref) => ref.type === 'upload' && ref.publicId.startsWith('mem/'),
      async load(ref) {
        served.push(ref.publicId);
        const buffer = await scope.fetch(scope.key(ref.publicId), async () => {
          loads++;
          await new Promise((resolve) => setImmediate(resolve));
          return { value: memoryBytes, keep: true };
        });
        return { buffer, identity: `memory:${ref.publicId}`, name: ref.publicId };
      },
      close: () => scope.clear(),
    }];
  };
  const config = testConfig({ ...fetchConfig, storageDir: store, sourceCacheBytes: BOUND, remoteMappings: { mapped: remote.url('/') } });
  const origins = createOrigins(config, {}, [memory, ...BACKENDS]);
  t.teardown(() => origins.close());

  // Five concurrent loads of one source: one load, shared through the cache's fetch().
  const five = await Promise.all(Array.from({ length: 5 }, () => origins.load(upload('mem/a'))));
  t.equal(loads, 1, 'one load for five concurrent callers');
  t.ok(five.every((s) => s.buffer === memoryBytes));
  t.ok(origins.cache.bytes() >= memoryBytes.length, 'its bytes count in the shared bound');
  // No stat in this backend: stat falls back to a load (from the cache here).
  t.same(await origins.stat(upload('mem/a')), { identity: 'memory:mem/a', size: memoryBytes.length });
  t.equal(loads, 1);
  t.equal(origins.peek(upload('mem/a')), undefined, 'no peek in this backend: undefined');

  // Other refs go on to the next origins, in order.
  t.match((await origins.load(upload('l1'))).identity, /^file:.*l1\.png:/, 'upload: the local folder');
  t.match((await origins.load(upload('mapped/r1', 'png'))).identity, /r1\.png#etag:"r1"$/, 'a mapped folder: the HTTP origin');
  t.match((await origins.load(fetchRef(remote.url('/r2.png')))).identity, /r2\.png#etag:"r2"$/, 'fetch: the HTTP origin');
  t.equal((await failure(origins.load({ type: 'private', publicId: 'l1' }))).statusCode, 404, 'private: its own folder, where l1 is not');
  t.same(served, ['mem/a', 'mem/a', 'mem/a', 'mem/a', 'mem/a', 'mem/a'], 'the memory origin saw only its refs');
  t.equal((await failure(origins.load(upload('mapped/../l1', 'png')))).statusCode, 400, 'a ref refused by matches() is a 4xx');

  // Without a backend for a ref: 404, not a crash.
  const only = createOrigins(config, {}, [memory]);
  t.teardown(() => only.close());
  t.equal((await failure(only.load(upload('l1')))).statusCode, 404);
  t.equal(only.peek(upload('l1')), undefined);
});

t.test('stat gives the identity load gives, without reading the bytes', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-stat-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'a.png'), locals[0]);
  const origins = createOrigins(testConfig({ ...fetchConfig, storageDir: dir }));
  t.teardown(() => origins.close());

  const st = await origins.stat(upload('a'));
  t.equal(st.size, locals[0].length);
  t.type(st.mtimeMs, 'number');
  t.equal(origins.cache.bytes(), 0, 'a stat reads no bytes into the cache');
  const loaded = await origins.load(upload('a'));
  t.equal(loaded.identity, st.identity, 'the identity load gives');
  t.same(await origins.stat(upload('a')), st, 'from the cached entry once loaded');

  // A change: stat sees it at once, and agrees with the next load.
  await fs.writeFile(path.join(dir, 'a.png'), locals[1]);
  const later = new Date(Date.now() + 5000);
  await fs.utimes(path.join(dir, 'a.png'), later, later);
  const changed = await origins.stat(upload('a'));
  t.not(changed.identity, st.identity);
  t.equal((await origins.load(upload('a'))).identity, changed.identity);
  t.equal((await failure(origins.stat(upload('missing')))).statusCode, 404);
  t.equal((await failure(origins.stat(upload('../etc/passwd')))).statusCode, 404, 'never outside the folder');

  // The HTTP origin has no stat: the identity of a load (ETag), and the bytes are then cached.
  const remoteStat = await origins.stat(fetchRef(remote.url('/r3.png')));
  t.match(remoteStat.identity, /r3\.png#etag:"r3"$/);
  t.equal(remoteStat.size, remotes[3].length);
});

t.test('close() closes every origin and empties the shared cache', async (t) => {
  const origins = createOrigins(testConfig({ ...fetchConfig, storageDir: store }));
  await origins.load(upload('l0'));
  await origins.load(fetchRef(remote.url('/r0.png')));
  t.ok(origins.cache.entries() >= 2);
  await origins.close();
  t.equal(origins.cache.entries(), 0);
  t.equal(origins.cache.bytes(), 0);
});
