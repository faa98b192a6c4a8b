/**
 * e_blur_region and e_pixelate_region (issue 14 item 2): x, y, w, h in the effect's component
 * name its region (they are no crop: the size stays), only that region changes, and without a
 * region the whole image does (Cloudinary). Real HTTP, real pixels.
 */
import t from 'tap';
import { parsePlan } from '../../src/plan/parse.ts';
import { baseline, effectServer, flatShare, framesOf, refused, rgbaOf, sameOutside, statsOf } from '../helpers/effect-pixels.ts';

const s = await effectServer(t);
const plain = await baseline(s, '/image/upload/cat.png');
const box = { left: 20, top: 30, width: 100, height: 80 };

t.test('e_blur_region blurs its region only', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/e_blur_region:800,x_20,y_30,w_100,h_80/cat.png');
  t.same([out.width, out.height], [451, 300], 'x, y, w, h are the region, not a crop');
  t.ok(sameOutside(out, plain, box), 'every pixel outside the region is unchanged');
  const before = statsOf(plain, box).sd[1], after = statsOf(out, box).sd[1];
  t.ok(after < before / 2, `the region is blurred (green sd ${before.toFixed(1)} → ${after.toFixed(1)})`);
});

t.test('e_pixelate_region makes blocks in its region only', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/e_pixelate_region:10,x_20,y_30,w_100,h_80/cat.png');
  t.same([out.width, out.height], [451, 300]);
  t.ok(sameOutside(out, plain, box), 'every pixel outside the region is unchanged');
  const inside = flatShare(out, box), was = flatShare(plain, box);
  t.ok(inside > 0.8 && inside > was + 0.5, `blocks of 10 px: ${(100 * was).toFixed(0)}% → ${(100 * inside).toFixed(0)}% of pixels equal their neighbour`);
});

t.test('fractions, defaults and a region reaching outside', async (t) => {
  // w_0.5 without h: the left half, from y 0 to the bottom
  const half = await rgbaOf(t, s, '/image/upload/e_pixelate_region:8,w_0.5/cat.png');
  const left = { left: 0, top: 0, width: 226, height: 300 };
  t.ok(sameOutside(half, plain, left), 'right half unchanged');
  t.ok(flatShare(half, { left: 0, top: 0, width: 200, height: 300 }) > 0.8, 'left half pixelated');
  // no region: the whole image
  const whole = await rgbaOf(t, s, '/image/upload/e_blur_region/cat.png');
  t.ok(statsOf(whole).sd[1] < statsOf(plain).sd[1], 'without x/y/w/h the whole image is blurred');
  const corner = { left: 300, top: 200, width: 151, height: 100 };
  t.ok(statsOf(whole, corner).sd[1] < statsOf(plain, corner).sd[1], 'a corner far from any region is blurred too');
  // y alone: from there to the bottom (Cloudinary's e_blur_region:1500,y_0.75)
  const quarter = await rgbaOf(t, s, '/image/upload/e_blur_region:1500,y_0.75/cat.png');
  t.ok(sameOutside(quarter, plain, { left: 0, top: 225, width: 451, height: 75 }), 'y_0.75 alone: the top three quarters unchanged');
  t.ok(statsOf(quarter, { left: 0, top: 230, width: 451, height: 70 }).sd[1] < statsOf(plain, { left: 0, top: 230, width: 451, height: 70 }).sd[1] / 2, 'the bottom quarter blurred');
  // clipped to the image
  const edge = await rgbaOf(t, s, '/image/upload/e_blur_region:500,x_400,y_250,w_200,h_200/cat.png');
  t.same([edge.width, edge.height], [451, 300], 'a region past the edge is clipped, the size stays');
  t.ok(sameOutside(edge, plain, { left: 400, top: 250, width: 51, height: 50 }));
});

t.test('geometry of other components still applies; canonical round-trip', async (t) => {
  const out = await rgbaOf(t, s, '/image/upload/w_200/e_pixelate_region:5,w_50,h_50/cat.png');
  t.equal(out.width, 200, 'w_200 in its own component still resizes');
  for (const text of ['e_blur_region:800,x_20,y_30,w_100,h_80', 'e_pixelate_region,w_0.5', 'e_pixelate_region:12']) {
    const p = parsePlan([text]);
    t.equal(parsePlan([p.canonical]).canonical, p.canonical, `${text} → ${p.canonical} round-trips`);
  }
  t.equal(parsePlan(['e_blur_region:800,x_20,y_30,w_100,h_80']).canonical, 'e_blur_region:800,h_80,w_100,x_20,y_30');
  t.equal(parsePlan(['e_blur_region']).canonical, 'e_blur_region:100', 'default strength 100');
});

t.test('bad arguments are 400 naming the value', async (t) => {
  await refused(t, s, '/image/upload/e_blur_region:0,w_10,h_10/cat.png', 400, /Invalid effect in transformation: blur_region:0/);
  await refused(t, s, '/image/upload/e_blur_region:2001/cat.png', 400, /blur_region:2001/);
  await refused(t, s, '/image/upload/e_pixelate_region:abc/cat.png', 400, /Invalid effect in transformation: pixelate_region:abc/);
  await refused(t, s, '/image/upload/e_pixelate_region:5:6/cat.png', 400, /pixelate_region:5:6/);
});

t.test('animations: every frame', async (t) => {
  const plainGif = await framesOf(t, s, '/image/upload/animated.gif');
  const out = await framesOf(t, s, '/image/upload/e_pixelate_region:4,w_10,h_10/animated.gif');
  t.same(out, plainGif, `same frames and size (${out.pages} frames of ${out.width}×${out.height})`);
  t.ok(out.pages > 1);
});
