/**
 * Background removal on a development set with EXACT ground truth (issue 16 item 3). Each case
 * is a foreground cut-out whose alpha we define ourselves, pasted at a place and scale onto a
 * background, saved as a JPEG (q90, as a CDN original would be) 1200-2000 px wide:
 *
 * - the cut-outs: the repository's logo-cutout.png (a real alpha channel), and photo regions cut
 *   with shapes traced by hand on the photo (the cat's head as an ellipse, the astronaut's head and
 *   shoulders as a polygon, the espresso cup with its saucer and spoon as ellipses and a polygon,
 *   one blue mug of corpus cups.jpg as an ellipse and a polygon, the motorcycle of corpus
 *   motorcycle.png as two wheel ellipses and a body polygon, the rocket of rocket.jpg as a
 *   capsule);
 * - the backgrounds: corpus photos, and illustrated or flat ones (the wallpaper kay-alpha.png, the
 *   illustration-5k.jpg painting, blobs.svg, solid colours, linear and radial gradients).
 *
 * The ground truth is the pasted alpha (>= 128), never a model's output. Every composite is asked
 * of the real server (in process, `e_background_removal/f_png`) once with the `small` model and
 * once with `medium`; the delivered alpha (>= 128) is scored by IoU against the truth. Latencies
 * are whole requests (the first of each model includes the model process start and model load).
 *
 * Usage: npx tsx bench/bgremoval-score.ts [--out bench/bgremoval-results.md] [--keep DIR] [--models small,medium]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildServer } from '../src/server.ts';
import { testConfig } from '../src/config.ts';
import { bgRemovalState, stopBgRemoval, type BgModel } from '../src/analyze/bgremoval.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '../shared');
const corpus = (rel: string) => path.join(shared, 'corpus', rel);

interface Cutout {
  name: string;
  file: string;
  /** SVG shapes in the source's pixel coordinates (white = kept); none: the file's own alpha. */
  shapes?: string;
}

/** Cut-outs: shapes traced by hand on each photo (checked by drawing them over it). */
const CUTOUTS: Record<string, Cutout> = {
  logo: { name: 'logo cut-out (own alpha)', file: path.join(root, 'images/logo-cutout.png') },
  cat: { name: "cat's head", file: path.join(root, 'images/cat.png'), shapes: '<ellipse cx="215" cy="160" rx="178" ry="142"/>' },
  astronaut: {
    name: 'astronaut bust', file: path.join(root, 'images/astronaut.png'),
    shapes: '<polygon points="227,16 262,22 288,45 300,77 298,112 285,138 278,150 300,190 304,230 330,260 350,288 358,320 362,349 22,349 26,300 38,268 70,237 109,211 118,190 130,160 168,157 157,122 154,83 166,51 192,26"/>',
  },
  espresso: {
    name: 'espresso cup and saucer', file: path.join(root, 'images/coffee.png'),
    shapes: '<ellipse cx="278" cy="228" rx="200" ry="158" transform="rotate(12 278 228)"/><ellipse cx="291" cy="110" rx="118" ry="96"/><polygon points="397,75 411,67 424,75 416,150 398,150"/>',
  },
  mug: {
    name: 'blue mug (cups.jpg)', file: corpus('photos/cups.jpg'),
    shapes: '<ellipse cx="961" cy="818" rx="302" ry="200" transform="rotate(3 961 818)"/><polygon points="662,825 687,1150 704,1312 1037,1312 1040,1150 1087,1000 1200,944 1256,850"/>',
  },
  motorcycle: {
    name: 'motorcycle', file: corpus('photos/motorcycle.png'),
    shapes: '<g transform="scale(0.92627)"><ellipse cx="215" cy="345" rx="85" ry="92"/><ellipse cx="652" cy="405" rx="86" ry="84"/><polygon points="100,212 160,172 260,178 380,208 400,178 470,160 520,95 560,88 590,105 600,132 628,135 628,160 600,195 578,215 605,300 640,300 690,318 692,342 620,345 603,395 585,395 548,250 530,255 515,300 512,392 450,410 380,410 368,468 352,468 350,410 290,385 215,330 130,272 102,242"/></g>',
  },
  rocket: { name: 'rocket', file: path.join(root, 'images/rocket.jpg'), shapes: '<ellipse cx="322" cy="150" rx="13" ry="24"/><rect x="309" y="150" width="26" height="255"/>' },
};

