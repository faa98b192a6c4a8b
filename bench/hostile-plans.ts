/**
 * Hostile plans (issue 12): `npx tsx bench/hostile-plans.ts` (loopback only; about 1-2 min).
 * Not part of `npm test`. Each repro URL runs alone against an in-process server (buildServer
 * + listen on 127.0.0.1) while RSS is sampled every 10 ms; prints a markdown table for
 * BENCHMARKS.md ("Hostile plans") with the answer, the time to it, RSS growth from before the
 * request to its peak, and whether any source was opened for rendering (refused from the plan).
 *
 * Default limits except where a row says otherwise. The deadline rows run with
 * APERTURE_TIMEOUT_MS=5000 and the shape limits raised, so the deadline (not a limit) answers.
 * BENCH_ONLY=<regex> runs the rows whose description matches.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildServer } from '../src/server.ts';
import { testConfig, type Config } from '../src/config.ts';
import { sourcesOpened } from '../src/render/render.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpus = path.resolve(root, '../shared/corpus');
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-hostile-bench-'));
for (const [from, to] of [['photos/cat.png', 'cat.png'], ['photos/coffee.png', 'coffee.png'], ['photos/flow-5k.jpg', 'flow-5k.jpg']]) {
  await fs.copyFile(path.join(corpus, from), path.join(dir, to));
}
await fs.writeFile(path.join(dir, 'morph.svg'),
  '<svg xmlns="http://www.w3.org/2000/svg" width="3000" height="3000"><filter id="f"><feMorphology radius="500"/></filter><rect width="3000" height="3000" fill="red" filter="url(#f)"/></svg>');

/** `parallel` requests at once; `{i}` in the URL is replaced by 1..parallel (distinct requests). */
interface Row { what: string; url: string; headers?: Record<string, string>; config?: Partial<Config>; parallel?: number }

const text = `l_text:Arial_200_letter_spacing_1000:${'W'.repeat(40)}`;
const layers12 = Array.from({ length: 12 }, (_, i) => `l_cat,w_8192,h_4800,c_scale,e_blur:${1900 + i},fl_no_overflow`).join('/');
const flips600 = `a_${Array(600).fill('hflip').join('.')}`;
const deadline: Partial<Config> = { processTimeoutMs: 5000, maxLayers: 100, maxAngleOps: 1000 };
const ROWS: Row[] = [
  { what: 'rotated bounding box over 40 MP', url: '/image/upload/a_45,w_8192/cat.png' },
  { what: '67 MP intermediate, 10 px output', url: '/image/upload/w_8192,h_8192,c_scale,e_blur:2000/w_10/cat.png' },
  { what: 'text layer, letter spacing', url: `/image/upload/${text}/cat.png` },
  { what: 'hint 7000 on a 600 px source', url: '/image/upload/w_auto,f_auto,q_auto/coffee.png', headers: { 'sec-ch-width': '7000', accept: 'image/avif,image/webp' } },
  { what: 'hint 8000 on a 600 px source', url: '/image/upload/w_auto,f_auto,q_auto/coffee.png', headers: { 'sec-ch-width': '8000', accept: 'image/webp' } },
  { what: '4 different breakpoint URLs at once, concurrency 1, queue 0', url: '/image/upload/w_8192,h_4800,c_scale/w_auto:breakpoints_50_8192_{i}_100:json/cat.png', config: { concurrency: 1, queueSize: 0 }, parallel: 4 },
  { what: 'the same breakpoint URL 4 times at once, concurrency 1, queue 0', url: '/image/upload/w_4000,h_2660,c_scale/w_auto:breakpoints_50_4000_1_100:json/cat.png', config: { concurrency: 1, queueSize: 0 }, parallel: 4 },
  { what: '12 chained blurred layers (default limits)', url: `/image/upload/${layers12}/cat.png` },
  { what: '600 × a_hflip on a 5k photo (default limits)', url: `/image/upload/${flips600}/flow-5k.jpg` },
  { what: '12 chained blurred layers, 5 s deadline, limits raised', url: `/image/upload/${layers12}/cat.png`, config: deadline },
  { what: '600 × a_hflip, 5 s deadline, limits raised', url: `/image/upload/${flips600}/flow-5k.jpg`, config: deadline },
  { what: 'feMorphology r=500 SVG at 3000×3000, 5 s deadline', url: '/image/upload/morph.png', config: deadline },
];

function fmtMB(b: number): string {
  return `${(b / 1048576).toFixed(0)} MB`;
}

const lines: string[] = [];
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
for (const row of ROWS.filter((r) => !only || only.test(r.what))) {
  const app = await buildServer(testConfig({ storageDir: dir, ...row.config }), { defaultMetrics: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  global.gc?.();
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 10);
  const opened0 = sourcesOpened();
  const t0 = performance.now();
  const one = async (_: unknown, i: number) => {
    const r = await fetch(`http://127.0.0.1:${port}${row.url.replace('{i}', String(i + 1))}`, { headers: row.headers ?? {} });
    const body = Buffer.from(await r.arrayBuffer());
    return { status: r.status, ms: performance.now() - t0, err: r.headers.get('x-cld-error') ?? '', width: r.headers.get('x-aperture-width'), bytes: body.length };
  };
  const results = await Promise.all(Array.from({ length: row.parallel ?? 1 }, one));
  clearInterval(sampler);
  // Work a deadline answered for may still be stopping: wait for the slots to empty.
  while (app.delivery.admission.inFlight > 0) await new Promise((r) => setTimeout(r, 50));
  const drained = performance.now() - t0;
  const opened = sourcesOpened() - opened0;
  const answers = results.map((r) => `${r.status}${r.width ? ` (${r.width} px)` : ''}`).join(', ');
  const times = results.map((r) => `${(r.ms / 1000).toFixed(2)} s`).join(', ');
  const why = [...new Set(results.map((r) => r.err).filter(Boolean))].join('; ').slice(0, 110);
  lines.push(`| ${row.what} | ${answers} | ${times} | ${(drained / 1000).toFixed(2)} s | +${fmtMB(peak - rss0)} | ${opened} | ${why.replace(/\|/g, '\\|')} |`);
  console.error(lines[lines.length - 1]);
  await app.close();
}
await fs.rm(dir, { recursive: true, force: true });

const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${fmtMB(os.totalmem())} RAM, Node ${process.version}; ${new Date().toISOString().slice(0, 16)} UTC; load average at the end ${load}.\n`);
console.log('| Request | Answer | Time to answer | Slots free after | RSS peak growth | Sources opened | Error |');
console.log('|---|---|---|---|---|---|---|');
for (const l of lines) console.log(l);
