/**
 * Signatures through the real delivery route (url-api.md §6): URLs built by the official
 * `cloudinary` SDK with the test secret are served; tampered, forged, unsigned or wrongly
 * signed ones answer 401 with X-Cld-Error and are never cached; strict mode lets only the
 * allow-listed transformations through unsigned.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { computeSignature } from '../../src/security/signature.ts';
import { startServer } from '../helpers/harness.ts';

const require = createRequire(import.meta.url);
const cloudinary = require('cloudinary') as {
  v2: { url(publicId: string, options: Record<string, unknown>): string };
};

const SECRET = 'b';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-access-'));
const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#3a6' } }).jpeg().toBuffer();
// Each delivery type has its own folder (the default private/authenticated roots are siblings).
for (const root of [dir, `${dir}-private`, `${dir}-authenticated`]) {
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  await fs.mkdir(path.join(root, 'folder'), { recursive: true });
  for (const name of ['image.jpg', 'sample.jpg', 'folder/a b.jpg', 'héllo wörld.jpg']) {
    await fs.writeFile(path.join(root, name), jpeg);
  }
}

/** The test storage, signed with the test secret. */
const SIGNED = { storageDir: dir, secret: SECRET };

/** The path (with the SDK's query) of a URL the official SDK builds for a private CDN host. */
function sdkPath(publicId: string, options: Record<string, unknown>, secret = SECRET): string {
  const full = cloudinary.v2.url(publicId, {
    sign_url: true, secure: true, private_cdn: true, secure_distribution: '127.0.0.1',
    api_secret: secret, cloud_name: 'demo', ...options,
  });
  const u = new URL(full);
  if (u.host !== '127.0.0.1') throw new Error(`SDK built ${full} for another host`);
  return u.pathname + u.search;
}

function get(app: FastifyInstance, url: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url });
}

