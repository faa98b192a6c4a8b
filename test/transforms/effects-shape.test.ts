/**
 * Shape effects (issue 14 item 2): e_shadow, e_outline, e_distort (corners, arc), e_shear,
 * e_gradient_fade. Sizes the effects grow to are the plan's (held to the output limits before
 * rendering), and the delivered pixels show the shape: the shadow's offset and colour, the
 * outline's ring, the warped corners, the faded edge. Real HTTP, real pixels.
 */
import t from 'tap';
import { canonicalRoundTrip, covered, effectServer, framesOf, px, refused, rgbaOf, statsOf } from '../helpers/effect-pixels.ts';

const s = await effectServer(t);

t.test('e_shadow: an offset, blurred copy of the shape under it; the canvas grows', async (t) => {
  const plain = await rgbaOf(t, s, '/image/upload/disc.png');
  const out = await rgbaOf(t, s, '/image/upload/e_shadow/disc.png');
  // strength 40: sigma 4, margin 12, offset 8,8 → 100+8+12+4 wide, the image at (4,4)
  t.same([out.width, out.height], [124, 104], 'grown by the offset and the blur margin');
  t.same(px(out, 4 + 50, 4 + 40), px(plain, 50, 40), 'the image is drawn over its shadow, in place');
  const [r, g, b, a] = px(out, 84, 52); // in the shadow, outside the disc
  t.equal(px(plain, 80, 48)[3], 0, 'that spot is transparent without the effect');
  t.ok(a > 60 && r < 10 && g < 10 && b < 10, `black shadow at 40% there (rgba ${[r, g, b, a]})`);
  t.ok(covered(out) > covered(plain) + 500, 'the shadow covers more pixels than the disc');

  const red = await rgbaOf(t, s, '/image/upload/e_shadow:100,co_rgb:00ff00/disc.png');
  // strength 100: sigma 7, margin 21, the image at (13, 13); the same spot of its shadow
  t.same([red.width, red.height], [142, 122]);
  const [r2, g2, , a2] = px(red, 13 + 50 + 30, 13 + 40 + 8);
  t.ok(g2 > 200 && r2 < 50 && a2 > a, `co_ colours it, strength makes it more opaque (rgba ${px(red, 93, 61)})`);

  const left = await rgbaOf(t, s, '/image/upload/e_shadow,x_-10,y_0/disc.png');
  t.same([left.width, left.height], [124, 104]);
  // the image at (22, 12): shadow centre 10 px left of the disc's
  t.ok(px(left, 22 + 50 - 32, 12 + 40)[3] > 30, 'x_-10 puts the shadow on the left');
  t.equal(px(left, 22 + 50 + 32, 12 + 40)[3], 0, 'and none on the right');
});

t.test('e_outline: a ring around (outer) or inside (inner) the shape; fill modes fill it', async (t) => {
  const plain = await rgbaOf(t, s, '/image/upload/disc.png');
  const outer = await rgbaOf(t, s, '/image/upload/e_outline/disc.png');
  t.same([outer.width, outer.height], [110, 90], 'outer grows by the width (5) on each side');
  t.ok(covered(outer) > covered(plain) * 1.3, `covers more pixels: ${covered(plain)} → ${covered(outer)}`);
  t.same(px(outer, 5 + 50 + 28, 5 + 40), [0, 0, 0, 255], '3 px outside the disc: black ring');
  t.same(px(outer, 5 + 50, 5 + 40), px(plain, 50, 40), 'the disc itself unchanged');

  const blue = await rgbaOf(t, s, '/image/upload/e_outline:outer:10,co_blue/disc.png');
  t.same([blue.width, blue.height], [120, 100]);
  t.same(px(blue, 10 + 50 + 33, 10 + 40), [0, 0, 255, 255], 'co_ colours it, width 10 reaches 8 px out');

  const inner = await rgbaOf(t, s, '/image/upload/e_outline:inner:4/disc.png');
  t.same([inner.width, inner.height], [100, 80], 'inner keeps the size');
  t.equal(covered(inner), covered(plain), 'and the covered pixels');
  t.same(px(inner, 50 + 22, 40).slice(0, 3), [0, 0, 0], '2 px inside the edge: black');
  t.same(px(inner, 50, 40), px(plain, 50, 40), 'the middle unchanged');

  const half = await rgbaOf(t, s, '/image/upload/halfdisc.png');
  t.ok(Math.abs(px(half, 50, 40)[3] - 128) <= 1, 'half-transparent disc');
  const fill = await rgbaOf(t, s, '/image/upload/e_outline:fill:3/halfdisc.png');
  t.same([fill.width, fill.height], [106, 86], 'fill draws the outer ring too');
  t.equal(px(fill, 3 + 50, 3 + 40)[3], 255, 'fill paints the colour under the shape: opaque');
  t.equal(px(fill, 3 + 50 + 26, 3 + 40)[3], 255, 'and the ring outside');
  const innerFill = await rgbaOf(t, s, '/image/upload/e_outline:inner_fill:3/halfdisc.png');
  t.same([innerFill.width, innerFill.height], [100, 80], 'inner_fill keeps the size');
  t.equal(px(innerFill, 50, 40)[3], 255, 'inner_fill fills');

  const blurred = await rgbaOf(t, s, '/image/upload/e_outline:outer:5:200/disc.png');
  t.same([blurred.width, blurred.height], [100 + 2 * (5 + 12), 80 + 2 * (5 + 12)], 'blur 200 (sigma 4) adds its margin');
  const a = px(blurred, 17 + 50 + 34, 17 + 40)[3];
  t.ok(a > 0 && a < 255, `a blurred ring fades (alpha ${a} 9 px out)`);

  const photo = await rgbaOf(t, s, '/image/upload/e_outline:outer:4,co_red/cat.png');
  t.same([photo.width, photo.height], [459, 308], 'an opaque image gets a frame');
  t.same(px(photo, 1, 150), [255, 0, 0, 255]);
});

