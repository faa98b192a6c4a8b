/**
 * The shipped nginx edge (deploy/nginx through deploy/run-edge.sh) in front of two real
 * Aperture instances on loopback: repeats are edge hits, f_auto variants per Accept class are
 * cached side by side, errors are never cached, and least_conn spreads work over both.
 */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginx, nginxAvailable, nginxSkipReason } from '../helpers/nginx.ts';
import { rawGet, startServer, type RawReply } from '../helpers/harness.ts';

const storageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../images');

type Reply = RawReply;

const get = (port: number, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> => rawGet(port, urlPath, headers, false);

/** Requests one instance answered on the image route, by status ('' = all). */
async function imageRequests(port: number, status = ''): Promise<number> {
  const text = (await get(port, '/metrics')).body.toString('utf8');
  let n = 0;
  for (const m of text.matchAll(/^aperture_http_requests_total\{([^}]*)\}\s+(\S+)$/gm)) {
    if (!/route="image"/.test(m[1]!)) continue;
    if (status && !m[1]!.includes(`status="${status}"`)) continue;
    n += Number(m[2]);
  }
  return n;
}

const AVIF_ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';

t.test('nginx edge in front of two Aperture instances', { skip: nginxAvailable ? false : nginxSkipReason }, async (t) => {
  const ports: number[] = [];
  for (let i = 0; i < 2; i++) ports.push((await startServer(t, { config: { storageDir } })).port);
  const edge = await startNginx({ upstreams: ports });
  t.teardown(() => edge.stop());
  const total = async (status = '') => (await imageRequests(ports[0]!, status)) + (await imageRequests(ports[1]!, status));

  await t.test('a repeated request is an edge HIT and does not reach an instance', async (t) => {
    const url = '/image/upload/c_fill,w_300,h_200/rocket.jpg';
    const first = await get(edge.port, url);
    t.equal(first.status, 200);
    t.equal(first.headers['x-cache-status'], 'MISS');
    t.equal(first.headers['content-type'], 'image/jpeg');
    const reached = await total();
    const second = await get(edge.port, url);
    t.equal(second.status, 200);
    t.equal(second.headers['x-cache-status'], 'HIT', 'second is served by the edge');
    t.ok(second.body.equals(first.body), 'same bytes');
    t.equal(second.headers.etag, first.headers.etag, 'same ETag');
    t.equal(await total(), reached, 'no instance saw the repeat');
  });

  await t.test('f_auto: Accept avif and */* are separate cached variants', async (t) => {
    const url = '/image/upload/w_240,f_auto/rocket.jpg';
    const avif1 = await get(edge.port, url, { accept: AVIF_ACCEPT });
    const any1 = await get(edge.port, url, { accept: '*/*' });
    t.equal(avif1.status, 200);
    t.equal(any1.status, 200);
    t.equal(avif1.headers['content-type'], 'image/avif', 'avif for an AVIF-capable Accept');
    t.equal(any1.headers['content-type'], 'image/jpeg', 'jpeg for */*');
    t.equal(avif1.headers['x-cache-status'], 'MISS');
    t.equal(any1.headers['x-cache-status'], 'MISS', 'the */* request is not answered with the avif entry');
    t.match(String(avif1.headers.vary), /Accept/i, 'Vary: Accept passed on to clients');
    const reached = await total();
    const avif2 = await get(edge.port, url, { accept: 'image/avif,*/*' });
    const any2 = await get(edge.port, url, { accept: '*/*' });
    const none2 = await get(edge.port, url);
    for (const [name, r, type, body] of [
      ['avif (another AVIF Accept string)', avif2, 'image/avif', avif1.body],
      ['*/*', any2, 'image/jpeg', any1.body],
      ['no Accept', none2, 'image/jpeg', any1.body],
    ] as const) {
      t.equal(r.headers['x-cache-status'], 'HIT', `${name}: edge HIT`);
      t.equal(r.headers['content-type'], type, `${name}: ${type}`);
      t.ok(r.body.equals(body), `${name}: same bytes as its variant's first response`);
    }
    t.equal(await total(), reached, 'both variants served from the edge');
  });

  await t.test('a 404 is not cached', async (t) => {
    const url = '/image/upload/w_100/no-such-image.jpg';
    const before = await total('404');
    const r1 = await get(edge.port, url);
    const r2 = await get(edge.port, url);
    t.equal(r1.status, 404);
    t.equal(r2.status, 404);
    t.not(r2.headers['x-cache-status'], 'HIT', `second 404 is ${r2.headers['x-cache-status']}, not HIT`);
    t.equal(await total('404'), before + 2, 'both 404s were answered by an instance');
    t.match(String(r2.headers['x-cld-error']), /not found/i);
  });

  await t.test('least_conn spreads traffic over both instances', async (t) => {
    const before = [await imageRequests(ports[0]!), await imageRequests(ports[1]!)];
    for (let w = 101; w <= 110; w++) {
      const r = await get(edge.port, `/image/upload/w_${w}/coffee.png`);
      t.equal(r.status, 200);
    }
    const after = [await imageRequests(ports[0]!), await imageRequests(ports[1]!)];
    const got = [after[0]! - before[0]!, after[1]! - before[1]!];
    t.comment(`10 distinct URLs through the edge: instance 1 got ${got[0]}, instance 2 got ${got[1]}`);
    t.equal(got[0]! + got[1]!, 10, 'every miss reached an instance once');
    t.ok(got[0]! > 0 && got[1]! > 0, 'both instances received traffic');
    const upstreams = new Set([...edge.output().matchAll(/upstream=127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])));
    t.same([...upstreams].sort(), [...ports].sort(), 'the access log names both upstreams');
  });
});