async function assert401(t: Test, app: FastifyInstance, url: string, what: string): Promise<void> {
  const r = await get(app, url);
  t.equal(r.statusCode, 401, `${what}: 401 (${url})`);
  t.match(String(r.headers['x-cld-error']), /signature/i, `${what}: X-Cld-Error names the signature`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: not cacheable`);
}

async function assert200(t: Test, app: FastifyInstance, url: string, what: string, width?: number): Promise<void> {
  const r = await get(app, url);
  t.equal(r.statusCode, 200, `${what}: 200 (${url})${r.statusCode !== 200 ? ` ${String(r.headers['x-cld-error'])}` : ''}`);
  if (r.statusCode === 200) {
    t.match(String(r.headers['content-type']), /^image\//, `${what}: an image`);
    if (width !== undefined) {
      const m = await sharp(r.rawPayload).metadata();
      t.equal(m.width, width, `${what}: width ${width}`);
    }
  }
}

t.test('documented vectors, built by the SDK, served through the route', async (t) => {
  const { app } = await startServer(t, { listen: false, config: SIGNED });
  const crop = sdkPath('image.jpg', { type: 'upload', transformation: [{ crop: 'crop', width: 10, height: 20 }] });
  t.match(crop, /^\/image\/upload\/s--Ai4Znfl3--\/c_crop,h_20,w_10\/image\.jpg(\?|$)/, 'SDK reproduces the documented c_crop vector');
  await assert200(t, app, crop, 'signed upload (documented vector)', 10);

  for (const type of ['private', 'authenticated'] as const) {
    const short = sdkPath('sample.jpg', { type });
    t.match(short, new RegExp(`^/image/${type}/s--v2fTPYTu--/sample\\.jpg(\\?|$)`), `${type}: documented short vector`);
    await assert200(t, app, short, `${type} short signature`);
    const long = sdkPath('sample.jpg', { type, long_url_signature: true });
    t.match(long, new RegExp(`^/image/${type}/s--2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFf--/sample\\.jpg(\\?|$)`), `${type}: documented long vector`);
    await assert200(t, app, long, `${type} long signature`);
    const tr = sdkPath('image.jpg', { type, transformation: [{ crop: 'crop', width: 10, height: 20 }] });
    t.match(tr, /s--Ai4Znfl3--\/c_crop,h_20,w_10\/image\.jpg/, `${type}: the vector does not depend on the type`);
    await assert200(t, app, tr, `${type} with a transformation`, 10);
  }
  // The same paths written by hand (no SDK query string).
  await assert200(t, app, '/image/private/s--v2fTPYTu--/sample.jpg', 'hand-written documented vector');
  await assert200(t, app, '/demo/image/private/s--v2fTPYTu--/sample.jpg', 'with a cloud segment');
});

t.test('SDK URLs with more parameters, folders and escaping', async (t) => {
  const { app } = await startServer(t, { listen: false, config: SIGNED });
  const cases: Array<[string, Record<string, unknown>, number | undefined]> = [
    ['sample.jpg', { type: 'private', transformation: [{ width: 20, crop: 'scale' }, { angle: 90 }] }, undefined],
    ['sample', { type: 'private', format: 'png', width: 16, crop: 'fill', height: 16, gravity: 'north' }, 16],
    ['folder/a b.jpg', { type: 'authenticated', width: 30, crop: 'scale' }, 30],
    ['héllo wörld', { type: 'private', format: 'jpg', width: 12 }, 12],
    ['sample.jpg', { type: 'private', quality: 'auto', fetch_format: 'auto', width: 25 }, 25],
  ];
  for (const [id, opts, width] of cases) {
    const p = sdkPath(id, opts);
    await assert200(t, app, p, `SDK ${id} ${JSON.stringify(opts)}`, width);
  }
});

t.test('tampering, forgery, missing signatures', async (t) => {
  const { app } = await startServer(t, { listen: false, config: SIGNED });
  const good = sdkPath('image.jpg', { type: 'private', transformation: [{ crop: 'crop', width: 10, height: 20 }] });
  await assert200(t, app, good, 'untampered');
  // one character of the signature changed
  await assert401(t, app, good.replace('s--Ai4Znfl3--', 's--Ai4Znfl4--'), 'signature one character off');
  // the transformation changed under a valid signature
  await assert401(t, app, good.replace('w_10', 'w_11'), 'transformation changed');
  // the public id changed under a valid signature
  await assert401(t, app, good.replace('image.jpg', 'sample.jpg'), 'public id changed');
  // extension changed (the extension is signed)
  await assert401(t, app, good.replace('image.jpg', 'image.png'), 'extension changed');
  // signed with another secret
  await assert401(t, app, sdkPath('sample.jpg', { type: 'private' }, 'not-the-secret'), 'wrong secret');
  await assert401(t, app, sdkPath('sample.jpg', { type: 'authenticated', long_url_signature: true }, 'c'), 'wrong secret (long)');
  // missing on private / authenticated
  await assert401(t, app, '/image/private/sample.jpg', 'private without signature');
  await assert401(t, app, '/image/authenticated/w_10/sample.jpg', 'authenticated without signature');
  // long signature truncated to the short length, and a short one padded
  await assert401(t, app, '/image/private/s--2hbrSMPO--/sample.jpg', 'long signature cut to 8');
  // a signature for the text with the signature segment moved after the components
  await assert401(t, app, '/image/private/c_crop,h_20,w_10/s--Ai4Znfl3--/image.jpg', 'signature in the wrong place');
  // On a public upload URL a signature is not needed, so a junk one is not checked (as Cloudinary).
  await assert200(t, app, '/image/upload/s--AAAAAAAA--/sample.jpg', 'public upload with a junk signature');
  // no secret configured: nothing private can be served, even with the right signature
  const { app: bare } = await startServer(t, { listen: false, config: { ...SIGNED, secret: '' } });
  await assert401(t, bare, '/image/private/s--v2fTPYTu--/sample.jpg', 'server without a secret');
});

t.test('the version segment is not signed', async (t) => {
  const { app } = await startServer(t, { listen: false, config: SIGNED });
  const p = sdkPath('sample', { type: 'private', format: 'png', version: 123 });
  t.match(p, /\/v123\/sample\.png/, 'SDK put the version in');
  await assert200(t, app, p, 'versioned SDK URL');
  await assert200(t, app, p.replace('/v123/', '/v999/'), 'another version, same signature');
  await assert200(t, app, p.replace('/v123/', '/'), 'no version, same signature');
  // A signature that covers the version text is not the Cloudinary scheme.
  const withVersion = computeSignature('v123/sample.png', SECRET);
  await assert401(t, app, `/image/private/s--${withVersion}--/v123/sample.png`, 'version included in the signed text');
  const r = await get(app, p);
  t.match(String(r.headers['cache-control']), /immutable/, 'versioned URL is immutable');
});

t.test('percent-encoded public ids are signed as written', async (t) => {
  const { app } = await startServer(t, { listen: false, config: SIGNED });
  const encoded = 'h%C3%A9llo%20w%C3%B6rld.jpg';
  const asWritten = computeSignature(`w_14/${encoded}`, SECRET);
  await assert200(t, app, `/image/private/s--${asWritten}--/w_14/${encoded}`, 'signature over the encoded text', 14);
  // The same signature over the decoded text is a different signature: refused.
  const decodedSig = computeSignature('w_14/héllo wörld.jpg', SECRET);
  t.not(decodedSig, asWritten);
  await assert401(t, app, `/image/private/s--${decodedSig}--/w_14/${encoded}`, 'signature over the decoded text');
  // The bytes differ only by encoding: an encoded letter that needs no encoding changes the text.
  const plain = computeSignature('sample.jpg', SECRET);
  await assert401(t, app, `/image/private/s--${plain}--/sampl%65.jpg`, 'needlessly encoded letter changes the signed text');
  // Folders: the SDK adds v1; the signed text is folder/a%20b.jpg.
  const folderSig = computeSignature('folder/a%20b.jpg', SECRET);
  await assert200(t, app, `/image/authenticated/s--${folderSig}--/v1/folder/a%20b.jpg`, 'folder with an encoded space');
});

t.test('strict mode', async (t) => {
  // Through the environment, as an operator would set it.
  const { app, config: cfg } = await startServer(t, {
    listen: false,
    env: { APERTURE_SECRET: SECRET, APERTURE_STRICT: '1', APERTURE_STRICT_ALLOW: 'w_20|c_fill,h_10,w_10' },
    config: { storageDir: dir },
  });
  t.equal(cfg.strict, true, 'APERTURE_STRICT=1 → strict');
  t.same(cfg.strictAllowed, ['w_20', 'c_fill,h_10,w_10'], 'APERTURE_STRICT_ALLOW is |-separated');
  t.throws(() => loadConfig({ APERTURE_STRICT: '1' }), /APERTURE_SECRET/, 'strict without a secret fails at boot');

  await assert401(t, app, '/image/upload/w_30/sample.jpg', 'unsigned transformation not allowed');
  await assert401(t, app, '/image/upload/w_20/w_30/sample.jpg', 'allowed component followed by another');
  await assert401(t, app, '/image/upload/h_10,w_10,c_fill/sample.jpg', 'allowed text reordered is another text');
  await assert200(t, app, '/image/upload/w_20/sample.jpg', 'allowed transformation', 20);
  await assert200(t, app, '/image/upload/c_fill,h_10,w_10/sample.jpg', 'allowed multi-parameter transformation', 10);
  await assert200(t, app, '/image/upload/sample.jpg', 'no transformation = the original');
  const signed = sdkPath('sample.jpg', { type: 'upload', width: 30, crop: 'scale' });
  await assert200(t, app, signed, 'signed transformation', 30);
  await assert401(t, app, signed.replace('w_30', 'w_31'), 'signed then tampered');
  await assert401(t, app, sdkPath('sample.jpg', { type: 'upload', width: 30, crop: 'scale' }, 'c'), 'signed with another secret');
  await assert401(t, app, '/image/upload/a_90/sample.jpg', 'angle unsigned');
  // Not strict: the same unsigned URL is served.
  const { app: open } = await startServer(t, { listen: false, config: SIGNED });
  await assert200(t, open, '/image/upload/w_30/sample.jpg', 'not strict: unsigned is fine', 30);
});
