/**
 * Scale-out benchmark: `npx tsx bench/scale.ts` (needs redis-server and nginx; loopback only;
 * about 60-90 s). Not part of `npm test`. Prints a markdown table for BENCHMARKS.md
 * ("Scale-out") and a JSON line with the raw figures.
 *
 * - L1 vs L2 hit throughput on one ~30 KB result: instance A serves it from memory; instance B
 *   runs with APERTURE_CACHE_BYTES=1 (nothing fits in its L1), so every request is a Redis GET
 *   of the result A rendered;
 * - the shipped nginx edge (deploy/) in front of A and B on a hot set of URLs: edge hits/s;
 * - RSS of each instance after the run (the real `src/main.ts`, each in its own process).
 *
 * The load generator runs in this process, on the same cores as the servers: the figures are
 * what one small box does end to end, not what a server does with cores to itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { startRedis, freePort, redisAvailable } from '../test/helpers/redis.ts';
import { startNginx, nginxAvailable } from '../test/helpers/nginx.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SEQ_SECONDS = Math.max(2, Math.round(SECONDS / 2));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
/**
 * 16 results of ~30 KB JPEG each. Worker k always asks for HOT_SET[k % 16]: identical requests
 * in flight at once would share one lookup inside an instance (in-process coalescing) and hide
 * the per-request cost of an L2 hit.
 */
const HOT_SET = Array.from({ length: 16 }, (_, i) => `/image/upload/c_fill,w_${610 + i * 2},h_407/rocket.jpg`);

if (!redisAvailable || !nginxAvailable) {
  console.error('bench/scale.ts needs redis-server and nginx (apt-get install redis-server nginx)');
  process.exit(1);
}

interface Instance { name: string; port: number; proc: ChildProcess; out: () => string }

async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', APERTURE_STORAGE_DIR: path.join(root, 'images'), APERTURE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d.toString(); });
  proc.stderr!.on('data', (d) => { out += d.toString(); });
  process.once('exit', () => proc.kill('SIGKILL'));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${name}: no /health in 30 s: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, port, proc, out: () => out };
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Boot work (face model warm-up) must not overlap a measurement: wait until the CPU goes quiet. */
async function settle(pids: number[], maxMs = 30_000): Promise<void> {
  const until = Date.now() + maxMs;
  let last = pids.map(cpuTicks);
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    const now = pids.map(cpuTicks);
    const busy = now.some((v, i) => v - last[i]! > 5); // > 10% of one core over 500 ms (100 Hz ticks)
    last = now;
    if (!busy) return;
  }
}

/** Redis `used_memory_human` and key count. */
async function redisMemory(port: number): Promise<string> {
  const { createClient } = await import('redis');
  const c = createClient({ url: `redis://127.0.0.1:${port}` });
  await c.connect();
  const info = await c.info('memory');
  const keys = await c.dbSize();
  await c.close();
  return `${/used_memory_human:(\S+)/.exec(info)?.[1] ?? '?'} used, ${keys} keys`;
}

