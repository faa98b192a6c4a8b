/**
 * Upload options and limits over real HTTP (folder backend): upload presets (signed and
 * unsigned), eager_async, responsive_breakpoints through the official SDK, the admission slot an
 * upload takes (the render gate holds a render in the only slot), and APERTURE_MAX_UPLOAD_BYTES
 * through multipart and data URIs. Every refused call leaves the storage folder as it was.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { renderGate, startServer, waitFor } from '../helpers/harness.ts';
import { opensslAvailable, startTlsProxy } from '../helpers/tls-proxy.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';
import { apiSignature } from '../../src/upload/auth.ts';

type Cld = { config(o: Record<string, unknown>): void; uploader: Record<string, (...a: unknown[]) => Promise<Record<string, unknown>>>; api: Record<string, (...a: unknown[]) => Promise<Record<string, unknown>>> };
const cloudinary = (createRequire(import.meta.url)('cloudinary') as { v2: Cld }).v2;

const KEY = '424242', SECRET = 'options-secret', CLOUD = 'opts';
const MAX_UPLOAD = 1_500_000;
const presets = {
  anon: { unsigned: true, folder: 'anon', tags: 'from-preset' },
  staff: { folder: 'staff', tags: 'staff' },
};
const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-upload-opts-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const gate = renderGate({ open: true });
const server = await startServer(t, {
  gate,
  config: { storageDir: storage, apiKey: KEY, secret: SECRET, cloudName: CLOUD, maxUploadBytes: MAX_UPLOAD, uploadPresets: presets, concurrency: 1 },
});
const small = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#2a6' } }).jpeg().toBuffer();
const listFiles = async () => (await fs.readdir(storage, { recursive: true })).map(String).sort();

type Answer = { status: number; json: Record<string, unknown> };
/** An Upload API call as a multipart form (`file` as a binary part unless it is a string), signed unless `signed` is false. */
async function call(endpoint: string, params: Record<string, string>, file?: Buffer | string, signed = true): Promise<Answer> {
  const p: Record<string, string> = signed ? { ...params, timestamp: String(Math.floor(Date.now() / 1000)) } : { ...params };
  if (signed) Object.assign(p, { api_key: KEY, signature: apiSignature(p, SECRET) });
  const form = new FormData();
  for (const [k, v] of Object.entries(p)) form.append(k, v);
  if (typeof file === 'string') form.append('file', file);
  else if (file !== undefined) form.append('file', new Blob([new Uint8Array(file)]), 'pic.jpg');
  const res = await fetch(`${server.base}/v1_1/${CLOUD}/image/${endpoint}`, { method: 'POST', body: form });
  return { status: res.status, json: await res.json() as Record<string, unknown> };
}
const message = (a: Answer) => (a.json.error as { message?: string } | undefined)?.message ?? '';

t.test('upload presets', async (t) => {
  const anon = await call('upload', { upload_preset: 'anon', public_id: 'one' }, small, false);
  t.equal(anon.status, 200, 'an unsigned preset takes an unsigned upload');
  t.equal(anon.json.public_id, 'anon/one', "the preset's folder applies");
  t.same(anon.json.tags, ['from-preset']);

  const again = await call('upload', { upload_preset: 'anon', public_id: 'one' }, small, false);
  t.equal(again.status, 409, 'an unsigned upload does not overwrite');
  const escape = await call('upload', { upload_preset: 'anon', public_id: 'two', folder: 'elsewhere' }, small, false);
  t.equal(escape.json.public_id, 'anon/two', "the caller cannot move an unsigned upload out of the preset's folder");
  const extra = await call('upload', { upload_preset: 'anon', public_id: 'three', eager: 'w_10' }, small, false);
  t.equal(extra.status, 400);
  t.match(message(extra), /eager parameter is not allowed when using unsigned upload/);

  const before = await listFiles();
  const refused = await call('upload', { upload_preset: 'staff', public_id: 'x' }, small, false);
  t.equal(refused.status, 401, 'a preset not marked unsigned refuses an unsigned upload');
  t.match(message(refused), /not marked unsigned/);
  const unknown = await call('upload', { upload_preset: 'nope', public_id: 'x' }, small, false);
  t.equal(unknown.status, 400, 'unknown preset');
  t.match(message(unknown), /Upload preset not found: nope/);
  const destroy = await call('destroy', { upload_preset: 'anon', public_id: 'anon/one' }, undefined, false);
  t.equal(destroy.status, 401, 'only an upload may be unsigned');
  t.same(await listFiles(), before, 'nothing stored or removed by the refused calls');

  const staff = await call('upload', { upload_preset: 'staff', public_id: 'y', tags: 'own' }, small);
  t.equal(staff.status, 200, 'a signed call uses a signed-only preset');
  t.equal(staff.json.public_id, 'staff/y');
  t.same(staff.json.tags, ['own'], "a signed call's parameters override its preset's");
});

