/**
 * Transformation text → plan (url-api.md §2): accepted tokens and their canonical values,
 * rejected tokens with status and exact message, component detection, named transformations,
 * memoization. Automatic values (`*_auto`) are left to their owners' tests.
 */
import t from 'tap';
import { parsePlan, clearPlanMemo, looksLikeComponent, splitToken } from '../../src/plan/parse.ts';
import { isHttpError } from '../../src/errors.ts';

function canonical(text: string, named: Record<string, string> = {}): string {
  return parsePlan(text.split('/'), named).canonical;
}

function failure(text: string, named: Record<string, string> = {}, max?: number): { status: number; message: string } {
  try {
    parsePlan(text.split('/'), named, max);
  } catch (e) {
    if (!isHttpError(e)) return { status: -1, message: String(e) };
    return { status: e.statusCode, message: e.message };
  }
  return { status: 0, message: 'parsed' };
}

t.test('accepted tokens → canonical values', async (t) => {
  const table: [string, string][] = [
    ['w_100', 'w_100'],
    ['h_50', 'h_50'],
    ['w_0.5', 'w_0.5'],
    ['w_1.0', 'w_1.0'],
    ['w_100.4', 'w_100'],
    ['c_fill', 'c_fill'],
    ['c_lpad', 'c_lpad'],
    ['g_centre', 'g_center'],
    ['g_south_east', 'g_south_east'],
    ['g_xy_center', 'g_xy_center'],
    ['x_10,y_-20', 'x_10,y_-20'],
    ['x_0.5', 'x_0.5'],
    ['ar_16:9', 'ar_1.7777777777777777'],
    ['ar_1.5', 'ar_1.5'],
    ['z_1.5', 'z_1.5'],
    ['q_80', 'q_80'],
    ['q_80:444', 'q_80:444'],
    ['q_60:420', 'q_60:420'],
    ['f_jpg', 'f_jpeg'],
    ['f_jpeg', 'f_jpeg'],
    ['f_tif', 'f_tiff'],
    ['f_avif', 'f_avif'],
    ['dpr_2.0', 'dpr_2'],
    ['dpr_1.5', 'dpr_1.5'],
    ['a_-90', 'a_270'],
    ['a_360', 'a_0'],
    ['a_hflip.90', 'a_hflip.90'],
    ['a_ignore', 'a_ignore'],
    ['a_auto', 'a_auto_right'],
    ['r_max', 'r_max'],
    ['r_10', 'r_10:10:10:10'],
    ['r_10:20', 'r_10:20:10:20'],
    ['r_1:2:3', 'r_1:2:3:2'],
    ['r_1:2:3:4', 'r_1:2:3:4'],
    ['b_red', 'b_rgb:ff0000'],
    ['b_rgb:f00', 'b_rgb:ff0000'],
    ['b_rgb:FF000080', 'b_rgb:ff000080'],
    ['b_transparent', 'b_rgb:00000000'],
    ['bo_2px_solid_rgb:f00', 'bo_2px_solid_rgb:ff0000'],
    ['o_50', 'o_50'],
    ['e_blur', 'e_blur:100'],
    ['e_blur:300', 'e_blur:300'],
    ['e_grayscale', 'e_grayscale'],
    ['e_sepia', 'e_sepia:80'],
    ['e_trim:5:white', 'e_trim:5:rgb:ffffff'],
    ['pg_2', 'pg_2'],
    ['pg_2-4;6;8-', 'pg_2-4;6;8-'],
    ['pg_-1', 'pg_-1'],
    ['fl_attachment:my-file', 'fl_attachment:my-file'],
    // parameter order inside a component never matters; component order does
    ['w_100,h_50,c_fill', 'c_fill,h_50,w_100'],
    ['c_fill,h_50,w_100', 'c_fill,h_50,w_100'],
    ['g_centre,c_crop,w_10', 'c_crop,g_center,w_10'],
    ['w_100/c_fill,h_50', 'w_100/c_fill,h_50'],
  ];
  for (const [text, want] of table) {
    let got: string;
    try { got = canonical(text); } catch (e) { got = `threw ${(e as Error).message}`; }
    t.equal(got, want, `${text} → ${want}`);
  }
  t.equal(canonical('fl_progressive.strip_profile'), canonical('fl_strip_profile.progressive'), 'flag order is not significant');
  t.equal(canonical('fl_progressive,fl_strip_profile'.replace(',fl_', '.')), canonical('fl_strip_profile.progressive'));
  t.not(canonical('w_100/h_50'), canonical('h_50/w_100'), 'component order is significant');
});

