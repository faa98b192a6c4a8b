/**
 * Object gravities on a development set of composites: a COCO object cut from one of the corpus
 * or repository photos, pasted (elliptical feathered cut) onto another photo, usually beside a
 * larger salient object of another class. For each case and aspect ratio the largest crop of
 * that ratio is asked of the real server (in process, fl_getinfo gives the crop region) with
 * `g_<class>`, `g_auto:<class>` and plain `g_auto`, and scored as the share of the object's box
 * the crop keeps divided by the best share a crop of that size could keep (as gauto-score.ts).
 * Also prints the cold cost of the object analysis per source (Server-Timing `analyze`).
 *
 * Usage: npx tsx bench/objects-score.ts [--out bench/objects-results.md]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp, type OverlayOptions } from 'sharp';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';
import { largestCrop, scoreCrop, type Case } from './gauto-score.ts';
import { stopObjectWorker } from '../src/analyze/objects.ts';
import { stopFaceWorker } from '../src/analyze/faces.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '../shared');
const photo = (rel: string) => (rel.startsWith('images/') ? path.join(root, rel) : path.join(shared, 'corpus/photos', rel));

interface Piece {
  file: string;
  /** Region of the piece photo holding the object, fractions [l, t, r, b]. */
  region: [number, number, number, number];
  /** Width on the background, fraction of the background width. */
  size: number;
  /** Top-left on the background, fractions. */
  at: [number, number];
}

interface ObjCase {
  name: string;
  bg: string;
  target: Piece & { cls: string };
  distractor?: Piece;
  ars: [number, number][];
}

/** Elliptical feathered cut of a piece, pasted; returns the visible ellipse's box in pixels. */
async function paste(bg: Sharp, W: number, H: number, p: Piece, composites: OverlayOptions[]): Promise<[number, number, number, number]> {
  const buf = await fs.promises.readFile(photo(p.file));
  const m = await sharp(buf).metadata();
  const ext = {
    left: Math.round(p.region[0] * m.width), top: Math.round(p.region[1] * m.height),
    width: Math.round((p.region[2] - p.region[0]) * m.width), height: Math.round((p.region[3] - p.region[1]) * m.height),
  };
  const pw = Math.round(p.size * W);
  const ph = Math.round((pw * ext.height) / ext.width);
  const mask = Buffer.from(
    `<svg width="${pw}" height="${ph}" xmlns="http://www.w3.org/2000/svg"><defs><filter id="f"><feGaussianBlur stdDeviation="${pw * 0.03}"/></filter></defs>` +
    `<ellipse cx="${pw / 2}" cy="${ph / 2}" rx="${pw * 0.46}" ry="${ph * 0.46}" fill="#fff" filter="url(#f)"/></svg>`,
  );
  const alpha = await sharp(mask).extractChannel(3).toBuffer();
  const cut = await sharp(buf).extract(ext).resize(pw, ph).removeAlpha().joinChannel(alpha).png().toBuffer();
  const left = Math.round(p.at[0] * W), top = Math.round(p.at[1] * H);
  composites.push({ input: cut, left, top });
  const ex = pw * 0.06, ey = ph * 0.06;
  return [(left + ex) / W, (top + ey) / H, Math.min(1, (left + pw - ex) / W), Math.min(1, (top + ph - ey) / H)];
}

const CAT: Piece['region'] = [0.0, 0.05, 0.9, 1.0];
const CUP: Piece['region'] = [0.25, 0.0, 0.72, 0.72];
const BIKE: Piece['region'] = [0.12, 0.1, 0.92, 0.88];
const PERSON: Piece['region'] = [0.02, 0.0, 0.74, 1.0];

export const CASES: ObjCase[] = [
  { name: 'cat beside motorcycle on forest path', bg: 'path.jpg', target: { cls: 'cat', file: 'cat.png', region: CAT, size: 0.22, at: [0.72, 0.5] }, distractor: { file: 'motorcycle.png', region: BIKE, size: 0.45, at: [0.05, 0.3] }, ars: [[1, 2], [1, 1]] },
  { name: 'small cup beside astronaut on starfield', bg: 'hubble.jpg', target: { cls: 'cup', file: 'coffee.png', region: CUP, size: 0.12, at: [0.08, 0.55] }, distractor: { file: 'astronaut.png', region: PERSON, size: 0.3, at: [0.6, 0.15] }, ars: [[1, 2], [1, 1]] },
  { name: 'motorcycle beside cat on leaves', bg: 'fallenleaf.jpg', target: { cls: 'motorcycle', file: 'motorcycle.png', region: BIKE, size: 0.3, at: [0.06, 0.4] }, distractor: { file: 'cat.png', region: CAT, size: 0.35, at: [0.6, 0.2] }, ars: [[1, 2], [1, 1]] },
  { name: 'person beside cup on boats at dusk', bg: 'eveningglow.jpg', target: { cls: 'person', file: 'astronaut.png', region: PERSON, size: 0.16, at: [0.78, 0.2] }, distractor: { file: 'coffee.png', region: CUP, size: 0.25, at: [0.15, 0.3] }, ars: [[1, 2], [1, 1]] },
  { name: 'cat on busy cups texture', bg: 'cups.jpg', target: { cls: 'cat', file: 'cat.png', region: CAT, size: 0.2, at: [0.05, 0.1] }, ars: [[1, 2], [2, 1]] },
  { name: 'small cat beside astronaut on dandelions', bg: 'dandelion.jpg', target: { cls: 'cat', file: 'cat.png', region: CAT, size: 0.14, at: [0.8, 0.65] }, distractor: { file: 'astronaut.png', region: PERSON, size: 0.3, at: [0.25, 0.1] }, ars: [[1, 2], [1, 1]] },
  { name: 'cup beside motorcycle on raindrops', bg: 'raindrops.jpg', target: { cls: 'cup', file: 'coffee.png', region: CUP, size: 0.18, at: [0.75, 0.1] }, distractor: { file: 'motorcycle.png', region: BIKE, size: 0.4, at: [0.1, 0.4] }, ars: [[1, 2], [1, 1]] },
  { name: 'motorcycle beside astronaut on splash', bg: 'splash.jpg', target: { cls: 'motorcycle', file: 'motorcycle.png', region: BIKE, size: 0.28, at: [0.68, 0.6] }, distractor: { file: 'astronaut.png', region: PERSON, size: 0.3, at: [0.1, 0.05] }, ars: [[1, 2], [2, 1]] },
];

