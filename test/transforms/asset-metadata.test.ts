/**
 * Conditions on asset metadata (url-api.md §8 `tags`, `ctx`): the tags and context the Upload
 * API stores with an asset (its sidecar in the asset store) are read by the local origin's
 * `asset` hook when a condition uses them. `if_!sale!_in_tags,e_grayscale` greys only the tagged
 * image; a change of tags changes the result (the key holds the resolved plan); an original
 * placed by hand has no tags; the S3 origin reads the same metadata.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { startServer } from '../helpers/harness.ts';
import { createAssetStore } from '../../src/storage/assets.ts';
import { createFileBlobs } from '../../src/storage/blob-file.ts';
import { createS3Blobs } from '../../src/storage/blob-s3.ts';
import { startS3 } from '../helpers/s3.ts';
import type { AssetMeta } from '../../src/storage/types.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-assetmeta-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
const store = createAssetStore(createFileBlobs(dir));
const red = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#e02020' } }).png().toBuffer();
const meta = (publicId: string, tags: string[], context: Record<string, string> = {}): AssetMeta => ({
  publicId, format: 'png', version: 1, width: 40, height: 30, bytes: red.length, tags, context, createdAt: new Date(0).toISOString(), etag: '',
});
await store.put(meta('shop/tagged', ['sale', 'new'], { lang: 'fr' }), red);
await store.put(meta('shop/plain', ['new']), red);
await fs.writeFile(path.join(dir, 'byhand.png'), red);

const s = await startServer(t, { config: { storageDir: dir } });

/** Spread between the channels of the mean colour: 0 for grey. */
async function chroma(url: string): Promise<number> {
  const r = await s.get(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.headers.get('x-cld-error')}`);
  const { channels } = await sharp(r.body).stats();
  const means = channels.slice(0, 3).map((c) => c.mean);
  return Math.max(...means) - Math.min(...means);
}

t.test('if_!sale!_in_tags greys only the tagged image', async (t) => {
  const tr = 'if_!sale!_in_tags,e_grayscale';
  t.ok(await chroma(`/image/upload/${tr}/shop/tagged.png`) < 3, 'tagged: grey');
  t.ok(await chroma(`/image/upload/${tr}/shop/plain.png`) > 100, 'not tagged: still red');
  t.ok(await chroma(`/image/upload/${tr}/byhand.png`) > 100, 'no sidecar: no tags');
  t.ok(await chroma('/image/upload/if_!sale!_nin_tags,e_grayscale/shop/plain.png') < 3, 'nin');
  t.ok(await chroma('/image/upload/if_!sale:new!_in_tags,e_grayscale/shop/tagged.png') < 3, 'every listed tag present');
  t.ok(await chroma('/image/upload/if_!sale:new!_in_tags,e_grayscale/shop/plain.png') > 100, 'one listed tag missing');
});

t.test('context values: ctx:!key! and !key!_in_ctx', async (t) => {
  t.ok(await chroma('/image/upload/if_ctx:!lang!_eq_!fr!,e_grayscale/shop/tagged.png') < 3, 'ctx:!lang! is fr');
  t.ok(await chroma('/image/upload/if_ctx:!lang!_eq_!fr!,e_grayscale/shop/plain.png') > 100, 'no context');
  t.ok(await chroma('/image/upload/if_!lang!_in_ctx,e_grayscale/shop/tagged.png') < 3, 'lang is a context key');
});

t.test('changing the tags changes the result', async (t) => {
  const url = '/image/upload/if_!promo!_in_tags,e_grayscale/w_20/shop/plain.png';
  const before = await s.get(url);
  t.ok(await chroma(url) > 100, 'untagged: red');
  await store.putMeta(meta('shop/plain', ['new', 'promo']));
  const after = await s.get(url);
  t.not(after.headers.get('etag'), before.headers.get('etag'), 'a new result');
  t.ok(await chroma(url) < 3, 'tagged now: grey');
  await store.putMeta(meta('shop/plain', ['new']));
  t.equal((await s.get(url)).headers.get('etag'), before.headers.get('etag'), 'untagged again: the first result');
});

t.test('the S3 origin reads the same metadata (s3rver)', async (t) => {
  const s3 = await startS3();
  t.teardown(() => s3.stop());
  const s3store = createAssetStore(createS3Blobs(s3.url('originals'), s3.endpoint));
  t.teardown(() => s3store.close());
  await s3store.put(meta('tagged', ['sale']), red);
  await s3store.put(meta('plain', []), red);
  const srv = await startServer(t, { config: { storageUrl: s3.url('originals'), s3Endpoint: s3.endpoint } });
  const grey = async (id: string) => {
    const r = await srv.get(`/image/upload/if_!sale!_in_tags,e_grayscale/${id}.png`);
    t.equal(r.status, 200, `${id}: ${r.headers.get('x-cld-error')}`);
    const means = (await sharp(r.body).stats()).channels.slice(0, 3).map((c) => c.mean);
    return Math.max(...means) - Math.min(...means) < 3;
  };
  t.ok(await grey('tagged'), 'tagged on S3: grey');
  t.notOk(await grey('plain'), 'untagged on S3: red');
});
