/**
 * Issue 12 item 7, through real HTTP:
 * - `private` and `authenticated` assets live in their own folders: an `upload` asset is 404
 *   as `private`/`authenticated` (even validly signed) and the other way round;
 * - strict mode: an extension that converts the stored format is a transformation (401
 *   unsigned, also when a signed request already cached the result); the stored format's own
 *   extensions are the original; `f_` in an allowed transformation overrides the extension;
 * - strict mode: an unsigned `fetch` URL is 401 before anything else is looked at (a bad
 *   transformation, a refused address, an allowed origin that is never contacted).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { computeSignature } from '../../src/security/signature.ts';
import { startServer } from '../helpers/harness.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

const SECRET = 'strict-secret';
const base = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-types-'));
t.teardown(() => fs.rm(base, { recursive: true, force: true }));
const roots = { upload: path.join(base, 'up'), private: path.join(base, 'priv'), authenticated: path.join(base, 'auth') };
const png = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#c33' } }).png().toBuffer();
const jpeg = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#3c3' } }).jpeg().toBuffer();
for (const [type, root] of Object.entries(roots)) {
  await fs.mkdir(root, { recursive: true });
  await fs.writeFile(path.join(root, `${type}-only.png`), png);
}
await fs.writeFile(path.join(roots.upload, 'cat.png'), png);
await fs.writeFile(path.join(roots.upload, 'photo.jpg'), jpeg);

/** `/image/<type>/s--sig--/<text>` signed with the test secret. */
const signed = (type: string, text: string) => `/image/${type}/s--${computeSignature(text, SECRET)}--/${text}`;

/** The secret and the three delivery-type folders, as the environment gives them. */
const TYPES = {
  APERTURE_SECRET: SECRET, APERTURE_STORAGE_DIR: roots.upload,
  APERTURE_PRIVATE_DIR: roots.private, APERTURE_AUTHENTICATED_DIR: roots.authenticated,
};

t.test('each delivery type reads its own folder', async (t) => {
  const s = await startServer(t, { env: TYPES });
  const status = async (p: string) => (await s.get(p)).status;
  t.equal(await status('/image/upload/upload-only.png'), 200, 'upload asset as upload');
  t.equal(await status(signed('private', 'upload-only.png')), 404, 'upload asset as private (signed): 404');
  t.equal(await status(signed('authenticated', 'upload-only.png')), 404, 'upload asset as authenticated (signed): 404');
  t.equal(await status(signed('private', 'private-only.png')), 200, 'private asset as private (signed)');
  t.equal(await status('/image/upload/private-only.png'), 404, 'private asset as upload: 404');
  t.equal(await status(signed('authenticated', 'private-only.png')), 404, 'private asset as authenticated: 404');
  t.equal(await status(signed('authenticated', 'authenticated-only.png')), 200, 'authenticated asset as authenticated (signed)');
  t.equal(await status(signed('private', 'authenticated-only.png')), 404, 'authenticated asset as private: 404');
  t.equal(await status('/image/private/private-only.png'), 401, 'private unsigned: 401');
  const r = await s.get(signed('private', 'w_10/private-only.png'));
  t.equal(r.status, 200, 'signed private transformation');
  t.equal((await sharp(r.body).metadata()).width, 10);
});

t.test('storage folders: defaults beside the storage folder, never nested', async (t) => {
  const cfg = loadConfig({ APERTURE_STORAGE_DIR: roots.upload });
  t.equal(cfg.privateDir, `${roots.upload}-private`);
  t.equal(cfg.authenticatedDir, `${roots.upload}-authenticated`);
  t.throws(() => loadConfig({ APERTURE_STORAGE_DIR: roots.upload, APERTURE_PRIVATE_DIR: path.join(roots.upload, 'secret') }),
    /APERTURE_PRIVATE_DIR .* must not be inside or equal to APERTURE_STORAGE_DIR/, 'a private folder inside the upload folder is refused at boot');
  t.throws(() => loadConfig({ APERTURE_STORAGE_DIR: path.join(roots.authenticated, 'x'), APERTURE_AUTHENTICATED_DIR: roots.authenticated }),
    /APERTURE_STORAGE_DIR .* must not be inside/, 'nor the upload folder inside another');
  t.throws(() => loadConfig({ APERTURE_PRIVATE_DIR: base, APERTURE_AUTHENTICATED_DIR: base }), /must not be inside or equal/);
});

