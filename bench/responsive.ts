/**
 * Responsive delivery benchmark (`npx tsx bench/responsive.ts`), printed as Markdown for the
 * "Responsive" section of BENCHMARKS.md:
 * 1. hint parsing + dpr_auto/w_auto rounding + breakpoint snapping, resolutions per second
 *    (and the whole per-request resolvePlan of a `w_auto,dpr_auto` plan);
 * 2. a hinted request (`w_auto,dpr_auto` with Sec-CH-Width/Sec-CH-DPR) against a plain cache
 *    hit (`w_800`, same output) over real HTTP on 127.0.0.1, warm caches, one load loop;
 * 3. cold breakpoints of a 2560 px photo (cups.jpg from the shared corpus), and cached.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import sharp from 'sharp';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';
import { parseHints } from '../src/negotiate/client-hints.ts';
import { autoDpr, requiredWidth, roundWidth, snapToBreakpoint } from '../src/responsive/auto-width.ts';
import { computeBreakpoints, clearBreakpointCache } from '../src/responsive/breakpoints.ts';
import { resolvePlan } from '../src/negotiate/resolve.ts';
import { parsePlan } from '../src/plan/parse.ts';
import { readSourceMeta } from '../src/render/source-meta.ts';
import { outputSettings } from '../src/render/render.ts';

const CUPS = process.env.BENCH_CUPS ?? path.resolve('../shared/corpus/photos/cups.jpg');
const out: string[] = [];
const say = (s = '') => { out.push(s); console.log(s); };
const ROUNDS = 16, PER_ROUND = 1500;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function microbench(): { perSec: number; ns: number } {
  const headers = Array.from({ length: 64 }, (_, i) => (i % 4 === 0
    ? { 'sec-ch-viewport-width': String(320 + i * 7), 'sec-ch-dpr': String(1 + (i % 3) * 0.5) }
    : { 'sec-ch-width': String(200 + i * 37), 'sec-ch-dpr': String(1 + (i % 3) * 0.5), accept: 'image/avif,image/webp,*/*' }));
  const bps = [50, 262, 371, 455, 525, 587, 643, 694, 742, 787, 830, 870, 909, 946, 982, 1000];
  let acc = 0;
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const h = parseHints(headers[i & 63]);
      const dpr = autoDpr(h, 3);
      const need = requiredWidth(h, 3, 387, dpr) ?? 0;
      acc += dpr + roundWidth(need, 100, 8192) + snapToBreakpoint(bps, need);
    }
  };
  run(200_000);
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const n = 1_000_000;
    const t0 = process.hrtime.bigint();
    run(n);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(n / s);
  }
  if (acc === 42) console.log('');
  const perSec = median(rates);
  return { perSec, ns: 1e9 / perSec };
}

async function resolveBench(buffer: Buffer): Promise<number> {
  const config = testConfig();
  const source = { buffer, identity: 'bench-cups', name: 'cups.jpg' };
  const meta = await readSourceMeta(source, config);
  const plan = parsePlan(['w_auto,dpr_auto']);
  const hints = parseHints({ 'sec-ch-width': '800', 'sec-ch-dpr': '2' });
  const n = 200_000;
  for (let i = 0; i < 20_000; i++) await resolvePlan(plan, { hints, vary: new Set(), config, source, meta, plan });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await resolvePlan(plan, { hints, vary: new Set(), config, source, meta, plan });
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function load(pool: Pool, p: string, headers: Record<string, string>, total: number, conc: number) {
  const lat: number[] = [];
  let next = 0, bytes = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      const r = await pool.request({ method: 'GET', path: p, headers });
      const b = Buffer.from(await r.body.arrayBuffer());
      if (r.statusCode !== 200) throw new Error(`${p}: ${r.statusCode}`);
      bytes = b.length;
      lat.push(performance.now() - t0);
    }
  };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, worker));
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  lat.sort((a, b) => a - b);
  // CPU of this process (server and load generator) per request: unlike wall time, barely
  // moved by other processes competing for the cores.
  const cpuUs = (c.user + c.system) / total;
  return { rps: total / s, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], bytes, cpuUs };
}

async function httpBench(dir: string, id: string) {
  const app = await buildServer(testConfig({ storageDir: dir }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8, pipelining: 1 });
  const plain = { p: `/image/upload/w_800/${id}`, h: {} as Record<string, string> };
  const hinted = { p: `/image/upload/w_auto,dpr_auto/${id}`, h: { 'sec-ch-width': '800', 'sec-ch-dpr': '2' } };
  for (const c of [plain, hinted]) {
    const r = await pool.request({ method: 'GET', path: c.p, headers: c.h });
    const body = Buffer.from(await r.body.arrayBuffer());
    const m = await sharp(body).metadata();
    if (m.width !== 800) throw new Error(`${c.p}: width ${m.width}`);
  }
  const rounds: Record<'plain' | 'hinted', Array<Awaited<ReturnType<typeof load>>>> = { plain: [], hinted: [] };
  await load(pool, plain.p, plain.h, 2000, 8);
  await load(pool, hinted.p, hinted.h, 2000, 8);
  // Short interleaved rounds, order alternating: other load on the machine drifts over
  // seconds, so each pair of rounds sees about the same conditions.
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const first = r % 2 === 0 ? 'plain' : 'hinted';
    const a = await load(pool, (first === 'plain' ? plain : hinted).p, (first === 'plain' ? plain : hinted).h, PER_ROUND, 8);
    const b = await load(pool, (first === 'plain' ? hinted : plain).p, (first === 'plain' ? hinted : plain).h, PER_ROUND, 8);
    const [pl, hi] = first === 'plain' ? [a, b] : [b, a];
    rounds.plain.push(pl);
    rounds.hinted.push(hi);
    ratios.push(hi.rps / pl.rps);
  }
  await pool.close();
  await app.close();
  const sum = (k: 'plain' | 'hinted') => ({
    rps: median(rounds[k].map((x) => x.rps)), p50: median(rounds[k].map((x) => x.p50)),
    p99: median(rounds[k].map((x) => x.p99)), bytes: rounds[k][0].bytes, cpuUs: median(rounds[k].map((x) => x.cpuUs)),
    range: `${Math.min(...rounds[k].map((x) => x.rps)).toFixed(0)}–${Math.max(...rounds[k].map((x) => x.rps)).toFixed(0)}`,
  });
  return { plain: sum('plain'), hinted: sum('hinted'), ratio: median(ratios) };
}

