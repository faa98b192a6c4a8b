/**
 * Texture effects (issue 14 item 2): e_oil_paint, e_cartoonify, e_ordered_dither, e_noise,
 * e_vignette. The size stays; the delivered pixels show the texture (flat brush areas, few
 * colours and black lines, two levels per channel, noise of the asked amplitude, dark corners).
 */
import t from 'tap';
import { baseline, canonicalRoundTrip, colourCount, effectServer, flatShare, framesOf, px, refused, rgbaOf, statsOf, type Pixels } from '../helpers/effect-pixels.ts';

const s = await effectServer(t);
const plain = await baseline(s, '/image/upload/cat.png');

t.test('e_oil_paint: flat brush areas, same overall colour', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/e_oil_paint/cat.png');
  t.same([out.width, out.height], [451, 300]);
  t.ok(flatShare(out) > flatShare(plain) * 2, `pixels equal to their neighbour: ${(100 * flatShare(plain)).toFixed(0)}% → ${(100 * flatShare(out)).toFixed(0)}%`);
  const a = statsOf(plain).mean, b = statsOf(out).mean;
  for (let k = 0; k < 3; k++) t.ok(Math.abs(a[k] - b[k]) < 8, `channel ${k} mean ${a[k].toFixed(0)} → ${b[k].toFixed(0)}`);
  const strong = await rgbaOf(t, s, '/image/upload/e_oil_paint:100/cat.png');
  t.ok(flatShare(strong) > flatShare(out), 'a larger brush at strength 100');
});

t.test('e_cartoonify: few colours and black lines; bw is grey', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/e_cartoonify/cat.png');
  t.same([out.width, out.height], [451, 300]);
  t.ok(colourCount(out) < colourCount(plain) / 4, `colours ${colourCount(plain)} → ${colourCount(out)}`);
  const black = (p: Pixels) => { let n = 0; for (let i = 0; i < p.data.length; i += 4) if (p.data[i] + p.data[i + 1] + p.data[i + 2] === 0) n++; return n; };
  t.ok(black(out) > black(plain) + 1000, `black line pixels ${black(plain)} → ${black(out)}`);
  const noLines = await rgbaOf(t, s, '/image/upload/e_cartoonify:0/cat.png');
  t.ok(black(noLines) < black(out) / 4, 'line strength 0: (almost) no lines');
  const fewer = await rgbaOf(t, s, '/image/upload/e_cartoonify:50:100/cat.png');
  t.ok(colourCount(fewer) < colourCount(out), 'colour reduction 100: fewer colours than the default 50');
  const bw = await rgbaOf(t, s, '/image/upload/e_cartoonify:40:bw/cat.png');
  let grey = true;
  for (let i = 0; i < bw.data.length; i += 4) if (bw.data[i] !== bw.data[i + 1] || bw.data[i + 1] !== bw.data[i + 2]) { grey = false; break; }
  t.ok(grey, 'bw: every pixel grey');
});

t.test('e_ordered_dither: two levels per channel in the map\'s pattern', async (t) => {
  const levels = (p: Pixels) => { const seen = new Set<number>(); for (let i = 0; i < p.data.length; i += 4) for (let k = 0; k < 3; k++) seen.add(p.data[i + k]); return [...seen].sort((a, b) => a - b); };
  const o8 = await rgbaOf(t, s, '/image/upload/e_ordered_dither:5/cat.png');
  t.same(levels(o8), [0, 255], 'ordered 8x8: every channel 0 or 255');
  const a = statsOf(plain).mean, b = statsOf(o8).mean;
  for (let k = 0; k < 3; k++) t.ok(Math.abs(a[k] - b[k]) < 25, `dithering keeps the mean tone (channel ${k}: ${a[k].toFixed(0)} → ${b[k].toFixed(0)})`);
  const t0 = await rgbaOf(t, s, '/image/upload/e_ordered_dither/cat.png');
  t.same(levels(t0), [0, 255], 'default map 0: a plain threshold');
  t.ok(flatShare(t0) > flatShare(o8), 'a threshold has larger flat areas than a dither');
  const circles = await rgbaOf(t, s, '/image/upload/e_ordered_dither:18/cat.png');
  t.notOk(circles.data.equals(o8.data), 'map 18 (white circles) differs from map 5');
  t.same(levels(circles), [0, 255]);
});

