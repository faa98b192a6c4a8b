/**
 * Issue 11 part 5: the port policy for fetch targets, through real HTTP. Ports 80 and 443 by
 * default (APERTURE_FETCH_PORTS changes the list); any other port is refused with a 403 naming
 * it before a connection is made, for the first URL and for every redirect. Host names resolve
 * through a DNS stub (no answer for the public-looking names), so nothing leaves loopback.
 */
import sharp from 'sharp';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import type { Resolver } from '../../src/security/ssrf.ts';
import { startServer } from '../helpers/harness.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

const jpeg = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#36c' } }).jpeg().toBuffer();
const target = await startOriginServer({
  '/a.jpg': (_req, res) => { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(jpeg); },
});
t.teardown(() => target.close());
const hop = await startOriginServer({
  '/to-target': (_req, res) => { res.writeHead(302, { location: target.url('/a.jpg') }); res.end(); },
});
t.teardown(() => hop.close());

/** No name resolves: a target that passes the port policy fails with 502, never connects. */
const resolver: Resolver = async () => [];

const ALLOW = { APERTURE_FETCH_ALLOW: '127.0.0.1,a.test' };
const http = { resolver, negativeTtlMs: 0 };

t.test('APERTURE_FETCH_PORTS: parsed and validated at boot', async (t) => {
  t.same(loadConfig({}).fetchPorts, [80, 443], 'default 80 and 443');
  t.same(loadConfig({ APERTURE_FETCH_PORTS: '443, 8443' }).fetchPorts, [443, 8443]);
  t.equal(loadConfig({ APERTURE_FETCH_PORTS: '*' }).fetchPorts, '*');
  for (const bad of ['abc', '0', '65536', '80,-1']) {
    t.throws(() => loadConfig({ APERTURE_FETCH_PORTS: bad }), /APERTURE_FETCH_PORTS/, `"${bad}" refused, naming the variable`);
  }
});

t.test('default policy: other ports refused before connecting', async (t) => {
  const s = await startServer(t, { env: ALLOW, http });
  const before = target.connections();
  const r = await s.get(`/image/fetch/w_10/${target.url('/a.jpg')}`);
  t.equal(r.status, 403);
  t.equal(r.headers.get('x-cld-error'), `Forbidden: port ${target.port} is not an allowed fetch port (APERTURE_FETCH_PORTS)`);
  t.equal(r.headers.get('cache-control'), 'no-store');
  t.equal(target.connections(), before, 'no connection was made');
  // 80 and 443, explicit or implied by the scheme, pass the policy (and then fail to resolve).
  for (const url of ['http://a.test/x.jpg', 'https://a.test/x.jpg', 'http://a.test:443/x.jpg', 'https://a.test:80/x.jpg']) {
    const ok = await s.get(`/image/fetch/${url}`);
    t.equal(ok.status, 502, `${url}: past the port policy (${String(ok.headers.get('x-cld-error'))})`);
  }
  const odd = await s.get('/image/fetch/https://a.test:8443/x.jpg');
  t.equal(odd.status, 403, 'https on 8443 is refused');
  t.match(String(odd.headers.get('x-cld-error')), /port 8443/);
});

t.test('configured ports are fetched; redirects are checked again', async (t) => {
  const s = await startServer(t, { env: { ...ALLOW, APERTURE_FETCH_PORTS: `80,443,${target.port},${hop.port}` }, http });
  const r = await s.get(`/image/fetch/w_10/${target.url('/a.jpg')}`);
  t.equal(r.status, 200, `listed port served (${String(r.headers.get('x-cld-error'))})`);
  t.equal((await sharp(r.body).metadata()).width, 10);
  const through = await s.get(`/image/fetch/w_12/${hop.url('/to-target')}`);
  t.equal(through.status, 200, 'a redirect to a listed port is followed');

  const only = await startServer(t, { env: { ...ALLOW, APERTURE_FETCH_PORTS: String(hop.port) }, http });
  const before = target.connections();
  const refused = await only.get(`/image/fetch/w_14/${hop.url('/to-target')}`);
  t.equal(refused.status, 403, 'a redirect to an unlisted port is refused');
  t.equal(refused.headers.get('x-cld-error'), `Forbidden: redirect to port ${target.port} is not an allowed fetch port (APERTURE_FETCH_PORTS)`);
  t.equal(target.connections(), before, 'the redirect target was never contacted');
});

t.test('remote mappings follow the same policy', async (t) => {
  const s = await startServer(t, { env: { ...ALLOW, APERTURE_REMOTE_MAPPINGS: `remote=${target.url('/')}` }, http });
  const r = await s.get('/image/upload/w_10/remote/a.jpg');
  t.equal(r.status, 403);
  t.match(String(r.headers.get('x-cld-error')), new RegExp(`port ${target.port}`));
});
