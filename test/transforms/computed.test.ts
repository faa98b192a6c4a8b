/**
 * Computed values (url-api.md §8) through the real server on real (generated) images:
 * arithmetic with predefined names, user variables (numbers, strings, conversions, in text
 * layers and named transformations), inline and block conditions, fl_ignore_aspect_ratio; the
 * 400s with their X-Cld-Error; the resolved plan is the cache key (one render for two URLs that
 * compute the same plan); canonical text round-trips.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { startServer, renderGate } from '../helpers/harness.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { sourcesOpened } from '../../src/render/render.ts';
import { cld } from '../helpers/cloudinary.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-computed-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
// 400×200 landscape photo-like gradient, 150×300 portrait, 300×300 two-colour drawing.
const gradient = Buffer.alloc(400 * 200 * 3);
for (let y = 0; y < 200; y++) for (let x = 0; x < 400; x++) {
  const i = (y * 400 + x) * 3;
  gradient[i] = (x * 255) / 399; gradient[i + 1] = (y * 255) / 199; gradient[i + 2] = ((x + y) * 97) % 256;
}
await fs.writeFile(path.join(dir, 'wide.png'), await sharp(gradient, { raw: { width: 400, height: 200, channels: 3 } }).png().toBuffer());
await fs.writeFile(path.join(dir, 'tall.png'), await sharp({ create: { width: 150, height: 300, channels: 3, background: '#3366aa' } }).png().toBuffer());
await fs.writeFile(path.join(dir, 'drawing.png'), await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ffffff' } })
  .composite([{ input: { create: { width: 120, height: 120, channels: 3, background: '#ff0000' } }, left: 90, top: 90 }]).png().toBuffer());

{
  // 3-frame 12×8 animated GIF.
  const frames = await Promise.all(['#f00', '#0f0', '#00f'].map((c) => sharp({ create: { width: 12, height: 8, channels: 3, background: c } }).raw().toBuffer()));
  await fs.writeFile(path.join(dir, 'anim.gif'), await sharp(Buffer.concat(frames), { raw: { width: 12, height: 24, channels: 3, pageHeight: 8 } as never }).gif({ loop: 0 }).toBuffer());
}

const gate = renderGate({ open: true });
const s = await startServer(t, { gate, config: { storageDir: dir, namedTransformations: { wv: 'c_scale,w_$w' } } });

async function size(url: string): Promise<{ width: number; height: number }> {
  const r = await s.get(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.headers.get('x-cld-error')}`);
  const m = await sharp(r.body).metadata();
  return { width: m.width!, height: m.height! };
}

async function refused(url: string): Promise<string> {
  const r = await s.get(url);
  return `${r.status} ${r.headers.get('x-cld-error')}`;
}

t.test('arithmetic with predefined names', async (t) => {
  t.same(await size('/image/upload/w_iw_div_2/wide.png'), { width: 200, height: 100 }, 'w_iw_div_2 halves the width');
  t.same(await size('/image/upload/h_ih_mul_0.25/wide.png'), { width: 100, height: 50 }, 'h_ih_mul_0.25');
  t.same(await size('/image/upload/w_iw%2F4/wide.png'), { width: 100, height: 50 }, 'percent-encoded `/` is div');
  t.same(await size('/image/upload/w_iw_sub_100_div_2/wide.png'), { width: 350, height: 175 }, 'div before sub: 400 - 50');
  t.same(await size('/image/upload/w_10_add_2_mul_3_pow_2/wide.png'), { width: 46, height: 23 }, '(2*3)^2 left to right, then +10');
  t.same(await size('/image/upload/w_200/w_w_div_2/wide.png'), { width: 100, height: 50 }, 'w is the size after the previous components');
  t.same(await size('/image/upload/c_scale,h_ih,w_iw_div_3/wide.png'), { width: 133, height: 200 }, 'a fraction of a pixel is rounded');
  t.same(await size('/image/upload/c_crop,h_ih_div_2,w_iw_div_2,x_w_div_4,y_0/wide.png'), { width: 200, height: 100 }, 'x computed too');
});

t.test('the front-end SDKs\' predominant-colour placeholder', async (t) => {
  const r = await s.get('/image/upload/ar_1,b_auto,c_pad,w_iw_div_2/c_crop,g_north_east,h_1,w_1/c_fill,h_ih,w_iw/wide.png');
  t.equal(r.status, 200, String(r.headers.get('x-cld-error')));
  const st = await sharp(r.body).stats();
  const m = await sharp(r.body).metadata();
  t.same({ width: m.width, height: m.height }, { width: 400, height: 200 }, 'back to the initial size');
  t.ok(st.channels.slice(0, 3).every((c) => c.min === c.max), 'one colour everywhere');
});

t.test('computed crop offsets move the crop: pixels', async (t) => {
  const r = await s.get('/image/upload/c_crop,g_north_west,h_10,w_10,x_iw_sub_10,y_0/wide.png');
  t.equal(r.status, 200);
  const { data } = await sharp(r.body).raw().toBuffer({ resolveWithObject: true });
  t.ok(data[0] > 240, `the crop sits at the right edge (red ${data[0]})`);
});

t.test('two URLs computing the same plan share one result', async (t) => {
  const before = gate.passed;
  const a = await s.get('/image/upload/c_scale,w_iw_div_4/tall.png');
  const b = await s.get('/image/upload/c_scale,w_ih_div_8/tall.png');
  const c = await s.get('/image/upload/c_scale,w_37.5/tall.png');
  t.equal(a.status, 200);
  t.equal(a.headers.get('etag'), b.headers.get('etag'), 'same ETag');
  t.equal(a.headers.get('etag'), c.headers.get('etag'), 'same ETag as the literal value');
  t.equal(gate.passed - before, 1, 'one render');
  t.match(b.headers.get('server-timing'), /cache;desc="l1"/);
});

t.test('every numeric parameter takes a computed value: the same result as the literal', async (t) => {
  // [computed, literal] on tall.png (150×300): each pair must deliver the same bytes.
  const pairs: [string, string][] = [
    ['$b_iw_div_50/e_blur:$b', 'e_blur:3'],
    ['e_brightness:ih_div_10', 'e_brightness:30'],
    ['$o_100_div_3/o_$o', 'o_33'],
    ['a_iw_sub_60', 'a_90'],
    ['r_ih_div_10', 'r_30'],
    ['r_10:iw_div_15', 'r_10:10'],
    ['q_iw_div_3', 'q_50'],
    ['c_fill,ar_iar_mul_2,w_100', 'c_fill,ar_1.0,w_100'],
    ['c_scale,dpr_iw_div_75,w_50', 'c_scale,dpr_2.0,w_50'],
    ['c_crop,g_face,w_100,h_100,z_ih_div_200', 'c_crop,g_face,w_100,h_100,z_1.5'],
    ['c_crop,h_ch_div_3,w_cw_div_3,x_w_div_3,y_h_div_3', 'c_crop,h_100,w_50,x_50,y_100'],
    ['$c_!green!/l_text:arial_30:x,co_$c', 'l_text:arial_30:x,co_green'],
  ];
  for (const [computed, literal] of pairs) {
    const a = await s.get(`/image/upload/${computed}/tall.jpg`);
    const b = await s.get(`/image/upload/${literal}/tall.jpg`);
    t.equal(a.status, 200, `${computed}: ${a.headers.get('x-cld-error')}`);
    t.equal(a.headers.get('etag'), b.headers.get('etag'), `${computed} = ${literal}`);
  }
});

t.test('user variables', async (t) => {
  t.same(await size('/image/upload/$s_iw_div_4/c_scale,w_$s/wide.png'), { width: 100, height: 50 });
  t.same(await size('/image/upload/$a_10/$b_$a_mul_3/w_$b/wide.png'), { width: 30, height: 15 }, 'a variable from a variable');
  t.same(await size('/image/upload/$a_10,$b_$a_add_5/w_$b/wide.png'), { width: 15, height: 8 }, 'two in one component, left to right');
  t.same(await size('/image/upload/$a_!120!_to_i/w_$a/wide.png'), { width: 120, height: 60 }, 'a string converted to a number');
  t.same(await size('/image/upload/$a_iw_div_3_to_i/w_$a/wide.png'), { width: 133, height: 67 }, '_to_i truncates');
  t.same(await size('/image/upload/$w_120/t_wv/wide.png'), { width: 120, height: 60 }, 'visible inside a named transformation');
  t.same(await size('/image/upload/$w_50/$w_$w_mul_2/w_$w/wide.png'), { width: 100, height: 50 }, 'redefined from itself');
});

t.test('a variable in a text layer renders its text', async (t) => {
  const viaVar = await s.get('/image/upload/$label_!Hi%20there!/l_text:arial_40:$(label),co_black/tall.png');
  const literal = await s.get('/image/upload/l_text:arial_40:Hi%20there,co_black/tall.png');
  const plain = await s.get('/image/upload/tall.png');
  t.equal(viaVar.status, 200, String(viaVar.headers.get('x-cld-error')));
  const raw = async (b: Buffer) => (await sharp(b).raw().toBuffer());
  t.ok((await raw(viaVar.body)).equals(await raw(literal.body)), 'the same pixels as the literal text');
  t.notOk((await raw(viaVar.body)).equals(await raw(plain.body)), 'text was drawn');
  const num = await s.get('/image/upload/$n_iw_add_1/l_text:arial_40:$(n),co_black/tall.png');
  const numLit = await s.get('/image/upload/l_text:arial_40:151,co_black/tall.png');
  t.ok((await raw(num.body)).equals(await raw(numLit.body)), 'a number prints as its value');
});

t.test('layers: conditions, computed sizes and placement', async (t) => {
  const raw = async (url: string) => {
    const r = await s.get(url);
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.headers.get('x-cld-error')}`);
    return sharp(r.body).raw().toBuffer();
  };
  const same = async (a: string, b: string, what: string) => t.ok((await raw(a)).equals(await raw(b)), what);
  const u = (tx: string, img = 'wide.png') => `/image/upload/${tx}/${img}`;
  await same(u('if_w_gt_300,l_text:arial_40:Hi,co_black'), u('l_text:arial_40:Hi,co_black'), 'a condition in the opener gates the whole layer: applied');
  await same(u('if_w_gt_300,l_text:arial_40:Hi,co_black', 'tall.png'), u('e_grayscale:0', 'tall.png').replace('e_grayscale:0/', ''), 'skipped on a narrow image');
  t.notOk((await raw(u('l_text:arial_40:Hi,co_black', 'tall.png'))).equals(await raw('/image/upload/tall.png')), 'the text would show');
  await same(u('l_tall,w_w_div_4/fl_layer_apply'), u('l_tall,w_100/fl_layer_apply'), 'w inside a layer is the base canvas (400 / 4)');
  await same(u('l_tall,w_20/fl_layer_apply,g_north_west,x_w_sub_20,y_h_div_2'), u('l_tall,w_20/fl_layer_apply,g_north_west,x_380,y_100'), 'computed placement');
  await same(u('$p_30/l_tall,w_$p/fl_layer_apply,g_south_east,x_$p'), u('l_tall,w_30/fl_layer_apply,g_south_east,x_30'), 'variables inside the layer and in its placement');
});

t.test('inline conditions pick by the real image size', async (t) => {
  t.same(await size('/image/upload/if_w_gt_300,c_scale,w_100/wide.png'), { width: 100, height: 50 }, 'wide: applied');
  t.same(await size('/image/upload/if_w_gt_300,c_scale,w_100/tall.png'), { width: 150, height: 300 }, 'tall: skipped');
  t.same(await size('/image/upload/if_ar_gt_3:4_and_w_gt_100,w_40/wide.png'), { width: 40, height: 20 }, 'and, ratio literal');
  t.same(await size('/image/upload/if_w_lt_10_or_h_eq_300,w_30/tall.png'), { width: 30, height: 60 }, 'or');
  t.same(await size('/image/upload/if_w_ne_h,w_30/drawing.png'), { width: 300, height: 300 }, 'names on both sides');
  t.same(await size('/image/upload/if_iw_gt_300,$v_50,e_grayscale/w_$v_add_0/wide.png'), { width: 50, height: 25 }, 'an inline condition gates variables');
  t.equal(await refused('/image/upload/if_iw_lt_300,$v_50,e_grayscale/w_$v_add_0/wide.png'), '400 Invalid expression in transformation: $v_add_0 (variable $v is used before it is defined)');
  t.same(await size('/image/upload/if_iw_gt_300,$v_50/if_end/w_$v_add_0/wide.png'), { width: 50, height: 25 }, 'beside variables only, a condition opens a block they belong to');
  t.equal(await refused('/image/upload/if_iw_lt_300,$v_50/if_end/w_$v_add_0/wide.png'), '400 Invalid expression in transformation: $v_add_0 (variable $v is used before it is defined)');
  // With no if_end after it, a condition beside variables sets those variables only.
  t.same(await size('/image/upload/if_iw_gt_300,$v_50/w_$v/wide.png'), { width: 50, height: 25 }, 'no if_end: the condition gates its variables');
  t.same(await size('/image/upload/$v_20/if_iw_lt_300,$v_50/w_$v/wide.png'), { width: 20, height: 10 }, 'false: the earlier value stays');
  const ex = (img: string) => `/image/upload/if_ar_lt_1.0,$height_100/if_else,$height_40/h_$height/${img}`;
  t.same(await size(ex('tall.png')), { width: 50, height: 100 }, 'Cloudinary\'s example: portrait takes the if variable');
  t.same(await size(ex('wide.png')), { width: 80, height: 40 }, 'landscape takes the else variable');
});

t.test('condition blocks with if_else', async (t) => {
  const url = (img: string) => `/image/upload/if_ar_gt_1/c_scale,w_50/e_grayscale/if_else/c_scale,h_60/if_end/${img}`;
  const wide = await s.get(url('wide.png'));
  const st = await sharp(wide.body).stats();
  t.same(await size(url('wide.png')), { width: 50, height: 25 }, 'landscape: the if branch');
  t.ok(st.channels.length === 1 || (st.channels[0].mean === st.channels[1].mean && st.channels[1].mean === st.channels[2].mean), 'the whole branch ran (grayscale)');
  t.same(await size(url('tall.png')), { width: 30, height: 60 }, 'portrait: the else branch');
  t.same(await size('/image/upload/if_w_gt_1000/w_10/if_end/w_iw_div_2/wide.png'), { width: 200, height: 100 }, 'after if_end everything applies');
});

t.test('an inline if_else after an inline condition (Cloudinary\'s own example shape)', async (t) => {
  const url = (img: string) => `/image/upload/if_ar_gt_1.2,c_scale,w_100/if_else,c_scale,h_60/${img}`;
  t.same(await size(url('wide.png')), { width: 100, height: 50 }, 'landscape: the condition');
  t.same(await size(url('tall.png')), { width: 30, height: 60 }, 'portrait: the else');
});

t.test('string variables in colours', async (t) => {
  const bo = await s.get('/image/upload/$c_!red!/bo_4px_solid_$c/tall.png');
  t.equal(bo.status, 200, String(bo.headers.get('x-cld-error')));
  const px = await sharp(bo.body).raw().toBuffer();
  t.same([...px.subarray(0, 3)], [255, 0, 0], 'bo_4px_solid_$c draws a red border');
  const pad = await s.get('/image/upload/$c_!rgb:0000ff!/b_$c,c_pad,h_300,w_300/tall.png');
  const pp = await sharp(pad.body).raw().toBuffer();
  t.same([...pp.subarray(0, 3)], [0, 0, 255], 'b_$c pads blue');
  const lit = await s.get('/image/upload/b_rgb:0000ff,c_pad,h_300,w_300/tall.png');
  t.equal(pad.headers.get('etag'), lit.headers.get('etag'), 'the same result as the literal colour');
});

t.test('pc and cp on an animated source', async (t) => {
  t.same(await size('/image/upload/pg_2/if_cp_eq_2_and_pc_eq_3,w_6/f_png/anim.gif'), { width: 6, height: 4 }, 'page 2 of 3');
  t.same(await size('/image/upload/if_cp_eq_2,w_6/f_png/anim.gif'), { width: 12, height: 8 }, 'without pg_ the current page is 1');
});

t.test('tags and context are empty until storage provides them', async (t) => {
  t.same(await size('/image/upload/if_!sale!_in_tags,w_50/wide.png'), { width: 400, height: 200 }, 'in: no tags');
  t.same(await size('/image/upload/if_!sale!_nin_tags,w_50/wide.png'), { width: 50, height: 25 }, 'nin: no tags');
  t.same(await size('/image/upload/if_ctx:!kind!_eq_!!,w_60/wide.png'), { width: 60, height: 30 }, 'a missing context key is empty');
});

t.test('ils and fc from the source analysis', async (t) => {
  t.same(await size('/image/upload/if_ils_gt_0.5,w_70/drawing.png'), { width: 70, height: 70 }, 'a drawing scores 1');
  t.same(await size('/image/upload/if_ils_gt_0.5,w_70/wide.png'), { width: 400, height: 200 }, 'a gradient scores 0');
  t.same(await size('/image/upload/if_fc_eq_0,w_80/drawing.png'), { width: 80, height: 80 }, 'no faces in a drawing');
  const opened = sourcesOpened();
  t.same(await size('/image/upload/if_fc_eq_0,w_80/drawing.png'), { width: 80, height: 80 }, 'again');
  t.equal(sourcesOpened(), opened, 'a repeated URL opens no source: the analysis is kept per source');
});

t.test('fl_ignore_aspect_ratio', async (t) => {
  t.same(await size('/image/upload/c_scale,fl_ignore_aspect_ratio,w_100/wide.png'), { width: 100, height: 200 }, 'the height stays');
  t.same(await size('/image/upload/c_scale,fl_ignore_aspect_ratio,h_50/wide.png'), { width: 400, height: 50 }, 'the width stays');
  t.same(await size('/image/upload/c_scale,w_100/wide.png'), { width: 100, height: 50 }, 'without it the ratio is kept');
});

t.test('URLs the official Cloudinary SDK builds', async (t) => {
  const sdk = (transformation: Record<string, unknown>[]) => new URL(cld.url('wide.png', {
    transformation, urlAnalytics: false, cloud_name: 'demo', private_cdn: true, secure_distribution: 'localhost', secure: true,
  })).pathname;
  const cases: [Record<string, unknown>[], { width: number; height: number }][] = [
    [[{ variables: [['$small', 150], ['$big', '$small * 2']] }, { width: '$big', crop: 'scale' }], { width: 300, height: 150 }],
    [[{ if: 'w > 300', width: 100, crop: 'scale' }], { width: 100, height: 50 }],
    [[{ if: 'ar >= 1.0' }, { width: 'iw / 2', crop: 'scale' }, { if: 'else' }, { height: 'ih * 0.25', crop: 'scale' }, { if: 'end' }], { width: 200, height: 100 }],
    [[{ if: 'initial_width > 300 && initial_height < 500', width: 'initial_width - 10', crop: 'scale' }], { width: 390, height: 195 }],
    [[{ width: 'iw + 10', crop: 'scale' }], { width: 410, height: 205 }],
    [[{ variables: [['$w', 'iw / 4']] }, { if: '$w > 50', variables: [['$h', '$w / 2']] }, { width: '$w', height: '$h', crop: 'scale' }, { if: 'end' }], { width: 100, height: 50 }],
    [[{ flags: 'ignore_aspect_ratio', width: 100, crop: 'scale' }], { width: 100, height: 200 }],
  ];
  for (const [tr, want] of cases) {
    const p = sdk(tr);
    t.same(await size(p), want, p);
  }
});

t.test('bad expressions are 400s naming them', async (t) => {
  t.equal(await refused('/image/upload/w_iw_div_0/wide.png'), '400 Invalid expression in transformation: iw_div_0 (division by zero)');
  t.equal(await refused('/image/upload/w_iw_mod_0/wide.png'), '400 Invalid expression in transformation: iw_mod_0 (division by zero)');
  t.equal(await refused('/image/upload/w_10_pow_400/wide.png'), '400 Invalid expression in transformation: 10_pow_400 (the result is not a finite number)');
  t.equal(await refused('/image/upload/w_$nope/wide.png'), '400 Invalid expression in transformation: $nope (variable $nope is used before it is defined)');
  t.equal(await refused('/image/upload/w_$x/$x_10/wide.png'), '400 Invalid expression in transformation: $x (variable $x is used before it is defined)');
  t.equal(await refused('/image/upload/w_iw_sub_iw/wide.png'), '400 Invalid width in transformation: 0 (computed from w_iw_sub_iw)');
  t.equal(await refused('/image/upload/$t_!abc!/w_$t/wide.png'), '400 Invalid width in transformation: abc (computed from w_$t)');
  t.equal(await refused('/image/upload/$t_!abc!/w_$t_add_1/wide.png'), '400 Invalid expression in transformation: $t_add_1 ("abc" is not a number)');
  t.equal(await refused('/image/upload/l_text:arial_20:$(who)/wide.png'), '400 Invalid text in transformation: $(who) (variable $who is used before it is defined)');
  t.equal(await refused('/image/upload/if_w_gt_1/w_10/wide.png'), '400 Invalid condition in transformation: if_w_gt_1 (no if_end)');
  t.equal(await refused('/image/upload/if_w_gt_1/if_h_gt_1/if_end/if_end/wide.png'), '400 Invalid condition in transformation: if_h_gt_1 (conditions do not nest: if_w_gt_1 is still open)');
  t.equal(await refused('/image/upload/w_10/if_end/wide.png'), '400 Invalid condition in transformation: if_end (no open if_ block)');
  t.equal(await refused('/image/upload/if_else/wide.png'), '400 Invalid condition in transformation: if_else (no open if_ block or inline condition before it)');
  t.equal(await refused('/image/upload/w_10/if_else,w_20/wide.png'), '400 Invalid condition in transformation: if_else (no open if_ block or inline condition before it)');
  t.equal(await refused('/image/upload/if_end,w_10/wide.png'), '400 Invalid condition in transformation: if_end (takes a component of its own)');
  t.equal(await refused('/image/upload/if_w_zz_3,w_10/wide.png'), '400 Invalid condition in transformation: w_zz_3 (a condition is <value>_<eq|ne|lt|gt|lte|gte|in|nin>_<value>)');
  t.equal(await refused('/image/upload/$1a_3/wide.png'), '400 Invalid variable in transformation: $1a_3 (a name is letters and digits, starting with a letter)');
  t.equal(await refused('/image/upload/$a/wide.png'), '400 Invalid variable in transformation: $a (no value)');
  t.equal(await refused('/image/upload/$a_iw_div/wide.png'), '400 Invalid variable in transformation: $a_iw_div');
  t.equal(await refused('/image/upload/e_trim/w_w_div_2/wide.png'), '400 Unsupported transformation w: the current size is not known from the plan here (after e_trim, an image layer, or over the limits)');
});

t.test('canonical text round-trips', async (t) => {
  for (const text of ['w_iw_div_2', '$w_200/w_$w', '$a_1,$b_$a_add_1/h_$b', 'c_scale,if_w_gt_1000,w_500', 'if_ar_gt_3:4_and_w_gt_300/w_10/if_else/w_20/if_end',
    'e_blur:$b', 'x_w_div_50,y_h_div_50', '$label_!Sale!/w_$label_to_i']) {
    const p = parsePlan(text.split('/'));
    const again = parsePlan(p.canonical.split('/'));
    t.equal(again.canonical, p.canonical, text);
    t.equal(p.computed, true, `${text}: computed`);
  }
  t.equal(parsePlan(['w_400']).computed, undefined, 'a plain plan is not computed');
});
