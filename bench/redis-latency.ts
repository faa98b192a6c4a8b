/**
 * Shared-tier (Redis) read latency on loopback: `npx tsx bench/redis-latency.ts` (needs
 * redis-server). Not part of `npm test` (moved out of test/cache/redis-tier.test.ts, where it was
 * a timed assertion). Prints p50/p99 of 200 getResult calls for a 2 KB and a 200 KB result.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { testConfig } from '../src/config.ts';
import { createRedisTier } from '../src/cache/redis-tier.ts';
import { startRedis, redisAvailable } from '../test/helpers/redis.ts';

if (!redisAvailable) {
  console.error('bench/redis-latency.ts needs redis-server');
  process.exit(1);
}
const redis = await startRedis();
const quiet = { info: () => {}, warn: (m: string) => console.warn(m) };
const tier = createRedisTier(testConfig({ redisUrl: redis.url, redisTimeoutMs: 2000 }), quiet);
while (!tier.connected) await new Promise((r) => setTimeout(r, 10));
console.log(`| result | p50 ms | p99 ms |   (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}, ${new Date().toISOString().slice(0, 10)})`);
console.log('|---|---|---|');
for (const [label, size] of [['2 KB', 2048], ['200 KB', 200_000]] as const) {
  await tier.setResult(`lat-${size}`, { body: randomBytes(size), contentType: 'image/avif', etag: '"x"', meta: {} });
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = process.hrtime.bigint();
    if (!await tier.getResult(`lat-${size}`)) throw new Error('miss during the latency run');
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  times.sort((x, y) => x - y);
  console.log(`| ${label} | ${times[100].toFixed(3)} | ${times[198].toFixed(3)} |`);
}
await tier.close();
await redis.stop();
