/**
 * The demo page over app.inject(): hint delegation (meta + headers) for its own origin, the
 * responsive image markup, escaping of the id, and the hints echo. The page running in a real
 * browser is test/browser/client-hints.test.ts.
 */
import t from 'tap';
import { startServer } from '../helpers/harness.ts';

const { app } = await startServer(t, { listen: false });

t.test('GET / and /demo: delegation headers and meta for the page origin', async (t) => {
  for (const url of ['/', '/demo']) {
    const r = await app.inject({ url, headers: { host: '127.0.0.1:4321' } });
    t.equal(r.statusCode, 200, url);
    t.match(String(r.headers['content-type']), /^text\/html/);
    t.equal(r.headers['accept-ch'], 'Sec-CH-Width, Sec-CH-DPR, Sec-CH-Viewport-Width');
    t.equal(r.headers['permissions-policy'],
      'ch-width=(self "http://127.0.0.1:4321"), ch-dpr=(self "http://127.0.0.1:4321"), ch-viewport-width=(self "http://127.0.0.1:4321")');
    t.equal(r.headers['cache-control'], 'no-store');
    t.match(r.body, '<meta http-equiv="delegate-ch" content="sec-ch-width http://127.0.0.1:4321; sec-ch-dpr http://127.0.0.1:4321; sec-ch-viewport-width http://127.0.0.1:4321">');
    t.match(r.body, /<img src="\/image\/upload\/c_scale,dpr_auto,w_auto\/rocket\.jpg" sizes="\(max-width: 700px\) 100vw, 50vw"[^>]* id="hero"/);
    t.match(r.body, '<svg', 'chart code present');
    t.match(r.body, 'c_scale,w_auto:breakpoints:json/rocket.jpg');
  }
});

t.test('the page lists the hints its request carried', async (t) => {
  const r = await app.inject({ url: '/', headers: { host: 'localhost:3000', 'sec-ch-dpr': '2', 'sec-ch-viewport-width': '1200' } });
  t.match(r.body, '<tr><td>sec-ch-dpr</td><td>2</td></tr>');
  t.match(r.body, '<tr><td>sec-ch-viewport-width</td><td>1200</td></tr>');
  t.match(String(r.headers.vary), /Sec-CH-DPR/);
  const none = await app.inject({ url: '/', headers: { host: 'localhost:3000' } });
  t.match(none.body, /none \(a browser learns Accept-CH/);
});

t.test('id and host are never reflected unescaped', async (t) => {
  const ok = await app.inject({ url: '/?id=folder/cat.png', headers: { host: 'localhost' } });
  t.match(ok.body, 'c_scale,dpr_auto,w_auto/v1/folder/cat.png');
  const bad = await app.inject({ url: '/?id=%3C/script%3E%3Cscript%3Ealert(1)%3C/script%3E', headers: { host: 'localhost' } });
  t.notMatch(bad.body, 'alert(1)', 'a hostile id falls back to the default');
  t.match(bad.body, 'rocket.jpg');
  const dots = await app.inject({ url: '/?id=../secret.jpg', headers: { host: 'localhost' } });
  t.notMatch(dots.body, 'secret');
  const host = await app.inject({ url: '/', headers: { host: 'evil"><script>x</script>' } });
  t.equal(host.statusCode, 200);
  t.equal(host.headers['permissions-policy'], undefined, 'no delegation to an unparseable origin');
  t.notMatch(host.body, '<script>x</script>');
  t.notMatch(host.body, 'delegate-ch');
});

t.test('GET /demo/hints echoes the hint headers', async (t) => {
  const r = await app.inject({ url: '/demo/hints', headers: { 'sec-ch-dpr': '1.5', width: '640', accept: 'x' } });
  t.same(r.json(), { 'sec-ch-dpr': '1.5', width: '640', 'parsed dpr': 1.5 });
  t.equal(r.headers['cache-control'], 'no-store');
});
