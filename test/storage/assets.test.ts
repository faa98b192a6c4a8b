/**
 * The asset store contract, run against both backends: a folder and a real S3-compatible
 * server (s3rver in a child process). Same calls, same answers.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createAssetStore } from '../../src/storage/assets.ts';
import { createFileBlobs } from '../../src/storage/blob-file.ts';
import { createS3Blobs, parseS3Url } from '../../src/storage/blob-s3.ts';
import type { AssetMeta, AssetStore } from '../../src/storage/types.ts';
import { startS3 } from '../helpers/s3.ts';

const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#c03' } }).jpeg().toBuffer();
const png = await sharp({ create: { width: 20, height: 10, channels: 4, background: '#0c38' } }).png().toBuffer();
const meta = (publicId: string, format: string, body: Buffer, extra: Partial<AssetMeta> = {}): AssetMeta => ({
  publicId, format, version: 1700000000, width: 40, height: 30, bytes: body.length, tags: [], context: {},
  createdAt: '2026-12-06T00:00:00.000Z', etag: '', ...extra,
});

t.test('s3:// URLs', async (t) => {
  t.same(parseS3Url('s3://my-bucket/some/prefix/'), { bucket: 'my-bucket', prefix: 'some/prefix/' });
  t.same(parseS3Url('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
  t.throws(() => parseS3Url('s3://B/x'), /not an s3/);
  t.throws(() => parseS3Url('http://bucket/x'), /not an s3/);
});

async function contract(t: Test, store: AssetStore, inspect: () => Promise<string[]>) {
  t.equal(await store.head('shoes/red'), undefined, 'nothing stored yet');
  await store.put(meta('shoes/red', 'jpg', jpeg, { tags: ['sale'], context: { alt: 'Red shoe' } }), jpeg);
  const h = await store.head('shoes/red');
  t.equal(h?.format, 'jpg');
  t.same(h?.tags, ['sale']);
  t.same(h?.context, { alt: 'Red shoe' });
  t.match(h?.etag, /^[0-9a-f]{32}$/, 'etag is the content MD5');
  const got = await store.get('shoes/red');
  t.ok(got?.body.equals(jpeg), 'bytes round-trip');

  // overwrite with another format replaces the old object
  await store.put(meta('shoes/red', 'png', png, { version: 1700000100 }), png);
  t.equal((await store.head('shoes/red'))?.format, 'png');
  t.notOk((await inspect()).includes('shoes/red.jpg'), 'the old extension is gone');
  t.ok((await inspect()).includes('shoes/red.png'));

  await store.put(meta('shoes/blue', 'jpg', jpeg, { tags: ['sale'] }), jpeg);
  await store.put(meta('hats/green', 'jpg', jpeg), jpeg);
  const all = await store.list({ max: 500 });
  t.same(all.assets.map((a) => a.publicId), ['hats/green', 'shoes/blue', 'shoes/red'], 'listed in public-id order');
  t.equal(all.nextCursor, undefined);
  const p1 = await store.list({ max: 1, prefix: 'shoes/' });
  t.same(p1.assets.map((a) => a.publicId), ['shoes/blue']);
  const p2 = await store.list({ max: 1, prefix: 'shoes/', cursor: p1.nextCursor });
  t.same(p2.assets.map((a) => a.publicId), ['shoes/red'], 'the cursor continues');
  t.same((await store.list({ max: 10, tag: 'sale' })).assets.map((a) => a.publicId), ['shoes/blue']);
  await t.rejects(store.list({ max: 1, cursor: 'not a cursor!' }), /next_cursor/);

  t.equal(await store.delete('shoes/blue'), true);
  t.equal(await store.delete('shoes/blue'), false, 'a second delete finds nothing');
  t.equal(await store.head('shoes/blue'), undefined);
  t.notOk((await inspect()).some((k) => k.includes('shoes/blue')), 'bytes and metadata both removed');
}

t.test('folder backend', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-assets-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const store = createAssetStore(createFileBlobs(root));
  const walk = async (d: string, rel = ''): Promise<string[]> => (await fs.readdir(d, { withFileTypes: true }))
    .flatMap((e) => (e.isDirectory() ? [] : [rel + e.name]))
    .concat(...(await Promise.all((await fs.readdir(d, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => walk(path.join(d, e.name), `${rel}${e.name}/`)))));
  await contract(t, store, () => walk(root));

  // an original placed by hand is an asset too, its size read from the header
  await fs.writeFile(path.join(root, 'by-hand.png'), png);
  const h = await store.head('by-hand');
  t.same([h?.width, h?.height, h?.format], [20, 10, 'png']);
  t.ok((await walk(root)).every((f) => !f.includes('.tmp-')), 'no temporary files left');
  await t.rejects(createFileBlobs(root).put('../escape.jpg', jpeg, 'image/jpeg'), /leaves the root/);
});

t.test('S3 backend on a real S3-compatible server', async (t) => {
  const s3 = await startS3();
  t.teardown(() => s3.stop());
  const blobs = createS3Blobs(s3.url('originals'), s3.endpoint);
  const store = createAssetStore(blobs);
  t.teardown(() => store.close());
  const raw = createS3Blobs(s3.url(), s3.endpoint);
  t.teardown(() => raw.close());
  const inspect = async () => (await raw.list('originals/', undefined, 1000)).keys.map((k) => k.slice('originals/'.length));
  await contract(t, store, inspect);
});

t.test('a listing reads metadata 8 at a time, in key order, and its cursor holds across reads', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-assets-list-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const blobs = createFileBlobs(root);
  let inFlight = 0;
  let most = 0;
  const counted = {
    ...blobs,
    get: async (key: string) => {
      const meta = key.startsWith('.meta/');
      if (meta) most = Math.max(most, ++inFlight);
      try { return await blobs.get(key); } finally { if (meta) inFlight--; }
    },
  };
  const store = createAssetStore(counted);
  const ids = Array.from({ length: 20 }, (_, i) => `p/a${String(i).padStart(2, '0')}`);
  for (const [i, id] of ids.entries()) await store.put(meta(id, 'jpg', jpeg, { tags: i % 2 ? [] : ['even'] }), jpeg);
  most = 0;
  const all = await store.list({ max: 100, prefix: 'p/' });
  t.same(all.assets.map((a) => a.publicId), ids, 'all 20, in public-id order');
  t.equal(most, 8, 'eight metadata reads in flight at most, and that many at once');
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ max: 3, prefix: 'p/', tag: 'even', ...(cursor ? { cursor } : {}) });
    t.ok(page.assets.length <= 3, 'a page holds at most max');
    seen.push(...page.assets.map((a) => a.publicId));
    cursor = page.nextCursor;
  } while (cursor);
  t.same(seen, ids.filter((_, i) => i % 2 === 0), 'paging by 3 through a tag filter returns each tagged asset once, in order');
});