t.test('strict mode: a converting extension is a transformation', async (t) => {
  const s = await startServer(t, { env: { ...TYPES, APERTURE_STRICT: '1', APERTURE_STRICT_ALLOW: 'f_webp' } });
  const unsigned401 = async (p: string, what: string) => {
    const r = await s.get(p);
    t.equal(r.status, 401, `${what}: 401`);
    t.match(String(r.headers.get('x-cld-error')), /signed URL is required to convert png to (webp|gif|jpeg) by extension/, `${what}: says why`);
    t.equal(r.headers.get('cache-control'), 'no-store');
  };
  for (const p of ['cat', 'cat.png', 'photo.jpg', 'photo.jpeg', 'photo']) {
    const r = await s.get(`/image/upload/${p}`);
    t.equal(r.status, 200, `${p}: the original, unsigned`);
  }
  await unsigned401('/image/upload/cat.webp', 'png as webp');
  await unsigned401('/image/upload/cat.gif', 'png as gif');
  await unsigned401('/image/upload/cat.jpg', 'png as jpg');
  t.equal((await s.get('/image/upload/photo.png')).status, 401, 'jpeg as png');

  // A signed conversion is served and cached; the same URL unsigned is still refused.
  const ok = await s.get(signed('upload', 'cat.webp'));
  t.equal(ok.status, 200, 'signed conversion');
  t.equal(ok.headers.get('content-type'), 'image/webp');
  await unsigned401('/image/upload/cat.webp', 'png as webp after a signed request cached it');
  t.equal((await s.get('/image/upload/s--AAAAAAAA--/cat.png')).status, 401, 'a wrong signature is refused even where none is needed');

  // f_ in an allowed transformation sets the format; the extension changes nothing then.
  const f = await s.get('/image/upload/f_webp/cat.gif');
  t.equal(f.status, 200, 'allowed f_webp overrides the extension');
  t.equal(f.headers.get('content-type'), 'image/webp');
});

t.test('strict mode: unsigned fetch is 401 before any other check', async (t) => {
  const origin = await startOriginServer({
    '/a.jpg': (_req, res) => { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(jpeg); },
  });
  t.teardown(() => origin.close());
  const s = await startServer(t, {
    env: { ...TYPES, APERTURE_STRICT: '1', APERTURE_STRICT_ALLOW: 'w_10' },
    config: { fetchAllow: ['127.0.0.1'], fetchPorts: [origin.port] },
  });
  const remote = origin.url('/a.jpg');
  for (const [p, what] of [
    [`/image/fetch/${remote}`, 'no transformation, allowed origin'],
    [`/image/fetch/w_10/${remote}`, 'an allowed transformation'],
    ['/image/fetch/w_abc/http://a.test/x.jpg', 'an invalid transformation'],
    ['/image/fetch/t___proto__/http://a.test/x.jpg', 'a hostile named transformation'],
    ['/image/fetch/http://10.0.0.1/x.jpg', 'a private address'],
    ['/image/fetch/ftp:%2F%2Fa.test%2Fx', 'not an http URL'],
  ] as const) {
    const r = await s.get(p);
    t.equal(r.status, 401, `${what}: 401 (${String(r.headers.get('x-cld-error'))})`);
  }
  t.equal(origin.connections(), 0, 'the origin was never contacted');
  const r = await s.get(signed('fetch', `w_10/${remote}`));
  t.equal(r.status, 200, `signed fetch is served (${String(r.headers.get('x-cld-error'))})`);
  t.equal((await sharp(r.body).metadata()).width, 10);
  t.equal(origin.hits('/a.jpg'), 1, 'the signed one reached the origin');
});

t.test('not strict: unsigned fetch and conversions are served as before', async (t) => {
  const s = await startServer(t, { config: { storageDir: roots.upload } });
  const r = await s.get('/image/upload/cat.webp');
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-type'), 'image/webp');
});