async function coldBreakpoints(buffer: Buffer) {
  const config = testConfig();
  const source = { buffer, identity: 'bench-cups-bp', name: 'cups.jpg' };
  const meta = await readSourceMeta(source, config);
  const input = { source, meta, before: [], out: outputSettings({ components: [], canonical: '' }, 'jpeg', meta), config };
  const spec = { min: 50, max: 1000, kb: 20, count: 20 };
  const cold: number[] = [], cpu: number[] = [];
  let last;
  for (let i = 0; i < 5; i++) {
    clearBreakpointCache();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    last = await computeBreakpoints(input, spec);
    cold.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const warm: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    await computeBreakpoints(input, spec);
    warm.push(performance.now() - t0);
  }
  const wide = { ...spec, max: 2560 };
  clearBreakpointCache();
  const t0 = performance.now();
  const full = await computeBreakpoints(input, wide);
  const fullMs = performance.now() - t0;
  return { cold, cpu, warm: median(warm), result: last!, full, fullMs };
}

const load1 = os.loadavg()[0];
say(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), load average at start ${load1.toFixed(2)}`);
say();
const m = microbench();
say(`**Hint parsing + rounding + breakpoint snapping:** ${(m.perSec / 1e6).toFixed(2)} M resolutions/s (${m.ns.toFixed(0)} ns each; parseHints on a header object, autoDpr, requiredWidth, roundWidth, binary search in 16 breakpoints; median of 5 × 1 M).`);

let buffer: Buffer;
let dir: string;
let id: string;
if (fs.existsSync(CUPS)) {
  buffer = fs.readFileSync(CUPS);
  dir = path.dirname(CUPS);
  id = path.basename(CUPS);
} else {
  say(`(${CUPS} absent: using a generated 2560×1600 image)`);
  buffer = await sharp({ create: { width: 2560, height: 1600, channels: 3, background: '#888', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).blur(1.2).jpeg({ quality: 90 }).toBuffer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-bench-'));
  id = 'cups.jpg';
  fs.writeFileSync(path.join(dir, id), buffer);
}
const rp = await resolveBench(buffer);
say(`**Whole resolvePlan of \`w_auto,dpr_auto\`** (async, allocates the resolved plan): ${(rp / 1e6).toFixed(2)} M/s.`);
say();

const h = await httpBench(dir, id);
say(`| warm L1 hit, 127.0.0.1, undici Pool, 8 in flight, ${ROUNDS} interleaved rounds × ${PER_ROUND} | req/s median (range) | p50 ms | p99 ms | CPU µs/request | body |`);
say('|---|---|---|---|---|---|');
say(`| plain \`w_800/${id}\` | ${h.plain.rps.toFixed(0)} (${h.plain.range}) | ${h.plain.p50.toFixed(2)} | ${h.plain.p99.toFixed(2)} | ${h.plain.cpuUs.toFixed(0)} | ${h.plain.bytes} B |`);
say(`| hinted \`w_auto,dpr_auto/${id}\` + Sec-CH-Width 800, Sec-CH-DPR 2 | ${h.hinted.rps.toFixed(0)} (${h.hinted.range}) | ${h.hinted.p50.toFixed(2)} | ${h.hinted.p99.toFixed(2)} | ${h.hinted.cpuUs.toFixed(0)} | ${h.hinted.bytes} B |`);
say();
say(`Hinted / plain throughput: **${(h.ratio * 100).toFixed(1)} %** (median of the per-round ratios; ratio of medians ${((h.hinted.rps / h.plain.rps) * 100).toFixed(1)} %; target >= 90 %). CPU per request, hinted / plain: **${((h.hinted.cpuUs / h.plain.cpuUs) * 100).toFixed(1)} %**.`);
say();

const b = await coldBreakpoints(buffer);
say(`**Cold breakpoints, ${id} (2560×1600), jpeg, defaults 50/1000/20 KB/20:** wall ${b.cold.map((x) => x.toFixed(0)).join(', ')} ms (median ${median(b.cold).toFixed(0)} ms), process CPU (all threads) median ${median(b.cpu).toFixed(0)} ms, ${b.result.samples.length} encodes, breakpoints ${b.result.breakpoints.join(', ')}; cached: ${(b.warm * 1000).toFixed(1)} µs median.`);
say(`With max 2560: ${b.fullMs.toFixed(0)} ms, ${b.full.samples.length} encodes, ${b.full.breakpoints.length} breakpoints (${b.full.breakpoints.join(', ')}).`);
say(`Load average at end: ${os.loadavg()[0].toFixed(2)}`);
