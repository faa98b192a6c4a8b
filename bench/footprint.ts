/**
 * Memory footprint of the `npm start` process tree: `npm run bench:footprint`
 * (needs ../shared/corpus beside the checkout; about 1-3 minutes; loopback only).
 *
 * It runs `npm start` itself as a child (so the tree is exactly what a user gets: npm, the shell
 * npm starts, and the server with its worker threads), with 16 MB result and source caches, and
 * reads the resident set of every process of the tree from /proc (worker threads share their
 * process' pid and are counted in its VmRSS):
 *
 *   1. after boot: /health answers, then RSS sampled every 250 ms until it stops growing (no
 *      sample more than 1 MB above the lowest of the last 3 s; at most 30 s);
 *   2. the first request that needs faces (`c_fill,g_face,w_300,h_300` on astronaut.png), its
 *      latency to the last body byte, cold (first request of the process);
 *   3. 160 cold `c_fill,g_auto,w_W,h_H/f_auto,q_auto` requests (unique sizes), each on a source
 *      file of its own: the 20 photos of images/ and ../shared/corpus/photos under 8 names each
 *      (all hold enough skin tones that g_auto runs the face detector on every request; the
 *      astronaut has a face), BENCH_CONNECTIONS at a time (default 4), Accept of a browser taking
 *      AVIF and WebP; RSS peak while they run, then settled as in 1;
 *   4. after the face worker's idle timeout (APERTURE_FACES_IDLE_MS, default 30 s), settled.
 *
 * `--dir <checkout>` measures another checkout (e.g. an older commit unpacked with git archive,
 * node_modules symlinked) with this same procedure. Prints one markdown row per phase.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_FACES_IDLE_MS } from '../src/config.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const dirArg = process.argv.indexOf('--dir');
const checkout = path.resolve(dirArg > 0 ? process.argv[dirArg + 1]! : path.join(here, '..'));
const corpus = path.resolve(here, '../../shared/corpus/photos');
if (!existsSync(corpus)) {
  console.error(`${corpus} not found: the benchmark needs the shared corpus`);
  process.exit(1);
}
const REQUESTS = 160;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 4);
const CACHE_BYTES = String(16 * 1024 * 1024);
const ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
const MB = 1024 * 1024;

/** pid → parent pid for every process on the machine. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.set(Number(name), ppid);
    } catch { /* the process ended meanwhile */ }
  }
  return out;
}

function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

function cmdOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 60); } catch { return '?'; }
}

/** CPU seconds (user + system) used so far by `root` and its live descendants. */
function treeCpu(root: number): number {
  const tick = 100; // USER_HZ on Linux
  let sum = 0;
  for (const pid of treePids(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      sum += (Number(f[11]) + Number(f[12])) / tick; // utime, stime (fields 14, 15)
    } catch { /* ended */ }
  }
  return sum;
}

interface TreeSample { total: number; perProcess: Array<{ pid: number; cmd: string; rss: number }> }

