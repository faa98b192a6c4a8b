/**
 * `cs_` (issue 14 item 4) through the real server: the delivered file's colour space and ICC
 * profile, and its pixels read without colour management; the 400s.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { parsePlan } from '../../src/plan/parse.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-cs-'));
const red = sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 255, g: 0, b: 0 } } });
await fs.writeFile(path.join(storage, 'red.png'), await red.clone().png().toBuffer());
await fs.writeFile(path.join(storage, 'print.jpg'), await red.clone().toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer());
// a Display P3 profile, as libvips embeds it
const p3 = (await sharp(await red.clone().withIccProfile('p3').png().toBuffer()).metadata()).icc!;
await fs.mkdir(path.join(storage, 'profiles'));
await fs.writeFile(path.join(storage, 'profiles', 'display.icc'), p3);
await fs.writeFile(path.join(storage, 'bare_profile'), p3);
await fs.writeFile(path.join(storage, 'bogus.icc'), Buffer.from('not a profile at all, just text that is long enough '.repeat(4)));

// Registered first, so it runs after the server's own teardown (tap runs them last-in first-out).
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await app.inject({ url: `/image/upload/${url}`, headers });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.headers['x-cld-error']}`);
  const meta = await sharp(res.rawPayload).metadata();
  // the stored numbers, no colour management
  const raw = await sharp(res.rawPayload, { ignoreIcc: true }).toColourspace(meta.space === 'cmyk' ? 'cmyk' : 'srgb').raw().toBuffer();
  return { meta, px: [...raw.subarray(0, meta.space === 'cmyk' ? 4 : 3)], type: res.headers['content-type'] };
}
const error = async (url: string) => {
  const res = await app.inject({ url: `/image/upload/${url}` });
  return `${res.statusCode} ${res.headers['x-cld-error']}`;
};

t.test('CMYK sources: no_cmyk (the default) and keep_cmyk', async (t) => {
  const plain = await get('print.jpg');
  t.equal(plain.meta.space, 'srgb', 'without cs_: sRGB');
  t.equal((await get('cs_no_cmyk/print.jpg')).meta.space, 'srgb', 'cs_no_cmyk: sRGB');
  const kept = await get('cs_keep_cmyk/print.jpg');
  t.equal(kept.meta.space, 'cmyk', 'cs_keep_cmyk: CMYK JPEG');
  t.equal(kept.meta.channels, 4);
  t.ok(kept.px[1] > 150 && kept.px[2] > 150, `red is magenta + yellow ink (${kept.px})`);
  t.equal((await get('cs_keep_cmyk/print.png')).meta.space, 'srgb', 'PNG cannot hold CMYK: sRGB');
  t.equal((await get('cs_keep_cmyk/red.jpg')).meta.space, 'srgb', 'keep_cmyk on an RGB source: stays RGB');
  t.equal((await get('cs_cmyk/red.jpg')).meta.space, 'cmyk', 'cs_cmyk: CMYK whatever the source');
  t.equal((await get('cs_keep_cmyk,w_8,q_auto/print.jpg')).meta.space, 'cmyk', 'through q_auto\'s search too');
});

t.test('cs_srgb attaches an sRGB profile', async (t) => {
  t.equal((await get('red.png')).meta.icc, undefined, 'no profile by default');
  const s = await get('cs_srgb/red.png');
  t.ok(s.meta.icc && s.meta.icc.length > 100, 'cs_srgb: a profile');
  t.ok(s.meta.icc!.includes(Buffer.from('\0s\0R\0G\0B', 'latin1')), 'it is sRGB (its description)');
  t.same(s.px, [255, 0, 0], 'pixels unchanged');
  t.ok((await get('cs_srgb/print.jpg')).meta.icc, 'also for a CMYK source (converted)');
});

t.test('cs_icc converts to a stored profile and attaches it', async (t) => {
  for (const url of ['cs_icc:profiles:display/red.png', 'cs_icc:profiles:display.icc/red.png', 'cs_icc:profiles:display/red.jpg', 'cs_icc:profiles:display/f_auto/red.png', 'cs_icc:bare_profile/red.png']) {
    const r = await get(url);
    t.ok(r.meta.icc?.equals(p3), `${url}: the stored profile is attached`);
    t.ok(r.px[0] < 250 && r.px[1] > 20, `and the pixels are in its space: sRGB red is (${r.px}) in P3`);
  }
  t.equal(await error('cs_icc:bogus/red.png'), '400 Invalid color_space in transformation: icc:bogus (not an ICC profile)');
  t.equal(await error('cs_icc:nothere/red.png'), '400 Invalid color_space in transformation: icc:nothere (Resource not found - nothere)');
});

t.test('parse and canonical', async (t) => {
  const c = (s: string) => parsePlan([s]).canonical;
  for (const s of ['cs_srgb', 'cs_no_cmyk', 'cs_keep_cmyk', 'cs_cmyk', 'cs_icc:icc_file_public_id', 'cs_icc:profiles:display.icc']) t.equal(c(c(s)), c(s), s);
  t.equal(await error('cs_tinysrgb/red.png'), '400 Unsupported transformation cs_tinysrgb: this colour space option is not supported');
  t.equal(await error('cs_copy/red.png'), '400 Unsupported transformation cs_copy: this colour space option is not supported');
  t.equal(await error('cs_lab/red.png'), '400 Invalid color_space in transformation: lab');
  t.equal(await error('cs_icc:..:x/red.png'), '400 Invalid color_space in transformation: icc:..:x', 'no way out of storage');
  t.equal(await error('cs_icc:/red.png'), '400 Invalid color_space in transformation: icc:');
});
