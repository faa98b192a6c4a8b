import t from 'tap';
import sharp from 'sharp';
import { analyzeSaliency, saliencyCues, saliencyOf, withFaces } from '../../src/analyze/saliency.ts';
import { closeMetricWorker, workerSaliency } from '../../src/analyze/metric.ts';
import type { Box, RawImage } from '../../src/analyze/types.ts';

/** Deterministic PRNG so the synthetic scenes are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Noisy, textured green field (grass-like), the kind of background that lures mass-based crops. */
function greenField(w: number, h: number, seed = 1): Buffer {
  const r = rng(seed);
  const buf = Buffer.alloc(w * h * 3);
  for (let p = 0; p < w * h; p++) {
    const x = p % w;
    const stripe = Math.sin(x * 0.9 + r() * 2) * 25;
    buf[p * 3] = 40 + r() * 40;
    buf[p * 3 + 1] = Math.max(0, Math.min(255, 120 + stripe + r() * 60));
    buf[p * 3 + 2] = 30 + r() * 30;
  }
  return buf;
}

function paintDisc(buf: Buffer, w: number, cx: number, cy: number, rad: number, rgb: [number, number, number]): void {
  const h = buf.length / 3 / w;
  for (let y = Math.max(0, Math.floor(cy - rad)); y < Math.min(h, Math.ceil(cy + rad)); y++) {
    for (let x = Math.max(0, Math.floor(cx - rad)); x < Math.min(w, Math.ceil(cx + rad)); x++) {
      if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) buf.set(rgb, (y * w + x) * 3);
    }
  }
}

function contains(outer: Box, inner: Box, slack = 0): boolean {
  return inner.x >= outer.x - slack && inner.y >= outer.y - slack &&
    inner.x + inner.width <= outer.x + outer.width + slack && inner.y + inner.height <= outer.y + outer.height + slack;
}

function overlapShare(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? (w * h) / (b.width * b.height) : 0;
}

t.test('a small red disc on a noisy green field is the subject', async (t) => {
  const w = 320, h = 200;
  const data = greenField(w, h);
  paintDisc(data, w, 250, 60, 14, [210, 30, 30]);
  const a = analyzeSaliency({ data, width: w, height: h, channels: 3 });
  t.equal(a.width, w);
  t.equal(a.height, h);
  t.equal(a.map.length, w * h);
  const disc: Box = { x: 236, y: 46, width: 28, height: 28 };
  t.ok(overlapShare(a.subject, disc) > 0.8, `subject ${JSON.stringify(a.subject)} holds the disc`);
  t.ok(a.subject.width * a.subject.height < w * h * 0.1, 'subject box is tight, not the whole field');
  let disc2 = 0;
  for (let x = 240; x < 260; x++) disc2 += a.map[60 * w + x];
  let bg = 0;
  for (let x = 0; x < 100; x++) bg += a.map[150 * w + x];
  t.ok(disc2 / 20 > 1.5 * (bg / 100), `disc (${(disc2 / 20).toFixed(2)}) far more salient than the field (${(bg / 100).toFixed(2)})`);
  t.ok(a.confidence > 0.3, `one clear subject (confidence ${a.confidence.toFixed(2)})`);
});