t.test('eager_async answers pending; the derived result appears later', async (t) => {
  gate.shut();
  const r = await call('upload', { public_id: 'async/pic', eager: 'c_scale,w_30', eager_async: 'true' }, small);
  t.equal(r.status, 200);
  t.equal(r.json.status, 'pending', 'answered while the eager render is still held');
  t.equal(r.json.eager, undefined, 'no eager results in the answer');
  await gate.waitHeld(1);
  const auth = { authorization: `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}` };
  const details = async () => (await (await fetch(`${server.base}/v1_1/${CLOUD}/resources/image/upload/async/pic`, { headers: auth })).json()) as { derived: { transformation: string; format: string; bytes: number; url: string }[] };
  t.same((await details()).derived, [], 'nothing derived yet');
  gate.open();
  await waitFor(async () => (await details()).derived.length === 1, 'the eager result recorded');
  const [d] = (await details()).derived;
  t.equal(d.transformation, 'c_scale,w_30');
  const got = await fetch(server.base + new URL(d.url).pathname);
  t.equal(got.status, 200);
  const body = Buffer.from(await got.arrayBuffer());
  t.equal((await sharp(body).metadata()).width, 30, 'the derived URL serves the eager result');
  t.equal(d.bytes, body.length);
});

t.test('an upload takes an admission slot', async (t) => {
  // concurrency 1: a delivery render held at the gate holds the only slot.
  gate.shut();
  const held = fetch(`${server.base}/image/upload/w_20/anon/one.jpg`);
  await gate.waitHeld(1);
  const { admission } = server.app.delivery;
  t.equal(admission.inFlight, 1, 'the held render has the slot');
  const upload = call('upload', { public_id: 'queued/pic' }, small);
  await waitFor(() => admission.queued === 1, 'the upload queued for a slot');
  t.notOk((await listFiles()).includes('queued/pic.jpg'), 'nothing stored while it waits');
  gate.open();
  t.equal((await held).status, 200);
  const r = await upload;
  t.equal(r.status, 200, 'the upload runs once the slot is free');
  t.ok((await listFiles()).includes('queued/pic.jpg'));
  t.equal(admission.inFlight, 0, 'and gives its slot back');

  // With an incoming transformation the render is one more slot: held at the gate like any render.
  gate.shut();
  const transformed = call('upload', { public_id: 'queued/small', transformation: 'c_scale,w_16' }, small);
  await gate.waitHeld(1);
  t.equal(admission.inFlight, 1, 'the incoming render holds a slot');
  gate.open();
  const tr = await transformed;
  t.same([tr.status, tr.json.width], [200, 16]);
});

t.test('uploads never hold every transform slot', async (t) => {
  // concurrency 2: at most one upload at a time does its own work; a render always finds a slot.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-upload-budget-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.copyFile(path.join(repoRoot, 'images/rocket.jpg'), path.join(dir, 'rocket.jpg'));
  const g = renderGate();
  const s2 = await startServer(t, { gate: g, config: { storageDir: dir, apiKey: KEY, secret: SECRET, cloudName: CLOUD, concurrency: 2 } });
  const { admission, uploads } = s2.app.delivery;
  const post = (params: Record<string, string>) => {
    const p: Record<string, string> = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) };
    const form = new FormData();
    for (const [k, v] of Object.entries({ ...p, api_key: KEY, signature: apiSignature(p, SECRET) })) form.append(k, v);
    form.append('file', new Blob([new Uint8Array(small)]), 'pic.jpg');
    return fetch(`${s2.base}/v1_1/${CLOUD}/image/upload`, { method: 'POST', body: form });
  };
  const first = post({ public_id: 'first', transformation: 'c_scale,w_16' });
  await g.waitHeld(1);
  t.same([uploads.inFlight, admission.inFlight], [1, 1], 'the first upload and its incoming render');
  const second = post({ public_id: 'second' });
  await waitFor(() => uploads.queued === 1, 'the second upload waiting for its turn');
  t.equal(admission.inFlight, 1, 'it waits outside the transform slots');
  const render = fetch(`${s2.base}/image/upload/w_33/rocket.jpg`);
  await g.waitHeld(2);
  t.equal(admission.inFlight, 2, 'a delivery render takes the free slot while uploads wait');
  t.notOk((await fs.readdir(dir)).includes('second.jpg'));
  g.open();
  t.same(await Promise.all([first, second, render].map(async (r) => (await r).status)), [200, 200, 200]);
  t.same([uploads.inFlight, uploads.queued, admission.inFlight], [0, 0, 0]);
});

