import t, { type Test } from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import {
  FACE_SCORE_THRESHOLD,
  detectFaces,
  facesAvailable,
  getFaceDetector,
  type FaceBox,
} from '../../src/analyze/faces.ts';
import type { Box, RawImage } from '../../src/analyze/types.ts';
import { corpusDir, hasShared } from '../helpers/harness.ts';


const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../fixtures/astronaut-320.jpg');
const corpus = path.join(corpusDir, 'photos');
if (!hasShared) t.comment(`NOTICE: ${corpus} not found; corpus checks are skipped`);

// Eileen Collins' face (brow to chin, ear to ear) in astronaut.png's 512x512 pixels, read off the image.
const FACE_512: Box = { x: 170, y: 70, width: 110, height: 115 };

function scaled(b: Box, k: number): Box {
  return { x: b.x * k, y: b.y * k, width: b.width * k, height: b.height * k };
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a.width * a.height + b.width * b.height - w * h);
}

function centreInside(b: Box, region: Box): boolean {
  const cx = b.x + b.width / 2, cy = b.y + b.height / 2;
  return cx >= region.x && cx <= region.x + region.width && cy >= region.y && cy <= region.y + region.height;
}

async function raw(input: Sharp): Promise<RawImage> {
  const { data, info } = await input.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

/** Smooth two-axis colour gradient: photo-like statistics, certainly no face. */
function gradient(width: number, height: number): RawImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 255) / width;
      data[o + 1] = (y * 255) / height;
      data[o + 2] = 128 + 100 * Math.sin(x / 40 + y / 60);
    }
  }
  return { data, width, height, channels: 3 };
}

function assertFace(tt: Test, boxes: FaceBox[], truth: Box, label: string): void {
  tt.equal(boxes.length, 1, `${label}: exactly one face`);
  const [b] = boxes;
  if (!b) return;
  tt.ok(centreInside(b, truth), `${label}: box centre inside the true face (${JSON.stringify(b)})`);
  tt.ok(iou(b, truth) >= 0.5, `${label}: IoU ${iou(b, truth).toFixed(2)} >= 0.5`);
  tt.ok(b.score >= FACE_SCORE_THRESHOLD && b.score <= 1, `${label}: score ${b.score.toFixed(3)} in [threshold, 1]`);
}

t.test('detector loads once, shared by concurrent callers', async (tt) => {
  const [a, b] = await Promise.all([getFaceDetector(), getFaceDetector()]);
  tt.equal(a, b, 'same instance');
  tt.ok(a.available, 'model loaded from node_modules');
  tt.ok(facesAvailable(), 'facesAvailable() reports it');
});

t.test('finds the face in the shipped astronaut fixture', async (tt) => {
  const img = await raw(sharp(fixture));
  tt.equal(img.width, 320);
  assertFace(tt, await detectFaces(img), scaled(FACE_512, 320 / 512), 'rgb');
});

t.test('grey, grey+alpha and RGBA inputs give the same face', async (tt) => {
  const truth = scaled(FACE_512, 320 / 512);
  assertFace(tt, await detectFaces(await raw(sharp(fixture).greyscale())), truth, '1 channel');
  assertFace(tt, await detectFaces(await raw(sharp(fixture).greyscale().ensureAlpha())), truth, '2 channels');
  assertFace(tt, await detectFaces(await raw(sharp(fixture).ensureAlpha())), truth, '4 channels');
});

t.test('oversized input is downscaled and boxes come back in its pixels', async (tt) => {
  const img = await raw(sharp(fixture).resize(1600, 1600));
  assertFace(tt, await detectFaces(img), scaled(FACE_512, 1600 / 512), '1600 px');
});

t.test('a small face (~36 px in 512) is found by the 608 pass', async (tt) => {
  const bg = gradient(512, 384);
  // The face is 110/512 of the fixture's width: a 168 px paste makes it ~36 px, below what 416 alone finds.
  const side = 168;
  const face = await sharp(fixture).resize(side, side).toBuffer();
  const left = 300, top = 150;
  const img = await raw(sharp(bg.data, { raw: { width: 512, height: 384, channels: 3 } }).composite([{ input: face, left, top }]));
  const truth = { ...scaled(FACE_512, side / 512), x: left + FACE_512.x * side / 512, y: top + FACE_512.y * side / 512 };
  assertFace(tt, await detectFaces(img), truth, 'small face');
});

t.test('no faces in a synthetic gradient', async (tt) => {
  tt.same(await detectFaces(gradient(512, 341)), []);
});

t.test('corpus: astronaut at full size; landscapes and objects without faces', { skip: hasShared ? false : 'needs ../shared/corpus' }, async (tt) => {
  const astro = await raw(sharp(path.join(corpus, 'astronaut.png')));
  assertFace(tt, await detectFaces(astro), FACE_512, 'astronaut.png');
  for (const f of ['path.jpg', 'coffee.png', 'hubble.jpg', 'fallenleaf.jpg']) {
    const img = await raw(sharp(path.join(corpus, f)).resize(512, 512, { fit: 'inside' }));
    tt.same(await detectFaces(img), [], `${f}: no faces`);
  }
});

t.test('concurrent calls each get their own answer', async (tt) => {
  const face = await raw(sharp(fixture));
  const none = gradient(320, 240);
  const inputs = [face, none, face, none, face, none];
  const results = await Promise.all(inputs.map((img) => detectFaces(img)));
  results.forEach((boxes, i) => tt.equal(boxes.length, i % 2 === 0 ? 1 : 0, `call ${i}`));
  const truth = scaled(FACE_512, 320 / 512);
  for (const i of [0, 2, 4]) tt.ok(centreInside(results[i]![0]!, truth), `call ${i} box on the face`);
});

t.test('tensors do not leak over 50 detections', async (tt) => {
  const detector = await getFaceDetector();
  const img = await raw(sharp(fixture).resize(96, 96));
  await detector.detect(img);
  const before = await detector.tensorCount();
  tt.ok(before > 0, `weights are resident (${before} tensors)`);
  await Promise.all(Array.from({ length: 50 }, () => detector.detect(img)));
  tt.equal(await detector.tensorCount(), before, 'same tensor count after 50 detections');
});

t.test('degenerate shapes answer [] instead of throwing', async (tt) => {
  for (const [w, h] of [[1, 1], [1000, 3], [3, 3000]] as const) {
    tt.same(await detectFaces({ data: Buffer.alloc(w * h * 3, 90), width: w, height: h, channels: 3 }), [], `${w}x${h}`);
  }
});

t.test('inconsistent RawImage is a programming error', async (tt) => {
  await tt.rejects(detectFaces({ data: Buffer.alloc(10), width: 10, height: 10, channels: 3 }), RangeError);
  await tt.rejects(detectFaces({ data: Buffer.alloc(0), width: 0, height: 0, channels: 3 }), RangeError);
});
