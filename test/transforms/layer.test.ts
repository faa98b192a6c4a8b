/**
 * `l_` / `u_` / `co_` and the plan's layer grouping (url-api.md §2): accepted tokens and their
 * grouped plans, canonical text, rejected tokens with their exact messages. Pixels are in
 * test/render/layers.test.ts.
 */
import t from 'tap';
import { parsePlan } from '../../src/plan/parse.ts';
import { isHttpError } from '../../src/errors.ts';
import type { Component, LayerSpec } from '../../transforms/index.ts';

const plan = (text: string) => parsePlan(text.split('/'));

function failure(text: string): string {
  try {
    plan(text);
  } catch (e) {
    return isHttpError(e) ? `${e.statusCode} ${e.message}` : `crash ${String(e)}`;
  }
  return 'parsed';
}

function only(c: Component): LayerSpec {
  const l = c.layer ?? c.underlay;
  if (!l) throw new Error('no layer in component');
  return l;
}

t.test('image layer sources', async (t) => {
  t.same(only(plan('l_docs:logo').components[0]).source, { kind: 'image', publicId: 'docs/logo' }, 'folders use `:`');
  t.same(only(plan('l_sample.jpg').components[0]).source, { kind: 'image', publicId: 'sample', ext: 'jpg' });
  // Layers know the same extensions as delivery URLs (src/formats.ts), jp2 and jpe included.
  t.same(only(plan('l_sample.jp2').components[0]).source, { kind: 'image', publicId: 'sample', ext: 'jp2' });
  t.same(only(plan('l_sample.jpe').components[0]).source, { kind: 'image', publicId: 'sample', ext: 'jpe' });
  t.same(only(plan('l_sample.txt').components[0]).source, { kind: 'image', publicId: 'sample.txt' });
  t.same(only(plan('l_my%20logo').components[0]).source, { kind: 'image', publicId: 'my logo' });
  const u = only(plan('u_site_bg').components[0]);
  t.equal(u.under, true);
  t.ok(plan('u_site_bg').components[0].underlay, 'underlays have their own plan key');
});

t.test('text layer sources', async (t) => {
  const s = only(plan('l_text:Arial_45_bold_italic_underline_center:Hello%20World').components[0]).source;
  t.same(s, { kind: 'text', text: 'Hello World', style: { font: 'Arial', size: 45, weight: 'bold', italic: true, underline: true, align: 'center' } });
  const enc = only(plan('l_text:arial_15:a%252Cb%252Fc%2525').components[0]).source;
  t.equal(enc.kind === 'text' && enc.text, 'a,b/c%', '`,` and `/` arrive double-encoded');
  const sp = only(plan('l_text:Open%20Sans_20_letter_spacing_5_line_spacing_-3_antialias_none:x').components[0]).source;
  t.same(sp.kind === 'text' && sp.style, { font: 'Open Sans', size: 20, letterSpacing: 5, lineSpacing: -3 });
});

