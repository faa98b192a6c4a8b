/**
 * q_auto / f_auto evaluation: `npx tsx bench/quality.ts [--out QUALITY.md]`.
 *
 * For every photo of ../shared/corpus/photos, resized to 800 px wide (the delivered pixels):
 * bytes, our distance and butteraugli's distance (Debian `butteraugli`, a metric we did NOT tune
 * against) for mozjpeg q90 and q80, q_auto at each level (JPEG), and q_auto:good in AVIF and
 * WebP (what f_auto,q_auto serves to a Chrome-like Accept); then means and the cost of a cold
 * q_auto against one fixed-quality encode. Writes the results into QUALITY.md (between the
 * BENCH markers) so the document's prose stays hand-written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { RawImage } from '../src/analyze/types.ts';
import { chooseQuality, QUALITY_BUDGETS, type ChromaSubsampling, type EncodeFormat, type QualityLevel } from '../src/analyze/quality.ts';
import { perceptualDistance, closeMetricWorker } from '../src/analyze/metric.ts';
import { applyEncoder, refinedConfig } from '../src/render/encode.ts';
import { loadConfig, testConfig } from '../src/config.ts';
import { buildServer } from '../src/server.ts';
import { ssimDistances } from './ssim.ts';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const photos = path.resolve(root, '../shared/corpus/photos');
const outFile = process.argv.includes('--out') ? path.resolve(process.argv[process.argv.indexOf('--out') + 1]) : path.join(root, 'QUALITY.md');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-quality-'));
// The renderer's own encoder settings (src/render/encode.ts) with the server's configuration
// (APERTURE_AVIF_EFFORT, APERTURE_WEBP_EFFORT; defaults unless set in the environment).
const config = loadConfig(process.env);
const AVIF_EFFORT = config.avifEffort;
// What a cached AVIF becomes once refined in the background (src/cache/refiner.ts), when the
// configuration refines AVIF at all; else the first encoding is the final one.
const refined = refinedConfig('avif', config) ?? config;
const AVIF_REFINED_EFFORT = refined.avifEffort;
const WEBP_EFFORT = config.webpEffort;

if (!fs.existsSync(photos)) {
  console.error(`corpus not found at ${photos}`);
  process.exit(1);
}

function encoder(ref: RawImage, format: EncodeFormat, cfg = config) {
  return (q: number, chroma: ChromaSubsampling): Promise<Buffer> => {
    const img = sharp(ref.data, { raw: { width: ref.width, height: ref.height, channels: ref.channels } });
    return applyEncoder(img, { format, quality: q, chroma, flags: {}, animated: false }, cfg).toBuffer();
  };
}

async function decode(buf: Buffer): Promise<RawImage> {
  const { data, info } = await sharp(buf).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

let seq = 0;
async function butteraugli(refPng: string, buf: Buffer): Promise<number> {
  const file = path.join(tmp, `t${seq++}.png`);
  await sharp(buf).toColourspace('srgb').removeAlpha().png({ compressionLevel: 1 }).toFile(file);
  const { stdout } = await run('butteraugli', [refPng, file]);
  fs.rmSync(file);
  return Number.parseFloat(stdout.trim());
}

interface Cell { bytes: number; q: number; ours: number; butter?: number; ssim?: number; msssim?: number; trials?: number; chroma?: string }
interface Row { file: string; cells: Record<string, Cell>; ratioWall: number; ratioCpu: number; ratioAvifWall: number }
/** Cold requests through the real server, per photo: q_auto over the fixed quality (wall). */
interface RequestCost { file: string; jpeg: number; avif: number; avifWebp: number; fixedMs: number; autoMs: number }

/** `avif q_auto` is what f_auto,q_auto serves to a Chrome-like Accept once the cached result is
 *  refined (effort APERTURE_AVIF_REFINE_EFFORT); `avif first` is the cold response before that. */
