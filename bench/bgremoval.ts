/**
 * Background removal cost: `npx tsx bench/bgremoval.ts` (after `npm run build`). Starts the
 * compiled server (`node dist/src/main.js`, the npm start malloc settings) on a 1920 px photo
 * and reports, as markdown rows: the cold request (model process start + model load + inference),
 * a second source's mask with the model loaded (inference only), a warm derived URL (mask cache
 * hit: another size and format), and the resident sets (server; model process peak VmHWM and
 * after the job; server after the model process stopped for idleness), with the Server-Timing
 * split and the load average. APERTURE_BGREMOVAL_MODEL / _THREADS in the environment pick the
 * model and thread count (default medium, one thread per core).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.join(here, '..');
const photo = path.join(root, '../shared/corpus/photos/cups.jpg');
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-bench-bg-'));
const src = await fs.access(photo).then(() => photo, () => path.join(root, 'images/coffee.png'));
await sharp(src).resize(1920, 1920, { fit: 'inside' }).jpeg({ quality: 90 }).toFile(path.join(dir, 'photo.jpg'));
const meta = await sharp(path.join(dir, 'photo.jpg')).metadata();
const port = 20000 + Math.floor(Math.random() * 20000);
const IDLE_MS = 3000;
const server: ChildProcess = spawn(process.execPath, ['--max-semi-space-size=4', path.join(root, 'dist/src/main.js')], {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', APERTURE_STORAGE_DIR: dir, APERTURE_LOG_LEVEL: 'warn',
    APERTURE_BGREMOVAL_IDLE_MS: String(IDLE_MS), APERTURE_BGREMOVAL_WAIT_MS: '600000', APERTURE_TIMEOUT_MS: '600000',
    MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
const mb = (kb: number) => `${Math.round(kb / 1024)} MB`;
function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM):\s+(\d+) kB/.exec(l);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
function children(pid: number): number[] {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
async function until(p: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await p())) await new Promise((r) => setTimeout(r, 50));
}
async function get(url: string): Promise<{ ms: number; status: number; bytes: number; timing: string }> {
  const t0 = performance.now();
  const r = await fetch(base + url);
  const body = await r.arrayBuffer();
  // the server's own split: the mask (analyze: model process start, load, inference, or a cache hit), the encode
  const st = r.headers.get('server-timing') ?? '';
  const dur = (name: string) => { const m = new RegExp(`(?:^|, )${name};dur=([\\d.]+)`).exec(st); return m ? `${name} ${(Number(m[1]) / 1000).toFixed(2)} s` : ''; };
  return { ms: performance.now() - t0, status: r.status, bytes: body.byteLength, timing: ['analyze', 'transform', 'encode'].map(dur).filter(Boolean).join(', ') };
}
try {
  await until(() => fetch(`${base}/health`).then((r) => r.ok, () => false));
  const load0 = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const boot = status(server.pid!).VmRSS;
  const rows: string[] = [];
  const row = (what: string, r: { ms: number; status: number; timing: string }) => rows.push(`| ${what} | ${r.status} | ${(r.ms / 1000).toFixed(2)} s | ${r.timing} |`);
  row(`cold: \`e_background_removal\` on a ${meta.width}x${meta.height} JPEG (process start, model load, inference, PNG)`, await get('/image/upload/e_background_removal/photo.png'));
  const [child] = children(server.pid!);
  const afterFirst = child ? status(child) : {};
  row('model loaded, new mask (`a_hflip/e_background_removal`, another source for the cache)', await get('/image/upload/a_hflip/e_background_removal/photo.png'));
  row('warm: mask cache hit, another size and format (`…/c_scale,w_800/f_webp`)', await get('/image/upload/e_background_removal/c_scale,w_800/f_webp/photo.png'));
  row('warm: mask cache hit, `b_red/f_jpg` at full size', await get('/image/upload/e_background_removal/b_red/f_jpg/photo.png'));
  const loaded = child ? status(child) : {};
  const serverLoaded = status(server.pid!).VmRSS;
  await until(() => children(server.pid!).length === 0);
  const serverIdle = status(server.pid!).VmRSS;
  console.log(`model ${process.env.APERTURE_BGREMOVAL_MODEL ?? 'medium (default)'}; load average before/after: ${load0} / ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| request | status | latency | Server-Timing |\n|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log('\n| resident set | MB |\n|---|---|');
  console.log(`| server after boot | ${mb(boot)} |`);
  console.log(`| model process after its first job (VmRSS) | ${mb(afterFirst.VmRSS ?? 0)} |`);
  console.log(`| model process peak (VmHWM) after two jobs | ${mb(loaded.VmHWM ?? 0)} |`);
  console.log(`| server (without the model process) after the four requests | ${mb(serverLoaded)} |`);
  console.log(`| server after the model process stopped (idle ${IDLE_MS} ms) | ${mb(serverIdle)} |`);
} finally {
  server.kill('SIGTERM');
  await fs.rm(dir, { recursive: true, force: true });
}
