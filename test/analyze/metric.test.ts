import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import type { RawImage } from '../../src/analyze/types.ts';
import { perceptualDistance, openMetricSession, metricWorkerState, metricWorkerHeld } from '../../src/analyze/metric.ts';
import { prepare, distancePrepared, proxyFactor } from '../../src/analyze/metric-math.ts';
import { jpegModel, predictJpeg, jpegTable } from '../../src/analyze/jpeg-model.ts';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/astronaut-320.jpg');

async function raw(input: Sharp): Promise<RawImage> {
  const { data, info } = await input.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

async function jpegRoundTrip(ref: RawImage, quality: number): Promise<RawImage> {
  const jpeg = await sharp(ref.data, { raw: { width: ref.width, height: ref.height, channels: ref.channels } })
    .jpeg({ quality, mozjpeg: true }).toBuffer();
  return raw(sharp(jpeg));
}

t.test('identical images are at distance 0', async (t) => {
  const ref = await raw(sharp(fixture));
  t.equal(await perceptualDistance(ref, ref), 0);
  const copy = { ...ref, data: Buffer.from(ref.data) };
  t.equal(await perceptualDistance(ref, copy), 0);
});

t.test('more compression gives a larger distance, monotonically', async (t) => {
  // 800 px wide: the tiled fine-scale path; the 320 px fixture itself: the whole-plane path.
  for (const width of [320, 800]) {
    const ref = await raw(sharp(fixture).resize({ width }));
    const qualities = [95, 85, 75, 60, 40, 20];
    const d: number[] = [];
    for (const q of qualities) d.push(await perceptualDistance(ref, await jpegRoundTrip(ref, q)));
    t.ok(d[0] > 0, `q95 differs from the original at ${width} px (${d[0].toFixed(3)})`);
    for (let i = 1; i < d.length; i++) {
      t.ok(d[i] > d[i - 1], `${width} px: q${qualities[i]} (${d[i].toFixed(3)}) worse than q${qualities[i - 1]} (${d[i - 1].toFixed(3)})`);
    }
    t.ok(d[d.length - 1] > 3 * d[0], `${width} px: q20 far worse than q95`);
  }
});

t.test('blur and noise are both seen, and scale with their strength', async (t) => {
  const ref = await raw(sharp(fixture));
  const img = () => sharp(ref.data, { raw: { width: ref.width, height: ref.height, channels: ref.channels } });
  const b1 = await perceptualDistance(ref, await raw(img().blur(0.8)));
  const b2 = await perceptualDistance(ref, await raw(img().blur(2)));
  t.ok(b1 > 0.3 && b2 > b1, `blur 0.8 → ${b1.toFixed(3)}, blur 2 → ${b2.toFixed(3)}`);
  const noisy = (amp: number): RawImage => {
    const data = Buffer.from(ref.data);
    let seed = 7;
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[i] = Math.max(0, Math.min(255, data[i] + ((seed >>> 16) % (2 * amp + 1)) - amp));
    }
    return { ...ref, data };
  };
  const n1 = await perceptualDistance(ref, noisy(4));
  const n2 = await perceptualDistance(ref, noisy(16));
  t.ok(n1 > 0 && n2 > n1, `noise ±4 → ${n1.toFixed(3)}, ±16 → ${n2.toFixed(3)}`);
});

t.test('large outputs are measured on a proxy, small ones at delivered size', async (t) => {
  t.equal(proxyFactor(800, 533), 1);
  t.equal(proxyFactor(1024, 683), 1);
  t.equal(proxyFactor(2048, 1365), 2);
  const ref = await raw(sharp(fixture).resize({ width: 2200 }));
  const test = await jpegRoundTrip(ref, 40);
  const d = await perceptualDistance(ref, test);
  t.ok(d > 0, `2200 px JPEG q40 still measured (${d.toFixed(3)})`);
  t.equal(await perceptualDistance(ref, ref), 0);
});

t.test('alpha and grey inputs', async (t) => {
  const base = await raw(sharp(fixture).resize({ width: 200 }));
  const rgba = await sharp(base.data, { raw: { width: base.width, height: base.height, channels: 3 } }).ensureAlpha(1).raw().toBuffer();
  const ref: RawImage = { data: rgba, width: base.width, height: base.height, channels: 4 };
  const half = Buffer.from(rgba);
  for (let i = 3; i < half.length; i += 4) half[i] = 64;
  t.equal(await perceptualDistance(ref, ref), 0);
  t.ok(await perceptualDistance(ref, { ...ref, data: half }) > 0.5, 'a transparency change is a visible change');
  const grey = await sharp(fixture).resize({ width: 200 }).grayscale().raw().toBuffer({ resolveWithObject: true });
  const g: RawImage = { data: grey.data, width: grey.info.width, height: grey.info.height, channels: 1 };
  t.equal(await perceptualDistance(g, g), 0);
});

t.test('mismatched sizes and short buffers are rejected', async (t) => {
  const a = await raw(sharp(fixture).resize({ width: 100 }));
  const b = await raw(sharp(fixture).resize({ width: 120 }));
  await t.rejects(perceptualDistance(a, b), /size mismatch/);
  await t.rejects(perceptualDistance(a, { ...a, data: a.data.subarray(0, 10) }), /needs/);
  t.throws(() => distancePrepared(prepare(a), b), /size mismatch/);
});