const COLUMNS = ['jpeg q90', 'jpeg q80', 'q_auto:best', 'q_auto:good', 'q_auto:eco', 'q_auto:low', 'avif q_auto', 'avif first', 'webp q_auto'] as const;
const BUTTER = new Set(['jpeg q90', 'jpeg q80', 'q_auto:good', 'avif q_auto', 'avif first', 'webp q_auto']);
const ENCODERS: Record<string, [EncodeFormat, typeof config]> = { 'avif q_auto': ['avif', refined], 'avif first': ['avif', config], 'webp q_auto': ['webp', config] };

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1000 };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const started = performance.now();
  for (const file of fs.readdirSync(photos).sort()) {
    const { data, info } = await sharp(path.join(photos, file)).resize({ width: 800 }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const ref: RawImage = { data, width: info.width, height: info.height, channels: 3 };
    const refPng = path.join(tmp, 'ref.png');
    await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png({ compressionLevel: 1 }).toFile(refPng);
    const cells: Record<string, Cell> = {};
    const jpeg = encoder(ref, 'jpeg');
    for (const q of [90, 80]) {
      const buf = await jpeg(q, '4:2:0');
      cells[`jpeg q${q}`] = { bytes: buf.length, q, ours: await perceptualDistance(ref, await decode(buf)) };
    }
    for (const level of ['best', 'good', 'eco', 'low'] as QualityLevel[]) {
      const c = await chooseQuality(ref, 'jpeg', level, jpeg);
      cells[`q_auto:${level}`] = { bytes: c.buffer.length, q: c.quality, ours: c.distance, trials: c.trials, chroma: c.chromaSubsampling };
    }
    for (const [col, [format, cfg]] of Object.entries(ENCODERS)) {
      const c = await chooseQuality(ref, format, 'good', encoder(ref, format, cfg));
      cells[col] = { bytes: c.buffer.length, q: c.quality, ours: c.distance, trials: c.trials, chroma: c.chromaSubsampling };
    }
    // Butteraugli on the same bytes (re-encoded deterministically at the chosen settings).
    for (const col of COLUMNS) {
      if (!BUTTER.has(col)) continue;
      const cell = cells[col];
      const [format, cfg] = ENCODERS[col] ?? ['jpeg', config];
      const buf = await encoder(ref, format, cfg)(cell.q, (cell.chroma as ChromaSubsampling | undefined) ?? '4:2:0');
      cell.butter = await butteraugli(refPng, buf);
      // 1-SSIM / 1-MS-SSIM on the same bytes (bench/ssim.ts): a second check nothing was tuned on.
      const s = ssimDistances(ref, await decode(buf));
      cell.ssim = s.ssim;
      cell.msssim = s.msssim;
    }
    // Cost of a cold q_auto (search + the answer's encode, which the search returns) against one
    // fixed-quality encode of the same pixels; best of 2 of each to damp noise from neighbours.
    let fixedWall = Infinity, fixedCpu = Infinity, autoWall = Infinity, autoCpu = Infinity;
    for (let i = 0; i < 2; i++) {
      const f = await timed(() => jpeg(80, '4:2:0'));
      fixedWall = Math.min(fixedWall, f.wall); fixedCpu = Math.min(fixedCpu, f.cpu);
      const a = await timed(() => chooseQuality(ref, 'jpeg', 'good', jpeg));
      autoWall = Math.min(autoWall, a.wall); autoCpu = Math.min(autoCpu, a.cpu);
    }
    const fa = await timed(() => encoder(ref, 'avif')(cells['avif first'].q, '4:2:0'));
    const aa = await timed(() => chooseQuality(ref, 'avif', 'good', encoder(ref, 'avif')));
    rows.push({ file, cells, ratioWall: autoWall / fixedWall, ratioCpu: autoCpu / fixedCpu, ratioAvifWall: aa.wall / fa.wall });
    console.log(file, Object.entries(cells).map(([k, c]) => `${k}: ${c.bytes}B q${c.q} d${c.ours.toFixed(2)}${c.butter !== undefined ? ` b${c.butter.toFixed(2)}` : ''}`).join(' | '),
      `cost ${(autoWall / fixedWall).toFixed(2)}x wall ${(autoCpu / fixedCpu).toFixed(2)}x cpu`);
  }
  const requests = await requestCost(REQUEST_ROUNDS);
  await closeMetricWorker();
  fs.rmSync(tmp, { recursive: true, force: true });
  const minutes = (performance.now() - started) / 60000;
  writeReport(rows, requests, minutes);
}

const REQUEST_ROUNDS = 6;

/**
 * What the issue's cost target names: a cold q_auto request against a cold fixed-quality
 * request for the same pixels, through the real server (source fetch from local storage, decode,
 * resize, encode, headers). One request at a time; every URL is new (the width moves by one
 * pixel per round, so the result cache and the q_auto memo are cold), fixed and auto alternate
 * and swap order each round; the per-photo figure is the median of the rounds' ratios.
 */