type Background =
  | { photo: string }
  | { solid: string }
  | { linear: [string, string]; angle: number }
  | { radial: [string, string] };

interface BgCase {
  bg: Background;
  kind: 'photo' | 'illustrated' | 'flat';
  W: number;
  H: number;
  cut: keyof typeof CUTOUTS;
  /** The cut-out's width as a share of W, or its height as a share of H (`h`). */
  size: number;
  by?: 'h';
  /** The cut-out's top-left as shares of W and H (clamped so the cut-out stays inside). */
  at: [number, number];
}

export const CASES: BgCase[] = [
  { bg: { photo: 'photos/path.jpg' }, kind: 'photo', W: 1600, H: 1000, cut: 'astronaut', size: 0.45, at: [0.3, 1] },
  { bg: { photo: 'photos/dandelion.jpg' }, kind: 'photo', W: 1800, H: 1125, cut: 'cat', size: 0.3, at: [0.6, 0.3] },
  { bg: { photo: 'photos/fallenleaf.jpg' }, kind: 'photo', W: 1400, H: 875, cut: 'espresso', size: 0.4, at: [0.1, 0.4] },
  { bg: { photo: 'photos/eveningglow.jpg' }, kind: 'photo', W: 1600, H: 1000, cut: 'mug', size: 0.18, at: [0.62, 0.3] },
  { bg: { photo: 'photos/raindrops.jpg' }, kind: 'photo', W: 1920, H: 1200, cut: 'motorcycle', size: 0.6, at: [0.2, 0.3] },
  { bg: { photo: 'photos/ladybird.jpg' }, kind: 'photo', W: 1500, H: 938, cut: 'logo', size: 0.3, at: [0.15, 0.2] },
  { bg: { photo: 'photos/yellowflower.jpg' }, kind: 'photo', W: 1200, H: 750, cut: 'rocket', size: 0.85, by: 'h', at: [0.7, 0.08] },
  { bg: { photo: 'photos/splash.jpg' }, kind: 'photo', W: 2000, H: 1250, cut: 'astronaut', size: 0.25, at: [0.08, 0.45] },
  { bg: { photo: 'photos/hubble.jpg' }, kind: 'photo', W: 1300, H: 1134, cut: 'cat', size: 0.5, at: [0.25, 0.5] },
  { bg: { photo: 'graphics/kay-alpha.png' }, kind: 'illustrated', W: 1600, H: 1000, cut: 'espresso', size: 0.35, at: [0.55, 0.3] },
  { bg: { photo: 'graphics/illustration-5k.jpg' }, kind: 'illustrated', W: 1800, H: 1013, cut: 'motorcycle', size: 0.45, at: [0.05, 0.35] },
  { bg: { photo: 'graphics/blobs.svg' }, kind: 'illustrated', W: 1600, H: 1100, cut: 'mug', size: 0.28, at: [0.35, 0.2] },
  { bg: { solid: '#c8c8cd' }, kind: 'flat', W: 1400, H: 1000, cut: 'astronaut', size: 0.55, at: [0.22, 1] },
  { bg: { linear: ['#1e3c72', '#f5a25d'], angle: 0 }, kind: 'flat', W: 1600, H: 1000, cut: 'cat', size: 0.35, at: [0.1, 0.25] },
  { bg: { radial: ['#fdfcfb', '#8fb8de'] }, kind: 'flat', W: 1300, H: 1300, cut: 'logo', size: 0.45, at: [0.5, 0.45] },
  { bg: { solid: '#ffffff' }, kind: 'flat', W: 1600, H: 1000, cut: 'motorcycle', size: 0.7, at: [0.15, 0.15] },
];

function caseName(c: BgCase): string {
  const b = c.bg;
  const bg = 'photo' in b ? path.basename(b.photo) : 'solid' in b ? `solid ${b.solid}` : 'linear' in b ? `linear ${b.linear.join('→')}` : `radial ${b.radial.join('→')}`;
  return `${CUTOUTS[c.cut].name} on ${bg}`;
}

