/**
 * Upload endpoint fuzzing (fast-check, fixed seed) through real HTTP: signed and badly signed
 * calls, truncated, bit-flipped and hostile files (the shared edge corpus when present),
 * oversized bodies, odd public ids (`../`, dotted and empty segments, very long, unicode,
 * control characters). Every answer is a 2xx or a 4xx in Cloudinary's error shape, and a call
 * that is refused leaves the storage folder exactly as it was.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import sharp from 'sharp';
import { apiSignature } from '../../src/upload/auth.ts';
import { stagedCount } from '../../src/origin/staging.ts';
import { corpusDir, startServer } from '../helpers/harness.ts';

const KEY = 'fuzz-key', SECRET = 'fuzz-secret', CLOUD = 'fuzz';
const MAX_UPLOAD = 200_000;
const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-upload-fuzz-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const server = await startServer(t, { config: { storageDir: storage, apiKey: KEY, secret: SECRET, cloudName: CLOUD, maxUploadBytes: MAX_UPLOAD } });

const good = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#369' } }).jpeg().toBuffer();
const files: Buffer[] = [good, await sharp(good).png().toBuffer(), Buffer.alloc(0), Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), Buffer.alloc(MAX_UPLOAD + 1, 0xff)];
const edge = path.join(corpusDir, 'edge');
if (existsSync(edge)) {
  for (const f of ['hostile.svg', 'not-an-image.jpg', 'truncated-half.jpg', 'empty.png', 'cmyk.jpg', 'animated.gif']) files.push(await fs.readFile(path.join(edge, f)));
} else {
  t.comment('NOTICE: ../shared/corpus is absent; the upload fuzz runs on generated files only');
}

async function snapshot(): Promise<string> {
  const list = (await fs.readdir(storage, { recursive: true })).map(String).sort();
  const sizes = await Promise.all(list.map(async (f) => `${f}:${(await fs.stat(path.join(storage, f))).size}`));
  return sizes.join('\n');
}

const publicId = fc.oneof(
  fc.constantFrom('ok', 'a/b/c', '../escape', 'a/../b', '.hidden', 'a//b', 'a/.meta/x', ' padded', 'x'.repeat(600), 'é/ünï/日本', 'ctl\u0001', 'q?x', 'h#x', 'p%2e%2e'),
  fc.string({ maxLength: 40 }),
);
const mutate = fc.oneof(
  fc.constant((b: Buffer) => b),
  fc.double({ min: 0, max: 1, noNaN: true }).map((at) => (b: Buffer) => b.subarray(0, Math.floor(b.length * at))),
  fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 6 }).map((bits) => (b: Buffer) => {
    const c = Buffer.from(b);
    for (const [at, bit] of bits) if (c.length) c[Math.min(c.length - 1, Math.floor(at * c.length))] ^= 1 << bit;
    return c;
  }),
);
const call = fc.record({
  file: fc.integer({ min: 0, max: files.length - 1 }),
  mutate,
  publicId: fc.option(publicId, { nil: undefined }),
  signing: fc.constantFrom('good', 'good', 'good', 'wrong-secret', 'none', 'stale', 'wrong-key'),
  extra: fc.option(fc.constantFrom('overwrite=false', 'tags=a,b', 'context=a=b|c', 'eager=w_20', 'eager=e_nope', 'folder=../up', 'format=png', 'format=webp', 'format=exe', 'transformation=c_scale,w_10', 'transformation=w_abc', 'transformation=w_10/../x', 'transformation=fl_getinfo', 'upload_preset=nope', 'unknown_param=1', 'responsive_breakpoints=[{"max_width":-1}]'), { nil: undefined }),
  as: fc.constantFrom('multipart', 'datauri'),
});

t.test('upload fuzz: 0 x 5xx, nothing stored by a refused call', async (t) => {
  let statuses = new Map<number, number>();
  await fc.assert(fc.asyncProperty(call, async (c) => {
    const params: Record<string, string> = { timestamp: String(Math.floor(Date.now() / 1000) - (c.signing === 'stale' ? 7200 : 0)) };
    if (c.publicId !== undefined) params.public_id = c.publicId;
    if (c.extra) { const [k, ...v] = c.extra.split('='); params[k] = v.join('='); }
    if (c.signing !== 'none') {
      params.api_key = c.signing === 'wrong-key' ? 'other' : KEY;
      params.signature = apiSignature(params, c.signing === 'wrong-secret' ? 'nope' : SECRET);
    }
    const bytes = c.mutate(files[c.file]);
    const form = new FormData();
    for (const [k, v] of Object.entries(params)) form.append(k, v);
    if (c.as === 'multipart') form.append('file', new Blob([new Uint8Array(bytes)]), 'upload.bin');
    else form.append('file', `data:application/octet-stream;base64,${bytes.toString('base64')}`);
    const before = await snapshot();
    const res = await fetch(`${server.base}/v1_1/${CLOUD}/image/upload`, { method: 'POST', body: form });
    const body = await res.json() as { error?: { message?: string } };
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500) throw new Error(`${res.status} ${JSON.stringify(body)} for ${JSON.stringify({ ...c, mutate: undefined })}`);
    if (res.status !== 200) {
      if (typeof body.error?.message !== 'string') throw new Error(`${res.status} without {"error":{"message"}}`);
      const after = await snapshot();
      if (after !== before) throw new Error(`refused (${res.status} ${body.error.message}) but storage changed`);
    }
  }), { seed: 20261206, numRuns: 150 });
  t.comment(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}x${n}`).join(', ')}`);
  t.ok(statuses.get(200), 'some calls were accepted');
  t.ok([...statuses.keys()].some((s) => s >= 400), 'some calls were refused');
  t.equal(stagedCount(), 0, 'no staged upload outlives its call');
  statuses = new Map();
});
