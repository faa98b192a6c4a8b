/**
 * The crop/gravity/dpr/format table of url-api.md §2, through the real route. Every expected
 * size below was worked out by hand from the rules and the source sizes, never by running the
 * code:
 *   rocket.jpg 640×427 (ratio 1.4988), quads.png / halves.png 200×100 (known colours, see
 *   test/helpers/core-fixtures.ts), alpha.png / clear.png 100×100, animated.gif 14×25×24.
 * One missing dimension keeps the input ratio, rounded half up; dpr multiplies requested sizes.
 */
import t from 'tap';
import path from 'node:path';
import { corpusDir, hasShared, startServer } from '../helpers/harness.ts';
import {
  makeStorage, removeStorage, decode, pixels, colourDistance,
  RED, GREEN, BLUE, YELLOW, BLACK, WHITE, type Rgb,
} from '../helpers/core-fixtures.ts';
import fs from 'node:fs/promises';

const CYAN: Rgb = [0, 255, 255];

interface Row {
  url: string;
  w: number;
  h: number;
  fmt: 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff';
  pages?: number;
  /** Pixel (x, y) must be this colour (max channel difference `tol`, default 40). */
  px?: [number, number, Rgb][];
  /** Alpha at (x, y) within [lo, hi]. */
  alpha?: [number, number, number, number][];
  /** R = G = B (±3) at these points. */
  grey?: [number, number][];
  why?: string;
}

