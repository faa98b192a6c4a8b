/**
 * Bounded loopback load: mixed hot (cached), cold (unique widths) and hostile requests at N
 * connections (undici Pool) against `app.listen` on 127.0.0.1, for a fixed duration.
 * Reports requests/s, a status histogram per class, latency percentiles (cache hits: target
 * p99 < 20 ms) and RSS every 10 s. Not part of `npm test`.
 *
 *   npx tsx bench/load.ts [seconds=120] [connections=32]
 *
 * Sources: images/ (shipped) plus, when ../shared/corpus exists, the bomb and the truncated
 * JPEGs from corpus/edge. Deliberate 503s (admission shedding) are expected under overload;
 * any other 5xx is reported as a failure (exit code 1).
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import sharp from 'sharp';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';

const seconds = Number(process.argv[2] ?? 120);
const connections = Number(process.argv[3] ?? 32);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const edge = path.resolve(root, '../shared/corpus/edge');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-load-'));
for (const f of ['rocket.jpg', 'cat.png', 'logo-alpha.png', 'animated.gif', 'coffee.png']) {
  await fs.copyFile(path.join(root, 'images', f), path.join(dir, f));
}
const rocket = await fs.readFile(path.join(dir, 'rocket.jpg'));
await fs.writeFile(path.join(dir, 'cut.jpg'), rocket.subarray(0, rocket.length >> 1));
await fs.writeFile(path.join(dir, 'junk.png'), Buffer.from('this is not a png at all'));
await fs.writeFile(path.join(dir, 'empty.png'), Buffer.alloc(0));
await fs.writeFile(path.join(dir, 'small.jpg'), await sharp(rocket).resize(320).jpeg().toBuffer());
const hasEdge = existsSync(edge);
if (hasEdge) {
  for (const f of ['bomb-16000x16000.png', 'truncated-half.jpg', 'truncated-small.jpg', 'not-an-image.jpg']) {
    await fs.copyFile(path.join(edge, f), path.join(dir, f));
  }
}

const cpus = os.availableParallelism?.() ?? os.cpus().length;
const config = testConfig({ storageDir: dir });
const app = await buildServer(config, { defaultMetrics: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as { port: number };
const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });

const HOT = [
  '/image/upload/w_200/rocket.jpg', '/image/upload/c_fill,g_auto,h_150,w_150/rocket.jpg', '/image/upload/w_300,f_webp,q_auto/cat.png',
  '/image/upload/c_pad,b_white,h_200,w_200/logo-alpha.png', '/image/upload/w_100/animated.gif', '/image/upload/e_grayscale,w_250/coffee.png',
  '/image/upload/c_thumb,g_face,h_100,w_100/small.jpg', '/image/upload/a_hflip,w_180/small.jpg', '/image/upload/r_max,w_120/cat.png',
  '/image/upload/f_avif,w_160/small.jpg', '/image/upload/q_60,w_400/rocket.jpg', '/image/upload/e_blur:200,w_200/small.jpg',
  '/image/upload/c_crop,h_100,w_100,x_10,y_10/rocket.jpg', '/image/upload/dpr_2.0,w_100/small.jpg', '/image/upload/fl_getinfo,w_50/rocket.jpg',
  '/image/upload/small.jpg',
];
const HOSTILE = [
  '/image/upload/w_abc/rocket.jpg', '/image/upload/zz_1/rocket.jpg', '/image/upload/w_9000/rocket.jpg', '/image/upload/w_10/missing.jpg',
  '/image/upload/w_10/cut.jpg', '/image/upload/w_10/junk.png', '/image/upload/empty.png', '/image/upload/e_background_removal:fineedges_y/rocket.jpg',
  '/image/upload/../../etc/passwd', '/image/private/rocket.jpg', '/image/upload/w_10,w_20/rocket.jpg', '/image/upload/w_%zz/rocket.jpg',
  ...(hasEdge ? ['/image/upload/bomb-16000x16000.png', '/image/upload/w_100/bomb-16000x16000.png', '/image/upload/w_50/truncated-half.jpg', '/image/upload/truncated-small.jpg', '/image/upload/not-an-image.jpg'] : []),
];
const COLD_SOURCES = ['small.jpg', 'rocket.jpg', 'cat.png'];

type Kind = 'hot' | 'cold' | 'hostile';
const lat: Record<Kind, number[]> = { hot: [], cold: [], hostile: [] };
const hist: Record<Kind, Map<number, number>> = { hot: new Map(), cold: new Map(), hostile: new Map() };
const hitLat: number[] = [];
const bad: string[] = [];
let errors = 0;

async function get(url: string): Promise<{ status: number; cache: string }> {
  const r = await pool.request({ path: url, method: 'GET', headers: { accept: 'image/avif,image/webp,*/*' } });
  await r.body.dump();
  const st = String(r.headers['server-timing'] ?? '');
  return { status: r.statusCode, cache: /cache;desc="(\w+)"/.exec(st)?.[1] ?? '' };
}

