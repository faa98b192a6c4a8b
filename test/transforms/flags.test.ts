/**
 * Flags in canonical text: every flag prints under Cloudinary's snake_case name, and the
 * canonical text of the base flags parses back to the same plan (layer flags: the layer's key
 * text names them in snake_case).
 * `fl_relative`/`fl_region_relative` outside a layer make decimal w/h multiples of the image.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { parsePlan } from '../../src/plan/parse.ts';
import { startServer } from '../helpers/harness.ts';

const BASE = ['progressive', 'progressive:semi', 'lossy', 'lossless', 'png8', 'strip_profile', 'keep_iptc', 'keep_attribution',
  'attachment', 'attachment:my-file', 'immutable_cache', 'getinfo', 'animated', 'awebp', 'preserve_transparency', 'any_format',
  'ignore_aspect_ratio', 'relative', 'region_relative'];
const LAYER: Record<string, string> = {
  layer_apply: 'l_logo/fl_layer_apply', relative: 'l_logo,w_0.5/fl_layer_apply,fl_relative',
  region_relative: 'l_logo,w_1.2/fl_layer_apply,fl_region_relative,g_face', no_overflow: 'l_logo/fl_layer_apply,fl_no_overflow',
  tiled: 'l_logo/fl_layer_apply,fl_tiled', cutter: 'l_logo/fl_cutter,fl_layer_apply', text_no_trim: 'l_text:Arial_20:hi/fl_layer_apply,fl_text_no_trim',
};

t.test('every flag round-trips through canonical text in snake_case', async (t) => {
  for (const f of BASE) {
    const p = parsePlan([`fl_${f}`]);
    t.notMatch(p.canonical, /[A-Z]/, `fl_${f} prints no camelCase: ${p.canonical}`);
    t.equal(parsePlan(p.canonical.split('/')).canonical, p.canonical, `fl_${f}: ${p.canonical} parses back`);
  }
  t.equal(parsePlan(['fl_keep_attribution']).canonical, 'fl_keep_iptc', 'an alias prints as its first name');
  t.equal(parsePlan(['fl_strip_profile.ignore_aspect_ratio']).canonical, 'fl_ignore_aspect_ratio.strip_profile');
  // fl_ twice in one component merges (its `merge` hook; the plan parser has no case for it).
  t.same(parsePlan(['fl_lossy,w_10,fl_attachment:a,fl_attachment:b']).components[0]!.flags, { lossy: true, attachment: 'b' });
  t.equal(parsePlan(['fl_progressive,fl_getinfo']).canonical, parsePlan(['fl_getinfo.progressive']).canonical);
  // Layer flags are consumed by the layer grouping into the layer's placement (its key text,
  // transforms/layer.ts), which names them in snake_case too; fl_layer_apply leaves nothing.
  for (const [f, url] of Object.entries(LAYER)) {
    const p = parsePlan(url.split('/'));
    if (f !== 'layer_apply') t.match(p.canonical, f, `${url}: ${p.canonical}`);
    t.notMatch(p.canonical.replace(/Arial/, ''), /[A-Z]/, `${url}: no camelCase`);
  }
});

t.test('fl_relative outside a layer: decimal sizes are multiples of the image', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-flags-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'img.png'), await sharp({ create: { width: 200, height: 100, channels: 3, background: '#808080' } }).png().toBuffer());
  const s = await startServer(t, { config: { storageDir: dir } });
  const size = async (u: string) => {
    const r = await s.get(`/image/upload/${u}/img.png`);
    t.equal(r.status, 200, `${u}: ${r.headers.get('x-cld-error')}`);
    const m = await sharp(r.body).metadata();
    return [m.width, m.height];
  };
  t.same(await size('c_scale,w_1.5,fl_relative'), [300, 150], 'w_1.5 is 150 %');
  t.same(await size('c_scale,w_1.5'), [2, 1], 'without the flag w_1.5 stays a pixel count');
  t.same(await size('c_scale,w_0.5,fl_region_relative'), [100, 50], 'region_relative on the base: the region is the image');
  t.same(await size('c_crop,fl_relative'), [200, 100], 'no size: nothing to scale');
  const r = await s.get('/image/upload/c_crop,g_face,w_1.5,fl_region_relative/img.png');
  t.equal(r.status, 400, 'a face region outside a layer is refused');
  t.match(String(r.headers.get('x-cld-error')), /fl_region_relative/);
  const r2 = await s.get('/image/upload/c_crop,fl_tiled/img.png');
  t.equal(r2.status, 400, 'other layer flags stay refused outside a layer');
});