// Pad offsets put the image in the middle (centre gravity): for 100×67 in 100×100 the top pad
// is round(33 / 2) = 17 rows, so row 2 is always padding.
const ROWS: Row[] = [
  // scale (default mode)
  { url: 'w_100/rocket.jpg', w: 100, h: 67, fmt: 'jpeg', why: '427*100/640 = 66.7' },
  { url: 'h_100/rocket.png', w: 150, h: 100, fmt: 'png', why: '640*100/427 = 149.9' },
  { url: 'w_100,h_100/rocket.webp', w: 100, h: 100, fmt: 'webp', why: 'scale may distort' },
  { url: 'c_scale,w_100,h_50/rocket.avif', w: 100, h: 50, fmt: 'avif' },
  { url: 'c_scale,w_100,dpr_2/rocket.gif', w: 200, h: 133, fmt: 'gif', why: '427*200/640 = 133.4' },
  { url: 'c_scale,w_100,dpr_1.5/rocket.tiff', w: 150, h: 100, fmt: 'tiff', why: '427*150/640 = 100.08' },
  { url: 'w_100/rocket.tif', w: 100, h: 67, fmt: 'tiff' },
  { url: 'w_100/rocket.jpeg', w: 100, h: 67, fmt: 'jpeg' },
  { url: 'w_0.25/rocket.jpg', w: 160, h: 107, fmt: 'jpeg', why: 'fraction of 640; 427/4 = 106.75' },
  { url: 'w_0.5,h_100/rocket.jpg', w: 320, h: 100, fmt: 'jpeg' },
  { url: 'dpr_2/rocket.jpg', w: 1280, h: 854, fmt: 'jpeg', why: 'dpr alone scales the whole image' },
  { url: 'dpr_1.5,w_100/rocket.jpg', w: 150, h: 100, fmt: 'jpeg' },
  { url: 'dpr_1.0,w_100/rocket.jpg', w: 100, h: 67, fmt: 'jpeg' },
  // fit: largest inside the box
  { url: 'c_fit,w_100,h_100/rocket.jpg', w: 100, h: 67, fmt: 'jpeg' },
  { url: 'c_fit,w_300,h_100/rocket.png', w: 150, h: 100, fmt: 'png' },
  { url: 'c_fit,w_100,h_100,dpr_2/rocket.webp', w: 200, h: 133, fmt: 'webp' },
  { url: 'c_fit,w_300,h_100,dpr_1.5/rocket.jpg', w: 225, h: 150, fmt: 'jpeg', why: '450×150 box, 640*150/427 = 224.8' },
  { url: 'c_fit,w_1280,h_1280/rocket.jpg', w: 1280, h: 854, fmt: 'jpeg', why: 'fit may upscale' },
  // limit: fit, only shrink
  { url: 'c_limit,w_1000,h_1000/rocket.jpg', w: 640, h: 427, fmt: 'jpeg' },
  { url: 'c_limit,w_300/rocket.webp', w: 300, h: 200, fmt: 'webp' },
  { url: 'c_limit,w_300,h_300,dpr_2/rocket.png', w: 600, h: 400, fmt: 'png' },
  { url: 'c_limit,w_400,h_400,dpr_2/rocket.jpg', w: 640, h: 427, fmt: 'jpeg', why: '800×800 box is larger' },
  // mfit: fit, only grow
  { url: 'c_mfit,w_100,h_100/rocket.jpg', w: 640, h: 427, fmt: 'jpeg' },
  { url: 'c_mfit,w_1000,h_1000/rocket.webp', w: 1000, h: 667, fmt: 'webp', why: '427*1000/640 = 667.2' },
  { url: 'c_mfit,w_500,h_500,dpr_2/rocket.jpg', w: 1000, h: 667, fmt: 'jpeg' },
  // fill: cover then crop
  { url: 'c_fill,w_100,h_100/rocket.jpg', w: 100, h: 100, fmt: 'jpeg' },
  { url: 'c_fill,w_200,h_50/rocket.png', w: 200, h: 50, fmt: 'png' },
  { url: 'c_fill,w_100,h_100,dpr_1.5/rocket.webp', w: 150, h: 150, fmt: 'webp' },
  { url: 'c_fill,w_100,h_100,dpr_2/rocket.avif', w: 200, h: 200, fmt: 'avif' },
  // lfill: fill, never upscale (keeps the requested ratio at the input's scale)
  { url: 'c_lfill,w_100,h_100/rocket.jpg', w: 100, h: 100, fmt: 'jpeg' },
  { url: 'c_lfill,w_1000,h_500/rocket.jpg', w: 640, h: 320, fmt: 'jpeg', why: '2:1 at most 640 wide' },
  { url: 'c_lfill,w_100,h_50,dpr_2/rocket.gif', w: 200, h: 100, fmt: 'gif' },
  // pad: fit then pad with b_ (white by default without alpha, transparent with alpha)
  { url: 'c_pad,w_100,h_100/rocket.jpg', w: 100, h: 100, fmt: 'jpeg', px: [[50, 2, WHITE], [50, 97, WHITE]] },
  { url: 'c_pad,w_100,h_100,b_red/rocket.png', w: 100, h: 100, fmt: 'png', px: [[50, 2, RED], [0, 0, RED], [99, 99, RED]] },
  { url: 'c_pad,w_100,h_100,b_red,dpr_2/rocket.webp', w: 200, h: 200, fmt: 'webp', px: [[100, 4, RED]] },
  { url: 'c_pad,w_100,h_100,b_rgb:0000ff/rocket.tiff', w: 100, h: 100, fmt: 'tiff', px: [[50, 2, BLUE]] },
  { url: 'c_pad,w_200,h_100/clear.png', w: 200, h: 100, fmt: 'png', alpha: [[5, 50, 0, 0], [100, 50, 255, 255]], px: [[100, 50, RED]] },
  { url: 'c_pad,w_200,h_100,b_black/clear.png', w: 200, h: 100, fmt: 'png', px: [[5, 50, BLACK], [100, 50, RED]], alpha: [[5, 50, 255, 255]] },
  // lpad: pad, only shrink (a smaller image is padded, not scaled)
  { url: 'c_lpad,w_100,h_100/rocket.jpg', w: 100, h: 100, fmt: 'jpeg' },
  { url: 'c_lpad,w_1000,h_1000,b_black/rocket.jpg', w: 1000, h: 1000, fmt: 'jpeg', px: [[500, 10, BLACK], [10, 500, BLACK]] },
  { url: 'c_lpad,w_400,h_400,dpr_1.5,b_red/rocket.png', w: 600, h: 600, fmt: 'png', px: [[300, 10, RED]], why: '600 box: 600×400 + pad' },
  // mpad: pad, only grow (never scales)
  { url: 'c_mpad,w_100,h_100/rocket.jpg', w: 640, h: 427, fmt: 'jpeg' },
  { url: 'c_mpad,w_1000,h_500,b_red/rocket.webp', w: 1000, h: 500, fmt: 'webp', px: [[10, 250, RED], [990, 250, RED]] },
  { url: 'c_mpad,w_400,h_300,dpr_2,b_blue/rocket.jpg', w: 800, h: 600, fmt: 'jpeg', px: [[10, 300, BLUE], [400, 590, BLUE]] },
  // crop: extract without scaling
  { url: 'c_crop,w_100,h_100/rocket.jpg', w: 100, h: 100, fmt: 'jpeg' },
  { url: 'c_crop,w_100,h_50,x_10,y_20/rocket.png', w: 100, h: 50, fmt: 'png' },
  { url: 'c_crop,w_1000,h_1000/rocket.jpg', w: 640, h: 427, fmt: 'jpeg', why: 'cannot crop more than the input' },
  { url: 'c_crop,w_100,h_100,dpr_2/rocket.webp', w: 200, h: 200, fmt: 'webp' },
  { url: 'c_crop,w_0.25,h_0.25/rocket.jpg', w: 160, h: 107, fmt: 'jpeg' },
  // thumb (compass gravity): crop then scale, like fill
  { url: 'c_thumb,w_100,h_100/rocket.jpg', w: 100, h: 100, fmt: 'jpeg' },
  { url: 'c_thumb,w_100,h_100,dpr_1.5/rocket.avif', w: 150, h: 150, fmt: 'avif' },
  { url: 'c_thumb,w_200,h_50/rocket.gif', w: 200, h: 50, fmt: 'gif' },
  // aspect ratio
  { url: 'ar_16:9,w_320/rocket.jpg', w: 320, h: 180, fmt: 'jpeg' },
  { url: 'ar_16:9,c_fill,w_320/rocket.webp', w: 320, h: 180, fmt: 'webp' },
  { url: 'ar_1.0,c_fill,h_200/rocket.png', w: 200, h: 200, fmt: 'png' },
  { url: 'ar_1:1,c_crop/rocket.jpg', w: 427, h: 427, fmt: 'jpeg', why: 'largest 1:1 region' },
  { url: 'ar_16:9,c_fill,w_160,dpr_2/rocket.jpg', w: 320, h: 180, fmt: 'jpeg' },
  // angle
  { url: 'a_90/rocket.jpg', w: 427, h: 640, fmt: 'jpeg' },
  { url: 'w_100,a_90/rocket.webp', w: 67, h: 100, fmt: 'webp', why: 'geometry first, then orient' },
  { url: 'a_180/rocket.png', w: 640, h: 427, fmt: 'png' },
  { url: 'a_270,c_fill,w_200,h_100/rocket.jpg', w: 100, h: 200, fmt: 'jpeg' },
  { url: 'a_-90/rocket.jpg', w: 427, h: 640, fmt: 'jpeg' },
  // format selection: f_ beats the extension; no extension keeps the source format
  { url: 'f_png/rocket.jpg', w: 640, h: 427, fmt: 'png' },
  { url: 'f_webp,w_100/rocket', w: 100, h: 67, fmt: 'webp' },
  { url: 'w_100/rocket', w: 100, h: 67, fmt: 'jpeg' },
  { url: 'w_50/clear', w: 50, h: 50, fmt: 'png', alpha: [[2, 2, 0, 0]] },
  { url: 'f_avif,w_100/rocket.png', w: 100, h: 67, fmt: 'avif' },
  { url: 'f_gif,w_100/rocket.jpg', w: 100, h: 67, fmt: 'gif' },
  { url: 'f_tiff,w_100/rocket.jpg', w: 100, h: 67, fmt: 'tiff' },
  { url: 'f_jpg/clear.png', w: 100, h: 100, fmt: 'jpeg', px: [[5, 5, WHITE], [50, 50, RED]], why: 'alpha flattened on white' },
  { url: 'b_blue/f_jpg/clear.png', w: 100, h: 100, fmt: 'jpeg', px: [[5, 5, BLUE], [50, 50, RED]], why: 'b_ fills transparency' },
  // compass gravity on the quadrants (c_crop 50×50 from 200×100)
  { url: 'c_crop,w_50,h_50,g_north_west/quads.png', w: 50, h: 50, fmt: 'png', px: [[25, 25, RED], [1, 1, RED], [48, 48, RED]] },
  { url: 'c_crop,w_50,h_50,g_north/quads.png', w: 50, h: 50, fmt: 'png', px: [[10, 25, RED], [40, 25, BLUE]] },
  { url: 'c_crop,w_50,h_50,g_north_east/quads.png', w: 50, h: 50, fmt: 'png', px: [[1, 1, BLUE], [48, 48, BLUE]] },
  { url: 'c_crop,w_50,h_50,g_west/quads.png', w: 50, h: 50, fmt: 'png', px: [[25, 10, RED], [25, 40, GREEN]] },
  { url: 'c_crop,w_50,h_50,g_center/quads.png', w: 50, h: 50, fmt: 'png', px: [[10, 10, RED], [40, 10, BLUE], [10, 40, GREEN], [40, 40, YELLOW]] },
  { url: 'c_crop,w_50,h_50,g_east/quads.webp', w: 50, h: 50, fmt: 'webp', px: [[25, 10, BLUE], [25, 40, YELLOW]] },
  { url: 'c_crop,w_50,h_50,g_south_west/quads.png', w: 50, h: 50, fmt: 'png', px: [[1, 1, GREEN], [48, 48, GREEN]] },
  { url: 'c_crop,w_50,h_50,g_south/quads.png', w: 50, h: 50, fmt: 'png', px: [[10, 25, GREEN], [40, 25, YELLOW]] },
  { url: 'c_crop,w_50,h_50,g_south_east/quads.jpg', w: 50, h: 50, fmt: 'jpeg', px: [[25, 25, YELLOW]] },
  // offsets move the box away from the anchored edge; without gravity c_crop anchors north-west
  { url: 'c_crop,w_50,h_50,g_east,x_100/quads.png', w: 50, h: 50, fmt: 'png', px: [[25, 10, RED], [25, 40, GREEN]] },
  { url: 'c_crop,w_50,h_50,x_120,y_50/quads.png', w: 50, h: 50, fmt: 'png', px: [[25, 25, YELLOW]] },
  { url: 'c_crop,w_50,h_50,x_100,y_0/quads.png', w: 50, h: 50, fmt: 'png', px: [[25, 25, BLUE]] },
  { url: 'c_crop,w_50,h_50,g_xy_center,x_150,y_75/quads.png', w: 50, h: 50, fmt: 'png', px: [[25, 25, YELLOW]] },
  { url: 'c_crop,w_0.25,h_0.5,x_0.5,y_0.5/quads.png', w: 50, h: 50, fmt: 'png', px: [[25, 25, YELLOW]], why: 'fractional offsets' },
  // which edge fill / thumb / lfill keep
  { url: 'c_fill,w_50,h_100,g_west/halves.png', w: 50, h: 100, fmt: 'png', px: [[25, 50, RED], [48, 50, RED]] },
  { url: 'c_fill,w_50,h_100,g_east/halves.webp', w: 50, h: 100, fmt: 'webp', px: [[25, 50, BLUE], [1, 50, BLUE]] },
  { url: 'c_fill,w_50,h_100/halves.png', w: 50, h: 100, fmt: 'png', px: [[10, 50, RED], [40, 50, BLUE]] },
  { url: 'c_fill,w_25,h_50,g_west,dpr_2/halves.png', w: 50, h: 100, fmt: 'png', px: [[25, 50, RED], [48, 50, RED]] },
  { url: 'c_thumb,w_50,h_100,g_east/halves.png', w: 50, h: 100, fmt: 'png', px: [[25, 50, BLUE]] },
  { url: 'c_lfill,w_400,h_400,g_east/halves.png', w: 100, h: 100, fmt: 'png', px: [[2, 50, BLUE], [97, 50, BLUE]], why: '1:1 at the input scale = 100×100' },
  // where pad puts the image
  { url: 'c_pad,w_400,h_100,g_west,b_black/halves.png', w: 400, h: 100, fmt: 'png', px: [[10, 50, RED], [390, 50, BLACK]] },
  { url: 'c_pad,w_400,h_100,g_east,b_black/halves.png', w: 400, h: 100, fmt: 'png', px: [[10, 50, BLACK], [390, 50, BLUE]] },
  { url: 'c_pad,w_200,h_300,g_north,b_white/halves.png', w: 200, h: 300, fmt: 'png', px: [[50, 50, RED], [150, 50, BLUE], [50, 250, WHITE]] },
  // flips and rotations on known pixels
  { url: 'a_hflip/quads.png', w: 200, h: 100, fmt: 'png', px: [[10, 10, BLUE], [190, 10, RED], [10, 90, YELLOW], [190, 90, GREEN]] },
  { url: 'a_vflip/quads.png', w: 200, h: 100, fmt: 'png', px: [[10, 10, GREEN], [190, 90, BLUE]] },
  { url: 'a_hflip.vflip/quads.webp', w: 200, h: 100, fmt: 'webp', px: [[10, 10, YELLOW], [190, 90, RED]] },
  { url: 'a_90/quads.png', w: 100, h: 200, fmt: 'png', px: [[10, 10, GREEN], [90, 10, RED], [10, 190, YELLOW], [90, 190, BLUE]], why: 'clockwise' },
  // effects
  { url: 'e_grayscale/quads.png', w: 200, h: 100, fmt: 'png', grey: [[10, 10], [190, 10], [10, 90], [190, 90]] },
  { url: 'e_grayscale,w_100/rocket.jpg', w: 100, h: 67, fmt: 'jpeg', grey: [[10, 10], [50, 33], [90, 60]] },
  { url: 'e_negate/quads.png', w: 200, h: 100, fmt: 'png', px: [[10, 10, CYAN], [190, 90, BLUE], [190, 10, YELLOW]] },
  { url: 'e_blur:300/quads.png', w: 200, h: 100, fmt: 'png' },
  { url: 'o_50/alpha.png', w: 100, h: 100, fmt: 'png', alpha: [[50, 50, 125, 130], [1, 1, 125, 130]] },
  { url: 'o_50,w_100/rocket.png', w: 100, h: 67, fmt: 'png', alpha: [[50, 33, 125, 130]] },
  { url: 'r_max/rocket.png', w: 640, h: 427, fmt: 'png', alpha: [[0, 0, 0, 0], [639, 426, 0, 0], [320, 213, 255, 255]] },
  { url: 'r_20/quads.png', w: 200, h: 100, fmt: 'png', alpha: [[0, 0, 0, 0], [199, 99, 0, 0], [20, 20, 255, 255], [100, 50, 255, 255]] },
  { url: 'r_max/rocket.jpg', w: 640, h: 427, fmt: 'jpeg', px: [[1, 1, WHITE]], why: 'no alpha in JPEG: corners flattened on white' },
  { url: 'bo_5px_solid_red,w_100/rocket.jpg', w: 110, h: 77, fmt: 'jpeg', px: [[1, 1, RED], [108, 75, RED], [55, 2, RED]] },
  { url: 'bo_10px_solid_blue/quads.png', w: 220, h: 120, fmt: 'png', px: [[2, 2, BLUE], [15, 15, RED], [205, 105, YELLOW]] },
  // chained components: each applies to the previous result
  { url: 'c_fill,w_100,h_100/e_grayscale/a_90/rocket.jpg', w: 100, h: 100, fmt: 'jpeg', grey: [[50, 50]] },
  { url: 'c_crop,w_300,h_200/a_90/w_0.5/rocket.png', w: 100, h: 150, fmt: 'png' },
  { url: 'c_fill,w_200,h_200/w_100/rocket.webp', w: 100, h: 100, fmt: 'webp' },
  { url: 'c_crop,w_100,h_50,g_south_east/c_pad,w_100,h_100,b_red/rocket.jpg', w: 100, h: 100, fmt: 'jpeg', px: [[50, 5, RED]] },
  { url: 'c_crop,w_100,h_50,g_north_west/a_hflip/quads.png', w: 100, h: 50, fmt: 'png', px: [[50, 25, RED]] },
  { url: 'c_crop,w_200,h_50,g_south/a_hflip/quads.png', w: 200, h: 50, fmt: 'png', px: [[10, 25, YELLOW], [190, 25, GREEN]] },
  // animation: kept for gif/webp, first frame for still formats
  { url: 'w_28/animated.gif', w: 28, h: 50, fmt: 'gif', pages: 24 },
  { url: 'w_28/animated.webp', w: 28, h: 50, fmt: 'webp', pages: 24 },
  { url: 'w_28/animated.jpg', w: 28, h: 50, fmt: 'jpeg', pages: 1 },
  { url: 'w_28/animated.png', w: 28, h: 50, fmt: 'png', pages: 1 },
  { url: 'pg_2,w_28/animated.gif', w: 28, h: 50, fmt: 'gif', pages: 1 },
  { url: 'c_fill,w_20,h_20/animated.gif', w: 20, h: 20, fmt: 'gif', pages: 24 },
];