t.test('grouping: own component, following components, placement', async (t) => {
  const p = plan('w_500/l_docs:logo,w_150,g_face/e_grayscale/fl_layer_apply,g_north_east,x_10,y_0.2/h_100');
  t.equal(p.components.length, 3, 'base, layer, base');
  t.same(p.components[0], { width: { kind: 'px', value: 500 } });
  const l = only(p.components[1]);
  t.equal(l.components.length, 2);
  t.same(l.components[0].gravity, { kind: 'face', multiple: false, fallback: 'auto' }, 'g_ in the opener crops the layer when fl_layer_apply places it');
  t.same(l.components[1], { effect: { name: 'grayscale', args: [] } });
  t.same(l.placement, { gravity: { kind: 'compass', dir: 'north_east' }, x: { kind: 'px', value: 10 }, y: { kind: 'fraction', value: 0.2 } });
  t.same(p.components[2], { height: { kind: 'px', value: 100 } });

  const self = plan('l_badge,w_40,g_south_east,x_20,y_-40,o_60');
  const s = only(self.components[0]);
  t.same(s.components, [{ width: { kind: 'px', value: 40 }, opacity: 60 }], 'self-contained: g/x/y are placement, not layer geometry');
  t.same(s.placement, { gravity: { kind: 'compass', dir: 'south_east' }, x: { kind: 'px', value: 20 }, y: { kind: 'px', value: -40 } });

  const rel = only(plan('l_icon,w_0.2,fl_relative').components[0]);
  t.same(rel.placement, { relative: true });
  t.same(rel.components, [{ width: { kind: 'fraction', value: 0.2 } }], 'layer flags leave the layer components');
  t.same(only(plan('l_a/fl_layer_apply,fl_no_overflow.tiled').components[0]).placement, { noOverflow: true, tiled: true });

  const nested = plan('w_500/l_a,w_150/e_blackwhite/l_b,w_50/fl_layer_apply/fl_layer_apply,g_north_east');
  t.equal(nested.components.length, 2);
  const outer = only(nested.components[1]);
  t.equal(outer.components.length, 3, 'w_150, e_blackwhite, inner layer');
  t.same(only(outer.components[2]).components, [{ width: { kind: 'px', value: 50 } }]);
  t.same(outer.placement.gravity, { kind: 'compass', dir: 'north_east' });

  // An unclosed opener is self-contained even when an inner layer is closed.
  const open = plan('l_a/l_b/fl_layer_apply,g_south');
  t.equal(open.components.length, 2);
  t.same(only(open.components[1]).placement, { gravity: { kind: 'compass', dir: 'south' } });
  // Other flags of the apply component stay with the base.
  t.same(plan('l_a/fl_layer_apply,fl_getinfo').components[1], { flags: { getinfo: true } });
});

t.test('remote and LUT layer sources', async (t) => {
  // http://a.com/b.png, URL-safe or standard base64, padded or not
  for (const b64 of ['aHR0cDovL2EuY29tL2IucG5n', 'aHR0cDovL2EuY29tL2IucG5n==']) {
    t.same(only(plan(`l_fetch:${b64}`).components[0]).source, { kind: 'fetch', url: 'http://a.com/b.png' }, b64);
  }
  // https://a.com/x?y=~ has `~`/`+`-free base64 only with the URL-safe alphabet: aHR0cHM6Ly9hLmNvbS94P3k9fg
  t.same(only(plan('l_fetch:aHR0cHM6Ly9hLmNvbS94P3k9fg').components[0]).source, { kind: 'fetch', url: 'https://a.com/x?y=~' });
  t.same(only(plan('l_lut:looks:warm.3DL').components[0]).source, { kind: 'lut', publicId: 'looks/warm', ext: '3dl' });
  t.same(only(plan('l_lut:warm.cube').components[0]).source, { kind: 'lut', publicId: 'warm', ext: 'cube' });
  t.equal(plan('l_lut:warm.cube').canonical, 'l_lut:warm.cube()@');
  t.not(plan('l_fetch:aHR0cDovL2EuY29tL2IucG5n').canonical, plan('l_fetch:aHR0cDovL2EuY29tL2MucG5n').canonical, 'the URL is in the key');
});

t.test('blend modes, cutter and face placement go to the placement', async (t) => {
  for (const m of ['multiply', 'screen', 'overlay', 'mask']) {
    const self = only(plan(`e_${m},l_icon`).components[0]);
    t.same(self.placement, { blend: m }, `e_${m} in the opener`);
    t.same(self.components, [], 'not a layer transformation');
    const applied = only(plan(`l_icon,e_sepia/e_${m},fl_layer_apply`).components[0]);
    t.same(applied.placement, { blend: m }, `e_${m} in fl_layer_apply`);
    t.same(applied.components, [{ effect: { name: 'sepia', args: [80] } }], 'other effects stay with the layer');
  }
  t.same(only(plan('l_a/fl_cutter,fl_layer_apply,g_south').components[0]).placement, { gravity: { kind: 'compass', dir: 'south' }, cutter: true });
  const faces = only(plan('l_golden_star,g_faces,w_1.1,fl_region_relative').components[0]);
  t.same(faces.placement, { gravity: { kind: 'face', multiple: true, fallback: 'auto' }, regionRelative: true });
  t.same(faces.components, [{ width: { kind: 'fraction', value: 1.1 } }], 'w_1.1 of a relative layer is 110 %');
  t.not(plan('l_a,g_faces,w_1.1,fl_region_relative').canonical, plan('l_a,g_faces,w_1.3,fl_region_relative').canonical);
  t.same(only(plan('l_sample/g_face,fl_layer_apply').components[0]).placement.gravity, { kind: 'face', multiple: false, fallback: 'auto' });
  t.same(only(plan('l_a,e_anti_removal:90').components[0]).placement, { blend: 'anti_removal', blendLevel: 90 });
  t.equal(plan('l_a,e_anti_removal').canonical, plan('l_a,e_anti_removal:50').canonical, 'level 50 by default');
  const texts = ['l_a', 'l_a,e_multiply', 'l_a,e_screen', 'l_a,e_overlay', 'l_a,e_mask', 'l_a,e_anti_removal:10', 'l_a,e_anti_removal:90', 'l_a,fl_cutter', 'l_a,g_face', 'l_a,g_faces',
    'l_a,g_faces,w_1.0,fl_region_relative', 'l_a,g_faces,w_1.0'];
  const seen = new Map<string, string>();
  for (const x of texts) {
    const c = plan(x).canonical;
    t.notOk(seen.has(c), `${x} differs from ${seen.get(c)}`);
    seen.set(c, x);
  }
  t.equal(plan('e_multiply,l_a').canonical, plan('l_a/e_multiply,fl_layer_apply').canonical, 'one blend, two spellings');
});

