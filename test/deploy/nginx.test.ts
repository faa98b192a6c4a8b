import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { startNginx, nginxAvailable, nginxSkipReason, type Edge } from '../helpers/nginx.ts';

/**
 * Two tiny upstreams that behave like Aperture where the edge cares: Cache-Control on success,
 * no-store on errors, `Vary` for the hints a URL's features read. The body names the upstream
 * and echoes what it was asked with, so a cached answer can be told from a fresh one.
 */
function accepted(accept: string | undefined): string {
  if (/image\/avif/i.test(accept ?? '')) return 'avif';
  if (/image\/webp/i.test(accept ?? '')) return 'webp';
  return 'other';
}

async function upstream(name: string) {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    hits.push(url);
    const cls = accepted(req.headers.accept);
    if (url.includes('/missing')) {
      res.writeHead(404, { 'cache-control': 'no-store', 'content-type': 'text/plain', 'x-cld-error': 'Resource not found - missing' });
      res.end(`${name}:404`);
      return;
    }
    if (url.startsWith('/broken')) {
      // An error that wrongly claims to be cacheable must still not be stored.
      res.writeHead(500, { 'cache-control': 'public, max-age=600', 'content-type': 'text/plain' });
      res.end(`${name}:500`);
      return;
    }
    if (url.startsWith('/nostore')) {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain' });
      res.end(`${name}:nostore`);
      return;
    }
    const vary = ['Accept'];
    if (/dpr_auto|w_auto/.test(url)) vary.push('Sec-CH-DPR', 'DPR');
    if (/w_auto/.test(url)) vary.push('Sec-CH-Width', 'Width');
    if (/q_auto/.test(url)) vary.push('Save-Data');
    res.writeHead(200, {
      'cache-control': 'public, max-age=600',
      'content-type': 'text/plain',
      vary: vary.join(', '),
      etag: `"${name}-${hits.length}"`,
    });
    const w = req.headers['sec-ch-width'] ?? req.headers.width ?? '';
    const dpr = req.headers['sec-ch-dpr'] ?? req.headers.dpr ?? '';
    res.end(`${name}:${cls}:w=${w}:dpr=${dpr}:save=${req.headers['save-data'] ?? ''}`);
  });
  server.keepAliveTimeout = 5000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as import('node:net').AddressInfo).port;
  return { name, port, hits, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

interface Reply { status: number; cache: string | undefined; body: string; headers: http.IncomingHttpHeaders }

function get(edge: Edge, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: edge.port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        cache: res.headers['x-cache-status'] as string | undefined,
        body,
        headers: res.headers,
      }));
    });
    req.on('error', reject);
  });
}

const CHROME_AVIF = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const FIREFOX_AVIF = 'image/avif,image/webp,*/*';
const SAFARI_WEBP = 'image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5';