const storage = await makeStorage();
// Registered first, so it runs after the server's close (tap runs teardowns last-in first-out).
t.teardown(() => removeStorage(storage));
const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

t.test(`conformance table (${ROWS.length} URLs)`, async (t) => {
  t.ok(ROWS.length >= 80, 'at least 80 URLs');
  for (const row of ROWS) {
    const url = `/image/upload/${row.url}`;
    const res = await app.inject({ url });
    if (res.statusCode !== 200) {
      t.fail(`${url}: status ${res.statusCode} ${res.headers['x-cld-error'] ?? ''}`);
      continue;
    }
    const d = await decode(res.rawPayload);
    const got = `${d.width}x${d.height} ${d.format}${row.pages ? ` pages=${d.pages}` : ''}`;
    const want = `${row.w}x${row.h} ${row.fmt}${row.pages ? ` pages=${row.pages}` : ''}`;
    t.equal(got, want, `${url}${row.why ? ` (${row.why})` : ''}`);
    const ct = res.headers['content-type'];
    t.equal(ct, `image/${row.fmt}`, `${url} content-type`);
    if (!row.px && !row.alpha && !row.grey) continue;
    const p = await pixels(res.rawPayload);
    for (const [x, y, c] of row.px ?? []) {
      const v = p.at(x, y);
      t.ok(colourDistance(v, c) <= 40, `${url} pixel (${x},${y}) = ${v.slice(0, 3)} ≈ ${c}`);
    }
    for (const [x, y, lo, hi] of row.alpha ?? []) {
      const a = p.at(x, y)[3];
      t.ok(a >= lo && a <= hi, `${url} alpha (${x},${y}) = ${a} in [${lo}, ${hi}]`);
    }
    for (const [x, y] of row.grey ?? []) {
      const [r, g, b] = p.at(x, y);
      t.ok(Math.abs(r - g) <= 3 && Math.abs(g - b) <= 3, `${url} grey at (${x},${y}): ${r},${g},${b}`);
    }
  }
});