t.test('co_ colour', async (t) => {
  t.same(plan('e_colorize,co_red').components[0].colour, { r: 255, g: 0, b: 0, alpha: 1 });
  t.equal(plan('co_rgb:0000ff80,e_colorize').canonical, 'co_rgb:0000ff80,e_colorize:100');
  t.equal(failure('co_nope'), '400 Invalid color in transformation: nope');
});

t.test('co_ needs a reader in its component (TransformDef.reads), else a 400 naming it', async (t) => {
  const why = '(nothing in its component reads it: it sets the colour of a text layer or of an effect that takes one, in the same component)';
  for (const s of ['co_red', 'w_100,co_red', 'l_logo,co_red', 'e_blur,co_red', 'co_$c', 'l_text:Arial_20:hi/co_red/fl_layer_apply', 'if_w_gt_10,co_red']) {
    t.equal(failure(s), `400 Invalid color in transformation: ${s.split('/').find((c) => c.includes('co_'))!.split(',').find((p) => p.startsWith('co_'))} ${why}`, s);
  }
  for (const s of ['e_colorize,co_red', 'e_colorize:50,co_red', 'l_text:Arial_20:hi,co_red', 'u_text:Arial_20:hi,co_red', 'e_outline,co_red',
    'e_outline:inner:5,co_blue', 'e_shadow,co_rgb:ff0000', 'e_make_transparent,co_white', 'e_$fx,co_red', '$c_!red!/e_colorize,co_$c']) {
    t.equal(failure(s), 'parsed', s);
  }
});

t.test('canonical text: equal plans equal, different layers different', async (t) => {
  t.equal(plan('l_a,w_10,o_50/fl_layer_apply,g_north').canonical, plan('o_50,w_10,l_a/g_north,fl_layer_apply').canonical);
  t.equal(plan('l_a,w_10/fl_layer_apply,g_north').canonical, 'l_a(w_10)@g:north');
  const texts = [
    'l_a', 'u_a', 'l_b', 'l_a.png', 'l_a,w_10', 'l_a,w_10,g_north', 'l_a/fl_layer_apply,g_north', 'l_a,w_0.5,fl_relative',
    'l_a/fl_layer_apply,fl_no_overflow', 'l_a/fl_layer_apply,fl_tiled', 'l_a/fl_layer_apply,x_1', 'l_a/e_grayscale/fl_layer_apply',
    'l_text:Arial_10:a', 'l_text:Arial_10:b', 'l_text:Arial_11:a', 'l_text:Arial_10_bold:a', 'l_text:Arial_10:a,co_red',
    'l_text:Arial_10:a,b_red',
  ];
  const seen = new Map<string, string>();
  for (const x of texts) {
    const c = plan(x).canonical;
    t.notOk(seen.has(c), `${x} differs from ${seen.get(c)}`);
    seen.set(c, x);
  }
});

