/**
 * g_auto crop quality, scored as in ../shared/gauto/README.md: for each case take the largest
 * crop of the target aspect ratio at full scale, and score the share of the subject box kept
 * divided by the best share any crop of that size could keep.
 *
 * Runs on the dev set (../shared/gauto/dev-cases.json) and on a held-out set defined below
 * (other corpus photos plus composites built in memory), for our engine and the baselines.
 * Writes bench/gauto-results.md.  Usage: npx tsx bench/gauto-score.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import smartcrop from 'smartcrop-sharp';
import os from 'node:os';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { analyzeSaliency } from '../src/analyze/saliency.ts';
import { analysisImage, chooseCrop } from '../src/analyze/crop.ts';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '../shared');

export interface Case {
  image: string;
  subject: string;
  /** [left, top, right, bottom] as fractions of width and height. */
  box: [number, number, number, number];
  ar: [number, number];
}

type Pos = { left: number; top: number };
type Strategy = (input: Buffer, W: number, H: number, cw: number, ch: number) => Promise<Pos>;

/** Largest crop of aspect ar (w:h) inside W×H. */
export function largestCrop(W: number, H: number, ar: [number, number]): { cw: number; ch: number } {
  const r = ar[0] / ar[1];
  return W / H > r ? { cw: Math.round(H * r), ch: H } : { cw: W, ch: Math.round(W / r) };
}

/** Share of the box kept by the crop, divided by the best share a crop of that size can keep. */
export function scoreCrop(W: number, H: number, box: Case['box'], pos: Pos, cw: number, ch: number): number {
  const bl = box[0] * W, bt = box[1] * H, br = box[2] * W, bb = box[3] * H;
  const ox = Math.max(0, Math.min(br, pos.left + cw) - Math.max(bl, pos.left));
  const oy = Math.max(0, Math.min(bb, pos.top + ch) - Math.max(bt, pos.top));
  const best = Math.min(cw, br - bl) * Math.min(ch, bb - bt);
  return best > 0 ? (ox * oy) / best : 1;
}

async function libvips(input: Buffer, cw: number, ch: number, position: number): Promise<Pos> {
  const { info } = await sharp(input).resize(cw, ch, { fit: 'cover', position }).raw().toBuffer({ resolveWithObject: true });
  return { left: Math.abs(info.cropOffsetLeft ?? 0), top: Math.abs(info.cropOffsetTop ?? 0) };
}

/** The production path (`c_crop,w,h,g_auto` through a server in this process: saliency, faces, objects), crop read from fl_getinfo. */
let server: { app: FastifyInstance; dir: string } | undefined;
async function viaServer(input: Buffer, W: number, H: number, cw: number, ch: number): Promise<Pos> {
  if (!server) {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'aperture-gauto-'));
    server = { dir, app: await buildServer(testConfig({ storageDir: dir }), { defaultMetrics: false }) };
  }
  const name = `${createHash('sha1').update(input).digest('hex').slice(0, 16)}.img`;
  const file = path.join(server.dir, name);
  if (!fs.existsSync(file)) await fs.promises.writeFile(file, input);
  const res = await server.app.inject({ url: `/image/upload/c_crop,w_${cw},h_${ch},g_auto/fl_getinfo/${name}` });
  if (res.statusCode !== 200) throw new Error(`server: ${res.statusCode} ${String(res.headers['x-cld-error'])}`);
  const crop = (JSON.parse(res.body) as { crop?: { x: number; y: number } }).crop;
  return crop ? { left: crop.x, top: crop.y } : { left: Math.round((W - cw) / 2), top: Math.round((H - ch) / 2) };
}

export async function closeServer(): Promise<void> {
  if (!server) return;
  await server.app.close();
  await fs.promises.rm(server.dir, { recursive: true, force: true });
  server = undefined;
}

export const strategies: Record<string, Strategy> = {
  server: viaServer,
  ours: async (input, W, H, cw, ch) => {
    const a = analyzeSaliency(await analysisImage(sharp(input)));
    return chooseCrop(a, W, H, cw, ch);
  },
  center: async (_i, W, H, cw, ch) => ({ left: Math.round((W - cw) / 2), top: Math.round((H - ch) / 2) }),
  attention: (input, _W, _H, cw, ch) => libvips(input, cw, ch, sharp.strategy.attention),
  entropy: (input, _W, _H, cw, ch) => libvips(input, cw, ch, sharp.strategy.entropy),
  smartcrop: async (input, W, H, cw, ch) => {
    const { topCrop } = await smartcrop.crop(input, { width: cw, height: ch });
    // smartcrop may return a scaled box; keep its centre, at our crop size.
    const left = Math.round(topCrop.x + topCrop.width / 2 - cw / 2);
    const top = Math.round(topCrop.y + topCrop.height / 2 - ch / 2);
    return { left: Math.max(0, Math.min(W - cw, left)), top: Math.max(0, Math.min(H - ch, top)) };
  },
};