async function background(c: BgCase): Promise<Buffer> {
  const b = c.bg;
  if ('photo' in b) {
    return sharp(corpus(b.photo), { density: 144 }).flatten({ background: '#ffffff' }).resize(c.W, c.H, { fit: 'cover' }).removeAlpha().png().toBuffer();
  }
  if ('solid' in b) return sharp({ create: { width: c.W, height: c.H, channels: 3, background: b.solid } }).png().toBuffer();
  const grad = 'linear' in b
    ? `<linearGradient id="g" gradientTransform="rotate(${b.angle} 0.5 0.5)"><stop offset="0" stop-color="${b.linear[0]}"/><stop offset="1" stop-color="${b.linear[1]}"/></linearGradient>`
    : `<radialGradient id="g" cx="0.5" cy="0.4" r="0.7"><stop offset="0" stop-color="${b.radial[0]}"/><stop offset="1" stop-color="${b.radial[1]}"/></radialGradient>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${c.W}" height="${c.H}"><defs>${grad}</defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`;
  return sharp(Buffer.from(svg)).removeAlpha().png().toBuffer();
}

/** The cut-out as RGBA (its alpha: the traced shapes, or the file's own), cropped to its alpha's box. */
async function cutout(k: keyof typeof CUTOUTS): Promise<Buffer> {
  const c = CUTOUTS[k];
  const m = await sharp(c.file).metadata();
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${m.width}" height="${m.height}"><g fill="#fff">${c.shapes}</g></svg>`;
  const rgba = c.shapes
    ? await sharp(c.file).ensureAlpha().composite([{ input: Buffer.from(svg), blend: 'dest-in' }]).png().toBuffer()
    : await sharp(c.file).ensureAlpha().png().toBuffer();
  const { data, info } = await sharp(rgba).raw().toBuffer({ resolveWithObject: true });
  let l = info.width, t = info.height, r = -1, b = -1;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      if (data[4 * (y * info.width + x) + 3] === 0) continue;
      l = Math.min(l, x); r = Math.max(r, x); t = Math.min(t, y); b = Math.max(b, y);
    }
  }
  return sharp(rgba).extract({ left: l, top: t, width: r - l + 1, height: b - t + 1 }).png().toBuffer();
}

/** The composite (JPEG) and its exact ground truth (W*H, 1 where the cut-out's alpha >= 128). */
export async function build(c: BgCase): Promise<{ jpeg: Buffer; truth: Uint8Array }> {
  const cut = await cutout(c.cut);
  const cm = await sharp(cut).metadata();
  let w = c.by === 'h' ? Math.round((c.size * c.H * cm.width!) / cm.height!) : Math.round(c.size * c.W);
  let h = Math.round((w * cm.height!) / cm.width!);
  if (h > c.H) { h = c.H; w = Math.round((h * cm.width!) / cm.height!); }
  const piece = await sharp(cut).resize(w, h, { fit: 'fill' }).png().toBuffer();
  const left = Math.min(c.W - w, Math.round(c.at[0] * c.W)), top = Math.min(c.H - h, Math.round(c.at[1] * c.H));
  const jpeg = await sharp(await background(c)).composite([{ input: piece, left, top }]).jpeg({ quality: 90 }).toBuffer();
  const alpha = await sharp(piece).extractChannel(3).raw().toBuffer();
  const truth = new Uint8Array(c.W * c.H);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) truth[(top + y) * c.W + left + x] = alpha[y * w + x] >= 128 ? 1 : 0;
  return { jpeg, truth };
}

