import t from 'tap';
import sharp from 'sharp';
import path from 'node:path';
import { createMetrics } from '../src/metrics.ts';
import { repoRoot } from './helpers/core-fixtures.ts';
import { startServer } from './helpers/harness.ts';

t.test('increments appear with names and labels', async (t) => {
  const m = createMetrics({ collectDefault: false });
  m.recordHttp('image', 200, 42);
  m.recordHttp('image', 200, 1);
  m.recordHttp('image', 404, 3);
  m.transformPhase.observe({ phase: 'encode' }, 0.3);
  m.cacheLookups.inc({ tier: 'l2', result: 'hit' });
  m.transformsInFlight.inc(2);
  m.transformsQueued.set(5);
  m.originFetch.observe({ result: 'ok' }, 0.02);
  m.originErrors.inc({ reason: 'timeout' });
  m.transformsTotal.inc(3);

  const text = await m.registry.metrics();
  t.match(text, /^aperture_http_requests_total\{route="image",status="200"\} 2$/m);
  t.match(text, /^aperture_http_requests_total\{route="image",status="404"\} 1$/m);
  t.match(text, /^aperture_http_request_duration_seconds_bucket\{le="0\.05",route="image",status="200"\} 2$/m);
  t.match(text, /^aperture_http_request_duration_seconds_bucket\{le="0\.025",route="image",status="200"\} 1$/m);
  t.match(text, /^aperture_http_request_duration_seconds_bucket\{le="0\.002",route="image",status="200"\} 1$/m);
  t.match(text, /^aperture_http_request_duration_seconds_bucket\{le="\+Inf",route="image",status="200"\} 2$/m);
  t.match(text, /^aperture_http_request_duration_seconds_sum\{route="image",status="200"\} 0\.043\d*$/m);
  t.match(text, /^aperture_http_request_duration_seconds_count\{route="image",status="404"\} 1$/m);
  t.match(text, /# HELP aperture_http_request_duration_seconds Time from request/);
  m.recordHttp('image', 200, 5);
  t.match(await m.registry.metrics(), /^aperture_http_requests_total\{route="image",status="200"\} 3$/m, 'the counter follows later responses');
  t.match(text, /^aperture_transform_phase_seconds_count\{phase="encode"\} 1$/m);
  t.match(text, /^aperture_transform_phase_seconds_count\{phase="resize"\} 0$/m, 'known phases pre-zeroed');
  t.match(text, /^aperture_cache_lookups_total\{tier="l2",result="hit"\} 1$/m);
  t.match(text, /^aperture_cache_lookups_total\{tier="l1",result="miss"\} 0$/m, 'known tiers pre-zeroed');
  t.match(text, /^aperture_transforms_in_flight 2$/m);
  t.match(text, /^aperture_transforms_queued 5$/m);
  t.match(text, /^aperture_origin_fetch_seconds_sum\{result="ok"\} 0\.02$/m);
  t.match(text, /^aperture_origin_errors_total\{reason="timeout"\} 1$/m);
  t.match(text, /^aperture_transforms_total 3$/m);
  t.match(text, /# TYPE aperture_http_request_duration_seconds histogram/);
  t.notMatch(text, /process_resident_memory_bytes/, 'no default metrics when turned off');
  t.notMatch(text, /aperture_shared_tier_up/, 'no tier gauge without a tier');
});

t.test('libvips and sharp gauges read live values', async (t) => {
  const m = createMetrics({ collectDefault: false });
  await sharp({ create: { width: 64, height: 64, channels: 3, background: '#f00' } }).png().toBuffer();
  const text = await m.registry.metrics();
  const cur = /^aperture_libvips_memory_bytes\{kind="current"\} (\d+)$/m.exec(text);
  const high = /^aperture_libvips_memory_bytes\{kind="high"\} (\d+)$/m.exec(text);
  t.ok(cur && high, 'memory gauges present');
  t.equal(Number(high![1]) % (1024 * 1024), 0, 'reported in bytes (sharp counts whole MB)');
  t.ok(Number(high![1]) >= Number(cur![1]));
  t.match(text, /^aperture_libvips_cache_items \d+$/m);
  t.match(text, /^aperture_sharp_tasks\{state="queued"\} \d+$/m);
  t.match(text, /^aperture_sharp_tasks\{state="processing"\} \d+$/m);
});

t.test('registries are independent; default metrics on request', async (t) => {
  const a = createMetrics();
  const b = createMetrics();
  a.transformsTotal.inc();
  t.match(await a.registry.metrics(), /^aperture_transforms_total 1$/m);
  t.match(await b.registry.metrics(), /^aperture_transforms_total 0$/m, 'b untouched by a');
  t.match(await a.registry.metrics(), /^process_resident_memory_bytes \d+/m, 'RSS from default metrics');
  t.equal(a.registry.contentType.startsWith('text/plain'), true);
});

t.test('shared tier gauge follows the tier', async (t) => {
  const tier = { connected: false };
  const m = createMetrics({ collectDefault: false, sharedTier: tier });
  t.match(await m.registry.metrics(), /^aperture_shared_tier_up 0$/m);
  tier.connected = true;
  t.match(await m.registry.metrics(), /^aperture_shared_tier_up 1$/m);
});

t.test('the server counts every response: image hits, 304s, errors, other routes', async (t) => {
  const { app } = await startServer(t, { listen: false, config: { storageDir: path.join(repoRoot, 'images') } });
  const first = await app.inject({ url: '/image/upload/w_20/rocket.jpg' });
  t.equal(first.statusCode, 200);
  await app.inject({ url: '/image/upload/w_20/rocket.jpg' });
  await app.inject({ url: '/image/upload/w_20/rocket.jpg', headers: { 'if-none-match': String(first.headers.etag) } });
  await app.inject({ url: '/image/upload/w_abc/rocket.jpg' });
  await app.inject({ url: '/image/upload/nothing-here.jpg' });
  await app.inject({ url: '/health' });
  await app.inject({ method: 'POST', url: '/image/upload/rocket.jpg' });
  const text = (await app.inject({ url: '/metrics' })).body;
  t.match(text, /^aperture_http_requests_total\{route="image",status="200"\} 2$/m, 'a miss and a hit');
  t.match(text, /^aperture_http_requests_total\{route="image",status="304"\} 1$/m);
  t.match(text, /^aperture_http_requests_total\{route="image",status="400"\} 1$/m);
  t.match(text, /^aperture_http_requests_total\{route="image",status="404"\} 1$/m);
  t.match(text, /^aperture_http_requests_total\{route="\/health",status="200"\} 1$/m);
  t.match(text, /^aperture_http_requests_total\{route="unmatched",status="404"\} 1$/m);
  t.match(text, /^aperture_http_request_duration_seconds_count\{route="image",status="200"\} 2$/m);
});

t.test('L1 hits counted on the hot path appear at scrape time', async (t) => {
  const m = createMetrics({ collectDefault: false });
  m.countL1Hit();
  m.countL1Hit();
  t.match(await m.registry.metrics(), /^aperture_cache_lookups_total\{tier="l1",result="hit"\} 2$/m);
  m.countL1Hit();
  t.match(await m.registry.metrics(), /^aperture_cache_lookups_total\{tier="l1",result="hit"\} 3$/m);
});