t.test('focus: the sharp copy of a texture beats its blurred twin', async (t) => {
  const w = 300, h = 150;
  // Grey backdrop with two identical checker patches; the left one is then blurred (bokeh).
  const img = Buffer.alloc(w * h * 3, 128);
  const patch = (x0: number) => {
    for (let y = 45; y < 105; y++) for (let x = x0; x < x0 + 60; x++) {
      const v = ((x >> 2) + (y >> 2)) & 1 ? 230 : 20;
      img.fill(v, (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
  };
  patch(40);
  patch(200);
  const { data } = await sharp(img, { raw: { width: w, height: h, channels: 3 } })
    .extract({ left: 0, top: 0, width: 150, height: h }).blur(6).raw().toBuffer({ resolveWithObject: true });
  for (let y = 0; y < h; y++) data.copy(img, y * w * 3, y * 150 * 3, (y + 1) * 150 * 3);
  const raw: RawImage = { data: img, width: w, height: h, channels: 3 };
  const cues = saliencyCues(raw);
  t.ok(cues.focus[75 * w + 230] > 3 * cues.focus[75 * w + 70], 'focus cue separates sharp from blurred');
  const a = analyzeSaliency(raw);
  t.ok(a.centroid.x > 150, `subject centroid ${a.centroid.x.toFixed(0)} is on the sharp patch`);
  t.ok(overlapShare(a.subject, { x: 200, y: 45, width: 60, height: 60 }) > 0.7, 'subject box holds the sharp patch');
});

t.test('given faces dominate the subject', async (t) => {
  const w = 320, h = 200;
  const data = greenField(w, h, 7);
  paintDisc(data, w, 60, 100, 20, [230, 20, 20]);
  const face: Box = { x: 230, y: 40, width: 30, height: 36 };
  const a = analyzeSaliency({ data, width: w, height: h, channels: 3 }, { faces: [face] });
  t.ok(contains(a.subject, face), 'face inside the subject');
  t.ok(overlapShare(face, a.subject) > 0.9, 'subject is the face, not the red disc');
  t.same(a.faces, [face]);
});

t.test('degenerate inputs: flat, tiny, grey and alpha images', async (t) => {
  const flat = analyzeSaliency({ data: Buffer.alloc(64 * 48 * 3, 90), width: 64, height: 48, channels: 3 });
  t.ok(flat.map.every((v) => Number.isFinite(v) && v >= 0 && v <= 1), 'flat image: finite map in 0..1');
  t.ok(flat.subject.width > 0 && flat.subject.height > 0, 'flat image: non-empty subject');
  const one = analyzeSaliency({ data: Buffer.from([10, 20, 30]), width: 1, height: 1, channels: 3 });
  t.equal(one.map.length, 1);
  t.ok(one.subject.x >= 0 && one.subject.x + one.subject.width <= 1, 'subject inside a 1x1 image');
  const grey = Buffer.alloc(80 * 60, 50);
  for (let y = 20; y < 40; y++) grey.fill(250, y * 80 + 50, y * 80 + 70);
  const g = analyzeSaliency({ data: grey, width: 80, height: 60, channels: 1 });
  t.ok(overlapShare(g.subject, { x: 50, y: 20, width: 20, height: 20 }) > 0.7, 'grey image: bright square found');
  // Transparent pixels count as white: an opaque dark square on a transparent canvas is the subject.
  const rgba = Buffer.alloc(80 * 60 * 4, 0);
  for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) rgba.set([20, 20, 120, 255], (y * 80 + x) * 4);
  const al = analyzeSaliency({ data: rgba, width: 80, height: 60, channels: 4 });
  t.ok(overlapShare(al.subject, { x: 10, y: 10, width: 20, height: 20 }) > 0.7, 'alpha image: opaque square found');
});

t.test('the analysis worker computes the same saliency as the main thread, to the bit', async (t) => {
  t.teardown(closeMetricWorker);
  const w = 320, h = 200;
  const data = greenField(w, h, 7);
  paintDisc(data, w, 90, 120, 20, [230, 200, 40]);
  const img: RawImage = { data, width: w, height: h, channels: 3 };
  const here = saliencyOf(img);
  const there = await workerSaliency(img);
  const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  t.ok(bits(there.map).equals(bits(here.map)), 'same map');
  t.ok(bits(there.subjectMap).equals(bits(here.subjectMap)), 'same subject map');
  t.same({ ...there, map: 0, subjectMap: 0 }, { ...here, map: 0, subjectMap: 0 }, 'same subject, centroid and confidence');
  // Faces replace the subject of the analysis without them; the map is that analysis' map.
  const face: Box = { x: 200.5, y: 30, width: 40, height: 50 };
  const withF = analyzeSaliency(img, { faces: [face] });
  t.ok(bits(withF.map).equals(bits(here.map)), 'faces do not change the map');
  t.same(withF.subject, withFaces(here, [face]).subject);
  t.equal(withF.confidence, 1);
  t.same(withF.faces, [face]);
});
