/**
 * What f_auto serves, by content and by Accept: `npx tsx bench/f-auto.ts [--out bench/f-auto-results.md]`.
 *
 * Every image of the table goes through the real server (app.inject) at its delivered width,
 * with `f_auto` and `f_auto,q_auto`, for three Accepts: `*\/*` (no WebP/AVIF), a WebP browser
 * and an AVIF browser; next to it the bytes of `f_png` and `f_jpg` (and their q_auto forms)
 * for the same pixels, so each answer can be read against the alternative it did not take.
 * Then the cold cost of f_auto,q_auto against f_jpg,q_auto (a ratio measured in this run), and
 * the content classifier's answer on the whole corpus (photos vs graphics). Byte counts do not
 * depend on the machine's speed; they are deterministic for a given sharp/libvips build.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';
import { classifyContent } from '../src/analyze/content-class.ts';
import type { RawImage } from '../src/analyze/types.ts';
import { closeMetricWorker } from '../src/analyze/metric.ts';
import { transparentCutout } from '../test/helpers/content-pictures.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpus = path.resolve(root, '../shared/corpus');
const outFile = process.argv.includes('--out') ? path.resolve(process.argv[process.argv.indexOf('--out') + 1]) : undefined;
if (!fs.existsSync(corpus)) {
  console.error(`corpus not found at ${corpus}`);
  process.exit(1);
}

// The server reads originals from one folder: copy the shipped samples and the corpus files in.
const store = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-fauto-'));
for (const f of fs.readdirSync(path.join(root, 'images'))) fs.copyFileSync(path.join(root, 'images', f), path.join(store, f));
for (const dir of ['photos', 'graphics']) {
  for (const f of fs.readdirSync(path.join(corpus, dir))) fs.copyFileSync(path.join(corpus, dir, f), path.join(store, f));
}
// A really transparent picture: the cat cut out (transparency must be kept).
fs.writeFileSync(path.join(store, 'cat-cutout.png'), await transparentCutout(path.join(root, 'images/cat.png')));

/** [public id, width, why it is in the table] */
const CASES: [string, number, string][] = [
  ['cat.png', 400, 'photo stored as PNG'],
  ['astronaut.png', 400, 'photo stored as PNG'],
  ['coffee.png', 400, 'photo stored as PNG'],
  ['motorcycle.png', 400, 'photo stored as PNG'],
  ['rocket.jpg', 400, 'photo stored as JPEG'],
  ['palette.png', 400, '10×10 palette upscaled: smooth blends'],
  ['page-scan.png', 384, 'photographed page (grey)'],
  ['text-gray.png', 448, 'photographed handwriting (grey)'],
  ['color.png', 371, 'colour wheel (gradients)'],
  ['illustration-5k.jpg', 800, 'illustration stored as JPEG'],
  ['blobs.svg', 500, 'flat vector drawing'],
  ['logo-alpha.png', 400, 'logo, alpha channel all 255'],
  ['kay-alpha.png', 400, 'wallpaper, alpha channel all 255'],
  ['cat-cutout.png', 400, 'photo with real transparency'],
];
const ACCEPTS: [string, string][] = [
  ['*/*', '*/*'],
  ['webp', 'image/webp,*/*'],
  ['avif', 'image/avif,image/webp,*/*'],
];

const app = await buildServer(testConfig({ storageDir: store, avifRefineEffort: 0 } as Parameters<typeof testConfig>[0]));

