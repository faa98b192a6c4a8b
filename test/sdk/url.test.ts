import t from 'tap';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { url, type UrlOptions } from '@aperture/sdk';
import { signer } from '@aperture/sdk/sign';
import { verifySignature } from '../../src/security/signature.ts';

const require = createRequire(import.meta.url);
const cld = (require('cloudinary') as { v2: { url(id: string, o: Record<string, unknown>): string } }).v2;

const HOST = 'localhost:3000';
const SECRET = 'test-secret';
const SIGNER = signer(SECRET);

/**
 * The official SDK's URL for the same request, configured the way an application pointing at
 * Aperture would (private CDN on our host; a `cloud` means a shared-domain style URL; http goes
 * through `cname`). Analytics off: Aperture ignores `?_a=`, and the SDK builds it from its own
 * version numbers.
 */
function official(id: string, ours: UrlOptions, theirs?: Record<string, unknown>): string {
  const { host: _h, cloud, signer: _s, secure, ...rest } = ours;
  return cld.url(id, {
    ...(theirs ?? rest),
    urlAnalytics: false,
    cloud_name: cloud ?? 'demo',
    private_cdn: !cloud,
    secure_distribution: HOST,
    cname: HOST,
    secure: secure ?? true,
    api_secret: SECRET,
  });
}

interface Case { id: string; o: UrlOptions; theirs?: Record<string, unknown> }

