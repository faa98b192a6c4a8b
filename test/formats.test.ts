/**
 * The format table (src/formats.ts): every extension names one format, each output row's
 * encoder writes a file that sharp reads back as that same row with the row's alpha, what f_auto
 * picks from are outputs, and the sources accepted are the ones this libvips reads.
 */
import t from 'tap';
import sharp from 'sharp';
import { testConfig } from '../src/config.ts';
import { applyEncoder } from '../src/render/encode.ts';
import {
  FORMATS, EXTENSIONS, FORMAT_BY_EXTENSION, OUTPUT_BY_EXTENSION, OUTPUT_BY_URL_EXTENSION, NEGOTIATED, UNIVERSAL,
  deliveredFormat, encoderOf, formatRow, sourceFormatName, type FormatName, type OutputFormat,
} from '../src/formats.ts';

const names = Object.keys(FORMATS) as FormatName[];

t.test('every extension names one format; outputs are the rows with an encoder', async (t) => {
  t.equal(new Set(EXTENSIONS).size, EXTENSIONS.length, 'no extension in two rows');
  t.equal(FORMAT_BY_EXTENSION.size, EXTENSIONS.length);
  for (const [e, f] of OUTPUT_BY_EXTENSION) t.ok(formatRow(f).output, `${e} → ${f} is an output`);
  t.equal(OUTPUT_BY_EXTENSION.get('jpe'), 'jpeg');
  t.equal(FORMAT_BY_EXTENSION.get('heif'), 'heic');
  t.equal(OUTPUT_BY_EXTENSION.get('svg'), 'svg', 'f_svg asks for SVG');
  t.equal(OUTPUT_BY_URL_EXTENSION.get('svg'), undefined, 'the .svg extension names the stored file, not an output');
  t.equal(OUTPUT_BY_URL_EXTENSION.get('png'), 'png');
  t.equal(FORMAT_BY_EXTENSION.get('constructor'), undefined);
});

t.test("each encoder writes its own format, read back as its row", async (t) => {
  const config = testConfig();
  const half = sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } });
  for (const f of names) {
    const row = formatRow(f);
    if (!row.output) continue;
    const written = await applyEncoder(half.clone(), { format: f as OutputFormat, flags: {}, animated: false }, config).toBuffer();
    // SVG wraps the PNG it wrote in an <image> element
    const body = row.output.wrap ? row.output.wrap(written, 8, 8) : written;
    const m = await sharp(body).metadata();
    t.equal(m.format, row.sharp, `${f}: sharp calls it ${row.sharp}`);
    t.equal(sourceFormatName(m.format!), f, `${f} reads back as its own row`);
    // JPEG-compressed TIFF drops alpha (see its row).
    t.equal(!!m.hasAlpha, row.alpha && f !== 'tiff', `${f} ${row.alpha ? 'keeps' : 'has no'} alpha`);
    const delivered = row.deliveredAs ?? f;
    t.equal(deliveredFormat(m.format!, !!m.hasAlpha), delivered, `a ${f} source is delivered as ${delivered} by default`);
  }
});

t.test("f_auto's choices are outputs with MIME types Accept can name", async (t) => {
  for (const f of [...NEGOTIATED, ...Object.values(UNIVERSAL)]) {
    t.ok(encoderOf(f), `${f} has an encoder`);
    t.match(FORMATS[f].mime, /^image\//);
  }
});

t.test('sources: the rows this libvips reads, by sharp name', async (t) => {
  const formats = sharp.format as unknown as Record<string, { input: { buffer: boolean } } | undefined>;
  for (const f of names) {
    const s = formatRow(f).sharp;
    if (s) t.equal(sourceFormatName(s) !== undefined, formats[s]?.input.buffer === true, `${f} (${s})`);
  }
  t.equal(sourceFormatName('magick'), undefined, 'nothing through ImageMagick');
  t.equal(deliveredFormat('svg', false), 'png', 'SVG is delivered as PNG');
  t.equal(deliveredFormat('heif', false), 'avif', 'AVIF and HEIC (both heif to sharp) as AVIF');
});
