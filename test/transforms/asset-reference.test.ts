/**
 * Asset-reference variables (`$name_ref:!folder:id!`, the SDKs' setAssetReference) through the
 * real server: `l_$name` and `u_$name` draw the stored image the variable names, the same bytes
 * as the literal `l_folder:id`; `$name_current` names the asset delivered (Cloudinary's
 * colour-over-greyscale and blurred-padding examples; a default image standing in); the result key holds the resolved reference (two references,
 * two results; a reference and the literal id, one render; a changed layer file re-renders); a
 * reference read as a value, a value used as a layer, a malformed reference and `d_$name` are
 * 400s naming the problem; an unknown asset answers as an unknown `l_` id does.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import t from 'tap';
import { renderGate, startServer, waitFor } from '../helpers/harness.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-assetref-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
const solid = (w: number, h: number, background: string) => sharp({ create: { width: w, height: h, channels: 3, background } }).png().toBuffer();
await fs.mkdir(path.join(dir, 'docs'));
await fs.writeFile(path.join(dir, 'base.png'), await solid(300, 200, '#ffffff'));
await fs.writeFile(path.join(dir, 'docs/sale.png'), await solid(100, 50, '#ff0000'));
await fs.writeFile(path.join(dir, 'docs/other.png'), await solid(100, 50, '#0000ff'));
await fs.writeFile(path.join(dir, 'swap.png'), await solid(100, 50, '#ff0000'));
// 300×200, the left half transparent: an underlay shows there.
{
  const holed = Buffer.alloc(300 * 200 * 4, 255);
  for (let y = 0; y < 200; y++) for (let x = 0; x < 150; x++) holed[(y * 300 + x) * 4 + 3] = 0;
  await fs.writeFile(path.join(dir, 'holed.png'), await sharp(holed, { raw: { width: 300, height: 200, channels: 4 } }).png().toBuffer());
}

// A private asset (its own folder, signed URLs), and an upload asset of the same id.
await fs.mkdir(`${dir}-private`);
t.teardown(() => fs.rm(`${dir}-private`, { recursive: true, force: true }));
await fs.writeFile(path.join(`${dir}-private`, 'secret.png'), await solid(100, 50, '#00ff00'));
await fs.writeFile(path.join(dir, 'secret.png'), await solid(100, 50, '#ff00ff'));
const SECRET = 'b';
const cloudinary = createRequire(import.meta.url)('cloudinary') as { v2: { url(id: string, o: Record<string, unknown>): string } };
/** A signed private delivery path built by the official SDK. */
function privatePath(id: string, transformation: string): string {
  const u = new URL(cloudinary.v2.url(id, {
    type: 'private', raw_transformation: transformation, sign_url: true, secure: true, private_cdn: true,
    secure_distribution: '127.0.0.1', api_secret: SECRET, cloud_name: 'demo',
  }));
  return u.pathname + u.search;
}

const gate = renderGate({ open: true });
const s = await startServer(t, { gate, config: { storageDir: dir, secret: SECRET, namedTransformations: { badge: 'l_$o,w_50' } } });