t.test('edge cache in front of two upstreams', { skip: nginxAvailable ? false : nginxSkipReason }, async (t) => {
  const a = await upstream('A');
  const b = await upstream('B');
  t.teardown(async () => { await a.close(); await b.close(); });
  const edge = await startNginx({ upstreams: [a.port, b.port] });
  t.teardown(() => edge.stop());
  const upstreamHits = () => a.hits.length + b.hits.length;

  t.test('repeat request is a HIT with the same body', async (t) => {
    const first = await get(edge, '/image/upload/w_400/plain.jpg', { accept: CHROME_AVIF });
    t.equal(first.status, 200);
    t.equal(first.cache, 'MISS');
    const before = upstreamHits();
    const second = await get(edge, '/image/upload/w_400/plain.jpg', { accept: CHROME_AVIF });
    t.equal(second.cache, 'HIT');
    t.equal(second.body, first.body);
    t.equal(upstreamHits(), before, 'upstream not asked again');
    t.match(second.headers.vary, /Accept/, 'Vary still reaches the client');
    // Without f_auto the format does not depend on Accept: one entry for every browser.
    const other = await get(edge, '/image/upload/w_400/plain.jpg', { accept: '*/*' });
    t.equal(other.cache, 'HIT', 'no f_auto in URL → Accept not in the key');
  });

  t.test('f_auto: avif vs */* are separate entries; same class shares one', async (t) => {
    const p = '/image/upload/f_auto,w_300/fmt.jpg';
    const avif = await get(edge, p, { accept: CHROME_AVIF });
    t.equal(avif.cache, 'MISS');
    t.match(avif.body, /:avif:/);
    const any = await get(edge, p, { accept: '*/*' });
    t.equal(any.cache, 'MISS', '*/* is its own entry');
    t.match(any.body, /:other:/);
    const webp = await get(edge, p, { accept: SAFARI_WEBP });
    t.equal(webp.cache, 'MISS');
    t.match(webp.body, /:webp:/);
    const noAccept = await get(edge, p);
    t.equal(noAccept.cache, 'HIT', 'no Accept = the */* entry');
    t.match(noAccept.body, /:other:/);
    const ff = await get(edge, p, { accept: FIREFOX_AVIF });
    t.equal(ff.cache, 'HIT', 'another browser\'s AVIF Accept string hits the AVIF entry');
    t.equal(ff.body, avif.body);
    const any2 = await get(edge, p, { accept: '*/*' });
    t.equal(any2.cache, 'HIT');
    t.equal(any2.body, any.body, 'and never crosses over');
  });

  t.test('errors are never cached', async (t) => {
    for (const path of ['/image/upload/missing.jpg', '/broken/x.jpg', '/nostore/x.jpg']) {
      const before = upstreamHits();
      const r1 = await get(edge, path);
      const r2 = await get(edge, path);
      t.not(r2.cache, 'HIT', `${path}: second answer not from cache`);
      t.equal(upstreamHits() - before, 2, `${path}: upstream asked both times`);
      if (path.includes('missing')) {
        t.equal(r1.status, 404);
        t.equal(r2.status, 404);
        t.equal(r2.headers['cache-control'], 'no-store');
        t.equal(r2.headers['x-cld-error'], 'Resource not found - missing');
      }
    }
  });

  t.test('DPR buckets: rounded up, capped at 3', async (t) => {
    const p = '/image/upload/dpr_auto,w_100/d.jpg';
    t.equal((await get(edge, p, { 'sec-ch-dpr': '1.5' })).cache, 'MISS');
    t.equal((await get(edge, p, { 'sec-ch-dpr': '2' })).cache, 'HIT', '1.5 and 2 → 2');
    t.equal((await get(edge, p, { dpr: '1.25' })).cache, 'HIT', 'legacy DPR header read too');
    t.equal((await get(edge, p, { 'sec-ch-dpr': '2.1' })).cache, 'MISS', '2.1 → 3');
    t.equal((await get(edge, p, { 'sec-ch-dpr': '4' })).cache, 'HIT', '4 → capped at 3');
    t.equal((await get(edge, p)).cache, 'MISS', 'no hint → 1');
    t.equal((await get(edge, p, { 'sec-ch-dpr': '1' })).cache, 'HIT', '1 and no hint share');
    t.equal((await get(edge, p, { 'sec-ch-dpr': '0.75' })).cache, 'HIT', '0.75 → 1');
  });

  t.test('width buckets of 100 for w_auto; exact for other steps', async (t) => {
    const p = '/image/upload/w_auto/w.jpg';
    const h = (w: string) => ({ 'sec-ch-width': w, 'sec-ch-dpr': '1' });
    t.equal((await get(edge, p, h('310'))).cache, 'MISS');
    t.equal((await get(edge, p, h('399'))).cache, 'HIT', '310 and 399 → 400');
    t.equal((await get(edge, p, { width: '350', dpr: '1' })).cache, 'HIT', 'legacy Width header read too');
    t.equal((await get(edge, p, h('401'))).cache, 'MISS', '401 → 500');
    t.equal((await get(edge, p, h('1000'))).cache, 'MISS');
    t.equal((await get(edge, p, h('950'))).cache, 'MISS', 'exact multiple and its bucket may be two entries');
    t.equal((await get(edge, p, h('901'))).cache, 'HIT');
    t.equal((await get(edge, p, { 'sec-ch-viewport-width': '390', 'sec-ch-dpr': '1' })).cache, 'MISS', 'viewport-only is its own entry');

    const step50 = '/image/upload/w_auto:50/w.jpg';
    t.equal((await get(edge, step50, h('310'))).cache, 'MISS');
    t.equal((await get(edge, step50, h('360'))).cache, 'MISS', 'step 50: 310 and 360 differ at the origin, so at the edge');
    t.equal((await get(edge, step50, h('310'))).cache, 'HIT');

    const plain = '/image/upload/w_200/w.jpg';
    t.equal((await get(edge, plain, h('310'))).cache, 'MISS');
    t.equal((await get(edge, plain, h('1200'))).cache, 'HIT', 'no w_auto → width hint not in the key');
  });

  t.test('Save-Data only for q_auto', async (t) => {
    const p = '/image/upload/q_auto/s.jpg';
    t.equal((await get(edge, p)).cache, 'MISS');
    const on = await get(edge, p, { 'save-data': 'on' });
    t.equal(on.cache, 'MISS');
    t.match(on.body, /save=on/);
    t.equal((await get(edge, p, { 'save-data': 'off' })).cache, 'HIT', 'off = absent');
  });

  t.test('both upstreams get traffic', async (t) => {
    const [beforeA, beforeB] = [a.hits.length, b.hits.length];
    for (let i = 0; i < 12; i++) await get(edge, `/image/upload/w_10/spread-${i}.jpg`);
    t.ok(a.hits.length > beforeA, `A served ${a.hits.length - beforeA}`);
    t.ok(b.hits.length > beforeB, `B served ${b.hits.length - beforeB}`);
  });

  t.test('health passes through uncached; metrics hidden', async (t) => {
    const h1 = await get(edge, '/health');
    t.equal(h1.cache, undefined, 'health bypasses the cache');
    t.equal((await get(edge, '/metrics')).status, 404);
  });

  t.test('access log records the normalised key', async (t) => {
    t.match(edge.output(), /key=f:avif,d:-,w:-,s:-/);
    t.match(edge.output(), /key=f:-,d:3,w:-,s:-/);
  });
});