t.test('rejected tokens → status and exact message', async (t) => {
  const VIDEO = 'video-only parameter, not valid for images';
  const table: [string, number, string][] = [
    ['w_abc', 400, 'Invalid width in transformation: abc'],
    ['w_0', 400, 'Invalid width in transformation: 0'],
    ['w_-5', 400, 'Invalid width in transformation: -5'],
    ['w_70000', 400, 'Invalid width in transformation: 70000'],
    ['h_x', 400, 'Invalid height in transformation: x'],
    ['c_foo', 400, 'Invalid crop in transformation: foo'],
    ['c_imagga_crop', 400, 'Unsupported transformation c_imagga_crop: third-party add-on crops are not supported'],
    ['g_north-west', 400, 'Invalid gravity in transformation: north-west'],
    ['x_abc', 400, 'Invalid x in transformation: abc'],
    ['ar_0', 400, 'Invalid aspect ratio in transformation: 0'],
    ['ar_16:x', 400, 'Invalid aspect ratio in transformation: 16:x'],
    ['z_0', 400, 'Invalid zoom in transformation: 0'],
    ['q_0', 400, 'Invalid quality in transformation: 0'],
    ['q_101', 400, 'Invalid quality in transformation: 101'],
    ['q_80:422', 400, 'Invalid quality in transformation: 80:422'],
    ['o_101', 400, 'Invalid opacity in transformation: 101'],
    ['a_abc', 400, 'Invalid angle in transformation: abc'],
    ['a_400', 400, 'Invalid angle in transformation: 400'],
    ['r_a', 400, 'Invalid radius in transformation: a'],
    ['b_notacolour', 400, 'Invalid background in transformation: notacolour'],
    ['b_rgb:12345', 400, 'Invalid background in transformation: rgb:12345'],
    ['bo_5px_dashed_red', 400, 'Invalid border in transformation: 5px_dashed_red'],
    ['dpr_0', 400, 'Invalid dpr in transformation: 0'],
    ['dpr_abc', 400, 'Invalid dpr in transformation: abc'],
    ['f_xyz', 400, 'Invalid format in transformation: xyz'],
    ['f_bmp', 400, 'Unsupported transformation f_bmp: this output format is not supported'],
    ['fl_nope', 400, 'Invalid flags in transformation: nope'],
    ['fl_layer_apply', 400, 'Invalid flags in transformation: layer_apply (no layer to apply)'],
    ['e_blur:abc', 400, 'Invalid effect in transformation: blur:abc'],
    ['e_blur:3000', 400, 'Invalid effect in transformation: blur:3000'],
    ['e_gen_remove', 400, 'Unsupported transformation e_gen_remove: this effect is not supported'],
    ['pg_0', 400, 'Invalid page in transformation: 0'],
    ['pg_4-2', 400, 'Invalid page in transformation: 4-2'],
    ['pg_name:record_cover', 400, 'Unsupported transformation pg_name:record_cover: named layers need PSD input, which this server cannot read (and TIFF page names are not exposed)'],
    ['w_100,zz_1', 400, 'Unknown transformation zz_1'],
    ['zz_1', 400, 'Unknown transformation zz_1'],
    ['so_2', 400, `Unsupported transformation so_2: ${VIDEO}`],
    ['eo_5', 400, `Unsupported transformation eo_5: ${VIDEO}`],
    ['du_10', 400, `Unsupported transformation du_10: ${VIDEO}`],
    ['vc_h264', 400, `Unsupported transformation vc_h264: ${VIDEO}`],
    // Conditions and variables parse (test/transforms/computed.test.ts); malformed ones are 400s.
    ['if_w_zz_100', 400, 'Invalid condition in transformation: w_zz_100 (a condition is <value>_<eq|ne|lt|gt|lte|gte|in|nin>_<value>)'],
    ['$1w_100', 400, 'Invalid variable in transformation: $1w_100 (a name is letters and digits, starting with a letter)'],
    ['w_iw_div', 400, 'Invalid width in transformation: iw_div'],
    ['t_missing', 400, 'Unsupported transformation t_missing: no such named transformation is configured'],
    ['w_100,w_200', 400, 'Invalid width in transformation: 200 (given twice in one component)'],
    ['w_100,,h_100', 400, 'Invalid URL: empty parameter in "w_100,,h_100"'],
    ['w_', 400, 'Invalid width in transformation: '],
  ];
  for (const [text, status, message] of table) {
    const f = failure(text);
    t.same(f, { status, message }, text);
  }
  // Overlays parse at plan time (a missing layer image is a request-time 4xx, see
  // test/routes/headers.test.ts); an unknown overlay kind is still refused here.
  t.equal(failure('l_foo').status, 0, 'l_foo parses');
});