const cases: Case[] = [
  { id: 'sample.jpg', o: {} },
  { id: 'sample', o: { format: 'jpg' } },
  { id: 'sample', o: { width: 100, height: 200, crop: 'fill' } },
  { id: 'sample.jpg', o: { width: 300, crop: 'scale' } },
  { id: 'sample.jpg', o: { width: 0.5 } },
  { id: 'sample.jpg', o: { width: 'auto', crop: 'scale' } },
  { id: 'sample.jpg', o: { width: 'auto:100:387', crop: 'limit' } },
  { id: 'sample.jpg', o: { width: 'auto:breakpoints', crop: 'scale' } },
  { id: 'sample.jpg', o: { width: 'auto:breakpoints_200_1920_30_15:json', crop: 'scale' } },
  { id: 'sample.jpg', o: { dpr: 2, width: 100 } },
  { id: 'sample.jpg', o: { dpr: '2.0', width: 100 } },
  { id: 'sample.jpg', o: { dpr: 'auto', width: 'auto', crop: 'scale' } },
  { id: 'sample.jpg', o: { crop: 'thumb', gravity: 'face', width: 150, height: 150, zoom: 0.75 } },
  { id: 'sample.jpg', o: { crop: 'fill', gravity: 'auto', aspect_ratio: '16:9', width: 800 } },
  { id: 'sample.jpg', o: { aspect_ratio: 1.5, crop: 'fill', width: 400 } },
  { id: 'sample.jpg', o: { crop: 'crop', x: 10, y: 20, width: 100, height: 100 } },
  { id: 'sample.jpg', o: { crop: 'pad', background: '#ff0000', width: 300, height: 300 } },
  { id: 'sample.jpg', o: { crop: 'lpad', background: 'auto:predominant', width: 300, height: 200 } },
  { id: 'sample.jpg', o: { crop: 'fill', gravity: 'north_east', width: 50, height: 60 } },
  { id: 'sample.jpg', o: { crop: 'auto', gravity: 'auto:subject', width: 200, height: 200 } },
  { id: 'sample.jpg', o: { crop: 'fill_pad', gravity: 'auto', width: 200, height: 100, background: 'auto' } },
  { id: 'sample.jpg', o: { crop: 'thumb', gravity: 'faces:center', width: 0.4, height: 0.4, x: 0.1, y: '0.2' } },
  { id: 'sample.jpg', o: { quality: 'auto' } },
  { id: 'sample', o: { quality: 'auto:eco', fetch_format: 'auto' } },
  { id: 'sample.jpg', o: { quality: '80:420' } },
  { id: 'sample', o: { quality: 60, format: 'webp' } },
  { id: 'sample.jpg', o: { effect: 'sepia' } },
  { id: 'sample.jpg', o: { effect: 'blur:300', width: 400 } },
  { id: 'sample.jpg', o: { effect: ['sharpen', 100] } },
  { id: 'sample.jpg', o: { effect: { brightness: 30 } } },
  { id: 'sample.jpg', o: { effect: 'grayscale', angle: 90 } },
  { id: 'sample.jpg', o: { angle: ['hflip', 'auto'] } },
  { id: 'sample.jpg', o: { angle: -20, background: 'transparent' } },
  { id: 'sample.jpg', o: { radius: 20 } },
  { id: 'sample.jpg', o: { radius: 'max', background: 'black' } },
  { id: 'sample.jpg', o: { radius: [10, 20, 30, 40] } },
  { id: 'sample.jpg', o: { border: '3px_solid_black' } },
  { id: 'sample.jpg', o: { border: { width: 4, color: '#00ff00' } } },
  { id: 'sample.jpg', o: { border: 5, width: 10 } },
  { id: 'sample.jpg', o: { opacity: 50 } },
  { id: 'sample.jpg', o: { flags: 'progressive' } },
  { id: 'sample.jpg', o: { flags: ['progressive', 'strip_profile'], quality: 'auto:best' } },
  { id: 'sample.jpg', o: { flags: ['attachment:my_file', 'immutable_cache'] } },
  { id: 'sample.jpg', o: { default_image: 'avatar.png', width: 100 } },
  { id: 'doc.pdf', o: { page: 2, format: 'png' } },
  { id: 'sample.jpg', o: { transformation: [{ width: 100, crop: 'scale' }, { angle: 45 }] } },
  {
    id: 'sample.jpg',
    o: {
      transformation: [{ crop: 'fill', width: 200, height: 200, gravity: 'auto' }, { effect: 'sepia' },
        { quality: 'auto', fetch_format: 'auto' }],
      width: 50,
    },
  },
  { id: 'sample.jpg', o: { transformation: 'thumb' } },
  { id: 'sample.jpg', o: { transformation: ['a', 'b'], width: 10 } },
  { id: 'sample.jpg', o: { transformation: [{ width: 100 }, 'named'] } },
  { id: 'sample.jpg', o: { raw_transformation: 'e_sepia,w_100', width: 50 } },
  { id: 'folder/sample.jpg', o: {} },
  { id: 'folder/sample', o: { version: 1712345678, format: 'png' } },
  { id: 'folder/sample.jpg', o: { force_version: false } },
  { id: 'deep/a/b/c.png', o: { width: 10 } },
  { id: 'v2/foo.jpg', o: {} },
  { id: 'a b+c.jpg', o: {} },
  { id: 'dossier/été à Paris.jpg', o: { width: 10 } },
  { id: 'x%20y.jpg', o: {} },
  { id: 'a:b&c=d?e#f.jpg', o: {} },
  { id: 'sample.jpg', o: { sign_url: true } },
  { id: 'sample.jpg', o: { sign_url: true, width: 300, crop: 'fill', gravity: 'auto', quality: 'auto' } },
  { id: 'folder/sample.jpg', o: { sign_url: true, version: 42 } },
  { id: 'sample.jpg', o: { sign_url: true, long_url_signature: true } },
  { id: 'folder/x', o: { sign_url: true, long_url_signature: true, format: 'webp', transformation: [{ width: 10 }, { dpr: 2 }] } },
  { id: 'https://example.com/images/photo.jpg', o: { type: 'fetch', width: 300 } },
  { id: 'https://example.com/images/photo', o: { type: 'fetch', format: 'png' } },
  { id: 'https://example.com/a b/photo.jpg?size=large&x=1', o: { type: 'fetch', sign_url: true, width: 100 } },
  { id: 'http://example.com//double//slash.jpg', o: { type: 'fetch', fetch_format: 'auto', quality: 'auto' } },
  { id: 'https://example.com/é.jpg', o: { type: 'fetch', sign_url: true, long_url_signature: true } },
  { id: 'secret/file.png', o: { type: 'private', sign_url: true } },
  { id: 'sample.jpg', o: { type: 'authenticated', sign_url: true, width: 100 } },
  { id: 'sample.jpg', o: { type: 'private', width: 100 } },
  {
    id: 'sample.jpg',
    o: { aspectRatio: '4:3', crop: 'fill', width: 400, fetchFormat: 'auto' },
    theirs: { aspect_ratio: '4:3', crop: 'fill', width: 400, fetch_format: 'auto' },
  },
  {
    id: 'folder/sample.jpg',
    o: { signUrl: true, longUrlSignature: true, defaultImage: 'x.png', colorSpace: 'srgb' },
    theirs: { sign_url: true, long_url_signature: true, default_image: 'x.png', color_space: 'srgb' },
  },
  {
    id: 'folder/sample.jpg',
    o: { rawTransformation: 'e_vignette', resourceType: 'image', forceVersion: false, responsiveWidth: true },
    theirs: { raw_transformation: 'e_vignette', resource_type: 'image', force_version: false, responsive_width: true },
  },
  {
    id: 'sample.jpg',
    o: { transformation: [{ aspectRatio: 2, crop: 'fill', width: 10 }, { fetchFormat: 'avif' }] },
    theirs: { transformation: [{ aspect_ratio: 2, crop: 'fill', width: 10 }, { fetch_format: 'avif' }] },
  },
  { id: 'sample.jpg', o: { cloud: 'demo2', width: 10 } },
  { id: 'folder/sample.jpg', o: { cloud: 'tenant', sign_url: true } },
  { id: 'sample.jpg', o: { secure: false, width: 10 } },
  { id: 'sample.jpg', o: { if: 'width > 300', width: 300, crop: 'scale' } },
  { id: 'sample.jpg', o: { if: 'initial_width >= 1000 && face_count != 0', effect: 'pixelate_faces' } },
  { id: 'sample.jpg', o: { $w: 'width * 2', $h: 100, variables: [['$a', 'initial_width / 2']], width: '$w' } },
  { id: 'sample.jpg', o: { overlay: 'logo', gravity: 'south_east', x: 10, y: 10, width: 50 } },
  { id: 'sample.jpg', o: { overlay: { public_id: 'brand/logo', format: 'png' }, flags: 'relative', width: 0.2 } },
  { id: 'sample.jpg', o: { overlay: { font_family: 'Arial', font_size: 40, font_weight: 'bold', text: 'Hello, World/1 (ok)' } } },
  { id: 'sample.jpg', o: { overlay: { font_family: 'Roboto', font_size: 12, letter_spacing: 4, text_align: 'center', text: 'Ünïcode $(name) & more' } } },
  { id: 'sample.jpg', o: { overlay: 'fetch:https://example.com/logo.png', width: 100 } },
  { id: 'sample.jpg', o: { underlay: 'bg', crop: 'pad', width: 500 } },
  { id: 'sample.jpg', o: { size: '300x200', crop: 'fill' } },
  { id: 'sample.jpg', o: { shorten: true, width: 10 } },
  { id: 'sample.jpg', o: { responsive_width: true, width: 100 } },
  { id: 'sample.jpg', o: { color: '#ff00ff', effect: 'colorize:50' } },
  { id: 'sample.tiff', o: { density: 300, color_space: 'srgb', prefix: 'pre', delay: 20 } },
  { id: 'image/upload/v1234/folder/x.jpg', o: { width: 10 } },
  { id: 'https://example.com/not-processed.jpg', o: {} },
  { id: 'sample.jpg', o: { custom_function: { function_type: 'wasm', source: 'blur.wasm' } } },
  { id: 'sample.jpg', o: { custom_function: { function_type: 'remote', source: 'https://fn.example.com/f?a=1' } } },
  { id: 'sample.jpg', o: { zoom: '1.5', crop: 'thumb', gravity: 'face', width: 100, height: 100 } },
  { id: 'a//b.jpg', o: {} },
  { id: 'https://x.com/a.jpg', o: { type: 'upload' } },
  { id: 'a.jpg', o: { version: 'v5' } },
  { id: 'a.jpg', o: { width: '', crop: undefined } },
  { id: 'a.jpg', o: { effect: { a: 1, b: 2 } } },
  { id: 'a.jpg', o: { radius: 0, angle: 0, x: 0, opacity: 0 } },
  { id: 'a.jpg', o: { transformation: [], flags: [] } },
  { id: 'a.jpg', o: { overlay: { resource_type: 'image', type: 'private', public_id: 'x' } } },
  {
    id: 'a.jpg',
    o: { quality: 'auto', transformation: [{ if: 'aspect_ratio > 1.5', width: 10 }, { if: 'else', width: 20 }, { if: 'end' }] },
  },
  { id: 'a%2Fb.jpg', o: {} },
  { id: '$weird.jpg', o: {} },
];

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