t.test('fl_getinfo reports the region of the input that the output shows', async (t) => {
  const info = async (u: string) => {
    const res = await app.inject({ url: `/image/upload/${u}` });
    t.equal(res.statusCode, 200, u);
    t.equal(res.headers['content-type'], 'application/json', `${u} is JSON`);
    return res.json() as { input: { width: number; height: number; format: string }; output: { width: number; height: number; format: string }; crop?: { x: number; y: number; width: number; height: number } };
  };
  // fill 100×100 from 640×427: the scale is 100/427, so a 427×427 square is kept.
  const fill = await info('c_fill,w_100,h_100,fl_getinfo/rocket.jpg');
  t.match(fill.input, { width: 640, height: 427, format: 'jpeg' });
  t.same(fill.output.width, 100);
  t.same(fill.output.height, 100);
  t.equal(fill.crop?.width, 427);
  t.equal(fill.crop?.height, 427);
  t.ok(fill.crop && fill.crop.x >= 106 && fill.crop.x <= 107, `centred: x=${fill.crop?.x} ≈ (640-427)/2`);
  t.equal(fill.crop?.y, 0);
  const west = await info('c_fill,w_100,h_100,g_west,fl_getinfo/rocket.jpg');
  t.same(west.crop, { x: 0, y: 0, width: 427, height: 427 });
  const east = await info('c_fill,w_100,h_100,g_east,fl_getinfo/rocket.jpg');
  t.same(east.crop, { x: 213, y: 0, width: 427, height: 427 });
  const crop = await info('c_crop,w_100,h_50,x_10,y_20,fl_getinfo/rocket.jpg');
  t.same(crop.crop, { x: 10, y: 20, width: 100, height: 50 });
  t.same([crop.output.width, crop.output.height], [100, 50]);
  const se = await info('c_crop,w_100,h_50,g_south_east,fl_getinfo/rocket.jpg');
  t.same(se.crop, { x: 540, y: 377, width: 100, height: 50 });
  // pad shows the whole input: no crop, or a crop equal to the whole input
  const pad = await info('c_pad,w_100,h_100,fl_getinfo/rocket.jpg');
  t.same([pad.output.width, pad.output.height], [100, 100]);
  t.ok(!pad.crop || (pad.crop.x === 0 && pad.crop.y === 0 && pad.crop.width === 640 && pad.crop.height === 427), 'pad keeps all of the input');
  // chained: fill then crop the left half → the left half of the 427 square
  const chain = await info('c_fill,w_100,h_100,g_west/c_crop,w_50,h_100,g_west/fl_getinfo/rocket.jpg');
  t.equal(chain.crop?.x, 0);
  t.ok(chain.crop && Math.abs(chain.crop.width - 214) <= 1, `half of 427 wide: ${chain.crop?.width}`);
});

if (!hasShared) t.comment('NOTICE: ../shared is absent; the EXIF orientation checks are skipped');
t.test('EXIF orientation 6 source', { skip: hasShared ? false : 'needs ../shared/corpus/edge/exif-orientation-6.jpg' }, async (t) => {
  const src = path.join(corpusDir, 'edge/exif-orientation-6.jpg');
  await fs.copyFile(src, path.join(storage, 'exif6.jpg'));
  // Stored 400×600 with orientation 6 (rotate 90° clockwise to display) → displayed 600×400.
  const cases: [string, number, number][] = [
    ['exif6.jpg', 600, 400],
    ['w_300/exif6.jpg', 300, 200],
    ['c_fill,w_100,h_50/exif6.webp', 100, 50],
    ['a_ignore/exif6.jpg', 400, 600],
    ['a_ignore,w_200/exif6.jpg', 200, 300],
    ['a_ignore/a_90/exif6.png', 600, 400],
  ];
  for (const [u, w, h] of cases) {
    const res = await app.inject({ url: `/image/upload/${u}` });
    t.equal(res.statusCode, 200, u);
    const d = await decode(res.rawPayload);
    t.same([d.width, d.height], [w, h], `${u} → ${w}x${h}`);
  }
});