/** An image in memory: corpus file as is, or a composite built from corpus pieces. */
type Source = () => Promise<Buffer>;

function corpusFile(rel: string): Source {
  return async () => fs.promises.readFile(path.join(shared, 'corpus', rel));
}

/**
 * Paste an elliptical, feathered cut of `piece` (a region of a corpus photo, fractions) scaled
 * to `size` (fraction of the background width) onto `bg` with its top-left at (fx, fy).
 * Returns the image and the pasted object's box as fractions.
 */
async function composite(
  bg: string, piece: string, region: [number, number, number, number], size: number, fx: number, fy: number,
): Promise<{ image: Buffer; box: Case['box'] }> {
  const bgBuf = await fs.promises.readFile(path.join(shared, 'corpus', bg));
  const bm = await sharp(bgBuf).metadata();
  const pBuf = await fs.promises.readFile(path.join(shared, 'corpus', piece));
  const pm = await sharp(pBuf).metadata();
  const ext = {
    left: Math.round(region[0] * pm.width), top: Math.round(region[1] * pm.height),
    width: Math.round((region[2] - region[0]) * pm.width), height: Math.round((region[3] - region[1]) * pm.height),
  };
  const pw = Math.round(size * bm.width);
  const ph = Math.round((pw * ext.height) / ext.width);
  const mask = Buffer.from(
    `<svg width="${pw}" height="${ph}" xmlns="http://www.w3.org/2000/svg"><defs><filter id="f"><feGaussianBlur stdDeviation="${pw * 0.04}"/></filter></defs>` +
    `<ellipse cx="${pw / 2}" cy="${ph / 2}" rx="${pw * 0.42}" ry="${ph * 0.42}" fill="#fff" filter="url(#f)"/></svg>`,
  );
  const alpha = await sharp(mask).extractChannel(3).toBuffer();
  const cut = await sharp(pBuf).extract(ext).resize(pw, ph).removeAlpha().joinChannel(alpha).png().toBuffer();
  const left = Math.round(fx * bm.width);
  const top = Math.round(fy * bm.height);
  const image = await sharp(bgBuf).composite([{ input: cut, left, top }]).jpeg({ quality: 92 }).toBuffer();
  const W = bm.width, H = bm.height;
  // The box is the visible ellipse's extent, not the transparent corners of the cut.
  const ex = pw * 0.08, ey = ph * 0.08;
  return { image, box: [(left + ex) / W, (top + ey) / H, (left + pw - ex) / W, (top + ph - ey) / H] };
}

/**
 * Held-out cases: photos outside the dev set and composites. Boxes were drawn by eye on
 * 640 px previews before running any strategy on them; see bench/gauto-results.md.
 */
