/**
 * `g_liquid` (liquid rescaling, seam carving; src/render/liquid.ts) through the real server: the
 * output has the asked size; on a composite of two textured objects over a flat background,
 * changing the aspect ratio keeps both objects' widths (measured by colour) where plain c_scale
 * squeezes them, along either axis; with another crop mode, over the ratio limit or placing a
 * layer it is a 400 naming the problem; an animation keeps its frames.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';

const W = 600, H = 300, OBJ = 120;
/** Two objects 120 px wide (red stripes at x 60, blue stripes at x 400) on flat grey. */
function composite(): Buffer {
  const data = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3;
      let rgb = [200, 200, 200];
      const stripe = ((x >> 2) + (y >> 2)) % 2 === 0;
      if (y >= 80 && y < 220 && x >= 60 && x < 60 + OBJ) rgb = stripe ? [220, 30, 30] : [150, 20, 20];
      if (y >= 80 && y < 220 && x >= 400 && x < 400 + OBJ) rgb = stripe ? [30, 30, 220] : [20, 20, 150];
      data[p] = rgb[0]; data[p + 1] = rgb[1]; data[p + 2] = rgb[2];
    }
  }
  return data;
}

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-liquid-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const raw = composite();
await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(storage, 'pair.png'));
await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).rotate(90).png().toFile(path.join(storage, 'tall.png'));
// Two frames: the composite, and the same with a darker background.
const dark = Buffer.from(raw);
for (let i = 0; i < dark.length; i += 3) if (dark[i] === 200 && dark[i + 1] === 200) { dark[i] = dark[i + 1] = dark[i + 2] = 120; }
await sharp(Buffer.concat([raw, dark]), { raw: { width: W, height: H * 2, channels: 3, pageHeight: H } })
  .gif({ loop: 0, delay: [100, 100] }).toFile(path.join(storage, 'anim.gif'));
// A flat red square on grey noise: by gradient alone its flat inside is the cheapest place for
// seams; the saliency analysis (the square stands out) makes it the dearest.
{
  const noisy = Buffer.alloc(W * H * 3);
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const p = (y * W + x) * 3;
    const inside = y >= 80 && y < 220 && x >= 240 && x < 240 + OBJ;
    const g = 128 + Math.round((rnd() - 0.5) * 60);
    noisy[p] = inside ? 220 : g; noisy[p + 1] = inside ? 30 : g; noisy[p + 2] = inside ? 30 : g;
  }
  await sharp(noisy, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(storage, 'flat-on-noise.png'));
}
// 2.5x larger than the work copy's side: seams found at 640 px are mapped onto the full pixels.
await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).resize(W * 2.5, H * 2.5, { kernel: 'nearest' }).png().toFile(path.join(storage, 'large.png'));
await sharp({ create: { width: 100, height: 40, channels: 4, background: '#0f0' } }).png().toFile(path.join(storage, 'badge.png'));

// Small and odd inputs: grey, grey with alpha, two pixels.
await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).resize(60, 30).grayscale().png().toFile(path.join(storage, 'grey.png'));
await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).resize(60, 30).grayscale().ensureAlpha(0.5).png().toFile(path.join(storage, 'grey-alpha.png'));
await sharp({ create: { width: 2, height: 1, channels: 3, background: '#123456' } }).png().toFile(path.join(storage, 'two.png'));

const s = await startServer(t, { config: { storageDir: storage } });

interface Img { data: Buffer; width: number; height: number }
async function image(url: string): Promise<Img> {
  const r = await s.get(url);
  t.equal(r.status, 200, `${url} → 200 ${r.headers.get('x-cld-error') ?? ''}`);
  const { data, info } = await sharp(r.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const isRed = (d: Buffer, p: number) => d[p] > 110 && d[p + 1] < 90 && d[p + 2] < 90;
const isBlue = (d: Buffer, p: number) => d[p + 2] > 110 && d[p] < 90 && d[p + 1] < 90;

/** Pixels of the colour along the middle row; with `vertical`, the rows that hold it. */
function extent(img: Img, is: (d: Buffer, p: number) => boolean, vertical = false): number {
  let n = 0;
  if (vertical) {
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) if (is(img.data, (y * img.width + x) * 3)) { n++; break; }
    }
  } else {
    const y = img.height >> 1;
    for (let x = 0; x < img.width; x++) if (is(img.data, (y * img.width + x) * 3)) n++;
  }
  return n;
}

t.test('c_scale,g_liquid keeps both objects where c_scale squeezes them', async (t) => {
  const liquid = await image('/image/upload/c_scale,g_liquid,w_300,h_300/pair.png');
  t.same([liquid.width, liquid.height], [300, 300], 'the asked size');
  const scaled = await image('/image/upload/c_scale,w_300,h_300/pair.png');
  t.same([scaled.width, scaled.height], [300, 300]);
  for (const [name, is] of [['red', isRed], ['blue', isBlue]] as const) {
    const kept = extent(liquid, is), squeezed = extent(scaled, is);
    t.ok(kept >= OBJ * 0.9 && kept <= OBJ * 1.05, `${name} object: ${kept} px wide with g_liquid (was ${OBJ})`);
    t.ok(squeezed <= OBJ * 0.55, `${name} object: ${squeezed} px wide with plain c_scale`);
  }
  t.ok(extent(liquid, isRed, true) >= 130, 'the height is kept too');
});

