/**
 * Layers placed on faces (`g_face`, `g_faces`) and sized by them (`fl_region_relative`), through
 * the real route and the real face detector, on scikit-image's astronaut (one face) and on two
 * astronauts side by side. The face box is taken from the delivered pixels of
 * `e_pixelate_faces` (the same cached analysis, each box grown by 15 % on every side), so the
 * test does not reach into the analysis.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { injectRaw, startServer, type RawImage } from '../helpers/harness.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-layer-faces-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const astronaut = path.join(repoRoot, 'images/astronaut.png');
await fs.copyFile(astronaut, path.join(storage, 'astronaut.png'));
await fs.copyFile(path.join(repoRoot, 'images/coffee.png'), path.join(storage, 'coffee.png'));
await fs.writeFile(path.join(storage, 'twins.png'), await sharp({ create: { width: 1024, height: 512, channels: 3, background: '#000' } })
  .composite([{ input: astronaut, left: 0, top: 0 }, { input: astronaut, left: 512, top: 0 }]).png().toBuffer());
// pure green: no photograph here has a single pixel of it
await fs.writeFile(path.join(storage, 'green.png'), await sharp({ create: { width: 20, height: 20, channels: 3, background: '#00ff00' } }).png().toBuffer());

const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

type Raw = RawImage;
const raw = (url: string): Promise<Raw> => injectRaw(app, `/image/upload/${url}`);

type Box = { left: number; top: number; right: number; bottom: number };
const w = (b: Box) => b.right - b.left + 1;
const h = (b: Box) => b.bottom - b.top + 1;
const cx = (b: Box) => (b.left + b.right) / 2;
const cy = (b: Box) => (b.top + b.bottom) / 2;

/** Bounding box of the pixels `pick` selects within columns [x0, x1). */
function boxOf(r: Raw, pick: (o: number) => boolean, x0 = 0, x1 = r.width): Box | undefined {
  let left = Infinity, top = Infinity, right = -1, bottom = -1;
  for (let y = 0; y < r.height; y++) for (let x = x0; x < x1; x++) {
    if (!pick((y * r.width + x) * r.channels)) continue;
    left = Math.min(left, x); top = Math.min(top, y); right = Math.max(right, x); bottom = Math.max(bottom, y);
  }
  return right < 0 ? undefined : { left, top, right, bottom };
}

const green = (r: Raw) => (o: number) => r.data[o] === 0 && r.data[o + 1] === 255 && r.data[o + 2] === 0;

const plain = await raw('astronaut.png');
const pixelated = await raw('e_pixelate_faces:12/astronaut.png');
const grown = boxOf(pixelated, (o) => {
  const p = (o / pixelated.channels) * plain.channels;
  return Math.abs(pixelated.data[o] - plain.data[p]) + Math.abs(pixelated.data[o + 1] - plain.data[p + 1]) > 30;
});
// The face box: the pixelated region less its 15 % margin on each side.
const face = grown && { width: w(grown) / 1.3, height: h(grown) / 1.3, cx: cx(grown), cy: cy(grown) };

t.test('the astronaut has one detected face (the reference for what follows)', async (t) => {
  t.ok(face, 'e_pixelate_faces changed a region');
  t.ok(face && face.width > 40 && face.width < 300, `face about ${face?.width.toFixed(0)} px wide`);
});

