import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { analyzeSaliency, type SaliencyAnalysis } from '../../src/analyze/saliency.ts';
import { analysisImage, chooseCrop, subjectRegion } from '../../src/analyze/crop.ts';
import type { Box } from '../../src/analyze/types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const shared = path.resolve(root, '../shared');
const hasShared = existsSync(path.join(shared, 'gauto/dev-cases.json'));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Textured green field with a red disc; sizes in source pixels. */
async function discScene(W: number, H: number, cx: number, cy: number, rad: number): Promise<Buffer> {
  const r = rng(3);
  const buf = Buffer.alloc(W * H * 3);
  for (let p = 0; p < W * H; p++) {
    const x = p % W;
    buf[p * 3] = 40 + r() * 40;
    buf[p * 3 + 1] = Math.max(0, Math.min(255, 120 + Math.sin(x * 0.3) * 30 + r() * 60));
    buf[p * 3 + 2] = 30 + r() * 30;
  }
  for (let y = cy - rad; y <= cy + rad; y++) for (let x = cx - rad; x <= cx + rad; x++) {
    if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) buf.set([205, 25, 30], (y * W + x) * 3);
  }
  return sharp(buf, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

function inside(c: { left: number; top: number }, cw: number, ch: number, box: Box): boolean {
  return box.x >= c.left && box.y >= c.top && box.x + box.width <= c.left + cw && box.y + box.height <= c.top + ch;
}

t.test('analysisImage: small 3-channel copy, alpha flattened on white', async (t) => {
  const img = await analysisImage(sharp(await discScene(1280, 800, 900, 300, 60)));
  t.equal(img.channels, 3);
  t.equal(Math.max(img.width, img.height), 320);
  t.equal(img.width, 320);
  t.equal(img.height, 200);
  t.equal(img.data.length, 320 * 200 * 3);
  const transparent = sharp({ create: { width: 600, height: 300, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png();
  const flat = await analysisImage(transparent, 256);
  t.equal(flat.width, 256);
  t.equal(flat.height, 128);
  t.equal(flat.channels, 3);
  t.same([flat.data[0], flat.data[1], flat.data[2]], [255, 255, 255], 'transparent becomes white');
  const grey = await analysisImage(sharp(Buffer.alloc(100 * 50, 77), { raw: { width: 100, height: 50, channels: 1 } }));
  t.equal(grey.channels, 3, 'grey input expanded to sRGB');
  t.equal(grey.width, 100, 'never enlarged');
});

t.test('the crop keeps a small off-centre disc on a textured field', async (t) => {
  const W = 2000, H = 1250;
  const disc: Box = { x: 1580 - 70, y: 350 - 70, width: 141, height: 141 };
  const input = await discScene(W, H, 1580, 350, 70);
  const a = analyzeSaliency(await analysisImage(sharp(input)));
  for (const [cw, ch] of [[625, 1250], [1250, 1250], [2000, 667], [400, 400]] as const) {
    const c = chooseCrop(a, W, H, cw, ch);
    t.ok(inside(c, cw, ch, disc), `${cw}x${ch} crop at ${c.left},${c.top} holds the disc`);
  }
  const region = subjectRegion(a, W, H);
  t.ok(region.x <= disc.x + 20 && region.x + region.width >= disc.x + disc.width - 20, `subject region ${JSON.stringify(region)} spans the disc`);
  t.ok(region.width < W / 3, 'subject region is the disc, not the field');
});

t.test('a given face is kept even when another object is more colourful', async (t) => {
  const W = 2000, H = 1250;
  const input = await discScene(W, H, 300, 900, 90);
  const img = await analysisImage(sharp(input));
  const k = img.width / W;
  const faceSrc: Box = { x: 1500, y: 200, width: 160, height: 190 };
  const a = analyzeSaliency(img, { faces: [{ x: faceSrc.x * k, y: faceSrc.y * k, width: faceSrc.width * k, height: faceSrc.height * k }] });
  for (const [cw, ch] of [[625, 1250], [2000, 667], [500, 500]] as const) {
    const c = chooseCrop(a, W, H, cw, ch);
    t.ok(inside(c, cw, ch, { x: faceSrc.x + 4, y: faceSrc.y + 4, width: faceSrc.width - 8, height: faceSrc.height - 8 }),
      `${cw}x${ch} crop at ${c.left},${c.top} keeps the face`);
  }
});

t.test('a real photo with a face box: the 3:1 crop keeps the face', async (t) => {
  const fixture = path.join(root, 'test/fixtures/astronaut-320.jpg');
  // Eileen Collins' face in the 320x320 fixture, read off the image.
  const face: Box = { x: 106, y: 44, width: 69, height: 72 };
  const img = await analysisImage(sharp(fixture));
  const a = analyzeSaliency(img, { faces: [face] });
  const c = chooseCrop(a, 320, 320, 320, 107);
  t.ok(c.top <= face.y && c.top + 107 >= face.y + face.height, `crop top ${c.top} keeps the face rows`);
});

t.test('chooseCrop always returns a crop inside the source', async (t) => {
  const r = rng(42);
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const w = 8 + Math.floor(r() * 60);
    const h = 8 + Math.floor(r() * 60);
    const map = new Float32Array(w * h).map(() => r() ** 4);
    const sx = Math.floor(r() * w), sy = Math.floor(r() * h);
    const a: SaliencyAnalysis = {
      width: w, height: h, map, subjectMap: map.map((v) => v * (r() > 0.5 ? 1 : 0)),
      subject: { x: sx, y: sy, width: 1 + Math.floor(r() * (w - sx)), height: 1 + Math.floor(r() * (h - sy)) },
      centroid: { x: r() * w, y: r() * h }, confidence: r(), faces: [],
    };
    const srcW = 1 + Math.floor(r() * 5000);
    const srcH = 1 + Math.floor(r() * 5000);
    const cw = 1 + Math.floor(r() * srcW);
    const ch = 1 + Math.floor(r() * srcH);
    const c = chooseCrop(a, srcW, srcH, cw, ch);
    const ok = Number.isInteger(c.left) && Number.isInteger(c.top) && c.left >= 0 && c.top >= 0 &&
      c.left + cw <= srcW && c.top + ch <= srcH;
    if (!ok) t.fail(`crop ${cw}x${ch} at ${c.left},${c.top} outside ${srcW}x${srcH}`);
    const region = subjectRegion(a, srcW, srcH);
    if (region.x < 0 || region.y < 0 || region.width < 1 || region.height < 1 || region.x + region.width > srcW || region.y + region.height > srcH) {
      t.fail(`subject region ${JSON.stringify(region)} outside ${srcW}x${srcH}`);
    }
    checked++;
  }
  t.equal(checked, 300, 'all random cases inside');
  const full = chooseCrop(analyzeSaliency({ data: Buffer.alloc(30, 9), width: 5, height: 2, channels: 3 }), 500, 200, 500, 200);
  t.same(full, { left: 0, top: 0 }, 'crop the size of the source');
});

t.test('dev set (../shared/gauto): mean score >= 0.90', { skip: hasShared ? false : `NOTICE: ${shared} not found; dev-set score skipped` }, async (t) => {
  const { devCases, scoreCases } = await import('../../bench/gauto-score.ts');
  const rows = await scoreCases(await devCases(), ['ours']);
  const mean = rows.reduce((s, r) => s + r.scores.ours, 0) / rows.length;
  t.comment(rows.map((r) => `${path.basename(r.c.image)} ${r.c.ar.join(':')} ${r.scores.ours.toFixed(2)}`).join('\n'));
  t.equal(rows.length, 9);
  t.ok(mean >= 0.9, `dev mean ${mean.toFixed(3)} >= 0.90`);
});
