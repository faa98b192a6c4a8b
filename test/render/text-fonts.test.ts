/**
 * Issue 11 part 5: text layers draw real glyphs with the fonts installed on the machine (the
 * Docker image and .ci/run install fontconfig and fonts-dejavu-core). Without a font, Pango
 * draws every character as the same empty box, so the checks are about glyph shapes: the ink
 * of a word has a plausible size for its point size, two words differ, and a proportional font
 * makes `iiiii` far narrower than `WWWWW` (boxes would make them equal). Through real HTTP.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { startServer } from '../helpers/harness.ts';

function installedFonts(): string[] {
  try {
    return execFileSync('fc-list', [':', 'family'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

interface Ink { width: number; height: number; pixels: number; raw: Buffer }

/** Bounding box of the dark pixels of a text drawn black on white. */
async function ink(png: Buffer): Promise<Ink> {
  const { data, info } = await sharp(png).flatten({ background: '#ffffff' }).greyscale().raw().toBuffer({ resolveWithObject: true });
  let minX = Infinity, minY = Infinity, maxX = -1, maxY = -1, pixels = 0;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      if (data[y * info.width + x] >= 128) continue;
      pixels++;
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
  }
  return { width: maxX < 0 ? 0 : maxX - minX + 1, height: maxY < 0 ? 0 : maxY - minY + 1, pixels, raw: data };
}

const fonts = installedFonts();
if (fonts.length === 0) {
  t.comment('NOTICE: no font is installed (fc-list lists none); text layers cannot draw glyphs here. Install fontconfig and fonts-dejavu-core (.ci/run does). Skipped.');
  t.test('text layers draw glyphs', { skip: 'no font is installed' }, async () => {});
} else {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-fonts-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'white.png'), await sharp({ create: { width: 600, height: 120, channels: 3, background: '#ffffff' } }).png().toBuffer());
  const server = await startServer(t, { config: { storageDir: dir } });
  const draw = async (text: string, font = 'Arial'): Promise<Ink> => {
    const r = await server.get(`/image/upload/l_text:${encodeURIComponent(font)}_40:${text},co_black/fl_layer_apply,g_center/white.png`);
    if (r.status !== 200) throw new Error(`${text}: ${r.status} ${r.headers.get('x-cld-error') ?? ''}`);
    return ink(r.body);
  };

  t.test(`text layers draw glyphs (${fonts.length} font families installed, e.g. ${fonts[0]})`, async (t) => {
    const hello = await draw('Hello');
    t.ok(hello.height >= 20 && hello.height <= 60, `"Hello" at 40 px is ${hello.height} px high (cap height to ascender+descender)`);
    t.ok(hello.width >= 60 && hello.width <= 200, `"Hello" at 40 px is ${hello.width} px wide`);
    const world = await draw('World');
    t.notOk(world.raw.equals(hello.raw), '"World" and "Hello" draw differently');
    const narrow = await draw('iiiii');
    const wide = await draw('WWWWW');
    t.ok(narrow.width * 2 < wide.width, `proportional glyphs: "iiiii" ${narrow.width} px vs "WWWWW" ${wide.width} px`);
    t.ok(narrow.pixels * 2 < wide.pixels, `"iiiii" has far less ink (${narrow.pixels}) than "WWWWW" (${wide.pixels})`);
    // A name that is not installed falls back to an installed face through fontconfig.
    const fallback = await draw('Hello', 'Helvetica');
    t.ok(fallback.width >= 60 && fallback.height >= 20, `"Helvetica" falls back to an installed font (${fallback.width}×${fallback.height})`);
  });
}
