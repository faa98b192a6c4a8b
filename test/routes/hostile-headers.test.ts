/**
 * Issue 12 items 2 and 8 through real HTTP: `If-None-Match` parsed as RFC 9110 entity tags in
 * one linear scan (hostile shapes answered correctly, a field over the cap counts as no match),
 * and `Content-Disposition` built with RFC 6266 / 8187 encoding so no public id or fetch URL
 * can end the filename or add a parameter, and non-Latin-1 names do not answer 500.
 * The /health latency under 100 parallel hostile headers is measured in bench/hostile.ts.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { startServer } from '../helpers/harness.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-hostile-headers-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
const png = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#2a7' } }).png().toBuffer();
for (const name of ['cat.png', '猫.png', 'a"b.png', 'semi;colon.png']) await fs.writeFile(path.join(dir, name), png);

// A loopback origin that serves the PNG for any path (the fetch URLs below are hostile).
const origin = await startOriginServer({ '*': (_req, res) => { res.writeHead(200, { 'content-type': 'image/png' }); res.end(png); } });
t.teardown(() => origin.close());
const O = `http://127.0.0.1:${origin.port}`;

t.test('If-None-Match: entity-tag lists, hostile shapes, and the length cap', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir } });
  const url = '/image/upload/w_20/cat.png';
  const first = await live.get(url);
  t.equal(first.status, 200);
  const etag = String(first.headers.get('etag'));
  t.match(etag, /^"[\w-]+"$/, 'a strong entity tag');
  const spaces = (n: number) => ' '.repeat(n);
  const cases: Array<[string, string, number]> = [
    ['the tag', etag, 304],
    ['its weak form', `W/${etag}`, 304],
    ['*', '*', 304],
    ['a list, tag last', `"x", W/"y",${etag}`, 304],
    ['tabs and empty members', `"x" ,\t,, ,${etag} ,`, 304],
    ['a comma inside another tag', `"a,b", ${etag}`, 304],
    ['a malformed member before it', `bogus, ${etag}`, 304],
    ['a tag of 4,000 spaces before it', `"a${spaces(4000)}b", ${etag}`, 304],
    ['another tag', '"nope"', 200],
    ['the tag unterminated', etag.slice(0, -1), 200],
    ['the tag inside a longer tag', `"x${etag.slice(1)}`, 200],
    ['the issue\'s stall shape (15,000 spaces)', `"a${spaces(15_000)}b"`, 200],
    ['the stall shape with the tag after it: over the 4,096-byte cap, not evaluated', `"a${spaces(15_000)}b", ${etag}`, 200],
  ];
  for (const [what, value, status] of cases) {
    const r = await live.get(url, { 'if-none-match': value });
    t.equal(r.status, status, `${what} → ${status} (got ${r.status})`);
    if (status === 200) t.same(r.body, first.body, `${what}: the full body`);
    else t.equal(r.body.length, 0, `${what}: no body`);
  }
  const hundred = await Promise.all(Array.from({ length: 100 }, () => live.get(url, { 'if-none-match': `"a${spaces(15_000)}b"` })));
  t.same([...new Set(hundred.map((r) => r.status))], [200], '100 parallel stall-shaped headers: all 200');
});

t.test('If-None-Match cap is configurable', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir, maxIfNoneMatchBytes: 64 } });
  const url = '/image/upload/w_21/cat.png';
  const etag = String((await live.get(url)).headers.get('etag'));
  t.equal((await live.get(url, { 'if-none-match': etag })).status, 304, 'under the cap: 304');
  t.equal((await live.get(url, { 'if-none-match': `"${'x'.repeat(40)}", ${etag}` })).status, 200, 'over 64 bytes: 200');
});

/** The header's parameters, checked to be exactly `filename` and maybe `filename*`. */
function disposition(t: Test, value: unknown): { fallback: string; name: string } {
  const v = String(value);
  const m = /^attachment; filename="([^"\\%;/\x00-\x1f\x7f-\uffff]*)"(?:; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+))?$/.exec(v);
  t.ok(m, `well-formed, no extra parameter: ${v}`);
  if (!m) return { fallback: '', name: '' };
  return { fallback: m[1], name: m[2] === undefined ? m[1] : decodeURIComponent(m[2]) };
}

t.test('Content-Disposition: no injection, any name', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir, fetchAllow: ['127.0.0.1'], fetchPorts: '*' } });
  const evil = `a";filename*=UTF-8''evil.html;x="`;
  const cases: Array<[string, string, string]> = [
    // Sent as the issue sent it: a literal quote and semicolons in the request target.
    ['the issue\'s fetch URL', `/image/fetch/fl_attachment/${O}/${evil}`, `${evil}.png`],
    ['a public id with %22', '/image/upload/fl_attachment/a%22b.png', 'a"b.png'],
    ['a public id with ;', '/image/upload/fl_attachment/semi%3Bcolon.png', 'semi;colon.png'],
    ['a non-Latin-1 public id', '/image/upload/fl_attachment/%E7%8C%AB.png', '猫.png'],
    ['a plain name', '/image/upload/fl_attachment/cat.jpg', 'cat.jpg'],
    ['a name given in the flag', '/image/upload/fl_attachment:my_file/cat.png', 'my_file.png'],
  ];
  for (const [what, url, name] of cases) {
    const r = await live.getRaw(url);
    t.equal(r.status, 200, `${what} → 200 (got ${r.status} ${String(r.headers['x-cld-error'] ?? '')})`);
    const d = disposition(t, r.headers['content-disposition']);
    t.equal(d.name, name, `${what}: filename* carries the exact name`);
    t.notMatch(d.fallback, /evil\.html"|"/, `${what}: the ASCII fallback cannot end the quoted string`);
  }
});
