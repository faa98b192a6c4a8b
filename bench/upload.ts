/**
 * Upload throughput and cache-hit latency while uploads run (issue #15 figures):
 *
 *   npm run bench:upload [-- seconds=20 uploaders=4]
 *
 * 1. Makes four 4 MP JPEG photos (2448×1632, upscaled from images/rocket.jpg, with grain so
 *    they weigh what camera JPEGs do, each tinted differently so no two are alike).
 * 2. Baseline: cache hits of one warm variant, paced at HIT_RATE requests/s over 4 connections
 *    (open loop: a late request is sent at once; its latency counts from when it was sent),
 *    for `seconds`.
 * 3. The same hits while `uploaders` loops upload the photos back to back (signed multipart,
 *    distinct public ids), for `seconds`: hit p50/p99, uploads/s, MB/s, upload p50/p99.
 * 4. Uploads alone, for `seconds`.
 *
 * Server in this process on 127.0.0.1 (as bench/load.ts), folder storage in a temp dir, the
 * default admission settings. Prints a Markdown block with the machine, date and load average
 * before and after (the machine may be shared). Target: cache-hit p99 < 20 ms with 4 uploads.
 */
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import sharp from 'sharp';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`${name}=`))?.split('=')[1] ?? def);
const seconds = arg('seconds', 20);
const uploaders = arg('uploaders', 4);
const HIT_RATE = 200;
const HIT_CONNECTIONS = 4;
const KEY = 'bench-key', SECRET = 'bench-secret', CLOUD = 'bench';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-bench-upload-'));
await fs.copyFile(path.join(root, 'images/rocket.jpg'), path.join(dir, 'rocket.jpg'));
const tints = ['#ffffff', '#ffe0c0', '#c0e0ff', '#e0ffc0'];
// Sensor-like grain, so the files weigh what camera photos of 4 MP weigh (an upscale alone is
// smooth and compresses to a fraction of that).
const grain = await sharp({ create: { width: 2448, height: 1632, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 24 } } }).png().toBuffer();
const photos = await Promise.all(tints.map(async (tint) => sharp(await sharp(path.join(root, 'images/rocket.jpg'))
  .resize(2448, 1632, { fit: 'fill', kernel: 'lanczos3' }).tint(tint).composite([{ input: grain, blend: 'soft-light' }]).png().toBuffer())
  .jpeg({ quality: 90 }).toBuffer()));
const meanBytes = photos.reduce((s, p) => s + p.length, 0) / photos.length;