function treePids(root: number): number[] {
  const pp = parents();
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of pp) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** Summed VmRSS of `root` and all its descendants. */
function treeRss(root: number): TreeSample {
  const perProcess = treePids(root).map((pid) => ({ pid, cmd: cmdOf(pid), rss: rssOf(pid) })).filter((p) => p.rss > 0);
  return { total: perProcess.reduce((s, p) => s + p.rss, 0), perProcess };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sample until the tree stops growing: the last 3 s stay within 1 MB of their lowest value. */
async function settled(root: number): Promise<TreeSample> {
  const window: TreeSample[] = [];
  const t0 = Date.now();
  for (;;) {
    window.push(treeRss(root));
    if (window.length > 12) window.shift();
    const low = Math.min(...window.map((s) => s.total));
    if (window.length === 12 && window.every((s) => s.total - low <= MB)) return window[window.length - 1]!;
    if (Date.now() - t0 > 30_000) return window[window.length - 1]!;
    await sleep(250);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

// Sources: the photos of images/ (the demo's) and every corpus photo, copied into a fresh folder,
// each under enough names (hard links) that every request reads a source of its own: its bytes,
// decode, g_auto analysis and face detection are all cold (the server caches analyses per file).
const storage = mkdtempSync(path.join(os.tmpdir(), 'aperture-footprint-'));
const photos = [
  ...['astronaut.png', 'cat.png', 'coffee.png', 'rocket.jpg'].map((f) => path.join(checkout, 'images', f)),
  ...readdirSync(corpus).sort().map((f) => path.join(corpus, f)),
];
const copies = Math.ceil(REQUESTS / photos.length);
const sources: string[] = [];
for (const [i, file] of photos.entries()) {
  const dir = path.join(storage, String(i));
  mkdirSync(dir);
  const name = path.basename(file);
  copyFileSync(file, path.join(dir, name));
  for (let k = 1; k < copies; k++) linkSync(path.join(dir, name), path.join(dir, `${k}-${name}`));
}
linkSync(path.join(storage, '0', path.basename(photos[0]!)), path.join(storage, 'first.png')); // the astronaut
for (let k = 0; k < copies; k++) {
  for (const [i, file] of photos.entries()) sources.push(`${i}/${k ? `${k}-` : ''}${path.basename(file)}`);
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const child = spawn('npm', ['start'], {
  cwd: checkout,
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    APERTURE_STORAGE_DIR: storage,
    APERTURE_CACHE_BYTES: CACHE_BYTES,
    APERTURE_SOURCE_CACHE_BYTES: CACHE_BYTES,
    APERTURE_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true, // its own process group: SIGTERM reaches npm, the shell and the server alike
});
const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
const root = child.pid!;

async function get(url: string): Promise<{ status: number; bytes: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(base + url, { headers: { accept: ACCEPT } });
  const body = await res.arrayBuffer();
  return { status: res.status, bytes: body.byteLength, ms: performance.now() - t0 };
}

async function waitForHealth(): Promise<void> {
  for (;;) {
    const done = await Promise.race([exited.then(() => 'exit' as const), sleep(100).then(() => 'tick' as const)]);
    if (done === 'exit') throw new Error('server exited before answering /health');
    try { if ((await fetch(`${base}/health`)).ok) return; } catch { /* not listening yet */ }
  }
}

const mb = (b: number): string => (b / MB).toFixed(0);
/** What the server reports of its own memory on /metrics: V8 heap, external buffers, libvips. */
async function inside(): Promise<string> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const v = (re: RegExp): string => { const m = re.exec(text); return m ? mb(Number(m[1])) : '?'; };
  return `V8 heap used ${v(/^nodejs_heap_size_used_bytes (\S+)/m)} MB of ${v(/^nodejs_heap_size_total_bytes (\S+)/m)}, external ${v(/^nodejs_external_memory_bytes (\S+)/m)} MB, ` +
    `libvips ${v(/^aperture_libvips_memory_bytes\{kind="current"\} (\S+)/m)} MB, refinements pending ${/^aperture_refinements_pending (\S+)/m.exec(text)?.[1] ?? '?'}`;
}
const rows: string[] = [];
const load = (): string => os.loadavg()[0]!.toFixed(1);
try {
  const tBoot = performance.now();
  await waitForHealth();
  const bootMs = performance.now() - tBoot;
  const boot = await settled(root);
  rows.push(`| after boot (settled) | ${mb(boot.total)} | ${boot.perProcess.map((p) => `${p.cmd.split(' ').slice(0, 3).join(' ')}: ${mb(p.rss)}`).join('; ')} |`);
  console.error(`boot to /health ${bootMs.toFixed(0)} ms (npm start, build included); load ${load()}`);

  const cpu0 = treeCpu(root);
  const first = await get('/image/upload/c_fill,g_face,w_300,h_300/first.png');
  if (first.status !== 200) throw new Error(`first faces request: HTTP ${first.status}`);
  const firstCpu = treeCpu(root) - cpu0;
  rows.push(`| first faces request (cold): ${first.ms.toFixed(0)} ms at load ${load()}, ${firstCpu.toFixed(2)} CPU s | ${mb(treeRss(root).total)} | |`);

  let peak = 0;
  let sampling = true;
  const sampler = (async () => { while (sampling) { peak = Math.max(peak, treeRss(root).total); await sleep(100); } })();
  const urls = Array.from({ length: REQUESTS }, (_, i) => {
    const w = 200 + i;
    const h = Math.round(w * [1, 0.75, 1.5, 0.5625][i % 4]!);
    return `/image/upload/c_fill,g_auto,w_${w},h_${h}/f_auto,q_auto/${sources[i % sources.length]}`;
  });
  const cpu1 = treeCpu(root);
  let next = 0;
  const statuses = new Map<number, number>();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (next < urls.length) {
      const r = await get(urls[next++]!);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }));
  const wallS = (performance.now() - t0) / 1000;
  const workCpu = treeCpu(root) - cpu1;
  const after = treeRss(root);
  sampling = false;
  await sampler;
  peak = Math.max(peak, after.total);
  const later = await settled(root);
  const st = [...statuses].map(([s, n]) => `${n}× ${s}`).join(', ');
  rows.push(`| ${REQUESTS} cold g_auto requests (${st}; ${wallS.toFixed(1)} s, ${workCpu.toFixed(1)} CPU s, ${CONNECTIONS} connections, load ${load()}): peak | ${mb(peak)} | |`);
  rows.push(`| right after the last response | ${mb(after.total)} | |`);
  rows.push(`| settled after the workload (${await inside()}) | ${mb(later.total)} | ${later.perProcess.map((p) => `${p.cmd.split(' ').slice(0, 3).join(' ')}: ${mb(p.rss)}`).join('; ')} |`);

  // The face worker stops after APERTURE_FACES_IDLE_MS without a detection (default unless set).
  const idleMs = Number(process.env.APERTURE_FACES_IDLE_MS || DEFAULT_FACES_IDLE_MS);
  if (idleMs > 0) {
    await sleep(idleMs + 2_000);
    const idle = await settled(root);
    rows.push(`| after the face worker's idle stop (${idleMs / 1000} s; ${await inside()}) | ${mb(idle.total)} | ${idle.perProcess.map((p) => `${p.cmd.split(' ').slice(0, 3).join(' ')}: ${mb(p.rss)}`).join('; ')} |`);
  }
} finally {
  try { process.kill(-root, 'SIGTERM'); } catch { /* already gone */ }
  await exited;
  rmSync(storage, { recursive: true, force: true });
}
console.log(`\n${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model}, checkout ${checkout}\n`);
console.log('| phase | tree RSS MB | per process MB |');
console.log('|---|---:|---|');
for (const r of rows) console.log(r);