// Warm the hot set (and check it is servable).
for (const u of HOT) {
  const r = await get(u);
  if (r.status !== 200) console.warn(`hot URL not 200: ${u} → ${r.status}`);
}

let cold = 0;
function pick(): [Kind, string] {
  const x = Math.random();
  if (x < 0.7) return ['hot', HOT[Math.floor(Math.random() * HOT.length)]];
  if (x < 0.85) {
    const n = cold++;
    const src = COLD_SOURCES[n % COLD_SOURCES.length];
    // Unique per request: a width and a quality never asked before.
    return ['cold', `/image/upload/w_${60 + (Math.floor(n / 3) % 500)},q_${10 + (Math.floor(n / 1500) % 90)}/${src}`];
  }
  return ['hostile', HOSTILE[Math.floor(Math.random() * HOSTILE.length)]];
}

const rss: string[] = [];
const t0 = performance.now();
const deadline = t0 + seconds * 1000;
const sampler = setInterval(() => {
  rss.push(`${((performance.now() - t0) / 1000).toFixed(0)}s ${(process.memoryUsage().rss / 1048576).toFixed(0)}MB`);
}, 10_000);
let total = 0;

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const [kind, url] = pick();
    const s = performance.now();
    try {
      const r = await get(url);
      const ms = performance.now() - s;
      total++;
      lat[kind].push(ms);
      hist[kind].set(r.status, (hist[kind].get(r.status) ?? 0) + 1);
      if (kind === 'hot' && r.status === 200 && r.cache === 'l1') hitLat.push(ms);
      if (r.status >= 500 && r.status !== 503 && bad.length < 20) bad.push(`${r.status} ${url}`);
    } catch (e) {
      errors++;
      if (bad.length < 20) bad.push(`client error ${(e as Error).message} ${url}`);
    }
  }
}

await Promise.all(Array.from({ length: connections }, worker));
clearInterval(sampler);
const elapsed = (performance.now() - t0) / 1000;
rss.push(`end ${(process.memoryUsage().rss / 1048576).toFixed(0)}MB`);
await pool.close();
await app.close();
await fs.rm(dir, { recursive: true, force: true });

function pct(a: number[], p: number): string {
  if (a.length === 0) return '-';
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(1);
}
const fmtHist = (m: Map<number, number>) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`).join(' ');
const all = new Map<number, number>();
for (const k of ['hot', 'cold', 'hostile'] as Kind[]) for (const [s, n] of hist[k]) all.set(s, (all.get(s) ?? 0) + n);
const other5xx = [...all.entries()].filter(([s]) => s >= 500 && s !== 503).reduce((n, [, c]) => n + c, 0);

console.log(`## Load run ${new Date().toISOString().slice(0, 10)}: ${seconds} s, ${connections} connections, ${os.cpus()[0]?.model ?? 'cpu'} × ${cpus}, Node ${process.version}, concurrency ${config.concurrency}, queue ${config.queueSize}`);
console.log(`requests: ${total} in ${elapsed.toFixed(1)} s = ${(total / elapsed).toFixed(0)} req/s; client errors ${errors}`);
console.log(`statuses (all): ${fmtHist(all)}`);
for (const k of ['hot', 'cold', 'hostile'] as Kind[]) {
  console.log(`${k.padEnd(8)} n=${lat[k].length} p50=${pct(lat[k], 50)} p90=${pct(lat[k], 90)} p99=${pct(lat[k], 99)} ms; ${fmtHist(hist[k])}`);
}
console.log(`cache hits (L1) n=${hitLat.length} p50=${pct(hitLat, 50)} p99=${pct(hitLat, 99)} p99.9=${pct(hitLat, 99.9)} ms (target p99 < 20 ms)`);
console.log(`RSS: ${rss.join(', ')}`);
console.log(`5xx other than 503: ${other5xx}${bad.length ? ` e.g. ${bad.slice(0, 5).join(' | ')}` : ''}`);
process.exitCode = other5xx > 0 || errors > 0 ? 1 : 0;
