/**
 * Two instances on one S3-compatible server (s3rver, a real process) and one real redis-server:
 * what A accepts through the official SDK, B serves; after A overwrites, B's unversioned URL
 * gives the new picture as soon as A's invalidation message reaches B over Redis pub/sub (B's
 * clock never moves); after A destroys, B answers 404. With Redis stopped, B sees the change
 * once its revalidation period (APERTURE_STORAGE_REVALIDATE_MS, 1 s) has passed on B's clock,
 * which the test advances instead of sleeping. A's own caches change at once.
 */
import t from 'tap';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { manualClock, startServer, waitFor } from '../helpers/harness.ts';
import { opensslAvailable, startTlsProxy } from '../helpers/tls-proxy.ts';
import { startS3 } from '../helpers/s3.ts';
import { redisAvailable, redisSkipReason, startRedis } from '../helpers/redis.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';

type Cld = { config(o: Record<string, unknown>): void; uploader: Record<string, (...a: unknown[]) => Promise<Record<string, unknown>>> };
const cloudinary = (createRequire(import.meta.url)('cloudinary') as { v2: Cld }).v2;
const KEY = '555', SECRET = 'shared-secret', CLOUD = 'shared';

if (!opensslAvailable || !redisAvailable) {
  const why = !redisAvailable ? redisSkipReason : 'openssl is not installed';
  t.comment(`NOTICE: ${why}; the two-instance S3 test is skipped`);
  t.test('two instances on S3 and Redis', { skip: why }, async () => {});
} else {
  const s3 = await startS3();
  t.teardown(() => s3.stop());
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const config = { storageUrl: s3.url('originals'), s3Endpoint: s3.endpoint, redisUrl: redis.url, apiKey: KEY, secret: SECRET, cloudName: CLOUD, storageRevalidateMs: 1000 };
  const clockB = manualClock();
  const a = await startServer(t, { config });
  const b = await startServer(t, { config, clock: clockB });
  const proxy = await startTlsProxy(a.port);
  t.teardown(() => proxy.close());
  cloudinary.config({ cloud_name: CLOUD, api_key: KEY, api_secret: SECRET, upload_prefix: proxy.base, secure: true });
  const up = (file: string, o: Record<string, unknown> = {}) => cloudinary.uploader.upload(path.join(repoRoot, 'images', file), { public_id: 'hero', agent: proxy.agent, ...o });
  const meanRed = async (body: Buffer) => (await sharp(body).stats()).channels[0].mean;

  t.test('what A accepts, B serves', async (t) => {
    await up('coffee.png');
    const fromB = await b.get('/image/upload/w_80/hero.png');
    t.equal(fromB.status, 200);
    t.equal((await sharp(fromB.body).metadata()).width, 80);
    const fromA = await a.get('/image/upload/w_80/hero.png');
    t.ok(fromA.body.equals(fromB.body), 'same bytes on both');
  });

  t.test('an overwrite on A reaches B through Redis, without B waiting for its period', async (t) => {
    const before = await b.get('/image/upload/w_80/hero.png');
    t.equal(before.status, 200, 'B holds the old source');
    const seen = b.app.delivery.invalidations.received;
    const started = process.hrtime.bigint();
    await up('cat.png');
    const onA = await a.get('/image/upload/w_80/hero.png');
    t.notOk(onA.body.equals(before.body), 'A serves the new picture at once');
    await waitFor(() => b.app.delivery.invalidations.received > seen, "B receiving A's invalidation");
    t.comment(`B invalidated ${Number(process.hrtime.bigint() - started) / 1e6} ms after the upload call started`);
    const fresh = await b.get('/image/upload/w_80/hero.png');
    t.equal(fresh.status, 200);
    t.ok(fresh.body.equals(onA.body), "B serves the new picture; its clock has not moved");
    t.not(await meanRed(fresh.body), await meanRed(before.body));
  });

  t.test('a destroy on A is a 404 on B once the message arrives', async (t) => {
    const seen = b.app.delivery.invalidations.received;
    t.same(await cloudinary.uploader.destroy('hero', { agent: proxy.agent }), { result: 'ok' });
    t.equal((await a.get('/image/upload/w_80/hero.png')).status, 404, 'A: gone at once');
    await waitFor(() => b.app.delivery.invalidations.received > seen, "B receiving A's invalidation");
    t.equal((await b.get('/image/upload/w_80/hero.png')).status, 404, 'B: gone, without its clock moving');
  });

  t.test('Redis down: B sees an overwrite after its revalidation period', async (t) => {
    await up('coffee.png', { public_id: 'fallback' });
    const before = await b.get('/image/upload/w_80/fallback.png');
    t.equal(before.status, 200);
    await redis.stop();
    await waitFor(() => !a.app.delivery.tier.connected && !b.app.delivery.tier.connected, 'both instances seeing Redis down');
    const seen = b.app.delivery.invalidations.received;
    await up('cat.png', { public_id: 'fallback' });
    const onA = await a.get('/image/upload/w_80/fallback.png');
    t.notOk(onA.body.equals(before.body), 'A serves the new picture at once');
    const stillOld = await b.get('/image/upload/w_80/fallback.png');
    t.ok(stillOld.body.equals(before.body), 'B inside its period keeps the version it checked (no message came)');
    t.equal(b.app.delivery.invalidations.received, seen);
    clockB.advance(1001);
    const fresh = await b.get('/image/upload/w_80/fallback.png');
    t.equal(fresh.status, 200);
    t.ok(fresh.body.equals(onA.body), 'after the period, B serves the new picture');
  });
}
