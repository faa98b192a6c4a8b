/**
 * Memory and latency of the object detector, in process (tsx): RSS after boot, after the first
 * object request (worker started), after `g_<class>` on N different sources, and after the
 * worker's idle stop; latency of the first request (worker start + model load + detection), of a
 * cold source (detection), of a second size of the same source (analysis cached: no detection)
 * and of a repeated URL (result cache hit). Sources: the corpus photos (../shared/corpus/photos)
 * and images/, each copied under several names so every request is cold.
 *
 * Usage: npx tsx bench/objects-footprint.ts [copies=2]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';
import { stopObjectWorker } from '../src/analyze/objects.ts';
import { stopFaceWorker } from '../src/analyze/faces.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpus = path.resolve(root, '../shared/corpus/photos');
const mb = () => Math.round(process.memoryUsage().rss / 1048576);

const copies = Number(process.argv[2] ?? 2);
const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'aperture-objfp-'));
const files = [
  ...fs.readdirSync(path.join(root, 'images')).filter((f) => /\.(png|jpg)$/.test(f) && !f.includes('logo')).map((f) => path.join(root, 'images', f)),
  ...(fs.existsSync(corpus) ? fs.readdirSync(corpus).filter((f) => /\.(png|jpg)$/.test(f)).map((f) => path.join(corpus, f)) : []),
];
const names: string[] = [];
for (let k = 0; k < copies; k++) {
  for (const f of files) {
    const name = `s${k}-${path.basename(f)}`;
    fs.copyFileSync(f, path.join(dir, name));
    names.push(name);
  }
}
const app = await buildServer(testConfig({ storageDir: dir, gautoObjects: false }), { defaultMetrics: false });
const get = async (u: string) => {
  const t0 = performance.now();
  const r = await app.inject({ url: u });
  if (r.statusCode !== 200) throw new Error(`${u}: ${r.statusCode} ${String(r.headers['x-cld-error'])}`);
  return { ms: performance.now() - t0, timing: String(r.headers['server-timing'] ?? '') };
};
const analyze = (timing: string) => Number(/analyze;dur=([\d.]+)/.exec(timing)?.[1] ?? NaN);

await new Promise((r) => setTimeout(r, 500));
const boot = mb();
// A workload without objects first: the detector must not load.
for (const n of names.slice(0, 6)) await get(`/image/upload/c_fill,w_300,h_300,g_center/${n}`);
const noObjects = mb();
const first = await get(`/image/upload/c_fill,w_300,h_400,g_cat/${names[1]}`);
const afterFirst = mb();
const cold: number[] = [], coldAnalyze: number[] = [], second: number[] = [], warm: number[] = [];
let peak = afterFirst;
for (const n of names.slice(2)) {
  const c = await get(`/image/upload/c_fill,w_300,h_400,g_cat/${n}`);
  cold.push(c.ms); coldAnalyze.push(analyze(c.timing));
  second.push((await get(`/image/upload/c_fill,w_200,h_200,g_cat/${n}`)).ms);
  warm.push((await get(`/image/upload/c_fill,w_300,h_400,g_cat/${n}`)).ms);
  peak = Math.max(peak, mb());
}
const afterWorkload = mb();
await stopObjectWorker();
await stopFaceWorker();
await new Promise((r) => setTimeout(r, 1000));
const afterStop = mb();
await app.close();
await fs.promises.rm(dir, { recursive: true, force: true });
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const p90 = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length * 0.9)]; };
console.log(`sources: ${names.length} (${files.length} photos × ${copies}); load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
console.log(`RSS MB (tsx process): boot ${boot}, after 6 requests without objects ${noObjects}, after the first g_cat (worker started) ${afterFirst}, peak ${peak}, after ${cold.length + 1} sources ${afterWorkload}, after the worker's stop ${afterStop}`);
console.log(`first request (worker start + model load + detection): ${first.ms.toFixed(0)} ms (analyze ${analyze(first.timing).toFixed(0)} ms)`);
console.log(`cold source, whole request: median ${med(cold).toFixed(0)} ms, p90 ${p90(cold).toFixed(0)} ms; analyze (saliency + detection${''}): median ${med(coldAnalyze).toFixed(0)}, p90 ${p90(coldAnalyze).toFixed(0)} ms`);
console.log(`same source, other size (analysis cached): median ${med(second).toFixed(0)} ms; repeated URL (result cache): median ${med(warm).toFixed(1)} ms`);
