/**
 * The Upload and Admin APIs driven by the official `cloudinary` Node SDK, unchanged, pointed at
 * Aperture with `upload_prefix` (through a TLS terminator: the SDK speaks HTTPS only), on a
 * folder backend. What the SDK stores is then delivered by the image route.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { opensslAvailable, startTlsProxy } from '../helpers/tls-proxy.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';
import { stagedCount } from '../../src/origin/staging.ts';

type Cld = { config(o: Record<string, unknown>): void; uploader: Record<string, (...a: unknown[]) => Promise<Record<string, unknown>>>; api: Record<string, (...a: unknown[]) => Promise<Record<string, unknown>>> };
const cloudinary = (createRequire(import.meta.url)('cloudinary') as { v2: Cld }).v2;

const KEY = '123456789012345', SECRET = 'test-api-secret', CLOUD = 'aperture-test';

if (!opensslAvailable) {
  t.comment('NOTICE: openssl is not installed; the SDK test (needs a TLS terminator) is skipped');
  t.test('official SDK against the Upload API', { skip: 'no openssl' }, async () => {});
} else {
  const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-upload-'));
  t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
  const server = await startServer(t, { config: { storageDir: storage, apiKey: KEY, secret: SECRET, cloudName: CLOUD } });
  const proxy = await startTlsProxy(server.port);
  t.teardown(() => proxy.close());
  cloudinary.config({ cloud_name: CLOUD, api_key: KEY, api_secret: SECRET, upload_prefix: proxy.base, secure: true });
  const opts = (o: Record<string, unknown> = {}) => ({ ...o, agent: proxy.agent });
  const photo = path.join(repoRoot, 'images/coffee.png');
  const listFiles = async () => (await fs.readdir(storage, { recursive: true })).map(String).sort();

  t.test('upload a file with tags, context and eager', async (t) => {
    const r = await cloudinary.uploader.upload(photo, opts({ public_id: 'menu/coffee', tags: ['drinks', 'hot'], context: 'alt=A cup|lang=en', eager: [{ width: 120, crop: 'scale' }] }));
    t.equal(r.public_id, 'menu/coffee');
    t.equal(r.format, 'png');
    const m = await sharp(photo).metadata();
    t.same([r.width, r.height], [m.width, m.height], 'size read from the image');
    t.same(r.tags, ['drinks', 'hot']);
    t.same(r.context, { custom: { alt: 'A cup', lang: 'en' } });
    t.match(r.secure_url, new RegExp(`/image/upload/v${r.version}/menu/coffee\\.png$`));
    const eager = r.eager as Record<string, unknown>[];
    t.equal(eager.length, 1);
    t.equal(eager[0].width, 120, 'eager result rendered at its width');
    t.equal(eager[0].transformation, 'c_scale,w_120');
    const got = await server.get(`/image/upload/w_50/v${r.version}/menu/coffee.png`);
    t.equal(got.status, 200, 'the stored original is delivered');
    t.equal((await sharp(got.body).metadata()).width, 50);
  });

  t.test('upload a data URI with a generated public id', async (t) => {
    const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#123456' } }).png().toBuffer();
    const r = await cloudinary.uploader.upload(`data:image/png;base64,${png.toString('base64')}`, opts({ folder: 'generated' }));
    t.match(r.public_id, /^generated\/[a-z0-9]{20}$/);
    t.same([r.width, r.height, r.bytes], [8, 6, png.length]);
  });

  t.test('a refused upload stores nothing', async (t) => {
    const before = await listFiles();
    await t.rejects(cloudinary.uploader.upload(photo, { public_id: 'nope', agent: proxy.agent, api_secret: 'wrong-secret' }), { http_code: 401, message: /Invalid Signature/ }, 'wrong secret: 401');
    const truncated = (await fs.readFile(path.join(repoRoot, 'images/rocket.jpg'))).subarray(0, 2000);
    await t.rejects(cloudinary.uploader.upload(`data:image/jpeg;base64,${truncated.toString('base64')}`, opts({ public_id: 'truncated' })), { http_code: 400, message: /Invalid image file/ } as object as Error, 'truncated JPEG refused');
    await t.rejects(cloudinary.uploader.upload(photo, opts({ public_id: '../escape' })), { http_code: 400, message: /dotted/ });
    await t.rejects(cloudinary.uploader.upload(photo, opts({ public_id: 'x', notification_url: 'https://example.invalid/' })), { http_code: 400, message: /Unsupported parameter notification_url/ });
    t.same(await listFiles(), before, 'no file written by any of them');
  });

  t.test('format= may name the file\'s format by any of its extensions; another format is refused', async (t) => {
    const jpeg = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#345678' } }).jpeg().toBuffer();
    const uri = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
    for (const format of ['jpg', 'jpeg', 'jpe']) {
      const r = await cloudinary.uploader.upload(uri, opts({ public_id: `formats/${format}`, format }));
      t.equal(r.format, 'jpg', `format=${format} of a JPEG: stored as jpg`);
    }
    const png = await cloudinary.uploader.upload(uri, opts({ public_id: 'formats/png', format: 'png' }));
    t.equal(png.format, 'png', 'format=png of a JPEG: converted and stored as png');
  });

  t.test('overwrite=false keeps the original', async (t) => {
    const first = await fs.readFile(path.join(storage, 'menu/coffee.png'));
    await t.rejects(cloudinary.uploader.upload(path.join(repoRoot, 'images/cat.png'), opts({ public_id: 'menu/coffee', overwrite: false })), /409/);
    t.ok((await fs.readFile(path.join(storage, 'menu/coffee.png'))).equals(first), 'bytes unchanged');
  });

  t.test('overwrite serves the new picture at the unversioned URL', async (t) => {
    const before = await server.get('/image/upload/menu/coffee.png');
    const r = await cloudinary.uploader.upload(path.join(repoRoot, 'images/cat.png'), opts({ public_id: 'menu/coffee' }));
    const after = await server.get('/image/upload/menu/coffee.png');
    t.equal(after.status, 200);
    t.notOk(after.body.equals(before.body), 'new bytes');
    const cat = await sharp(path.join(repoRoot, 'images/cat.png')).metadata();
    t.same([r.width, (await sharp(after.body).metadata()).width], [cat.width, cat.width]);
  });

  t.test('explicit, rename, destroy', async (t) => {
    const e = await cloudinary.uploader.explicit('menu/coffee', opts({ type: 'upload', tags: ['renamed-soon'], eager: [{ width: 60, crop: 'scale', format: 'webp' }] }));
    t.same(e.tags, ['renamed-soon']);
    t.equal((e.eager as Record<string, unknown>[])[0].format, 'webp');
    const r = await cloudinary.uploader.rename('menu/coffee', 'menu/tea', opts());
    t.equal(r.public_id, 'menu/tea');
    t.equal((await server.get('/image/upload/menu/coffee.png')).status, 404, 'old id gone');
    t.equal((await server.get('/image/upload/menu/tea.png')).status, 200, 'new id served');
    t.same(await cloudinary.uploader.destroy('menu/tea', opts()), { result: 'ok' });
    t.same(await cloudinary.uploader.destroy('menu/tea', opts()), { result: 'not found' });
    t.equal((await server.get('/image/upload/menu/tea.png')).status, 404);
  });

  t.test('incoming transformation and format are applied before storing', async (t) => {
    // The SDK turns width/crop upload options into `transformation=c_scale,w_100`.
    const r = await cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/small', width: 100, crop: 'scale' }));
    t.equal(r.width, 100, 'answer: the stored width');
    t.equal(r.format, 'png', 'no format: the source format is kept');
    const stored = await fs.readFile(path.join(storage, 'incoming/small.png'));
    t.equal((await sharp(stored).metadata()).width, 100, 'the stored original is 100 px wide');
    t.equal(r.bytes, stored.length);
    const orig = await sharp(photo).metadata();
    t.equal(r.height, Math.round((orig.height! * 100) / orig.width!), 'aspect ratio kept');

    const w = await cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/converted', format: 'webp' }));
    t.equal(w.format, 'webp');
    const webp = await fs.readFile(path.join(storage, 'incoming/converted.webp'));
    t.equal((await sharp(webp).metadata()).format, 'webp', 'stored as WebP');
    t.same([w.width, w.height], [orig.width, orig.height], 'format alone keeps the size');
    const got = await server.get(`/image/upload/v${w.version}/incoming/converted.webp`);
    t.equal(got.status, 200);
    t.same(await sharp(got.body).metadata().then((m) => [m.format, m.width]), ['webp', orig.width], 'delivery serves the stored WebP');

    const both = await cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/both', transformation: [{ width: 40, height: 40, crop: 'fill' }, { effect: 'grayscale' }], format: 'jpg' }));
    t.same([both.width, both.height, both.format], [40, 40, 'jpg']);
    const stats = await sharp(await fs.readFile(path.join(storage, 'incoming/both.jpg'))).stats();
    t.ok(Math.abs(stats.channels[0].mean - stats.channels[1].mean) < 1, 'grayscale applied (chained transformation)');

    // jpg source, format jpeg: no conversion, the bytes are stored as sent.
    const rocket = path.join(repoRoot, 'images/rocket.jpg');
    const same = await cloudinary.uploader.upload(rocket, opts({ public_id: 'incoming/same', format: 'jpeg' }));
    t.equal(same.format, 'jpg');
    t.ok((await fs.readFile(path.join(storage, 'incoming/same.jpg'))).equals(await fs.readFile(rocket)), 'same format: stored byte for byte');
    t.equal(stagedCount(), 0, 'every staged source released');
  });

  t.test('a refused incoming transformation stores nothing', async (t) => {
    const before = await listFiles();
    await t.rejects(cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/bad1', width: 'abc', crop: 'scale' })), { http_code: 400, message: /incoming transformation c_scale,w_abc failed: Invalid width/ } as object as Error);
    await t.rejects(cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/bad2', effect: 'gen_remove:prompt_cup' })), { http_code: 400, message: /gen_remove/ } as object as Error, 'unsupported key named');
    await t.rejects(cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/bad3', format: 'exe' })), { http_code: 400, message: /Invalid format "exe"/ } as object as Error);
    await t.rejects(cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/bad4', raw_transformation: 'w_10/../x' })), { http_code: 400, message: /not a transformation/ } as object as Error);
    await t.rejects(cloudinary.uploader.upload(photo, opts({ public_id: 'incoming/bad5', width: 10, flags: 'getinfo' })), { http_code: 400, message: /Invalid image file/ } as object as Error, 'a render that is not an image is refused');
    t.same(await listFiles(), before, 'no file written');
    t.equal(stagedCount(), 0, 'every staged source released');
    const staged = await server.get('/image/upload/w_10/00000000000000000000000000000000.png');
    t.equal(staged.status, 404, 'no staged id is served once its upload is over');
  });

  t.test('Admin API: list, details, delete', async (t) => {
    for (const id of ['a/one', 'a/two', 'b/three']) await cloudinary.uploader.upload(photo, opts({ public_id: id, tags: id === 'a/two' ? ['pick'] : [] }));
    const all = await cloudinary.api.resources(opts({ type: 'upload', prefix: 'a/', max_results: 1 }));
    t.same((all.resources as { public_id: string }[]).map((x) => x.public_id), ['a/one']);
    const next = await cloudinary.api.resources(opts({ type: 'upload', prefix: 'a/', max_results: 1, next_cursor: all.next_cursor }));
    t.same((next.resources as { public_id: string }[]).map((x) => x.public_id), ['a/two']);
    const tagged = await cloudinary.api.resources_by_tag('pick', opts());
    t.same((tagged.resources as { public_id: string }[]).map((x) => x.public_id), ['a/two']);
    const one = await cloudinary.api.resource('b/three', opts());
    t.equal(one.public_id, 'b/three');
    t.ok(Array.isArray(one.derived));
    const del = await cloudinary.api.delete_resources(['a/one', 'missing'], opts());
    t.same(del.deleted, { 'a/one': 'deleted', missing: 'not_found' });
    await t.rejects(cloudinary.api.resources({ agent: proxy.agent, api_secret: 'wrong' }), { error: { http_code: 401 } } as object as Error, 'wrong Basic credentials: 401');
  });
}