function rss(pid: number): { rssMb: number; peakMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})?\\s+(\\S+)$`, 'gm'))) {
    if (!labels || (m[1] ?? '').includes(labels)) sum += Number(m[2]);
  }
  return sum;
}

interface Run { reqs: number; rps: number; p50: number; p99: number; bytes: number; errors: number; states: Record<string, number> }

/** Closed loop: `connections` workers, worker k one request at a time for paths[k % n], for `seconds`. */
async function load(port: number, paths: readonly string[], seconds: number, connections: number,
  stateOf: (h: Record<string, string | string[] | undefined>) => string = () => ''): Promise<Run> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
  const lat: number[] = [];
  const states: Record<string, number> = {};
  let bytes = 0;
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async (_, k) => {
    const p = paths[k % paths.length]!;
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const res = await pool.request({ path: p, method: 'GET' });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 200) errors++;
        bytes += body.length;
        const st = stateOf(res.headers);
        states[st] = (states[st] ?? 0) + 1;
      } catch {
        errors++;
      }
      lat.push(performance.now() - s);
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  await pool.close();
  lat.sort((a, b) => a - b);
  return {
    reqs: lat.length,
    rps: lat.length / elapsed,
    p50: lat[Math.floor(lat.length * 0.5)] ?? NaN,
    p99: lat[Math.floor(lat.length * 0.99)] ?? NaN,
    bytes: bytes / Math.max(1, lat.length),
    errors,
    states,
  };
}

/** What the instance said about Redis (connected / down / back up), in order. */
const tierLog = (i: Instance) => i.out().split('\n').filter((l) => l.includes('redis shared tier'))
  .map((l) => /tier: (connected|down \([^)]*\)|back up|[^;]*)/.exec(l)?.[1] ?? l);
const cacheState = (h: Record<string, string | string[] | undefined>) => /cache;desc="(\w+)"/.exec(String(h['server-timing'] ?? ''))?.[1] ?? '?';
const edgeState = (h: Record<string, string | string[] | undefined>) => String(h['x-cache-status'] ?? '?');

async function main(): Promise<void> {
  const started = Date.now();
  const startLoad = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const redis = await startRedis();
  const a = await startInstance('A', { APERTURE_REDIS_URL: redis.url });
  const b = await startInstance('B', { APERTURE_REDIS_URL: redis.url, APERTURE_CACHE_BYTES: '1' });
  const cleanup = async () => {
    for (const i of [a, b]) i.proc.kill('SIGTERM');
    await redis.stop();
  };
  try {
    await settle([a.proc.pid!, b.proc.pid!]);
    const bootRss = { A: rss(a.proc.pid!), B: rss(b.proc.pid!) };

    // A renders each result once; they are then in A's L1 and in Redis.
    let size = 0;
    for (const p of HOT_SET) size += (await (await fetch(`http://127.0.0.1:${a.port}${p}`)).arrayBuffer()).byteLength;
    size /= HOT_SET.length;
    const bState = cacheState(Object.fromEntries((await fetch(`http://127.0.0.1:${b.port}${HOT_SET[0]}`)).headers));
    if (bState !== 'l2') throw new Error(`B should read the result from Redis, got ${bState}`);

    const bRendersBefore = await metric(b.port, 'aperture_transforms_total');
    const l1Seq = await load(a.port, HOT_SET.slice(0, 1), SEQ_SECONDS, 1, cacheState);
    const l2Seq = await load(b.port, HOT_SET.slice(0, 1), SEQ_SECONDS, 1, cacheState);
    const l1 = await load(a.port, HOT_SET, SECONDS, CONNECTIONS, cacheState);
    const l2 = await load(b.port, HOT_SET, SECONDS, CONNECTIONS, cacheState);
    // The same single URL from every connection: in-process coalescing folds concurrent L2 reads.
    const l2One = await load(b.port, HOT_SET.slice(0, 1), SEQ_SECONDS, CONNECTIONS, cacheState);
    const bRenders = (await metric(b.port, 'aperture_transforms_total')) - bRendersBefore;
    const redisInfo = await redisMemory(redis.port);

    const edge = await startNginx({ upstreams: [a.port, b.port], workers: 1 });
    let edgeRun: Run;
    let warm: Record<string, number>;
    let reachedDuring: number;
    try {
      const imageReqs = async () => (await metric(a.port, 'aperture_http_requests_total', 'route="image"'))
        + (await metric(b.port, 'aperture_http_requests_total', 'route="image"'));
      const w0 = { A: await metric(a.port, 'aperture_http_requests_total', 'route="image"'), B: await metric(b.port, 'aperture_http_requests_total', 'route="image"') };
      // Round-robin-ish warm-up through the edge (least_conn with idle upstreams): each miss is
      // an L1 hit on A or an L2 hit on B, no render.
      for (const p of HOT_SET) await (await fetch(`http://127.0.0.1:${edge.port}${p}`)).arrayBuffer();
      warm = {
        A: (await metric(a.port, 'aperture_http_requests_total', 'route="image"')) - w0.A,
        B: (await metric(b.port, 'aperture_http_requests_total', 'route="image"')) - w0.B,
      };
      const before = await imageReqs();
      edgeRun = await load(edge.port, HOT_SET, SECONDS, CONNECTIONS, edgeState);
      reachedDuring = (await imageReqs()) - before;
    } finally {
      await edge.stop();
    }
    const after = { A: rss(a.proc.pid!), B: rss(b.proc.pid!) };
    const cpu = os.cpus()[0]?.model ?? '?';
    const fmt = (n: number, d = 0) => n.toFixed(d);
    const row = (name: string, r: Run, note: string) =>
      `| ${name} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors} | ${note} |`;
    const lines = [
      `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${cpu}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, Node ${process.version}, ` +
        `${CONNECTIONS} keep-alive connections, ${SECONDS} s per row, load generator on the same cores.`,
      '',
      '| Scenario | req/s | p50 ms | p99 ms | errors | notes |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
      row('L1 hit, 1 connection (instance A, memory)', l1Seq, `states ${JSON.stringify(l1Seq.states)}`),
      row('L2 hit, 1 connection (instance B, Redis GET)', l2Seq, `states ${JSON.stringify(l2Seq.states)}`),
      row(`L1 hit, ${CONNECTIONS} connections`, l1, `${fmt(size / 1024, 1)} KB results, 16 URLs; states ${JSON.stringify(l1.states)}`),
      row(`L2 hit, ${CONNECTIONS} connections`, l2, `B's L1 off (APERTURE_CACHE_BYTES=1); states ${JSON.stringify(l2.states)}; B renders in all L2 rows: ${bRenders}`),
      row(`L2, ${CONNECTIONS} connections on 1 URL`, l2One, `concurrent identical reads share one GET in-process; states ${JSON.stringify(l2One.states)}`),
      row(`Edge hit (nginx, ${HOT_SET.length}-URL hot set over A+B)`, edgeRun, `X-Cache-Status ${JSON.stringify(edgeRun.states)}; requests reaching instances during run: ${reachedDuring}; warm-up misses went A ${warm.A} / B ${warm.B}`),
      '',
      '| Instance | RSS after boot + warm-up | RSS after the run | peak RSS |',
      '| --- | ---: | ---: | ---: |',
      `| A (L1 256 MB) | ${fmt(bootRss.A.rssMb)} MB | ${fmt(after.A.rssMb)} MB | ${fmt(after.A.peakMb)} MB |`,
      `| B (L1 off) | ${fmt(bootRss.B.rssMb)} MB | ${fmt(after.B.rssMb)} MB | ${fmt(after.B.peakMb)} MB |`,
      '',
      `Shared-tier log lines: A ${JSON.stringify(tierLog(a))}, B ${JSON.stringify(tierLog(b))}.`,
      `Redis after the run: ${redisInfo}. Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} ` +
        `(1/5/15 min; at the start: ${startLoad}). Total bench time ${fmt((Date.now() - started) / 1000)} s.`,
    ];
    console.log(lines.join('\n'));
    console.log(JSON.stringify({ l1Seq, l2Seq, l1, l2, l2One, edge: edgeRun, bRenders, reachedDuring, warm, bootRss, after, size }));
  } finally {
    await cleanup();
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
