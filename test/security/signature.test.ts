import t from 'tap';
import { createRequire } from 'node:module';
import {
  computeSignature, verifySignature, splitSignatureSegment,
} from '../../src/security/signature.ts';

const require = createRequire(import.meta.url);

t.test('documented vectors (secret b)', async (t) => {
  t.equal(computeSignature('c_crop,h_20,w_10/image.jpg', 'b'), 'Ai4Znfl3');
  t.equal(computeSignature('sample.jpg', 'b'), 'v2fTPYTu');
  t.equal(computeSignature('sample.jpg', 'b', true), '2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFf');
  t.ok(verifySignature('Ai4Znfl3', 'c_crop,h_20,w_10/image.jpg', 'b'));
  t.ok(verifySignature('v2fTPYTu', 'sample.jpg', 'b'));
  t.ok(verifySignature('2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFf', 'sample.jpg', 'b'));
});

t.test('rejections', async (t) => {
  t.notOk(verifySignature('v2fTPYTv', 'sample.jpg', 'b'), 'one character off');
  t.notOk(verifySignature('v2fTPYTu', 'sample.png', 'b'), 'other text');
  t.notOk(verifySignature('v2fTPYTu', 'sample.jpg', 'c'), 'other secret');
  t.notOk(verifySignature('v2fTPYT', 'sample.jpg', 'b'), 'too short');
  t.notOk(verifySignature('v2fTPYTuX', 'sample.jpg', 'b'), 'nine characters');
  t.notOk(verifySignature('', 'sample.jpg', 'b'), 'empty');
  t.notOk(verifySignature('v2fTPYTu', 'sample.jpg', ''), 'empty secret never verifies');
  t.notOk(verifySignature('v2fTPYé', 'sample.jpg', 'b'), 'multibyte of the right char length');
  t.notOk(verifySignature('2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFe', 'sample.jpg', 'b'), 'long, last char off');
  // A long signature is not accepted as a short one by truncation.
  t.notOk(verifySignature('2hbrSMPO', 'sample.jpg', 'b'));
});

t.test('url-safe alphabet only', async (t) => {
  for (let i = 0; i < 200; i++) {
    const s = computeSignature(`w_${i}/x.jpg`, 'secret');
    t.match(s, /^[A-Za-z0-9_-]{8}$/);
    const l = computeSignature(`w_${i}/x.jpg`, 'secret', true);
    if (!/^[A-Za-z0-9_-]{32}$/.test(l)) t.fail(`bad long signature ${l}`);
  }
});

t.test('splitSignatureSegment', async (t) => {
  t.same(splitSignatureSegment('s--Ai4Znfl3--/c_crop,h_20,w_10/image.jpg'),
    { signature: 'Ai4Znfl3', rest: 'c_crop,h_20,w_10/image.jpg' });
  t.same(splitSignatureSegment('s--2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFf--/sample.jpg'),
    { signature: '2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFf', rest: 'sample.jpg' });
  t.equal(splitSignatureSegment('s--abc--/sample.jpg'), null);
  t.equal(splitSignatureSegment('w_100/sample.jpg'), null);
});

/** Drop the first `v<digits>` segment: the version is not part of the signed text. */
function withoutVersion(rest: string): string {
  const segs = rest.split('/');
  const i = segs.findIndex((s) => /^v\d+$/.test(s));
  if (i >= 0 && i < segs.length - 1) segs.splice(i, 1);
  return segs.join('/');
}

interface Cld {
  config(o: Record<string, unknown>): void;
  url(id: string, o: Record<string, unknown>): string;
}

t.test('URLs signed by the official cloudinary package verify', async (t) => {
  const cld = (require('cloudinary') as { v2: Cld }).v2;
  cld.config({
    cloud_name: 'demo', api_key: 'k', api_secret: 'secret', private_cdn: true,
    secure_distribution: 'localhost:3000', secure: true, urlAnalytics: false,
  });
  const cases: Array<[string, Record<string, unknown>]> = [
    ['sample.jpg', {}],
    ['sample', { format: 'png', width: 100, height: 80, crop: 'fill', gravity: 'auto' }],
    ['folder/sub/photo.jpg', {}],
    ['folder/photo.jpg', { version: 1712345678, quality: 'auto', fetch_format: 'auto' }],
    ['a b+c/é ü.jpg', { effect: 'sepia:50' }],
    ['sample.jpg', { transformation: [{ width: 300, crop: 'scale' }, { angle: 90 }], dpr: 2 }],
    ['https://example.com/pics/a b.jpg?x=1&y=2', { type: 'fetch', width: 200 }],
    ['secret/file.png', { type: 'private', width: 10 }],
    ['sample.jpg', { type: 'authenticated', overlay: { font_family: 'Arial', font_size: 20, text: 'Hello, World/1' } }],
    ['sample.jpg', { long_url_signature: true, width: 50 }],
    ['folder/photo.webp', { long_url_signature: true, type: 'private' }],
  ];
  for (const [id, opts] of cases) {
    const u = cld.url(id, { sign_url: true, ...opts });
    const path = new URL(u).pathname.replace(/^\/image\/[a-z]+\//, '');
    const split = splitSignatureSegment(path);
    if (!split) { t.fail(`no signature in ${u}`); continue; }
    // The version is not part of the signed text.
    const toSign = withoutVersion(split.rest);
    t.ok(verifySignature(split.signature, toSign, 'secret'), `verifies ${u}`);
    t.notOk(verifySignature(split.signature, toSign, 'other'), `fails with another secret ${u}`);
    t.notOk(verifySignature(split.signature, toSign + 'x', 'secret'), `fails when tampered ${u}`);
    t.equal(split.signature.length, opts.long_url_signature ? 32 : 8);
  }
});

t.test('official SDK signs raw spaces in transformation strings before encoding them', async (t) => {
  // cloudinary.url() computes the signature first and only then replaces ' ' by '%20' in the
  // whole URL, so a verifier has to accept the text with %20 read back as a space.
  const cld = (require('cloudinary') as { v2: Cld }).v2;
  const u = cld.url('sample.jpg', { sign_url: true, raw_transformation: 'l_text:Arial_20:Hello World' });
  const split = splitSignatureSegment(new URL(u).pathname.replace(/^\/image\/upload\//, ''));
  t.ok(split);
  if (!split) return;
  t.equal(split.rest, 'l_text:Arial_20:Hello%20World/sample.jpg');
  t.notOk(verifySignature(split.signature, split.rest, 'secret'), 'as written does not verify');
  t.ok(verifySignature(split.signature, split.rest.replace(/%20/g, ' '), 'secret'), 'with spaces it does');
});