export function iou(alpha: Uint8Array, channels: number, truth: Uint8Array): number {
  let inter = 0, union = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = alpha[channels * i + channels - 1] >= 128, g = truth[i] === 1;
    if (p && g) inter++;
    if (p || g) union++;
  }
  return union ? inter / union : 1;
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(shared, 'corpus'))) {
    console.error(`bgremoval-score: ${shared}/corpus not found; nothing to score.`);
    process.exitCode = 1;
    return;
  }
  const arg = (name: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const models = (arg('--models') ?? 'small,medium').split(',') as BgModel[];
  const keep = arg('--keep');
  const dir = keep ?? await fs.promises.mkdtemp(path.join(os.tmpdir(), 'aperture-bgscore-'));
  await fs.promises.mkdir(dir, { recursive: true });
  const made: { c: BgCase; file: string; truth: Uint8Array }[] = [];
  for (const [i, c] of CASES.entries()) {
    const { jpeg, truth } = await build(c);
    const file = `case${String(i).padStart(2, '0')}.jpg`;
    await fs.promises.writeFile(path.join(dir, file), jpeg);
    made.push({ c, file, truth });
  }
  const load0 = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const t0run = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const scores: Record<string, number[]> = {};
  const times: Record<string, number[]> = {};
  for (const model of models) {
    const app = await buildServer(testConfig({ storageDir: dir, bgRemovalModel: model, bgRemovalWaitMs: 600_000, processTimeoutMs: 600_000 }), { defaultMetrics: false });
    scores[model] = [];
    times[model] = [];
    for (const m of made) {
      const t0 = performance.now();
      const res = await app.inject({ url: `/image/upload/e_background_removal/f_png/${m.file}` });
      const ms = performance.now() - t0;
      if (res.statusCode !== 200) throw new Error(`${model} ${m.file}: ${res.statusCode} ${res.headers['x-cld-error']}`);
      const { data, info } = await sharp(res.rawPayload).raw().toBuffer({ resolveWithObject: true });
      if (info.width !== m.c.W || info.height !== m.c.H || info.channels !== 4) throw new Error(`${m.file}: got ${info.width}x${info.height}x${info.channels}`);
      if (keep) await sharp(data, { raw: info }).png().toFile(path.join(dir, `${model}-${m.file.replace('.jpg', '.png')}`));
      const s = iou(data, info.channels, m.truth);
      scores[model].push(s);
      times[model].push(ms);
      console.error(`${model} ${m.file} ${caseName(m.c)}: IoU ${s.toFixed(3)} ${(ms / 1000).toFixed(1)} s`);
    }
    await app.close();
    console.error(`${model}: model process starts ${bgRemovalState().starts}`);
    stopBgRemoval();
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const lines = [
    `| # | case | kind | size | ${models.map((m) => `${m} IoU`).join(' | ')} | ${models.map((m) => `${m} s`).join(' | ')} |`,
    `|---|---|---|---|${models.map(() => '---:').join('|')}|${models.map(() => '---:').join('|')}|`,
    ...made.map((m, i) => `| ${i} | ${caseName(m.c)} | ${m.c.kind} | ${m.c.W}x${m.c.H} | ${models.map((k) => scores[k][i].toFixed(3)).join(' | ')} | ${models.map((k) => (times[k][i] / 1000).toFixed(1)).join(' | ')} |`),
    `| | **mean** (${made.length}) | | | ${models.map((k) => `**${mean(scores[k]).toFixed(3)}**`).join(' | ')} | ${models.map((k) => (mean(times[k].slice(1)) / 1000).toFixed(1)).join(' | ')} (warm model) |`,
    `| | **min** | | | ${models.map((k) => `**${Math.min(...scores[k]).toFixed(3)}**`).join(' | ')} | |`,
  ];
  for (const kind of ['photo', 'illustrated', 'flat'] as const) {
    const idx = made.map((m, i) => (m.c.kind === kind ? i : -1)).filter((i) => i >= 0);
    lines.push(`| | mean, ${kind} backgrounds (${idx.length}) | | | ${models.map((k) => mean(idx.map((i) => scores[k][i])).toFixed(3)).join(' | ')} | |`);
  }
  const table = lines.join('\n');
  console.log(table);
  const out = arg('--out');
  if (out) {
    fs.writeFileSync(out, `# Background removal: development composites\n\nGenerated by \`npx tsx bench/bgremoval-score.ts --out ${out}\` (the cases and how they are made: the file's header). ` +
      `IoU of the delivered alpha (>= 128) against the exact mask of the pasted cut-out; seconds per whole request ` +
      `through the in-process server (row 0 of each model includes the model process start and model load).\n\n` +
      `Run ${t0run} UTC on ${os.availableParallelism()} cores, load average (1, 5, 15 min) ${load0} at the start and ` +
      `${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end: the seconds follow the machine's load; the IoU does not.\n\n${table}\n`);
  }
  if (!keep) await fs.promises.rm(dir, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
