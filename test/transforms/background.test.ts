/**
 * Backgrounds taken from the image (issue 14 item 4): b_blurred and every b_auto mode, through
 * the real server on small generated images; what the padding's pixels show. Canonical round
 * trips and the 400s.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { parsePlan } from '../../src/plan/parse.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-bg-'));
const block = (width: number, height: number, r: number, g: number, b: number, alpha = 1) =>
  sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } }).png().toBuffer();
/** Vertical stripes of the given widths and colours, `height` tall. */
async function stripes(name: string, height: number, parts: [number, [number, number, number]][], alpha = 1) {
  const width = parts.reduce((a, [w]) => a + w, 0);
  let left = 0;
  const layers = [];
  for (const [w, [r, g, b]] of parts) { layers.push({ input: await block(w, height, r, g, b, alpha), left, top: 0 }); left += w; }
  const base = sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).composite(layers);
  await fs.writeFile(path.join(storage, name), await (alpha === 1 ? base.removeAlpha() : base).png().toBuffer());
}
const RED: [number, number, number] = [220, 20, 20], BLUE: [number, number, number] = [20, 20, 220];
const GREEN: [number, number, number] = [20, 200, 20], YELLOW: [number, number, number] = [230, 220, 20];
await stripes('rb.png', 20, [[24, RED], [16, BLUE]]);
await stripes('four.png', 20, [[14, RED], [12, GREEN], [10, BLUE], [8, YELLOW]]);
// 40×40: a 4-px green frame around a magenta centre
await fs.writeFile(path.join(storage, 'framed.png'), await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 20, g: 160, b: 20 } } })
  .composite([{ input: await block(32, 32, 200, 30, 200), left: 4, top: 4 }]).png().toBuffer());
// top half red, bottom half blue, 20×40
await fs.writeFile(path.join(storage, 'tb.png'), await sharp({ create: { width: 20, height: 40, channels: 3, background: { r: RED[0], g: RED[1], b: RED[2] } } })
  .composite([{ input: await block(20, 20, ...BLUE), left: 0, top: 20 }]).png().toBuffer());