t.test('a source larger than the work copy: seams mapped onto the full resolution', async (t) => {
  const liquid = await image('/image/upload/c_scale,g_liquid,w_750,h_750/large.png');
  t.same([liquid.width, liquid.height], [750, 750]);
  for (const [name, is] of [['red', isRed], ['blue', isBlue]] as const) {
    const kept = extent(liquid, is);
    t.ok(kept >= 2.5 * OBJ * 0.9 && kept <= 2.5 * OBJ * 1.05, `${name} object: ${kept} px wide (${2.5 * OBJ} in the source)`);
  }
});

t.test('saliency keeps a flat object that gradients alone would carve', async (t) => {
  const liquid = await image('/image/upload/c_scale,g_liquid,w_300,h_300/flat-on-noise.png');
  const kept = extent(liquid, isRed);
  t.ok(kept >= OBJ * 0.85, `red square: ${kept} px wide (was ${OBJ})`);
});

t.test('horizontal seams for a ratio that needs fewer rows', async (t) => {
  const liquid = await image('/image/upload/c_scale,g_liquid,w_200,h_200/tall.png');
  t.same([liquid.width, liquid.height], [200, 200]);
  // tall.png is 300x600: the objects stand 120 px high; at 200/300 scale they keep 80 px.
  for (const [name, is] of [['red', isRed], ['blue', isBlue]] as const) {
    const kept = extent(liquid, is, true);
    t.ok(kept >= 80 * 0.9 && kept <= 80 * 1.05, `${name} object: ${kept} px high (80 px at this scale)`);
  }
  const scaled = await image('/image/upload/c_scale,w_200,h_200/tall.png');
  t.ok(extent(scaled, isRed, true) <= 45, 'plain c_scale halves it');
});

t.test("Cloudinary's ar_1.0,c_scale,g_liquid,w_1.0", async (t) => {
  const img = await image('/image/upload/ar_1.0,c_scale,g_liquid,w_1.0/pair.png');
  t.same([img.width, img.height], [600, 600], 'square at the full width');
  // Carved to 300x300, then enlarged 2x: each object 240 px wide.
  const red = extent(img, isRed);
  t.ok(red >= 2 * OBJ * 0.9 && red <= 2 * OBJ * 1.05, `red object ${red} px (240 expected)`);
});

t.test('a kept ratio is a plain resize; g_liquid without a size changes nothing', async (t) => {
  const img = await image('/image/upload/c_scale,g_liquid,w_300/pair.png');
  t.same([img.width, img.height], [300, 150]);
  t.equal(extent(img, isRed), 60, 'scaled like c_scale');
  const whole = await image('/image/upload/c_scale,g_liquid/pair.png');
  t.same([whole.width, whole.height], [W, H]);
});

t.test('an animation is carved frame by frame', async (t) => {
  const r = await s.get('/image/upload/c_scale,g_liquid,w_300,h_300/anim.gif');
  t.equal(r.status, 200, r.headers.get('x-cld-error') ?? '');
  const meta = await sharp(r.body, { animated: true }).metadata();
  t.same([meta.width, meta.pageHeight, meta.pages], [300, 300, 2]);
  const { data, info } = await sharp(r.body, { page: 1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const red = extent({ data, width: info.width, height: info.height }, isRed);
  t.ok(red >= OBJ * 0.85, `second frame: red object ${red} px wide`);
});

t.test('fl_getinfo: the output shows the whole input', async (t) => {
  const r = await s.get('/image/upload/c_scale,g_liquid,w_300,h_300/fl_getinfo/pair.png');
  t.equal(r.status, 200);
  const info = JSON.parse(r.body.toString('utf8')) as { output: { width: number; height: number }; crop?: unknown };
  t.same([info.output.width, info.output.height], [300, 300]);
  t.equal(info.crop, undefined, 'no crop: every part of the input is in it');
});

t.test('grey, grey with alpha and tiny inputs', async (t) => {
  for (const [file, tr, size] of [['grey.png', 'c_scale,g_liquid,w_30,h_30', [30, 30]], ['grey-alpha.png', 'c_scale,g_liquid,w_40,h_40', [40, 40]],
    ['two.png', 'c_scale,g_liquid,w_10,h_20', [10, 20]], ['two.png', 'c_scale,g_liquid,w_3,h_3', [3, 3]]] as const) {
    const r = await s.get(`/image/upload/${tr}/${file}`);
    t.equal(r.status, 200, `${tr}/${file} ${r.headers.get('x-cld-error') ?? ''}`);
    const m = await sharp(r.body).metadata();
    t.same([m.width, m.height], size, `${tr}/${file}: ${size.join('x')}`);
  }
});

t.test('refusals are 400s naming the problem', async (t) => {
  const cases: [string, RegExp][] = [
    ['c_fill,g_liquid,w_300,h_300', /g_liquid works with c_scale only, not c_fill/],
    ['c_pad,g_liquid,w_300,h_300', /c_scale only, not c_pad/],
    ['c_scale,g_liquid,w_600,h_50', /over the 4x liquid rescaling limit/],
    ['l_badge/fl_layer_apply,g_liquid', /places no layer/],
  ];
  for (const [tr, why] of cases) {
    const r = await s.get(`/image/upload/${tr}/pair.png`);
    t.equal(r.status, 400, tr);
    t.match(r.headers.get('x-cld-error') ?? '', why, `${tr}: ${r.headers.get('x-cld-error')}`);
  }
});