export async function heldOut(): Promise<{ c: Case; src: Source }[]> {
  const photo = (image: string, subject: string, box: Case['box'], ar: Case['ar']) => ({
    c: { image: `photos/${image}`, subject, box, ar }, src: corpusFile(`photos/${image}`),
  });
  const out = [
    photo('ladybird.jpg', 'the ladybird', [0.66, 0.44, 0.755, 0.6], [1, 2]),
    photo('ladybird.jpg', 'the ladybird', [0.66, 0.44, 0.755, 0.6], [1, 1]),
    photo('coffee.png', 'the cup and saucer', [0.12, 0.02, 0.8, 0.97], [1, 2]),
    photo('coffee.png', 'the cup', [0.28, 0.02, 0.7, 0.75], [3, 1]),
    photo('rocket.jpg', 'the rocket on its pad', [0.46, 0.3, 0.54, 1.0], [1, 2]),
    photo('rocket.jpg', 'the rocket on its pad', [0.46, 0.3, 0.54, 1.0], [1, 1]),
    photo('astronaut.png', 'the astronaut (head and torso)', [0.04, 0.0, 0.74, 1.0], [1, 2]),
    photo('astronaut.png', 'the astronaut\'s head', [0.35, 0.03, 0.6, 0.38], [3, 1]),
    photo('cat.png', 'the cat\'s eyes and nose', [0.28, 0.22, 0.8, 0.75], [3, 1]),
    photo('motorcycle.png', 'the whole motorcycle', [0.12, 0.14, 0.92, 0.9], [1, 1]),
    photo('yellowflower.jpg', 'the flower disc', [0.72, 0.62, 1.0, 1.0], [1, 2]),
  ];
  const comps: { name: string; subject: string; ar: Case['ar']; make: () => ReturnType<typeof composite> }[] = [
    {
      name: 'composite: ladybird on forest', subject: 'small ladybird patch, upper right', ar: [1, 2],
      make: () => composite('photos/path.jpg', 'photos/ladybird.jpg', [0.63, 0.38, 0.78, 0.66], 0.07, 0.72, 0.3),
    },
    {
      name: 'composite: ladybird on forest', subject: 'small ladybird patch, upper right', ar: [1, 1],
      make: () => composite('photos/path.jpg', 'photos/ladybird.jpg', [0.63, 0.38, 0.78, 0.66], 0.07, 0.72, 0.3),
    },
    {
      name: 'composite: yellow flower on forest floor', subject: 'small flower patch, lower left', ar: [1, 2],
      make: () => composite('photos/path.jpg', 'photos/yellowflower.jpg', [0.55, 0.6, 0.9, 1.0], 0.08, 0.1, 0.66),
    },
    {
      name: 'composite: coffee cup on cups texture', subject: 'small coffee cup, right', ar: [1, 2],
      make: () => composite('photos/cups.jpg', 'photos/coffee.png', [0.1, 0.0, 0.9, 1.0], 0.12, 0.78, 0.45),
    },
    {
      name: 'composite: coffee cup on cups texture', subject: 'small coffee cup, right', ar: [3, 1],
      make: () => composite('photos/cups.jpg', 'photos/coffee.png', [0.1, 0.0, 0.9, 1.0], 0.12, 0.78, 0.45),
    },
    {
      name: 'composite: rocket on starfield', subject: 'small rocket-launch patch, left', ar: [1, 2],
      make: () => composite('photos/hubble.jpg', 'photos/rocket.jpg', [0.35, 0.4, 0.65, 1.0], 0.12, 0.1, 0.25),
    },
  ];
  for (const k of comps) {
    let made: Awaited<ReturnType<typeof composite>> | undefined;
    const src: Source = async () => (made ??= await k.make()).image;
    const image = await src();
    out.push({ c: { image: k.name, subject: k.subject, box: made!.box, ar: k.ar }, src: async () => image });
  }
  return out;
}

export interface Row { c: Case; scores: Record<string, number> }

export async function scoreCases(cases: { c: Case; src: Source }[], names = Object.keys(strategies)): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { c, src } of cases) {
    const input = await src();
    const m = await sharp(input).metadata();
    const { cw, ch } = largestCrop(m.width, m.height, c.ar);
    const scores: Record<string, number> = {};
    for (const name of names) {
      const pos = await strategies[name](input, m.width, m.height, cw, ch);
      scores[name] = scoreCrop(m.width, m.height, c.box, pos, cw, ch);
    }
    rows.push({ c, scores });
  }
  return rows;
}

export async function devCases(): Promise<{ c: Case; src: Source }[]> {
  const cases: Case[] = JSON.parse(await fs.promises.readFile(path.join(shared, 'gauto/dev-cases.json'), 'utf8'));
  return cases.map((c) => ({ c, src: corpusFile(c.image) }));
}

function table(rows: Row[], names: string[]): string {
  const lines = [
    `| case | subject | ar | ${names.join(' | ')} |`,
    `|---|---|---|${names.map(() => '---:').join('|')}|`,
  ];
  for (const r of rows) {
    lines.push(`| ${r.c.image} | ${r.c.subject} | ${r.c.ar.join(':')} | ${names.map((n) => r.scores[n].toFixed(2)).join(' | ')} |`);
  }
  const mean = (n: string) => rows.reduce((s, r) => s + r.scores[n], 0) / rows.length;
  lines.push(`| **mean** | | | ${names.map((n) => `**${mean(n).toFixed(3)}**`).join(' | ')} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!fs.existsSync(shared)) {
    console.error(`gauto-score: ${shared} not found; nothing to score.`);
    process.exitCode = 1;
    return;
  }
  const names = Object.keys(strategies);
  const only = process.argv.includes('--ours') ? ['ours', 'server'] : names;
  const dev = await scoreCases(await devCases(), only);
  const devTable = table(dev, only);
  console.log('dev set\n' + devTable);
  const held = await scoreCases(await heldOut(), only);
  const heldTable = table(held, only);
  console.log('\nheld-out set\n' + heldTable);
  await closeServer();
  if (only.length === names.length) {
    const body = `# g_auto crop quality\n\nGenerated by \`npx tsx bench/gauto-score.ts\` (scoring of ../shared/gauto/README.md).\n\n` +
      `## Dev set (../shared/gauto/dev-cases.json)\n\n${devTable}\n\n## Held-out set\n\n${heldTable}\n`;
    const file = path.join(root, 'bench/gauto-results.md');
    const prev = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    // Hand-written sections after the generated tables survive a re-run.
    const marker = '\n## Notes';
    const tail = prev.includes(marker) ? prev.slice(prev.indexOf(marker)) : '';
    fs.writeFileSync(file, body + tail);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
