/**
 * e_trim (transforms/effects/filter.ts): cuts a border of one colour away. An image that is all
 * border, or too small to have one (under 3x3, which sharp refuses to trim), is kept whole: a
 * 200 of the same size, never a 4xx or a 5xx chosen from libvips' wording.
 */
import t from 'tap';
import sharp, { type Color } from 'sharp';
import { canonicalRoundTrip, effectServer, px, refused, rgbaOf } from '../helpers/effect-pixels.ts';

const flat = (width: number, height: number, background: Color, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background } }).png().toBuffer();
// 40x30 red with a 20x10 blue box at (8, 6)
const framed = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#ff0000' } })
  .composite([{ input: { create: { width: 20, height: 10, channels: 3, background: '#0000ff' } }, left: 8, top: 6 }]).png().toBuffer();
// 2x2: red, blue / red, red
const tiny = await sharp(Buffer.from([255, 0, 0, 0, 0, 255, 255, 0, 0, 255, 0, 0]), { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer();

const s = await effectServer(t, {}, {
  'framed.png': framed,
  'uniform.png': await flat(50, 40, '#ff0000'),
  'clear.png': await flat(50, 40, { r: 255, g: 255, b: 255, alpha: 0 }, 4),
  'dot.png': await flat(1, 1, '#00ff00'),
  'line.png': await flat(9, 2, '#00ff00'),
  'tiny.png': tiny,
});

t.test('a border of one colour is cut away', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/e_trim/framed.png');
  t.same([out.width, out.height], [20, 10], 'the blue box is what is left');
  t.same(px(out, 0, 0), [0, 0, 255, 255]);
  t.same(px(out, 19, 9), [0, 0, 255, 255]);
  const info = JSON.parse((await s.get('/image/upload/e_trim,fl_getinfo/framed.png')).body.toString());
  t.same(info.crop, { x: 8, y: 6, width: 20, height: 10 }, 'getinfo names the region of the input kept');
});

t.test('an image that is all border is kept whole (200, same size)', async (t) => {
  for (const url of ['e_trim/uniform.png', 'e_trim:0/uniform.png', 'e_trim:100/uniform.png', 'e_trim:10:red/uniform.png',
    'e_trim:10:green/uniform.png', 'e_trim/clear.png', 'w_20,c_scale/e_trim/uniform.png']) {
    const out = await rgbaOf(t, s, `/image/upload/${url}`);
    const want = url.startsWith('w_20') ? [20, 16] : [50, 40];
    t.same([out.width, out.height], want, `${url}: ${out.width}x${out.height}`);
  }
});

t.test('under 3x3 pixels there is nothing to trim: kept whole', async (t) => {
  for (const [name, size] of [['dot.png', [1, 1]], ['line.png', [9, 2]], ['tiny.png', [2, 2]]] as const) {
    const out = await rgbaOf(t, s, `/image/upload/e_trim/${name}`);
    t.same([out.width, out.height], size, `${name}: ${out.width}x${out.height}`);
  }
  const shrunk = await rgbaOf(t, s, '/image/upload/w_2,h_2,c_scale/e_trim/framed.png');
  t.same([shrunk.width, shrunk.height], [2, 2], 'a canvas made small by an earlier component, likewise');
});

t.test('arguments', async (t) => {
  canonicalRoundTrip(t, [['e_trim', 'e_trim:10'], ['e_trim:5:white', 'e_trim:5:rgb:ffffff']]);
  await refused(t, s, '/image/upload/e_trim:101/framed.png', 400, /Invalid effect in transformation: trim:101/);
  await refused(t, s, '/image/upload/e_trim:10:red:3/framed.png', 400, /Invalid effect in transformation: .*red:3/);
});