t.test('strict mode: the API signs its own renders', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-upload-strict-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const s3 = await startServer(t, { config: { storageDir: dir, apiKey: KEY, secret: SECRET, cloudName: CLOUD, strict: true } });
  const p: Record<string, string> = { public_id: 'strict/pic', transformation: 'c_scale,w_16', eager: 'c_scale,w_8', timestamp: String(Math.floor(Date.now() / 1000)) };
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...p, api_key: KEY, signature: apiSignature(p, SECRET) })) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(small)]), 'pic.jpg');
  const res = await fetch(`${s3.base}/v1_1/${CLOUD}/image/upload`, { method: 'POST', body: form });
  const json = await res.json() as { width: number; eager: { width: number; url: string }[] };
  t.equal(res.status, 200);
  t.equal(json.width, 16, 'incoming transformation rendered although strict mode refuses unsigned transformations');
  t.equal(json.eager[0].width, 8, 'eager likewise');
  t.match(new URL(json.eager[0].url).pathname, /^\/image\/upload\/s--[A-Za-z0-9_-]{8}--\/c_scale,w_8\//, 'the eager URL it answers is signed');
  t.equal((await s3.get(new URL(json.eager[0].url).pathname)).status, 200, 'and served');
  t.equal((await s3.get('/image/upload/c_scale,w_8/strict/pic.jpg')).status, 401, 'the unsigned form is still refused');
});

t.test('APERTURE_MAX_UPLOAD_BYTES: 413 through multipart and data URI', async (t) => {
  const big = await sharp({ create: { width: 1000, height: 1000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
  t.ok(big.length > MAX_UPLOAD, `a ${big.length}-byte file, over the ${MAX_UPLOAD}-byte limit`);
  const before = await listFiles();
  const multipart = await call('upload', { public_id: 'big/multipart' }, big);
  t.equal(multipart.status, 413);
  t.match(message(multipart), /upload limit of 1500000 bytes \(APERTURE_MAX_UPLOAD_BYTES\)/);
  const uri = await call('upload', { public_id: 'big/datauri' }, `data:image/png;base64,${big.toString('base64')}`);
  t.equal(uri.status, 413);
  t.match(message(uri), /the file is \d+ bytes, the upload limit is 1500000/);
  // A form body far over any data URI of an allowed file: refused by the body limit, still a 413.
  const huge = `data:image/png;base64,${Buffer.alloc(4 * 1024 * 1024, 1).toString('base64')}`;
  const res = await fetch(`${server.base}/v1_1/${CLOUD}/image/upload`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ file: huge, public_id: 'big/form' }) });
  t.equal(res.status, 413);
  t.ok(((await res.json()) as { error?: { message?: string } }).error?.message, "Cloudinary's error shape");
  t.same(await listFiles(), before, 'nothing stored');
});

if (!opensslAvailable) {
  t.comment('NOTICE: openssl is not installed; the responsive_breakpoints SDK test (needs a TLS terminator) is skipped');
} else {
  t.test('responsive_breakpoints through the SDK', async (t) => {
    const proxy = await startTlsProxy(server.port);
    t.teardown(() => proxy.close());
    cloudinary.config({ cloud_name: CLOUD, api_key: KEY, api_secret: SECRET, upload_prefix: proxy.base, secure: true });
    const photo = path.join(repoRoot, 'images/rocket.jpg');
    const r = await cloudinary.uploader.upload(photo, {
      agent: proxy.agent, public_id: 'bp/rocket',
      responsive_breakpoints: [{ create_derived: true, bytes_step: 20000, min_width: 200, max_width: 1000, max_images: 5 }],
    });
    const list = r.responsive_breakpoints as { transformation: string; breakpoints: { width: number; height: number; bytes: number; url: string; secure_url: string }[] }[];
    t.equal(list.length, 1);
    const bps = list[0].breakpoints;
    t.ok(bps.length >= 1 && bps.length <= 5, `${bps.length} breakpoints, at most max_images`);
    t.same(bps.map((b) => b.width), [...bps.map((b) => b.width)].sort((a, b) => b - a), 'widest first');
    for (const b of bps) {
      t.ok(b.width >= 200 && b.width <= 1000, `width ${b.width} within min_width..max_width`);
      t.match(b.secure_url, /^https:/);
      const res = await fetch(server.base + new URL(b.url).pathname);
      t.equal(res.status, 200, `${new URL(b.url).pathname} answers`);
      const body = Buffer.from(await res.arrayBuffer());
      t.equal((await sharp(body).metadata()).width, b.width, 'at the width it names');
      t.equal(body.length, b.bytes);
    }
  });
}