t.test('e_distort: four corners (perspective) and arc', async (t) => {
  const quad = await rgbaOf(t, s, '/image/upload/e_distort:40:25:280:60:260:155:35:165/cat.png');
  t.same([quad.width, quad.height], [245, 140], 'the canvas is the corners\' bounding box');
  t.equal(px(quad, 0, 0)[3], 0, 'outside the new shape: transparent');
  t.equal(px(quad, 244, 0)[3], 0);
  t.equal(px(quad, 122, 70)[3], 255, 'inside it: the image');
  t.ok(statsOf(quad, { left: 80, top: 50, width: 80, height: 40 }).sd[0] > 5, 'and its pixels, not a fill');

  const frown = await rgbaOf(t, s, '/image/upload/e_distort:arc:180/cat.png');
  t.ok(frown.width > 451, `arc:180 widens (${frown.width}×${frown.height})`);
  t.equal(px(frown, 0, 0)[3], 0, 'top corners transparent');
  t.equal(px(frown, frown.width >> 1, 1)[3], 255, 'top middle: the arc bends up');
  const smile = await rgbaOf(t, s, '/image/upload/e_distort:arc:-180/cat.png');
  t.equal(px(smile, 0, smile.height - 1)[3], 0, 'negative: bottom corners transparent');
  t.equal(px(smile, smile.width >> 1, smile.height - 2)[3], 255, 'bottom middle: bends down');
});

t.test('e_shear: skewed by degrees, the canvas grows to hold it', async (t) => {
  const x = await rgbaOf(t, s, '/image/upload/e_shear:20:0/cat.png');
  t.equal(x.height, 300);
  t.ok(x.width >= 559 && x.width <= 561, `451 + 300·tan 20° wide (${x.width})`);
  t.equal(px(x, x.width - 2, 1)[3], 0, 'top right transparent');
  t.equal(px(x, 1, 298)[3], 0, 'bottom left transparent');
  t.equal(px(x, 3, 1)[3], 255, 'top left is the image');
  const y = await rgbaOf(t, s, '/image/upload/e_shear:0:-15/cat.png');
  t.equal(y.width, 451);
  t.ok(y.height > 410, `y shear grows the height (${y.height})`);
});

t.test('e_gradient_fade: fades an edge to transparent; x_/y_ choose edge and length', async (t) => {
  const top = await rgbaOf(t, s, '/image/upload/e_gradient_fade/cat.png');
  t.same([top.width, top.height], [451, 300]);
  t.ok(px(top, 200, 0)[3] < 10, 'top row nearly transparent');
  t.ok(px(top, 200, 75)[3] > 100 && px(top, 200, 75)[3] < 255, 'a quarter down: partly');
  t.equal(px(top, 200, 160)[3], 255, 'below half (default y_0.5): untouched');
  t.equal(px(top, 200, 299)[3], 255);
  const strong = await rgbaOf(t, s, '/image/upload/e_gradient_fade:100/cat.png');
  t.ok(px(strong, 200, 75)[3] < px(top, 200, 75)[3], 'a stronger fade is more transparent at the same place');

  const bottom = await rgbaOf(t, s, '/image/upload/e_gradient_fade,y_-0.25/cat.png');
  t.equal(px(bottom, 200, 0)[3], 255, 'y_-0.25: top untouched');
  t.ok(px(bottom, 200, 299)[3] < 10, 'bottom faded');
  t.equal(px(bottom, 200, 220)[3], 255, 'only the last quarter');

  const sym = await rgbaOf(t, s, '/image/upload/e_gradient_fade:symmetric,x_100/cat.png');
  t.ok(px(sym, 0, 150)[3] < 10 && px(sym, 450, 150)[3] < 10, 'symmetric x_100: both sides');
  t.equal(px(sym, 225, 150)[3], 255, 'middle untouched');

  const both = await rgbaOf(t, s, '/image/upload/e_gradient_fade:symmetric:10,x_0.2,y_0.4/cat.png');
  t.ok(px(both, 0, 150)[3] < 40 && px(both, 225, 0)[3] < 40, 'x_ and y_ together: both axes fade (Cloudinary\'s own example)');
  t.equal(px(both, 225, 150)[3], 255, 'middle untouched');

  const pad = await rgbaOf(t, s, '/image/upload/e_gradient_fade:symmetric_pad,y_0.2/rocket.jpg');
  const plain = await rgbaOf(t, s, '/image/upload/rocket.jpg');
  const edge = { left: 0, top: 0, width: 640, height: 4 };
  t.ok(statsOf(pad, edge).mean[0] > 240, `symmetric_pad blends into the background (white): top row mean ${statsOf(pad, edge).mean[0].toFixed(0)}`);
  t.ok(statsOf(pad, { left: 0, top: 423, width: 640, height: 4 }).mean[0] > 240, 'and the bottom');
  t.ok(Math.abs(statsOf(pad, { left: 0, top: 200, width: 640, height: 20 }).mean[0] - statsOf(plain, { left: 0, top: 200, width: 640, height: 20 }).mean[0]) < 3, 'middle unchanged');
});