async function requestCost(rounds: number): Promise<RequestCost[]> {
  // Refinement off: a background re-encode after one request would land on the next one's time.
  const app = await buildServer(testConfig({ storageDir: photos, avifRefineEffort: 0 }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const get = async (url: string, accept = '*/*'): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(origin + url, { headers: { accept } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    return performance.now() - t0;
  };
  const CHROME = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8', WEBP = 'image/webp,image/apng,image/*,*/*;q=0.8';
  const out: RequestCost[] = [];
  try {
    for (const file of fs.readdirSync(photos).sort()) {
      const id = file.replace(/\.[a-z]+$/, '');
      // warm-up: the source's bytes in the origin cache, the encoders' and worker's code paths
      await get(`/image/upload/c_scale,w_640/q_auto/${id}.jpg`);
      const ratio: Record<'jpeg' | 'avif' | 'avifWebp', number[]> = { jpeg: [], avif: [], avifWebp: [] };
      const fixed: number[] = [], auto: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const w = 800 - r;
        const pairs: ['jpeg' | 'avif' | 'avifWebp', string, string, string, string][] = [
          ['jpeg', `/image/upload/c_scale,w_${w}/q_auto/${id}.jpg`, '*/*', `/image/upload/c_scale,w_${w}/q_80/${id}.jpg`, '*/*'],
          ['avif', `/image/upload/c_scale,w_${w}/q_auto/${id}.avif`, '*/*', `/image/upload/c_scale,w_${w}/q_60/${id}.avif`, '*/*'],
          ['avifWebp', `/image/upload/c_scale,w_${w}/f_auto,q_auto/${id}`, CHROME, `/image/upload/c_scale,w_${w}/f_auto,q_auto/${id}`, WEBP],
        ];
        for (const [kind, a, acceptA, b, acceptB] of pairs) {
          let ta: number, tb: number;
          if (r % 2 === 0) { tb = await get(b, acceptB); ta = await get(a, acceptA); } else { ta = await get(a, acceptA); tb = await get(b, acceptB); }
          ratio[kind].push(ta / tb);
          if (kind === 'jpeg') { fixed.push(tb); auto.push(ta); }
        }
      }
      out.push({ file, jpeg: median(ratio.jpeg), avif: median(ratio.avif), avifWebp: median(ratio.avifWebp), fixedMs: median(fixed), autoMs: median(auto) });
      console.log(`request cost ${file}: jpeg ${median(ratio.jpeg).toFixed(2)}x (${median(fixed).toFixed(0)} ms → ${median(auto).toFixed(0)} ms), avif ${median(ratio.avif).toFixed(2)}x, f_auto,q_auto avif/webp ${median(ratio.avifWebp).toFixed(2)}x`);
    }
  } finally {
    await app.close();
  }
  return out;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

function writeReport(rows: Row[], requests: RequestCost[], minutes: number): void {
  const L: string[] = [];
  L.push(`Generated by \`npx tsx bench/quality.ts\` on ${new Date().toISOString().slice(0, 10)} (${os.cpus().length} cores, shared; ${minutes.toFixed(1)} min).`);
  L.push(`Budgets: ${Object.entries(QUALITY_BUDGETS).map(([k, v]) => `${k} ${v}`).join(', ')}. Photos resized to 800 px wide; encoders as the renderer sets them (src/render/encode.ts): AVIF effort ${AVIF_REFINED_EFFORT} once refined (\`avif q_auto\`, what the cache serves after the first request) and ${AVIF_EFFORT} for the cold response (\`avif first\`), WebP effort ${WEBP_EFFORT}, JPEG mozjpeg.`);
  L.push('');
  L.push('Per image: bytes / chosen quality / our distance / butteraugli (b, where measured). x = bytes relative to JPEG q90.');
  L.push('');
  L.push(`| image | ${COLUMNS.join(' | ')} |`);
  L.push(`|---|${COLUMNS.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const q90 = r.cells['jpeg q90'].bytes;
    L.push(`| ${r.file} | ${COLUMNS.map((c) => {
      const x = r.cells[c];
      return `${x.bytes} (${(x.bytes / q90).toFixed(2)}x) q${x.q}${x.chroma === '4:4:4' ? '/444' : ''} d${x.ours.toFixed(2)}${x.butter !== undefined ? ` b${x.butter.toFixed(2)}` : ''}`;
    }).join(' | ')} |`);
  }
  L.push('');
  L.push('Means over the corpus:');
  L.push('');
  L.push('| column | bytes vs q90 (mean of ratios) | our distance | butteraugli | 1-SSIM | 1-MS-SSIM | images with butteraugli ≤ JPEG q80 | images ≤ q80 by SSIM / MS-SSIM | mean trials |');
  L.push('|---|---|---|---|---|---|---|---|---|');
  for (const c of COLUMNS) {
    const ratios = rows.map((r) => r.cells[c].bytes / r.cells['jpeg q90'].bytes);
    const ours = rows.map((r) => r.cells[c].ours);
    const hasB = rows.every((r) => r.cells[c].butter !== undefined);
    const b = hasB ? rows.map((r) => r.cells[c].butter!) : [];
    const perImage = hasB ? rows.filter((r) => r.cells[c].butter! <= r.cells['jpeg q80'].butter!).length : 0;
    const hasS = rows.every((r) => r.cells[c].ssim !== undefined && r.cells[c].msssim !== undefined);
    const ssimMean = hasS ? mean(rows.map((r) => r.cells[c].ssim!)).toFixed(5) : '-';
    const msMean = hasS ? mean(rows.map((r) => r.cells[c].msssim!)).toFixed(5) : '-';
    const perImageS = rows.filter((r) => r.cells[c].ssim! <= r.cells['jpeg q80'].ssim!).length;
    const perImageM = rows.filter((r) => r.cells[c].msssim! <= r.cells['jpeg q80'].msssim!).length;
    const trials = rows.map((r) => r.cells[c].trials ?? 1);
    L.push(`| ${c} | ${mean(ratios).toFixed(3)} | ${mean(ours).toFixed(2)} | ${hasB ? mean(b).toFixed(2) : '-'} | ${ssimMean} | ${msMean} | ${hasB ? `${perImage}/${rows.length}` : '-'} | ${hasS ? `${perImageS}/${rows.length} / ${perImageM}/${rows.length}` : '-'} | ${mean(trials).toFixed(2)} |`);
  }
  L.push('');
  L.push('1-SSIM and 1-MS-SSIM: luma, Wang et al. settings (bench/ssim.ts); a second check that neither the metric nor the budgets were tuned on.');
  L.push('');
  const levelOrder = rows.filter((r) => r.cells['q_auto:best'].bytes >= r.cells['q_auto:good'].bytes && r.cells['q_auto:good'].bytes >= r.cells['q_auto:eco'].bytes && r.cells['q_auto:eco'].bytes >= r.cells['q_auto:low'].bytes).length;
  L.push(`Level ordering best ≥ good ≥ eco ≥ low in bytes: ${levelOrder}/${rows.length} images.`);
  L.push('');
  L.push(`Cold q_auto:good JPEG (search incl. the returned encode) vs one fixed mozjpeg q80 encode: wall ${mean(rows.map((r) => r.ratioWall)).toFixed(2)}x mean, ${median(rows.map((r) => r.ratioWall)).toFixed(2)}x median; CPU ${mean(rows.map((r) => r.ratioCpu)).toFixed(2)}x mean (all threads of the process). AVIF: wall ${mean(rows.map((r) => r.ratioAvifWall)).toFixed(2)}x mean.`);
  L.push('');
  L.push(`Cold requests through the server (what the issue's cost target names; \`c_scale,w_800-k/q_auto/<photo>.jpg\` against \`…/q_80/…\`; \`.avif\` with q_auto against q_60; and \`f_auto,q_auto\` with a Chrome Accept (AVIF, effort ${AVIF_EFFORT}: the cold response) against a WebP-only Accept; ${REQUEST_ROUNDS} alternating rounds, one request at a time, every URL new, background refinement off; per photo the median ratio):`);
  L.push('');
  L.push('| image | fixed q80 JPEG request (ms) | q_auto JPEG request (ms) | q_auto / fixed, JPEG | q_auto / fixed, AVIF | f_auto,q_auto: AVIF / WebP |');
  L.push('|---|---:|---:|---:|---:|---:|');
  for (const r of requests) L.push(`| ${r.file} | ${r.fixedMs.toFixed(0)} | ${r.autoMs.toFixed(0)} | ${r.jpeg.toFixed(2)}x | ${r.avif.toFixed(2)}x | ${r.avifWebp.toFixed(2)}x |`);
  const stat = (k: 'jpeg' | 'avif' | 'avifWebp') => `**${mean(requests.map((r) => r[k])).toFixed(2)}x** (${median(requests.map((r) => r[k])).toFixed(2)}x)`;
  L.push(`| **mean** (median) | | | ${stat('jpeg')} | ${stat('avif')} | ${stat('avifWebp')} |`);
  const text = L.join('\n');
  const begin = '<!-- BENCH:BEGIN -->', end = '<!-- BENCH:END -->';
  const doc = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : `# q_auto and f_auto quality\n\n${begin}\n${end}\n`;
  const i = doc.indexOf(begin), j = doc.indexOf(end);
  const next = i >= 0 && j > i ? `${doc.slice(0, i + begin.length)}\n${text}\n${doc.slice(j)}` : `${doc}\n${begin}\n${text}\n${end}\n`;
  fs.writeFileSync(outFile, next);
  console.log(`\n${text}\n\nwritten to ${outFile}`);
}

if (process.argv.includes('--requests-only')) {
  const requests = await requestCost(REQUEST_ROUNDS);
  await closeMetricWorker();
  console.log(`JPEG q_auto/fixed: mean ${mean(requests.map((r) => r.jpeg)).toFixed(2)}x, median ${median(requests.map((r) => r.jpeg)).toFixed(2)}x; AVIF mean ${mean(requests.map((r) => r.avif)).toFixed(2)}x; f_auto,q_auto AVIF/WebP mean ${mean(requests.map((r) => r.avifWebp)).toFixed(2)}x`);
  fs.rmSync(tmp, { recursive: true, force: true });
} else {
  await main();
}
