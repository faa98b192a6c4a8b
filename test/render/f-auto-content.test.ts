/**
 * f_auto decides by content for every browser (issue 11, part 2), through real HTTP: the server
 * listens on 127.0.0.1 and the shipped samples (images/), pictures generated here and, when
 * ../shared is beside the checkout, corpus images are requested with several Accepts.
 * - `*\/*` (no WebP/AVIF): JPEG for photographs whatever their stored format, and fewer bytes
 *   than the PNG the same URL gave before; PNG for drawings; PNG for real transparency; an
 *   alpha channel that is 255 everywhere is no transparency;
 * - with q_auto a drawing gets PNG8 when it is smaller than the JPEG and looks no worse;
 * - `f_png` and `.png` stay PNG; WebP/AVIF Accepts and animation behave as before.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Metadata } from 'sharp';
import { corpusDir as corpus, hasShared as hasCorpus, startServer } from '../helpers/harness.ts';
import { DRAWING_SVG, transparentCutout } from '../helpers/content-pictures.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const images = path.resolve(here, '../../images');
if (!hasCorpus) console.log(`# NOTICE: ${corpus} not found: the corpus cases of f-auto-content are skipped`);

const store = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-fauto-test-'));
t.teardown(() => fs.rmSync(store, { recursive: true, force: true }));
for (const f of fs.readdirSync(images)) fs.copyFileSync(path.join(images, f), path.join(store, f));
if (hasCorpus) {
  for (const f of ['motorcycle.png']) fs.copyFileSync(path.join(corpus, 'photos', f), path.join(store, f));
  for (const f of ['blobs.svg', 'palette.png', 'page-scan.png', 'text-gray.png', 'color.png', 'kay-alpha.png']) {
    fs.copyFileSync(path.join(corpus, 'graphics', f), path.join(store, f));
  }
}
// A drawing rendered with an alpha channel that is 255 everywhere; flat rectangles on the pixel
// grid (4 colours: a palette holds the exact pixels); the cat cut out: real transparency.
fs.writeFileSync(path.join(store, 'drawing.svg'), DRAWING_SVG);
fs.writeFileSync(path.join(store, 'flat.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" fill="#ffffff"/><rect x="20" y="20" width="100" height="60" fill="#1d3557"/><rect x="150" y="40" width="120" height="120" fill="#e63946"/><rect x="40" y="120" width="80" height="50" fill="#a8dadc"/></svg>');
fs.writeFileSync(path.join(store, 'drawing-lossy.jpg'), await sharp(DRAWING_SVG).flatten({ background: '#fff' }).jpeg({ quality: 80 }).toBuffer());
fs.writeFileSync(path.join(store, 'cat-cutout.png'), await transparentCutout(path.join(images, 'cat.png')));

const server = await startServer(t, { config: { storageDir: store, avifRefineEffort: 0 } });

const ANY = '*/*';
const WEBP = 'image/webp,*/*';
const AVIF = 'image/avif,image/webp,*/*';

interface Got { type: string; body: Buffer; meta: Metadata }
async function get(url: string, accept = ANY): Promise<Got> {
  const { status, headers, body } = await server.get(`/image/upload/${url}`, { accept });
  if (status !== 200) throw new Error(`${url}: ${status} ${String(headers.get('x-cld-error'))}`);
  return { type: String(headers.get('content-type')), body, meta: await sharp(body, { pages: -1 }).metadata() };
}
const kb = (b: Buffer) => `${(b.length / 1024).toFixed(1)} KB`;

/** The photograph gets JPEG, with fewer bytes than the PNG the same pixels make. */
async function servedAsJpeg(t: Test, id: string, width: number): Promise<void> {
  for (const q of ['', ',q_auto']) {
    const png = await get(`w_${width}/f_png${q}/${id}`);
    const auto = await get(`w_${width}/f_auto${q}/${id}`);
    t.equal(auto.type, 'image/jpeg', `${id} f_auto${q}: JPEG`);
    t.ok(auto.body.length < png.body.length / 3, `${id} f_auto${q}: ${kb(auto.body)} vs PNG ${kb(png.body)}`);
  }
}

t.test('photos stored as PNG get JPEG for a browser without WebP/AVIF (shipped samples)', async (t) => {
  for (const id of ['cat', 'astronaut', 'coffee']) await servedAsJpeg(t, id, 400);
  // The shipped logo: an alpha channel that is 255 everywhere, over a duotone photo.
  await servedAsJpeg(t, 'logo-alpha', 400);
});

t.test('continuous-tone pictures stored as PNG get JPEG (corpus)', { skip: !hasCorpus && 'no ../shared/corpus' }, async (t) => {
  await servedAsJpeg(t, 'motorcycle', 400);
  await servedAsJpeg(t, 'palette.png', 400); // 10×10 px upscaled: smooth blends
  await servedAsJpeg(t, 'page-scan.png', 384); // a photographed page (grey)
  await servedAsJpeg(t, 'text-gray.png', 448); // photographed handwriting (grey)
  await servedAsJpeg(t, 'color.png', 371); // a colour wheel
  await servedAsJpeg(t, 'kay-alpha.png', 400); // a gradient wallpaper, alpha all 255
});

t.test('a drawing gets PNG, without the all-opaque alpha channel', async (t) => {
  const auto = await get('w_600/f_auto/drawing.svg');
  t.equal(auto.type, 'image/png');
  t.equal(auto.meta.hasAlpha, false, 'an alpha channel that is 255 everywhere is dropped');
  t.equal((await get('w_600/f_png/drawing.svg')).meta.hasAlpha, true, 'f_png keeps the channels it was given');
});