t.test('e_noise: noise of the asked amplitude, the same for the same URL', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/e_noise:40/cat.png');
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < out.data.length; i += 4) {
    const d = out.data[i + 1] - plain.data[i + 1];
    if (plain.data[i + 1] < 60 || plain.data[i + 1] > 195) continue; // away from clipping
    sum += d; sq += d * d; n++;
  }
  const sd = Math.sqrt(sq / n - (sum / n) ** 2);
  t.ok(sd > 16 && sd < 24, `level 40: sigma 20 (measured ${sd.toFixed(1)})`);
  t.ok(Math.abs(sum / n) < 2, 'no bias');
  const weak = await rgbaOf(t, s, '/image/upload/e_noise:10/cat.png');
  let wsq = 0;
  for (let i = 0; i < weak.data.length; i += 4) wsq += (weak.data[i + 1] - plain.data[i + 1]) ** 2;
  t.ok(Math.sqrt(wsq / (weak.data.length / 4)) < sd / 2, 'level 10 is weaker');
  const def = await rgbaOf(t, s, '/image/upload/e_noise/cat.png');
  t.notOk(def.data.equals(plain.data), 'the default level (20) adds noise');
  const again = await s.get('/image/upload/e_noise:40,fl_immutable_cache/cat.png');
  const { data } = await (await import('sharp')).default(again.body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  t.ok(data.equals(out.data), 'deterministic: another render of the same noise is identical');
});

t.test('e_vignette: corners darker, centre kept', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/e_vignette:100/cat.png');
  const corner = { left: 0, top: 0, width: 40, height: 30 }, centre = { left: 200, top: 130, width: 50, height: 40 };
  t.ok(statsOf(out, corner).mean[1] < statsOf(plain, corner).mean[1] * 0.5, 'corners much darker');
  t.ok(Math.abs(statsOf(out, centre).mean[1] - statsOf(plain, centre).mean[1]) < 3, 'centre unchanged');
  const none = await rgbaOf(t, s, '/image/upload/e_vignette:0/cat.png');
  t.ok(Math.abs(statsOf(none, corner).mean[1] - statsOf(plain, corner).mean[1]) < 2, 'strength 0: none');
  t.same(px(out, 225, 150).slice(0, 3).map((v, k) => Math.abs(v - px(plain, 225, 150)[k]) <= 2), [true, true, true]);
});

t.test('canonical round-trip', async (t) => {
  canonicalRoundTrip(t, [
    ['e_oil_paint', 'e_oil_paint:30'], ['e_cartoonify', 'e_cartoonify:50:50'], ['e_cartoonify:20:bw', 'e_cartoonify:20:bw'],
    ['e_cartoonify:70', 'e_cartoonify:70:70'], ['e_ordered_dither', 'e_ordered_dither:0'], ['e_noise', 'e_noise:20'], ['e_vignette', 'e_vignette:20'],
  ]);
});

t.test('bad arguments are 400 naming the value', async (t) => {
  for (const [e, message] of [
    ['e_oil_paint:101', /Invalid effect in transformation: oil_paint:101/],
    ['e_cartoonify:50:grey', /cartoonify:50:grey/],
    ['e_cartoonify:101', /cartoonify:101/],
    ['e_cartoonify:1:2:3', /cartoonify:1:2:3/],
    ['e_ordered_dither:19', /ordered_dither:19/],
    ['e_noise:-1', /noise:-1/],
    ['e_vignette:x', /vignette:x/],
  ] as const) await refused(t, s, `/image/upload/${e}/cat.png`, 400, message);
});

t.test('animations: every frame', async (t) => {
  const plainGif = await framesOf(t, s, '/image/upload/animated.gif');
  for (const e of ['e_noise:50', 'e_oil_paint', 'e_ordered_dither:4', 'e_cartoonify']) {
    t.same(await framesOf(t, s, `/image/upload/${e}/animated.gif`), plainGif, `${e}: ${plainGif.pages} frames kept`);
  }
});