t.test('the worker survives 50 calls without holding anything', async (t) => {
  const ref = await raw(sharp(fixture).resize({ width: 160 }));
  const test = await jpegRoundTrip(ref, 50);
  const first = await perceptualDistance(ref, test);
  const all = await Promise.all(Array.from({ length: 50 }, () => perceptualDistance(ref, test)));
  t.ok(all.every((d) => d === first), 'same answer every time');
  const state = metricWorkerState();
  t.equal(state.pending, 0, 'no call left pending');
  t.ok(state.running, 'one worker serves all calls');
  const session = openMetricSession(ref);
  t.equal(await metricWorkerHeld(), 1, 'an open session holds its reference');
  session.close();
  t.equal(await metricWorkerHeld(), 0, 'closed sessions (and the 50 one-shot calls) hold nothing');
});

t.test('contrast masking: the same noise counts less on texture than on a flat area', async (t) => {
  // 256×128: left half flat mid grey, right half strong random texture.
  const w = 256, h = 128;
  const base = Buffer.alloc(w * h * 3);
  let seed = 11;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 16) / 65536; };
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = x < w / 2 ? 128 : Math.round(40 + 170 * rnd());
    base.fill(v, (y * w + x) * 3, (y * w + x) * 3 + 3);
  }
  const ref: RawImage = { data: base, width: w, height: h, channels: 3 };
  const noisy = (left: boolean): RawImage => {
    const data = Buffer.from(base);
    for (let y = 0; y < h; y++) for (let x = left ? 0 : w / 2; x < (left ? w / 2 : w); x++) {
      const n = Math.round((rnd() - 0.5) * 8);
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, data[(y * w + x) * 3 + c] + n));
    }
    return { ...ref, data };
  };
  const flat = await perceptualDistance(ref, noisy(true));
  const busy = await perceptualDistance(ref, noisy(false));
  t.ok(busy > 0, `noise on texture is still seen (${busy.toFixed(3)})`);
  t.ok(flat > 2 * busy, `±4 noise: flat ${flat.toFixed(3)} > 2 × texture ${busy.toFixed(3)}`);
});

t.test('a small damaged smooth area is not averaged away (near-max pooling)', async (t) => {
  const w = 256, h = 256;
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill(Math.round(60 + 120 * x / w), (y * w + x) * 3, (y * w + x) * 3 + 3);
  const ref: RawImage = { data, width: w, height: h, channels: 3 };
  // Quantise a 32×32 patch of the smooth ramp to flat 8 px steps (banding/blocking).
  const band = Buffer.from(data);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    const v = Math.round(60 + 120 * (x & ~7) / w);
    band.fill(v, (y * w + x) * 3, (y * w + x) * 3 + 3);
  }
  // The same number of changed code values spread thinly (±1 on every pixel of a quarter).
  const spread = Buffer.from(data);
  for (let p = 0; p < (w * h) / 4; p++) for (let c = 0; c < 3; c++) spread[p * 3 + c] += p % 2 ? 1 : -1;
  const local = await perceptualDistance(ref, { ...ref, data: band });
  const thin = await perceptualDistance(ref, { ...ref, data: spread });
  t.ok(local > thin, `banded patch ${local.toFixed(3)} > thin ±1 noise over a quarter ${thin.toFixed(3)}`);
});

t.test('JPEG model: predicted distance follows the measured one without encoding', async (t) => {
  t.same([...jpegTable(50).slice(0, 4)], [16, 16, 16, 18], 'q50 is mozjpeg table 3 itself');
  t.equal(jpegTable(100)[63], 1, 'q100 quantises nothing');
  // Resized, as q_auto's references almost always are (a JPEG source at its own size and block
  // grid re-quantises already-quantised coefficients: the model overstates that at high q).
  for (const width of [300, 200]) {
    const ref = await raw(sharp(fixture).resize({ width }));
    const prep = prepare(ref);
    const model = jpegModel(ref, () => prep);
    let previous = Infinity;
    for (const q of [40, 60, 75, 90]) {
      const predicted = predictJpeg(model, q, '4:2:0');
      const measured = distancePrepared(prep, await jpegRoundTrip(ref, q));
      // Calibrated in quality.ts by a corpus-wide 1.04; per image within ~±10 %.
      t.ok(measured / predicted > 0.85 && measured / predicted < 1.25, `${width} px q${q}: measured ${measured.toFixed(3)} / predicted ${predicted.toFixed(3)}`);
      t.ok(predicted < previous, `${width} px: prediction falls with quality (q${q})`);
      previous = predicted;
    }
  }
});

t.test('JPEG model: 4:2:0 costs distance on saturated colour edges, not on grey ones', async (t) => {
  // 3 px stripes: every other 2×2 chroma cell straddles a colour edge.
  const stripes = (a: string, b: string) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="162" height="96" shape-rendering="crispEdges">
    ${Array.from({ length: 54 }, (_, i) => `<rect x="${i * 3}" width="3" height="96" fill="${i % 2 ? a : b}"/>`).join('')}</svg>`);
  const colour = await raw(sharp(stripes('#e00000', '#0000e0')));
  const grey = await raw(sharp(stripes('#606060', '#707070')));
  const gap = (img: RawImage) => {
    const prep = prepare(img);
    const m = jpegModel(img, () => prep);
    return predictJpeg(m, 90, '4:2:0') - predictJpeg(m, 90, '4:4:4');
  };
  t.ok(gap(colour) > 1, `red/blue stripes: 4:2:0 adds ${gap(colour).toFixed(2)}`);
  t.ok(Math.abs(gap(grey)) < 0.2, `grey stripes: 4:2:0 adds ${gap(grey).toFixed(2)}`);
});
