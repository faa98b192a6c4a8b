import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import type { RawImage } from '../../src/analyze/types.ts';
import { classifyContent } from '../../src/analyze/content-class.ts';
import { DRAWING_SVG } from '../helpers/content-pictures.ts';
import { corpusDir as corpus, hasShared } from '../helpers/harness.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.resolve(here, '../fixtures/astronaut-320.jpg');

async function raw(input: Sharp): Promise<RawImage> {
  const { data, info } = await input.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

const drawing = DRAWING_SVG;

t.test('synthetic drawing with text is a graphic, with alpha when transparent', async (t) => {
  const opaque = classifyContent(await raw(sharp(drawing).flatten({ background: '#fff' })));
  t.equal(opaque.kind, 'graphic');
  t.ok(opaque.colors < 1024, `${opaque.colors} colours`);
  t.equal(opaque.hasAlpha, false);
  const logo = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><circle cx="150" cy="150" r="100" fill="#2a9d8f"/></svg>');
  const transparent = classifyContent(await raw(sharp(logo).ensureAlpha()));
  t.equal(transparent.kind, 'graphic');
  t.equal(transparent.hasAlpha, true);
  // An alpha channel that is fully opaque is not transparency.
  const filled = classifyContent(await raw(sharp(logo).flatten({ background: '#000' }).ensureAlpha()));
  t.equal(filled.hasAlpha, false);
});

t.test('noisy gradient and a real photo are photos', async (t) => {
  const w = 400, h = 300;
  const data = Buffer.alloc(w * h * 3);
  let seed = 1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const n = ((seed >>> 16) % 13) - 6;
    const p = (y * w + x) * 3;
    data[p] = Math.min(255, Math.max(0, (x * 255) / w + n));
    data[p + 1] = Math.min(255, Math.max(0, (y * 255) / h + n));
    data[p + 2] = Math.min(255, Math.max(0, 128 + n));
  }
  const c = classifyContent({ data, width: w, height: h, channels: 3 });
  t.equal(c.kind, 'photo');
  t.ok(c.colors > 5000, `${c.colors} colours`);
  const photo = classifyContent(await raw(sharp(fixture)));
  t.equal(photo.kind, 'photo');
  t.equal(photo.hasAlpha, false);
});

t.test('a flat image and a 1×1 image do not break it', async (t) => {
  t.same(classifyContent({ data: Buffer.from([10, 20, 30]), width: 1, height: 1, channels: 3 }), { kind: 'graphic', colors: 1, hasAlpha: false, flatShare: 1 });
  const grey = classifyContent({ data: Buffer.alloc(100 * 100, 200), width: 100, height: 100, channels: 1 });
  t.equal(grey.kind, 'graphic');
  t.equal(grey.colors, 1);
});

t.test('a black-and-white photo is a photo although it has at most 256 colours', async (t) => {
  const grey = classifyContent(await raw(sharp(fixture).grayscale()));
  t.ok(grey.colors <= 256, `${grey.colors} colours`);
  t.ok(grey.flatShare < 0.5, `flat share ${grey.flatShare.toFixed(2)}`);
  t.equal(grey.kind, 'photo');
  // The same in RGB (grey stored as colour): still few colours, still continuous tone.
  t.equal(classifyContent(await raw(sharp(fixture).grayscale().toColourspace('srgb'))).kind, 'photo');
});

t.test('corpus: every photo is a photo, drawings are graphics, continuous tone is a photo', { skip: !hasShared && `shared corpus not found at ${corpus}: skipping corpus classification` }, async (t) => {
  for (const f of fs.readdirSync(path.join(corpus, 'photos'))) {
    const c = classifyContent(await raw(sharp(path.join(corpus, 'photos', f)).resize({ width: 800 })));
    t.equal(c.kind, 'photo', `photos/${f} (${c.colors} colours)`);
  }
  for (const f of ['blobs.svg']) {
    const c = classifyContent(await raw(sharp(path.join(corpus, 'graphics', f)).resize({ width: 800, withoutEnlargement: true })));
    t.equal(c.kind, 'graphic', `graphics/${f} (${c.colors} colours, flat share ${c.flatShare.toFixed(2)})`);
  }
  // Stored among the graphics but continuous tone (JPEG serves them best): a photographed page
  // and handwriting (grey: <= 256 colours), a colour wheel, a 10 px palette upscaled to 400 px,
  // the scikit-image logo (flat shapes over a duotone photo; JPEG 5x smaller than PNG).
  for (const [f, width] of [['page-scan.png', 384], ['text-gray.png', 448], ['color.png', 371], ['palette.png', 400], ['logo-alpha.png', 500]] as const) {
    const c = classifyContent(await raw(sharp(path.join(corpus, 'graphics', f)).resize({ width })));
    t.equal(c.kind, 'photo', `graphics/${f} (${c.colors} colours, flat share ${c.flatShare.toFixed(2)})`);
  }
  // logo-alpha.png carries an alpha channel that is opaque everywhere: nothing to preserve.
  const logo = classifyContent(await raw(sharp(path.join(corpus, 'graphics', 'logo-alpha.png'))));
  t.equal(logo.hasAlpha, false, 'logo-alpha.png has an all-opaque alpha channel');
});