t.test('a drawing decoded from a JPEG gets JPEG (its pixels carry JPEG noise, not exact fills)', async (t) => {
  const auto = await get('f_auto/drawing-lossy.jpg');
  const png = await get('f_png/drawing-lossy.jpg');
  t.equal(auto.type, 'image/jpeg');
  t.ok(auto.body.length < png.body.length, `${kb(auto.body)} vs PNG ${kb(png.body)}`);
});

t.test('with q_auto a drawing gets PNG8 when smaller than the JPEG', async (t) => {
  const auto = await get('w_600/f_auto,q_auto/drawing.svg');
  const jpeg = await get('w_600/f_jpg,q_auto/drawing.svg');
  t.equal(auto.type, 'image/png');
  t.equal(auto.meta.isPalette, true, 'PNG8');
  t.ok(auto.body.length < jpeg.body.length, `PNG8 ${kb(auto.body)} vs JPEG ${kb(jpeg.body)}`);
});

t.test('blobs.svg at 500 px with q_auto stays PNG8, smaller than JPEG', { skip: !hasCorpus && 'no ../shared/corpus' }, async (t) => {
  const auto = await get('w_500/f_auto,q_auto/blobs.svg');
  const jpeg = await get('w_500/f_jpg,q_auto/blobs.svg');
  t.equal(auto.type, 'image/png');
  t.equal(auto.meta.isPalette, true, 'PNG8');
  t.ok(auto.body.length < jpeg.body.length, `PNG8 ${kb(auto.body)} vs JPEG ${kb(jpeg.body)}`);
});

t.test('PNG8 without q_auto only when it holds the exact pixels; fl_any_format allows it for f_png', async (t) => {
  const auto = await get('f_auto/flat.svg');
  t.equal(auto.type, 'image/png');
  t.equal(auto.meta.isPalette, true, 'f_auto: 4 colours fit a palette exactly');
  const png = await get('f_png/flat.svg');
  t.equal(png.meta.isPalette, false, 'f_png: full PNG');
  const any = await get('f_png,fl_any_format/flat.svg');
  t.equal(any.meta.isPalette, true, 'f_png,fl_any_format: PNG8');
  t.ok(any.body.length < png.body.length, `PNG8 ${kb(any.body)} vs PNG ${kb(png.body)}`);
  const [a, b] = await Promise.all([any.body, png.body].map((x) => sharp(x).removeAlpha().raw().toBuffer()));
  t.ok(a.equals(b), 'the same pixels');
  // Anti-aliased edges and text do not fit a palette exactly: full PNG without q_auto...
  t.equal((await get('w_600/f_png,fl_any_format/drawing.svg')).meta.isPalette, false);
  // ...and PNG8 with q_auto, when it stays within the level's budget.
  const q = await get('w_600/f_png,q_auto,fl_any_format/drawing.svg');
  const full = await get('w_600/f_png,q_auto/drawing.svg');
  t.equal(q.meta.isPalette, true);
  t.equal(full.meta.isPalette, false);
  t.ok(q.body.length < full.body.length, `PNG8 ${kb(q.body)} vs PNG ${kb(full.body)}`);
});

t.test('real transparency is kept: PNG for */*, WebP with alpha when accepted', async (t) => {
  for (const q of ['', ',q_auto']) {
    const auto = await get(`w_400/f_auto${q}/cat-cutout.png`);
    t.equal(auto.type, 'image/png', `f_auto${q}`);
    t.equal(auto.meta.hasAlpha, true);
    const { data } = await sharp(auto.body).extractChannel(3).raw().toBuffer({ resolveWithObject: true });
    t.ok(data.includes(0), 'transparent pixels survive');
  }
  const webp = await get('w_400/f_auto/cat-cutout.png', WEBP);
  t.equal(webp.type, 'image/webp');
  t.equal(webp.meta.hasAlpha, true);
});

t.test('f_png and .png stay PNG whatever the content', async (t) => {
  for (const url of ['w_400/f_png/cat', 'w_400/cat.png', 'w_400/f_png,q_auto/cat', 'w_400/q_auto/cat.png']) {
    const r = await get(url);
    t.equal(r.type, 'image/png', url);
    t.equal(r.meta.format, 'png');
  }
});

t.test('WebP and AVIF Accepts: lossy for photos, lossless WebP for a drawing when smaller', async (t) => {
  t.equal((await get('w_400/f_auto/cat', WEBP)).type, 'image/webp');
  t.equal((await get('w_400/f_auto/cat', AVIF)).type, 'image/avif');
  const photo = await get('w_400/f_auto/cat', WEBP);
  t.equal(photo.body.subarray(12, 16).toString('latin1'), 'VP8 ', 'a photo: lossy WebP');
  const drawn = await get('w_600/f_auto/drawing.svg', WEBP);
  t.equal(drawn.type, 'image/webp');
  t.equal(drawn.body.subarray(12, 16).toString('latin1'), 'VP8L', 'a drawing: lossless WebP');
});

t.test('animated input keeps its animation', async (t) => {
  const gif = await get('w_100/f_auto/animated.gif');
  t.equal(gif.type, 'image/gif');
  t.ok((gif.meta.pages ?? 1) > 1, `${gif.meta.pages} frames`);
  const webp = await get('w_100/f_auto/animated.gif', WEBP);
  t.equal(webp.type, 'image/webp');
  t.ok((webp.meta.pages ?? 1) > 1, `${webp.meta.pages} frames`);
});