async function pixel(url: string, x: number, y: number): Promise<number[]> {
  const r = await s.get(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.headers.get('x-cld-error')}`);
  const { data, info } = await sharp(r.body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const p = (y * info.width + x) * 4;
  return [...data.subarray(p, p + 4)];
}

async function refused(url: string): Promise<string> {
  const r = await s.get(url);
  return `${r.status} ${r.headers.get('x-cld-error')}`;
}

t.test('l_$name overlays the stored asset the reference names', async (t) => {
  const url = '/image/upload/$overlay_ref:!docs:sale!/l_$overlay,w_100/base.png';
  t.same(await pixel(url, 150, 100), [255, 0, 0, 255], 'red at the centre');
  t.same(await pixel(url, 10, 10), [255, 255, 255, 255], 'the base around it');
  const viaRef = await s.get(url);
  const literal = await s.get('/image/upload/l_docs:sale,w_100/base.png');
  t.ok(viaRef.body.equals(literal.body), 'the same bytes as l_docs:sale');
  t.same(await pixel('/image/upload/$o_ref:!docs:other!/l_$o,w_100/base.png', 150, 100), [0, 0, 255, 255], 'another reference, another image');
  t.same(await pixel('/image/upload/$bestpic_ref:!docs:sale.png!/l_$bestpic,w_100/base.png', 150, 100), [255, 0, 0, 255], 'with an extension');
  t.same(await pixel('/image/upload/$a_ref:!docs:other!/$b_$a/l_$b,w_100/base.png', 150, 100), [0, 0, 255, 255], 'a variable copied from another');
  t.same(await pixel('/image/upload/$o_ref:!docs:other!/t_badge/base.png', 150, 100), [0, 0, 255, 255], 'inside a named transformation');
  t.same(await pixel('/image/upload/$o_ref:!docs:sale!,l_$o,w_100/fl_layer_apply,g_north_west/base.png', 10, 10), [255, 0, 0, 255], 'defined in the layer\'s own component, placed by fl_layer_apply');
});

t.test('$name_current: the asset being delivered', async (t) => {
  // Cloudinary's own example: the image in colour over its greyscale self.
  const url = '/image/upload/$img_current/e_grayscale/l_$img,w_0.5/fl_layer_apply,g_north_west/docs/sale.png';
  t.same(await pixel(url, 5, 5), [255, 0, 0, 255], 'the overlay keeps the colour');
  const grey = await pixel(url, 95, 45);
  t.ok(grey[0] === grey[1] && grey[1] === grey[2], `the base is grey (${grey})`);
  const same = await s.get(url);
  t.equal(same.headers.get('etag'), (await s.get('/image/upload/e_grayscale/l_docs:sale,w_0.5/fl_layer_apply,g_north_west/docs/sale.png')).headers.get('etag'), 'the same result as naming it');
  // Cloudinary's blurred-background example, on the 300×200 base: the underlay fills the padding.
  const pad = '/image/upload/$img_current/c_pad,w_400,h_200,b_transparent/u_$img,c_fill,w_400,h_200/fl_layer_apply/docs/other.png';
  t.same(await pixel(pad, 2, 25), [0, 0, 255, 255], 'the underlay shows in the padding');
  // With a default image standing in, the current asset is the default.
  const r = await s.get('/image/upload/d_docs:sale/$img_current/e_grayscale/l_$img,w_0.5/fl_layer_apply,g_north_west/nothing.png');
  t.equal(r.status, 200);
  t.match(r.headers.get('x-cld-default'), /^docs[/:]sale$/);
  t.same(await pixel('/image/upload/d_docs:sale/$img_current/e_grayscale/l_$img,w_0.5/fl_layer_apply,g_north_west/nothing.png', 5, 5), [255, 0, 0, 255]);
  // A private asset is not drawn from upload storage (where another asset has its id).
  const priv = await s.get(privatePath('secret.png', '$img_current/l_$img,w_0.5'));
  t.equal(`${priv.status} ${priv.headers.get('x-cld-error')}`,
    '400 Unsupported transformation $img_current: the current asset of a private delivery cannot be drawn as a layer (upload and fetch only)');
  t.equal((await s.get(privatePath('secret.png', 'w_50'))).status, 200, 'the signed private URL itself is served');
});

t.test('u_$name underlays it', async (t) => {
  const url = '/image/upload/$under_ref:!docs:other!/u_$under,w_300,h_200,c_scale/holed.png';
  t.same(await pixel(url, 20, 100), [0, 0, 255, 255], 'blue shows through the transparent half');
  t.same(await pixel(url, 280, 100), [255, 255, 255, 255], 'the opaque half stays white');
});

t.test('the result key holds the resolved reference', async (t) => {
  const before = gate.passed;
  const a = await s.get('/image/upload/$x_ref:!docs:sale!/l_$x,w_60/base.png');
  const b = await s.get('/image/upload/$y_ref:!docs:sale!/l_$y,w_60/base.png');
  const c = await s.get('/image/upload/l_docs:sale,w_60/base.png');
  t.equal(a.status, 200);
  t.equal(a.headers.get('etag'), b.headers.get('etag'), 'another variable name, the same result');
  t.equal(a.headers.get('etag'), c.headers.get('etag'), 'the same result as the literal id');
  t.equal(gate.passed - before, 1, 'one render');
  const d = await s.get('/image/upload/$x_ref:!docs:other!/l_$x,w_60/base.png');
  t.not(d.headers.get('etag'), a.headers.get('etag'), 'another reference, another result');

  const url = '/image/upload/$s_ref:!swap!/l_$s,w_100/base.png';
  t.same(await pixel(url, 150, 100), [255, 0, 0, 255]);
  const tmp = path.join(dir, '.swap.tmp.png');
  await fs.writeFile(tmp, await solid(100, 50, '#00ff00'));
  await fs.rename(tmp, path.join(dir, 'swap.png'));
  await waitFor(async () => (await pixel(url, 150, 100))[1] === 255, 'the changed layer file to show');
  t.same(await pixel(url, 150, 100), [0, 255, 0, 255], 'a changed referenced file re-renders');
});

t.test('refusals name the problem', async (t) => {
  t.equal(await refused('/image/upload/$o_ref:!docs:sale!/w_$o/base.png'),
    '400 Invalid variable in transformation: $o (holds an asset reference to docs/sale, not a value: use it where a public id is expected, l_$o or u_$o)');
  t.match(await refused('/image/upload/$o_ref:!docs:sale!/w_$o_add_1/base.png'), /^400 .*\$o \(holds an asset reference to docs\/sale/);
  t.match(await refused('/image/upload/$o_ref:!docs:sale!/if_$o_eq_1,w_10/base.png'), /^400 .*\$o \(holds an asset reference/);
  t.match(await refused('/image/upload/$o_ref:!docs:sale!/l_text:Arial_20:$(o)/base.png'), /^400 .*\$o \(holds an asset reference/);
  t.equal(await refused('/image/upload/$o_5/l_$o/base.png'),
    '400 Invalid variable in transformation: $o (holds 5, not an asset reference: define it as $o_ref:!<public_id>!)');
  t.equal(await refused('/image/upload/l_$nothing/base.png'), '400 Invalid variable in transformation: $nothing (used before it is defined)');
  t.equal(await refused('/image/upload/$o_ref:docs:sale/base.png'),
    '400 Invalid variable in transformation: $o_ref:docs:sale (an asset reference is ref:!<public_id>!, folders written with :)');
  t.match(await refused('/image/upload/$o_ref:!..:etc!/base.png'), /^400 Invalid variable in transformation: \$o_ref:!\.\.:etc!/);
  t.equal(await refused('/image/upload/l_$1x/base.png'), '400 Invalid overlay in transformation: $1x (a layer named by a variable is l_$<name>, the variable holding an asset reference)');
  t.equal(await refused('/image/upload/$o_ref:!docs:sale!/d_$o/base.png'),
    '400 Unsupported transformation d_$o: a default image named by a variable is not supported (name it d_<public_id>)');
});

t.test('an unknown asset answers as an unknown l_ id', async (t) => {
  const viaRef = await s.get('/image/upload/$o_ref:!docs:missing!/l_$o/base.png');
  const literal = await s.get('/image/upload/l_docs:missing/base.png');
  t.equal(viaRef.status, literal.status, `status ${literal.status}`);
  t.equal(viaRef.headers.get('x-cld-error'), literal.headers.get('x-cld-error'), `${literal.headers.get('x-cld-error')}`);
});