t.test('component detection: where transformations stop and the public id begins', async (t) => {
  t.ok(looksLikeComponent('w_100'));
  t.ok(looksLikeComponent('c_fill,g_north,h_50,w_100'));
  t.ok(looksLikeComponent('w_100,zz_1'), 'one known key makes it a component (then zz_1 is reported)');
  t.ok(looksLikeComponent('so_2'), 'recognised video key');
  t.ok(looksLikeComponent('$w_100'), 'variables');
  t.notOk(looksLikeComponent('my_photos'), 'folder with an underscore');
  t.notOk(looksLikeComponent('zz_1'), 'only unknown keys: a folder');
  t.notOk(looksLikeComponent('sample'));
  t.notOk(looksLikeComponent(''));
  t.notOk(looksLikeComponent('Shoes_1'), 'upper-case key');
  t.same(splitToken('w_100'), ['w', '100']);
  t.same(splitToken('g_south_east'), ['g', 'south_east']);
  t.same(splitToken('$var_3'), ['$', 'var_3']);
  t.same(splitToken('plain'), ['plain', '']);
});

t.test('named transformations expand in place', async (t) => {
  const named = { thumb: 'c_fill,w_100,h_100', two: 'w_200/e_grayscale', loop: 't_loop' };
  t.equal(canonical('t_thumb', named), 'c_fill,h_100,w_100');
  t.equal(canonical('t_two/a_90', named), 'w_200/e_grayscale/a_90');
  t.equal(canonical('t_thumb.two', named), 'c_fill,h_100,w_100/w_200/e_grayscale');
  t.equal(canonical('t_thumb,a_90', named), 'c_fill,h_100,w_100/a_90', 'named components come before the rest of their component');
  const loop = failure('t_loop', named);
  t.equal(loop.status, 400, 'self-reference is a 400, not a stack overflow');
  t.match(loop.message, /^Invalid transformation in transformation: loop .*nest too deep/);
  t.same(failure('t_bad name', named), { status: 400, message: 'Invalid transformation in transformation: bad name' });
});

t.test('component count limit', async (t) => {
  const text = Array.from({ length: 21 }, () => 'w_10').join('/');
  t.same(failure(text, {}, 20), { status: 400, message: 'Invalid URL: too many components (21 > 20)' });
  t.equal(parsePlan(text.split('/').slice(0, 20), {}, 20).components.length, 20);
});

t.test('memoized by text, forgotten by clearPlanMemo', async (t) => {
  const a = parsePlan(['c_fill,w_77,h_33']);
  t.equal(parsePlan(['c_fill,w_77,h_33']), a, 'same object from the memo');
  clearPlanMemo();
  const b = parsePlan(['c_fill,w_77,h_33']);
  t.not(b, a, 'a fresh plan after clear');
  t.equal(b.canonical, a.canonical);
  // failures are not memoized as successes
  t.equal(failure('w_abc').status, 400);
  t.equal(failure('w_abc').status, 400);
});