t.test('g_face centres the layer on the face; fl_region_relative sizes it by the face', async (t) => {
  if (!face) return;
  const fixed = await raw('l_green,g_face/astronaut.png');
  const f = boxOf(fixed, green(fixed))!;
  t.same([w(f), h(f)], [20, 20], 'without a relative flag the layer keeps its size');
  t.ok(Math.abs(cx(f) - face.cx) <= 2 && Math.abs(cy(f) - face.cy) <= 2, `centred on the face (${cx(f)},${cy(f)} vs ${face.cx},${face.cy})`);
  t.same([fixed.width, fixed.height], [512, 512]);

  const same = await raw('l_green,g_face,w_1.0,h_1.0,c_scale,fl_region_relative/astronaut.png');
  const s = boxOf(same, green(same))!;
  t.ok(Math.abs(w(s) - face.width) <= 4 && Math.abs(h(s) - face.height) <= 4, `w_1.0,h_1.0: the face box (${w(s)}x${h(s)} vs ${face.width.toFixed(0)}x${face.height.toFixed(0)})`);
  t.ok(Math.abs(cx(s) - face.cx) <= 2 && Math.abs(cy(s) - face.cy) <= 2, 'over the face');

  const wide = await raw('l_green,g_face,w_1.3,fl_region_relative/astronaut.png');
  const b = boxOf(wide, green(wide))!;
  t.ok(Math.abs(w(b) - 1.3 * face.width) <= 4, `w_1.3: 130 % of the face width (${w(b)} vs ${(1.3 * face.width).toFixed(0)})`);
  t.equal(w(b), h(b), 'a square layer keeps its aspect ratio');

  // Written in fl_layer_apply, as Cloudinary's docs do; x/y move it from the face centre.
  const applied = await raw('l_green/g_face,x_30,y_-10,fl_layer_apply/astronaut.png');
  const a = boxOf(applied, green(applied))!;
  t.ok(Math.abs(cx(a) - face.cx - 30) <= 2 && Math.abs(cy(a) - face.cy + 10) <= 2, 'offset from the face centre');
});

t.test('g_faces puts a layer on each face, g_face on the largest one only', async (t) => {
  // The reference faces of this image, from its own analysis.
  const twins = await raw('twins.png');
  const pix = await raw('e_pixelate_faces:12/twins.png');
  const changed = (o: number) => {
    const p = (o / pix.channels) * twins.channels;
    return Math.abs(pix.data[o] - twins.data[p]) + Math.abs(pix.data[o + 1] - twins.data[p + 1]) > 30;
  };
  const refs = [boxOf(pix, changed, 0, 512), boxOf(pix, changed, 512, 1024)];
  t.ok(refs[0] && refs[1], 'a face found on each astronaut');
  const both = await raw('l_green,g_faces,w_1.0,h_1.0,c_scale,fl_region_relative/twins.png');
  const layers = [boxOf(both, green(both), 0, 512), boxOf(both, green(both), 512, 1024)];
  t.ok(layers[0] && layers[1], 'a layer on each astronaut');
  for (let i = 0; i < 2; i++) {
    const l = layers[i], r = refs[i];
    if (!l || !r) continue;
    t.ok(Math.abs(cx(l) - cx(r)) <= 2 && Math.abs(cy(l) - cy(r)) <= 2, `layer ${i} over its face (${cx(l)},${cy(l)} vs ${cx(r)},${cy(r)})`);
    t.ok(Math.abs(w(l) - w(r) / 1.3) <= 4, `layer ${i} sized by its face (${w(l)} vs ${(w(r) / 1.3).toFixed(0)})`);
  }
  const one = await raw('l_green,g_face/twins.png');
  const n = [boxOf(one, green(one), 0, 512), boxOf(one, green(one), 512, 1024)].filter(Boolean).length;
  t.equal(n, 1, 'g_face: one layer');
});

t.test('no face: no layer; refusals', async (t) => {
  const coffee = await raw('l_green,g_faces/coffee.png');
  t.equal(boxOf(coffee, green(coffee)), undefined, 'nothing drawn');
  const res = await app.inject({ url: '/image/upload/l_green,fl_region_relative,w_1.0/astronaut.png' });
  t.equal(res.statusCode, 400);
  t.equal(res.headers['x-cld-error'], 'Invalid flags in transformation: region_relative (needs g_face or g_faces to place the layer on)');
  const eyes = await app.inject({ url: '/image/upload/fl_region_relative,g_adv_eyes,l_green,w_1.5/astronaut.png' });
  t.equal(eyes.statusCode, 400);
  t.match(String(eyes.headers['x-cld-error']), /^Unsupported transformation g_adv_eyes/);
});