t.test('canonical round-trip', async (t) => {
  canonicalRoundTrip(t, [
    ['e_shadow', 'e_shadow:40'],
    ['e_shadow:60,co_red,x_-5,y_5', 'co_rgb:ff0000,e_shadow:60,x_-5,y_5'],
    ['e_outline', 'e_outline:outer:5:0'],
    ['e_outline:inner_fill:3', 'e_outline:inner_fill:3:0'],
    ['e_outline:7', 'e_outline:outer:7:0'],
    ['e_distort:arc:-90', 'e_distort:arc:-90'],
    ['e_distort:1:2:3:4:50:60:0:70', 'e_distort:1:2:3:4:50:60:0:70'],
    ['e_shear:20:0', 'e_shear:20:0'],
    ['e_gradient_fade', 'e_gradient_fade:20'],
    ['e_gradient_fade:symmetric:40,y_0.3', 'e_gradient_fade:symmetric:40,y_0.3'],
  ]);
});

t.test('bad arguments are 400 naming the value', async (t) => {
  for (const [url, message] of [
    ['e_shadow:101', /Invalid effect in transformation: shadow:101/],
    ['e_shadow:1:2', /shadow:1:2/],
    ['e_outline:thick', /outline:thick \(mode is one of outer, inner, fill, outer_fill, inner_fill\)/],
    ['e_outline:outer:0', /outline:outer:0/],
    ['e_outline:outer:5:2001', /outline:outer:5:2001/],
    ['e_distort:1:2:3', /distort:1:2:3 \(four corners/],
    ['e_distort:0:0:100:0:0:80:100:80', /convex/],
    ['e_distort:arc:0', /distort:arc:0/],
    ['e_distort:arc:400', /distort:arc:400/],
    ['e_distort:arc', /distort:arc/],
    ['e_shear:90:0', /shear:90:0 \(angles from -89 to 89\)/],
    ['e_shear:10', /shear:10/],
    ['e_gradient_fade:sideways', /gradient_fade:sideways/],
    ['e_gradient_fade:symmetric:101', /gradient_fade:symmetric:101/],
  ] as const) {
    await refused(t, s, `/image/upload/${url}/cat.png`, 400, message);
  }
});

t.test('animations: every frame redrawn, the frames kept', async (t) => {
  const plainGif = await framesOf(t, s, '/image/upload/animated.gif');
  t.ok(plainGif.pages > 1, `${plainGif.pages} frames of ${plainGif.width}×${plainGif.height}`);
  const shadow = await framesOf(t, s, '/image/upload/e_shadow/animated.gif');
  t.same(shadow, { pages: plainGif.pages, width: plainGif.width + 24, height: plainGif.height + 24 }, 'e_shadow grows every frame alike');
  const shear = await framesOf(t, s, '/image/upload/e_shear:0:30/animated.gif');
  t.equal(shear.pages, plainGif.pages);
  t.ok(shear.height > plainGif.height, 'e_shear');
});

t.test('grown sizes are held to the output limits before rendering', async (t) => {
  const small = await effectServer(t, { maxOutputSide: 120 });
  await refused(t, small, '/image/upload/e_shadow/disc.png', 400, /width 124 exceeds the 120 px limit \(e_shadow:40\)/);
  await refused(t, small, '/image/upload/e_outline:outer:20/disc.png', 400, /width 140 exceeds/);
  await refused(t, small, '/image/upload/w_100/e_shear:45:0/disc.png', 400, /exceeds the 120 px limit/);
  await refused(t, small, '/image/upload/w_100/e_distort:0:0:200:0:200:80:0:80/disc.png', 400, /width 200 exceeds/);
  const ok = await small.get('/image/upload/e_outline:inner:20/disc.png');
  t.equal(ok.status, 200, 'an inner outline does not grow');
});