const config = testConfig({ storageDir: dir, apiKey: KEY, secret: SECRET, cloudName: CLOUD, logLevel: 'silent' });
const app = await buildServer(config, { defaultMetrics: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as { port: number };
const base = `http://127.0.0.1:${port}`;
const hits = new Pool(base, { connections: HIT_CONNECTIONS, pipelining: 1 });
const HIT_PATH = '/image/upload/c_fill,w_300,h_200/rocket.jpg';

async function hit(): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await hits.request({ path: HIT_PATH, method: 'GET' });
  await r.body.arrayBuffer();
  if (r.statusCode !== 200) throw new Error(`hit answered ${r.statusCode}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * The upload client runs in a worker thread with its own event loop, so building multipart
 * bodies does not delay the server's event loop (which a separate client machine would not).
 * Plain JavaScript (eval), signing as src/upload/auth.ts does: sorted k=v, '&', secret, SHA-1.
 */
const UPLOAD_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const { base, cloud, key, secret, photos, loops, id } = workerData;
let stop = false, seq = 0;
parentPort.on('message', (m) => { if (m === 'stop') stop = true; });
const sign = (p) => crypto.createHash('sha1').update(Object.keys(p).sort().map((k) => k + '=' + p[k]).join('&') + secret).digest('hex');
async function one(photo) {
  const params = { public_id: 'bench/w' + id + '-' + (seq++), timestamp: String(Math.floor(Date.now() / 1000)) };
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...params, api_key: key, signature: sign(params) })) form.append(k, v);
  form.append('file', new Blob([photo]), 'photo.jpg');
  const start = process.hrtime.bigint();
  const res = await fetch(base + '/v1_1/' + cloud + '/image/upload', { method: 'POST', body: form });
  const json = await res.json();
  if (res.status !== 200 || json.width !== 2448) throw new Error('upload answered ' + res.status + ': ' + JSON.stringify(json).slice(0, 200));
  return Number(process.hrtime.bigint() - start) / 1e6;
}
(async () => {
  const lat = [];
  await Promise.all(Array.from({ length: loops }, async (_, k) => {
    for (let i = k; !stop; i++) lat.push(await one(photos[i % photos.length]));
  }));
  parentPort.postMessage(lat);
})().catch((e) => { console.error(e); process.exit(1); });
`;
let workerSeq = 0;

/** \`n\` upload loops (in a worker) running back to back until the returned stop() is called; resolves with their latencies. */
function uploadLoops(n: number): { stop(): void; done: Promise<number[]> } {
  const w = new Worker(UPLOAD_WORKER, { eval: true, workerData: { base, cloud: CLOUD, key: KEY, secret: SECRET, photos: photos.map((p) => new Uint8Array(p)), loops: n, id: workerSeq++ } });
  const done = new Promise<number[]>((resolve, reject) => {
    w.once('message', (lat: number[]) => { void w.terminate(); resolve(lat); });
    w.once('error', reject);
  });
  return { stop: () => w.postMessage('stop'), done };
}

/**
 * CPU milliseconds the main thread (the server's event loop) has used, from
 * /proc/self/task/<pid>/stat (utime + stime, in clock ticks of 10 ms): unlike latency, this does
 * not grow when other processes take the cores. NaN where /proc is absent.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};

/** Event-loop delay of the phase that ran last (the server shares this thread). */
let eld: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });

/** Hits paced at HIT_RATE/s for `ms`; each latency counts from when its request was sent. */
async function hitPhase(ms: number): Promise<number[]> {
  eld.disable();
  eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  const out: number[] = [];
  const interval = 1000 / HIT_RATE;
  const t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; performance.now() - t0 < ms; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(hit().then((l) => { out.push(l); }));
    if (inFlight.length > 1000) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  eld.disable();
  return out;
}

const load0 = os.loadavg();
// Warm: the variant is rendered once, then every request is an L1 hit.
await hit();
for (let i = 0; i < 200; i++) await hit();

const cpu0 = mainThreadCpuMs();
const baseline = await hitPhase(seconds * 1000);
const cpuBase = mainThreadCpuMs() - cpu0;
const eldBase = eld;

const cpu1 = mainThreadCpuMs();
const started = performance.now();
const during$ = uploadLoops(uploaders);
const during = await hitPhase(seconds * 1000);
const eldDuring = eld;
during$.stop();
const upLat = await during$.done;
const upSecs = (performance.now() - started) / 1000;
const cpuDuring = mainThreadCpuMs() - cpu1;

const cpu2 = mainThreadCpuMs();
const aloneStart = performance.now();
const alone$ = uploadLoops(uploaders);
await new Promise((r) => setTimeout(r, seconds * 1000));
alone$.stop();
const aloneLat = await alone$.done;
const aloneSecs = (performance.now() - aloneStart) / 1000;
const cpuAlone = mainThreadCpuMs() - cpu2;
const load1 = os.loadavg();

const f = (x: number) => x.toFixed(1);
const e = (h: IntervalHistogram) => `${(h.percentile(99) / 1e6).toFixed(1)} / ${(h.max / 1e6).toFixed(1)}`;
const cpus = os.cpus();
console.log(`Machine: ${cpus.length} × ${cpus[0]?.model ?? '?'}, Node ${process.version}, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`);
console.log(`Load average (1/5/15 min): before ${load0.map((l) => l.toFixed(2)).join(' / ')}, after ${load1.map((l) => l.toFixed(2)).join(' / ')}`);
console.log(`Photos: 4 × 2448×1632 JPEG q90 (4.0 MP), ${(meanBytes / 1e6).toFixed(2)} MB on average; ${uploaders} upload loops; hits of ${HIT_PATH} paced at ${HIT_RATE}/s over ${HIT_CONNECTIONS} connections; ${seconds} s per phase; concurrency ${config.concurrency}`);
console.log('');
console.log('| phase | cache hits | hit p50 ms | hit p99 ms | hit max ms | event-loop delay p99 / max ms | main thread CPU % | uploads | uploads/s | MB/s | upload p50 ms | upload p99 ms |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
console.log(`| hits alone | ${baseline.length} | ${f(pct(baseline, 50))} | ${f(pct(baseline, 99))} | ${f(Math.max(...baseline))} | ${e(eldBase)} | ${(cpuBase / seconds / 10).toFixed(0)} | — | — | — | — | — |`);
console.log(`| hits + ${uploaders} concurrent uploads | ${during.length} | ${f(pct(during, 50))} | ${f(pct(during, 99))} | ${f(Math.max(...during))} | ${e(eldDuring)} | ${(cpuDuring / upSecs / 10).toFixed(0)} | ${upLat.length} | ${(upLat.length / upSecs).toFixed(2)} | ${((upLat.length * meanBytes) / 1e6 / upSecs).toFixed(1)} | ${f(pct(upLat, 50))} | ${f(pct(upLat, 99))} |`);
console.log(`| ${uploaders} concurrent uploads alone | — | — | — | — | — | ${(cpuAlone / aloneSecs / 10).toFixed(0)} | ${aloneLat.length} | ${(aloneLat.length / aloneSecs).toFixed(2)} | ${((aloneLat.length * meanBytes) / 1e6 / aloneSecs).toFixed(1)} | ${f(pct(aloneLat, 50))} | ${f(pct(aloneLat, 99))} |`);

console.log('');
console.log(`Main-thread CPU per cache hit: ${(cpuBase / baseline.length).toFixed(3)} ms; per upload (uploads alone): ${(cpuAlone / aloneLat.length).toFixed(1)} ms`);
await hits.close();
await app.close();
await fs.rm(dir, { recursive: true, force: true });