// transparent left half, red right half (alpha)
await fs.writeFile(path.join(storage, 'clear.png'), await sharp({ create: { width: 40, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
  .composite([{ input: await block(20, 20, ...RED), left: 20, top: 0 }, { input: await block(6, 20, ...BLUE), left: 0, top: 0 }]).png().toBuffer());

// Registered first, so it runs after the server's own teardown (tap runs them last-in first-out).
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

interface Px { width: number; height: number; channels: number; at(x: number, y: number): number[] }
async function get(url: string): Promise<Px> {
  const res = await app.inject({ url: `/image/upload/${url}` });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.headers['x-cld-error']}`);
  const { data, info } = await sharp(res.rawPayload).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels)];
  return { width: info.width, height: info.height, channels: info.channels, at };
}
const near = (p: number[], c: number[], tol = 12) => Math.abs(p[0] - c[0]) <= tol && Math.abs(p[1] - c[1]) <= tol && Math.abs(p[2] - c[2]) <= tol;
const reddish = (p: number[]) => p[0] > p[2] + 40;
const bluish = (p: number[]) => p[2] > p[0] + 40;

t.test('b_blurred pads with a blurred copy of the image', async (t) => {
  const px = await get('c_pad,w_40,h_60,b_blurred/rb.png');
  t.same([px.width, px.height], [40, 60]);
  t.ok(reddish(px.at(3, 3)), `top padding over the red part is red (${px.at(3, 3)})`);
  t.ok(bluish(px.at(37, 56)), `bottom padding over the blue part is blue (${px.at(37, 56)})`);
  t.ok(near(px.at(5, 30), RED, 3), 'the image itself is untouched');
  const mid = px.at(24, 2);
  t.ok(mid[0] > 40 && mid[2] > 40, `blurred: red and blue mix at the seam (${mid})`);
  const dark = await get('c_pad,w_40,h_60,b_blurred:100:-300/rb.png');
  t.ok(dark.at(3, 3)[0] < 10, 'brightness -300: black padding');
  t.ok((await get('c_pad,w_40,h_60,b_blurred:100:500/rb.png')).at(3, 3)[1] > px.at(3, 3)[1], 'the docs\' brightness 500');
  const bright = await get('c_pad,w_40,h_60,b_blurred:100:100/rb.png');
  t.ok(bright.at(3, 3)[0] > px.at(3, 3)[0] || bright.at(3, 3)[0] === 255, 'brightness 100: brighter');
  const sharpish = await get('c_pad,w_40,h_60,b_blurred:1/rb.png');
  const soft = await get('c_pad,w_40,h_60,b_blurred:2000/rb.png');
  const edge = (p: Px) => Math.abs(p.at(22, 2)[0] - p.at(26, 2)[0]);
  t.ok(edge(sharpish) > edge(soft), 'intensity 1 keeps the edge sharper than 2000');
  const flat = await get('c_pad,w_40,h_60/rb.png');
  t.ok(near(flat.at(3, 3), [255, 255, 255], 0), 'without b_: white padding (unchanged)');
});

t.test('b_auto solid modes and palettes', async (t) => {
  const border = await get('c_pad,w_80,h_40,b_auto/framed.png');
  t.ok(near(border.at(2, 20), [20, 160, 20]), `b_auto (border): the frame's green (${border.at(2, 20)})`);
  t.same(border.at(2, 20), (await get('c_pad,w_80,h_40,b_auto:border/framed.png')).at(2, 20));
  t.ok(near((await get('c_pad,w_80,h_40,b_auto:predominant/framed.png')).at(2, 20), [200, 30, 200]), 'predominant: the magenta centre');
  t.ok(near((await get('c_pad,w_80,h_40,b_auto:border_contrast/framed.png')).at(2, 20), [235, 95, 235]), 'border_contrast: green\'s complement');
  t.ok(near((await get('c_pad,w_80,h_40,b_auto:predominant_contrast/framed.png')).at(2, 20), [55, 225, 55]), 'predominant_contrast');
  t.same((await get('c_pad,w_80,h_40,b_auto:border:palette_red_0000ff_lime/framed.png')).at(2, 20).slice(0, 3), [0, 255, 0], 'palette: the entry nearest the border');
  t.same((await get('c_pad,w_80,h_40,b_auto:predominant:palette_red_f0f/framed.png')).at(2, 20).slice(0, 3), [255, 0, 255]);
});

t.test('b_auto gradients: colours, count, direction, contrast', async (t) => {
  const two = await get('c_pad,w_80,h_20,b_auto:predominant_gradient/rb.png');
  t.ok(reddish(two.at(0, 10)) && bluish(two.at(79, 10)), `left red, right blue (${two.at(0, 10)} … ${two.at(79, 10)})`);
  t.notSame(two.at(5, 10), two.at(15, 10), 'a gradient, not one colour');
  const vert = await get('c_pad,w_20,h_80,b_auto:predominant_gradient:2:vertical/tb.png');
  t.ok(reddish(vert.at(10, 0)) && bluish(vert.at(10, 79)), 'vertical: top red, bottom blue');
  const horizOnTb = await get('c_pad,w_20,h_80,b_auto:predominant_gradient:2:horizontal/tb.png');
  t.notSame(horizOnTb.at(0, 0), horizOnTb.at(19, 0), 'horizontal: the top padding changes from left to right');
  t.same(vert.at(0, 0), vert.at(19, 0), 'vertical: it does not');
  const desc = await get('c_pad,w_80,h_20,b_auto:predominant_gradient:2:diagonal_desc/rb.png');
  const asc = await get('c_pad,w_80,h_20,b_auto:predominant_gradient:2:diagonal_asc/rb.png');
  t.ok(desc.at(0, 0)[0] > desc.at(0, 19)[0], 'diagonal_desc: the top left is the most red');
  t.ok(asc.at(0, 19)[0] > asc.at(0, 0)[0], 'diagonal_asc: the bottom left is the most red');
  const four = await get('c_pad,w_160,h_20,b_auto:predominant_gradient:4/four.png');
  t.ok(near(four.at(0, 10), RED, 15), `4 colours: starts red (${four.at(0, 10)})`);
  t.ok(near(four.at(159, 10), YELLOW, 15), `ends yellow (${four.at(159, 10)})`);
  const fourTwo = await get('c_pad,w_160,h_20,b_auto:predominant_gradient:2/four.png');
  t.ok(bluish(fourTwo.at(159, 10)) || near(fourTwo.at(159, 10), GREEN, 15), `2 colours of four: the two largest (red, green) — ends green (${fourTwo.at(159, 10)})`);
  const contrast = await get('c_pad,w_80,h_20,b_auto:predominant_gradient_contrast/rb.png');
  t.ok(near(contrast.at(0, 10), [35, 235, 235], 15), `contrast: complements (${contrast.at(0, 10)})`);
  const borderG = await get('c_pad,w_80,h_20,b_auto:border_gradient:2:horizontal/rb.png');
  t.ok(reddish(borderG.at(0, 10)) && bluish(borderG.at(79, 10)), 'border_gradient');
  const pal = await get('c_pad,w_80,h_20,b_auto:predominant_gradient:palette_f00_00f/rb.png');
  t.same(pal.at(0, 10).slice(0, 3), [255, 0, 0], 'gradient palette: left end the palette red');
  t.same(pal.at(79, 10).slice(0, 3), [0, 0, 255], 'right end the palette blue');
});

t.test('image backgrounds fill transparent areas outside padding', async (t) => {
  const g = await get('b_auto:predominant_gradient:2/clear.png');
  t.equal(g.channels, 3, 'opaque after flattening');
  t.ok(!near(g.at(10, 10), [255, 255, 255], 20), `the transparent area shows the gradient (${g.at(10, 10)})`);
  t.ok(near(g.at(30, 10), RED, 3), 'the image is on top');
  const b = await get('b_blurred/clear.png');
  t.equal(b.channels, 3);
  t.ok(near(b.at(30, 10), RED, 3));
});

t.test('canonical round trips and 400s', async (t) => {
  const canonical = (s: string) => parsePlan(s.split('/')).canonical;
  for (const s of ['b_auto', 'b_auto:predominant_contrast', 'b_auto:border_gradient', 'b_auto:predominant_gradient:2:diagonal_desc',
    'b_auto:predominant_gradient:4:palette_red_green_blue_orange', 'b_auto:border:palette_red_green', 'b_auto:predominant_gradient:horizontal',
    'b_auto:border_gradient_contrast:2', 'b_blurred', 'b_blurred:400:15', 'b_blurred:100:-300', 'b_auto:predominant_gradient_contrast:palette_red_green']) {
    const c = canonical(`c_pad,w_10,h_10,${s}`);
    t.equal(canonical(c), c, `${s} → ${c}`);
  }
  t.equal(canonical('b_auto'), canonical('b_auto:border'));
  t.equal(canonical('b_auto:predominant_gradient'), canonical('b_auto:predominant_gradient:2:horizontal'));
  t.equal(canonical('b_blurred'), canonical('b_blurred:100:0'));
  const error = async (url: string) => {
    const res = await app.inject({ url: `/image/upload/${url}/rb.png` });
    return `${res.statusCode} ${res.headers['x-cld-error']}`;
  };
  for (const [v, want] of [
    ['b_auto:sideways', '400 Invalid background in transformation: auto:sideways'],
    ['b_auto:predominant_gradient:3', '400 Invalid background in transformation: auto:predominant_gradient:3'],
    ['b_auto:border:2', '400 Invalid background in transformation: auto:border:2'],
    ['b_auto:border:palette_red_nocolour', '400 Invalid background in transformation: auto:border:palette_red_nocolour'],
    ['b_blurred:0', '400 Invalid background in transformation: blurred:0'],
    ['b_blurred:100:1001', '400 Invalid background in transformation: blurred:100:1001'],
    ['b_blurred:100:-301', '400 Invalid background in transformation: blurred:100:-301'],
    ['b_blurred:1:2:3', '400 Invalid background in transformation: blurred:1:2:3'],
  ]) t.equal(await error(`c_pad,w_10,h_10,${v}`), want, v);
});
