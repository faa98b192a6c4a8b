import t from 'tap';
import fc from 'fast-check';
import { url, type UrlOptions } from '@aperture/sdk';
import { signer } from '@aperture/sdk/sign';
import { verifySignature } from '../../src/security/signature.ts';
import { HOST, SECRET, cases, official } from '../helpers/cloudinary.ts';

const SIGNER = signer(SECRET);

t.test('same URL as cloudinary.v2.url() for every option set', async (t) => {
  let matched = 0;
  for (const c of cases) {
    const ours = url(c.id, { host: HOST, signer: SIGNER, ...c.o });
    const theirs = official(c.id, c.o, c.theirs);
    if (ours === theirs) matched++;
    t.equal(ours, theirs, `${c.id} ${JSON.stringify(c.o)}`);
  }
  t.comment(`${matched}/${cases.length} option sets match the official SDK exactly`);
  t.ok(cases.length >= 50);
});

t.test('signed URLs verify with the server-side check', async (t) => {
  const u = url('folder/pic.jpg', { host: HOST, signer: SIGNER, sign_url: true, width: 10, version: 5 });
  const m = /\/image\/upload\/s--([^-]+)--\/(.*)$/.exec(u);
  t.ok(m, u);
  if (!m) return;
  t.equal(m[2], 'w_10/v5/folder/pic.jpg');
  t.ok(verifySignature(m[1], 'w_10/folder/pic.jpg', SECRET));
  t.notOk(verifySignature(m[1], 'w_11/folder/pic.jpg', SECRET));
});

t.test('host forms', async (t) => {
  t.equal(url('a.jpg', { width: 10 }), '/image/upload/w_10/a.jpg', 'no host: root-relative');
  t.equal(url('a.jpg', { host: 'http://127.0.0.1:8080/' }), 'http://127.0.0.1:8080/image/upload/a.jpg');
  t.equal(url('a.jpg', { host: 'cdn.example.com', cloud: 'acme' }), 'https://cdn.example.com/acme/image/upload/a.jpg');
  t.throws(() => url('a.jpg', { sign_url: true }), /sign_url needs a signer/);
  t.throws(() => url('a.jpg', { sign_url: true, secret: 'x' } as UrlOptions), /sign_url needs a signer/, 'a bare secret is not a signer');
  t.throws(() => signer(''), /non-empty/);
});

t.test('does not mutate the options it is given', async (t) => {
  const o: UrlOptions = { type: 'fetch', format: 'png', transformation: [{ width: 1 }], width: 'auto', dpr: 'auto' };
  const copy = structuredClone(o);
  url('https://example.com/x.jpg', o);
  t.same(o, copy);
});

t.test('random option sets match the official SDK', async (t) => {
  const scalar = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constantFrom('auto', '0.5', '1.5', 'auto:good', '16:9'));
  const component = fc.record({
    width: scalar, height: scalar, crop: fc.constantFrom('fill', 'fit', 'limit', 'pad', 'thumb', 'crop', 'scale'),
    gravity: fc.constantFrom('auto', 'face', 'north', 'auto:faces'), x: fc.integer({ min: -50, max: 50 }),
    quality: fc.constantFrom('auto', 80, 'auto:eco'), fetch_format: fc.constantFrom('auto', 'webp', 'avif'),
    dpr: fc.constantFrom(1, 2, '1.5', 'auto'), effect: fc.constantFrom('sepia', 'blur:100', 'grayscale'),
    angle: fc.constantFrom(90, 'auto', 'hflip'), flags: fc.constantFrom('progressive', ['lossy', 'strip_profile']),
    background: fc.constantFrom('#aabbcc', 'white', 'auto'), opacity: fc.integer({ min: 0, max: 100 }),
  }, { requiredKeys: [] });
  const options = fc.record({
    c: component,
    chain: fc.array(component, { maxLength: 3 }),
    id: fc.constantFrom('sample.jpg', 'a/b.png', 'x y/ü.webp', 'plain'),
    sign: fc.boolean(), long: fc.boolean(), version: fc.option(fc.integer({ min: 1, max: 2e9 }), { nil: undefined }),
    format: fc.option(fc.constantFrom('jpg', 'png'), { nil: undefined }),
  });
  let runs = 0;
  fc.assert(fc.property(options, (r) => {
    runs++;
    const o = {
      ...r.c,
      ...(r.chain.length ? { transformation: r.chain } : {}),
      sign_url: r.sign, long_url_signature: r.long, version: r.version, format: r.format,
    } as UrlOptions;
    const ours = url(r.id, { host: HOST, signer: SIGNER, ...structuredClone(o) });
    const theirs = official(r.id, structuredClone(o));
    if (ours !== theirs) throw new Error(`${JSON.stringify(o)}\n ours   ${ours}\n theirs ${theirs}`);
  }), { numRuns: 300, seed: 20240601 });
  t.equal(runs, 300);
});

t.test('arbitrary public ids: same URL, or both refuse', async (t) => {
  let runs = 0;
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 24 }), fc.boolean(), (id, sign) => {
    runs++;
    let ours: string, theirs: string;
    try { ours = url(id, { host: HOST, signer: SIGNER, sign_url: sign, width: 10 }); } catch { ours = 'THROWS'; }
    try { theirs = official(id, { sign_url: sign, width: 10 }); } catch { theirs = 'THROWS'; }
    if (ours !== theirs) throw new Error(`${JSON.stringify(id)}\n ours   ${ours}\n theirs ${theirs}`);
  }), { numRuns: 300, seed: 7 });
  t.equal(runs, 300);
  t.throws(() => url('100%.jpg', {}), URIError, 'malformed escapes are refused like the SDK does');
});