/** The composites of CASES, written as JPEG files into `dir`, with the target's box (fractions). */
export async function makeComposites(dir: string): Promise<{ c: ObjCase; file: string; box: Case['box']; W: number; H: number }[]> {
  const made: { c: ObjCase; file: string; box: Case['box']; W: number; H: number }[] = [];
  for (const [i, c] of CASES.entries()) {
    const bgBuf = await fs.promises.readFile(photo(c.bg));
    const bm = await sharp(bgBuf).metadata();
    // Backgrounds at 1600 px wide at most, like a typical CDN original.
    const W = Math.min(1600, bm.width), H = Math.round((bm.height * W) / bm.width);
    const bg = sharp(bgBuf).resize(W, H);
    const comps: OverlayOptions[] = [];
    if (c.distractor) await paste(bg, W, H, c.distractor, comps);
    const box = await paste(bg, W, H, c.target, comps);
    const file = `case${i}.jpg`;
    await sharp(await bg.toBuffer()).composite(comps).jpeg({ quality: 90 }).toFile(path.join(dir, file));
    made.push({ c, file, box, W, H });
  }
  return made;
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(shared, 'corpus'))) {
    console.error(`objects-score: ${shared}/corpus not found; nothing to score.`);
    process.exitCode = 1;
    return;
  }
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'aperture-objbench-'));
  const made = await makeComposites(dir);
  const app = await buildServer(testConfig({ storageDir: dir }), { defaultMetrics: false });
  const rows: string[] = [];
  const sums: Record<string, number> = {};
  let n = 0;
  const cold: number[] = [];
  const gravities = (cls: string) => ({ [`g_${cls}`]: `g_${cls}`, [`g_auto:${cls}`]: `g_auto:${cls}`, 'g_auto': 'g_auto', 'g_center': 'g_center' });
  for (const m of made) {
    for (const ar of m.c.ars) {
      const { cw, ch } = largestCrop(m.W, m.H, ar);
      const scores: Record<string, number> = {};
      for (const [label, g] of Object.entries(gravities(m.c.target.cls))) {
        const t0 = performance.now();
        const res = await app.inject({ url: `/image/upload/c_crop,w_${cw},h_${ch},${g}/fl_getinfo/${m.file}` });
        const ms = performance.now() - t0;
        if (res.statusCode !== 200) throw new Error(`${g} ${m.file}: ${res.statusCode} ${res.headers['x-cld-error']}`);
        const info = JSON.parse(res.body) as { crop?: { x: number; y: number } };
        if (label.startsWith('g_') && label !== 'g_auto' && label !== 'g_center' && !label.startsWith('g_auto:') && ar === m.c.ars[0]) cold.push(ms);
        const pos = info.crop ? { left: info.crop.x, top: info.crop.y } : { left: 0, top: 0 };
        scores[label.replace(m.c.target.cls, '<class>')] = scoreCrop(m.W, m.H, m.box, pos, cw, ch);
      }
      n++;
      for (const [k, v] of Object.entries(scores)) sums[k] = (sums[k] ?? 0) + v;
      rows.push(`| ${m.c.name} | ${m.c.target.cls} | ${ar.join(':')} | ${Object.values(scores).map((v) => v.toFixed(2)).join(' | ')} |`);
    }
  }
  await app.close();
  await stopObjectWorker();
  await stopFaceWorker();
  const names = Object.keys(sums);
  const table = [
    `| case | class | ar | ${names.join(' | ')} |`,
    `|---|---|---|${names.map(() => '---:').join('|')}|`,
    ...rows,
    `| **mean** (${n}) | | | ${names.map((k) => `**${(sums[k] / n).toFixed(3)}**`).join(' | ')} |`,
  ].join('\n');
  console.log(table);
  console.log(`\ncold request with object analysis (first g_<class> of each source, whole request incl. decode, saliency and getinfo listing): ${cold.map((v) => v.toFixed(0)).join(', ')} ms`);
  const out = process.argv.indexOf('--out');
  if (out > 0) fs.writeFileSync(process.argv[out + 1], `# Object gravities: development composites\n\nGenerated by \`npx tsx bench/objects-score.ts\`.\n\n${table}\n\nCold requests (ms): ${cold.map((v) => v.toFixed(0)).join(', ')}\n`);
  await fs.promises.rm(dir, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