async function get(url: string, accept = '*/*'): Promise<{ format: string; bytes: number }> {
  const r = await app.inject({ url, headers: { accept } });
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.headers['x-cld-error']}`);
  return { format: String(r.headers['content-type']).replace('image/', ''), bytes: r.rawPayload.length };
}

const kb = (n: number) => (n / 1024).toFixed(1);
const lines: string[] = [];
const print = (s: string) => { lines.push(s); console.log(s); };

print(`Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores), sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}. KB = 1024 bytes.`);
print('');
print('| image | width | f_png | f_jpg | f_png,q_auto | f_jpg,q_auto | ' + ACCEPTS.map(([n]) => `f_auto ${n} | f_auto,q_auto ${n}`).join(' | ') + ' |');
print('|---|---|---|---|---|---|' + ACCEPTS.map(() => '---|---').join('|') + '|');
for (const [id, w, why] of CASES) {
  const base = `/image/upload/w_${w}`;
  const png = await get(`${base}/f_png/${id}`);
  const jpg = await get(`${base}/f_jpg/${id}`);
  const pngQ = await get(`${base}/f_png,q_auto/${id}`);
  const jpgQ = await get(`${base}/f_jpg,q_auto/${id}`);
  const cells: string[] = [];
  for (const [, accept] of ACCEPTS) {
    for (const q of ['', ',q_auto']) {
      const r = await get(`${base}/f_auto${q}/${id}`, accept);
      cells.push(`${r.format} ${kb(r.bytes)}`);
    }
  }
  print(`| ${id} (${why}) | ${w} | ${kb(png.bytes)} | ${kb(jpg.bytes)} | ${kb(pngQ.bytes)} | ${kb(jpgQ.bytes)} | ${cells.join(' | ')} |`);
}
const anim = await get('/image/upload/w_100/f_auto/animated.gif');
const animWebp = await get('/image/upload/w_100/f_auto/animated.gif', 'image/webp,*/*');
print('');
print(`animated.gif, w_100/f_auto: \`*/*\` → ${anim.format} ${kb(anim.bytes)} KB; WebP Accept → ${animWebp.format} ${kb(animWebp.bytes)} KB.`);

// Cost of the choice: cold f_auto,q_auto for `*/*` against cold f_jpg,q_auto on the same
// pixels (median of 3 widths each, so neither the result cache nor the q_auto memo answers;
// the source is fetched once before either side).
async function coldMs(url: (w: number) => string, w: number): Promise<number> {
  const times: number[] = [];
  for (const d of [0, 1, 2]) {
    const t0 = performance.now();
    await get(url(w - d));
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[1];
}
print('');
print(`Cold request time, f_auto,q_auto with \`*/*\` against f_jpg,q_auto (median of 3; load average ${os.loadavg()[0].toFixed(1)} at start):`);
print('');
print('| image | width | f_jpg,q_auto ms | f_auto,q_auto ms | ratio |');
print('|---|---|---|---|---|');
for (const [id, w] of [['cat.png', 400], ['page-scan.png', 384], ['blobs.svg', 500], ['logo-alpha.png', 400]] as const) {
  await get(`/image/upload/w_${w - 10}/f_jpg/${id}`); // source bytes cached for both sides
  const jpg = await coldMs((x) => `/image/upload/w_${x}/f_jpg,q_auto/${id}`, w);
  const auto = await coldMs((x) => `/image/upload/w_${x}/f_auto,q_auto/${id}`, w);
  print(`| ${id} | ${w} | ${jpg.toFixed(0)} | ${auto.toFixed(0)} | ${(auto / jpg).toFixed(2)} |`);
}

// The classifier on the whole corpus at 800 px (what a typical delivery sees): confusion table.
async function raw(file: string, width: number): Promise<RawImage> {
  const { data, info } = await sharp(file).resize({ width, withoutEnlargement: !file.includes('palette') }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}
print('');
print('| corpus file | folder | class at 400 px | class at 800 px | colours (800 px) | flat share (800 px) |');
print('|---|---|---|---|---|---|');
for (const dir of ['photos', 'graphics']) {
  for (const f of fs.readdirSync(path.join(corpus, dir)).sort()) {
    const file = path.join(corpus, dir, f);
    const a = classifyContent(await raw(file, 400));
    const b = classifyContent(await raw(file, 800));
    print(`| ${f} | ${dir} | ${a.kind} | ${b.kind} | ${b.colors} | ${b.flatShare.toFixed(2)} |`);
  }
}

await app.close();
await closeMetricWorker();
fs.rmSync(store, { recursive: true, force: true });
if (outFile) fs.writeFileSync(outFile, `# f_auto by content (bench/f-auto.ts)\n\n${lines.join('\n')}\n`);
