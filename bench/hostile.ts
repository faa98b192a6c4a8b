/**
 * Event-loop stalls from hostile input (issue 12, items 1 and 2): the latency of /health
 * while N hostile requests run in parallel against the real server on 127.0.0.1.
 *
 *   npx tsx bench/hostile.ts [inm=100] [svg=100] [spaces=150000]
 *
 * - inm: N parallel GETs of one cached image with `If-None-Match: "a<15,000 spaces>b"`.
 * - svg: N parallel /image/fetch GETs of distinct SVG URLs (no coalescing, no cache) served by a
 *   loopback origin: `<svg>` + `spaces` spaces + a rect.
 * /health is probed one request at a time during each storm; the report gives the probe
 * latencies (median, max), the storm's wall time and the load average. Not part of `npm test`;
 * figures go to BENCHMARKS.md ("Hostile input").
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';

const inmCount = Number(process.argv[2] ?? 100);
const svgCount = Number(process.argv[3] ?? 100);
const spaces = Number(process.argv[4] ?? 150_000);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-hostile-'));
await fs.copyFile(path.join(root, 'images', 'cat.png'), path.join(dir, 'cat.png'));
const bomb = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">${' '.repeat(spaces)}<rect width="40" height="30" fill="teal"/></svg>`);
const origin = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'image/svg+xml' }); res.end(bomb); });
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const O = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

const app = await buildServer(testConfig({ storageDir: dir, fetchAllow: ['127.0.0.1'], queueSize: 1000 }), { defaultMetrics: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const pool = new Pool(base, { connections: Math.max(inmCount, svgCount) + 2 });

async function get(p: Pool, url: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await p.request({ path: url, method: 'GET', headers });
  await r.body.dump();
  return r.statusCode;
}

/**
 * /health latencies (ms), one probe at a time, until `done` settles. The prober runs in a
 * worker thread: in this thread it would stall with the server and miss the stalls.
 */
const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let stop = false;
const out = [];
parentPort.on('message', () => { stop = true; });
(async () => {
  // One warm-up request (connection, JIT), not counted; then the main thread starts the storm.
  await new Promise((resolve) => http.get(workerData + '/health', { agent }, (res) => { res.resume(); res.on('end', resolve); }));
  parentPort.postMessage('ready');
  while (!stop) {
    const t0 = performance.now();
    await new Promise((resolve) => http.get(workerData + '/health', { agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', resolve));
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  parentPort.postMessage(out);
  agent.destroy();
})();
`;

async function probe<T>(run: () => Promise<T>): Promise<{ lat: number[]; result: T }> {
  const w = new Worker(PROBER, { eval: true, workerData: base });
  const messages: unknown[] = [];
  let wake = () => {};
  w.on('message', (m) => { messages.push(m); wake(); });
  const next = async () => { while (!messages.length) await new Promise<void>((r) => { wake = r; }); return messages.shift(); };
  await next(); // ready
  const result = await run();
  w.postMessage('stop');
  const lat = (await next()) as number[];
  await w.terminate();
  return { lat, result };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;

async function storm(name: string, requests: () => Promise<number>[]): Promise<void> {
  const t0 = performance.now();
  const { lat, result: statuses } = await probe(() => Promise.all(requests()));
  const wall = performance.now() - t0;
  const hist = new Map<number, number>();
  for (const s of statuses) hist.set(s, (hist.get(s) ?? 0) + 1);
  console.log(`${name}: ${statuses.length} requests in ${(wall / 1000).toFixed(2)} s (statuses ${[...hist].map(([s, n]) => `${s}:${n}`).join(' ')}); `
    + `/health ${lat.length} probes, median ${median(lat).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

const { lat: idle } = await probe(() => new Promise((r) => setTimeout(r, 1000)));
console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString()}`);
console.log(`idle: /health median ${median(idle).toFixed(1)} ms, max ${Math.max(...idle).toFixed(1)} ms; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const url = '/image/upload/w_50/cat.png';
await get(pool, url);
const inm = `"a${' '.repeat(15_000)}b"`;
if (inmCount) await storm(`If-None-Match "a<15,000 spaces>b" ×${inmCount}`, () => Array.from({ length: inmCount }, () => get(pool, url, { 'if-none-match': inm })));
if (svgCount) await storm(`SVG with ${spaces} spaces ×${svgCount} (distinct fetch URLs)`, () => Array.from({ length: svgCount }, (_, i) => get(pool, `/image/fetch/${O}/bomb-${i}.svg`)));

await pool.close();
await app.close();
origin.close();
await fs.rm(dir, { recursive: true, force: true });