t.test('rejected', async (t) => {
  const table: [string, string][] = [
    ['l_fetch:!!!', '400 Invalid overlay in transformation: fetch:!!! (not base64)'],
    ['u_fetch:aW1hZ2UudXJs', '400 Invalid underlay in transformation: fetch:aW1hZ2UudXJs (not a URL)'],
    // ftp://a.com/b.png
    ['l_fetch:ZnRwOi8vYS5jb20vYi5wbmc', '400 Invalid overlay in transformation: fetch:ZnRwOi8vYS5jb20vYi5wbmc (only http and https URLs)'],
    ['l_video:dog', '400 Unsupported transformation l_video: video layers are not supported for images'],
    ['l_subtitles:a.srt', '400 Unsupported transformation l_subtitles: subtitle layers are video-only'],
    ['l_lut:a.png', '400 Invalid overlay in transformation: lut:a.png (a LUT file is <public_id>.cube or .3dl)'],
    ['u_lut:a.cube', '400 Invalid underlay in transformation: lut:a.cube (a LUT is applied with l_lut:)'],
    ['l_lut:a.cube,w_10', '400 Invalid overlay in transformation: lut (a LUT layer takes no transformations: w_10)'],
    ['l_lut:a.cube/fl_layer_apply,g_north', '400 Invalid overlay in transformation: lut (a LUT layer takes no placement, flags or blend mode)'],
    ['l_lut:..:a.cube', '400 Invalid overlay in transformation: lut:..:a.cube'],
    ['l_$1img', '400 Invalid overlay in transformation: $1img (a layer named by a variable is l_$<name>, the variable holding an asset reference)'],
    ['l_..:etc:passwd', '400 Invalid overlay in transformation: ..:etc:passwd'],
    ['l_a::b', '400 Invalid overlay in transformation: a::b'],
    ['l_text:Arial:hi', '400 Unsupported transformation l_text:Arial:hi: text styles by public id are not supported (give <font>_<size>)'],
    ['l_text:Arial_0:hi', '400 Invalid overlay in transformation: 0'],
    ['l_text:Arial_10_wobbly:hi', '400 Invalid overlay in transformation: text:Arial_10_wobbly:hi'],
    ['l_text:Arial_10:', '400 Invalid overlay in transformation: text:Arial_10:'],
    ['l_text:Arial_10_stroke:hi', '400 Unsupported transformation l_text:Arial_10_stroke:hi: text option stroke is not supported'],
    ['l_a,u_b', '400 Invalid overlay in transformation: l_ and u_ in one component'],
    ['fl_layer_apply', '400 Invalid flags in transformation: layer_apply (no layer to apply)'],
    ['w_10,fl_no_overflow', '400 Invalid flags in transformation: no_overflow (only valid with a layer)'],
    ['l_a/fl_layer_apply,w_10', '400 Unsupported transformation w_ with fl_layer_apply: the fl_layer_apply component takes only placement (g, x, y) and flags'],
    ['l_a/fl_layer_apply,g_auto', '400 Unsupported transformation g_auto: placing a layer by automatic gravity is not supported (use g_face or g_faces)'],
    ['l_a,g_faces,fl_tiled', '400 Invalid flags in transformation: tiled (with g_faces: a l_ layer is placed on faces)'],
    ['l_a,w_auto', '400 Unsupported transformation w_auto: automatic values inside a layer are not supported'],
    ['u_a,fl_cutter', '400 Invalid underlay in transformation: fl_cutter (blend modes and fl_cutter apply to overlays, l_)'],
    ['u_a,e_multiply', '400 Invalid underlay in transformation: e_multiply (blend modes and fl_cutter apply to overlays, l_)'],
    ['w_10,fl_cutter', '400 Invalid flags in transformation: cutter (only valid with a layer)'],
    ['l_a,fl_region_relative', '400 Invalid flags in transformation: region_relative (needs g_face or g_faces to place the layer on)'],
    ['e_multiply', '400 Invalid effect in transformation: multiply (says how a layer is composited: only valid with l_ or in its fl_layer_apply component)'],
    ['l_a/e_screen/fl_layer_apply', '400 Invalid effect in transformation: screen (says how a layer is composited: only valid with l_ or in its fl_layer_apply component)'],
    ['l_a,e_multiply:5', '400 Invalid effect in transformation: multiply:5'],
    ['fl_region_relative,g_adv_eyes,l_glasses,w_1.5', '400 Unsupported transformation g_adv_eyes: this gravity (object or feature detection) is not supported'],
  ];
  for (const [text, expected] of table) t.equal(failure(text), expected, text);
});
