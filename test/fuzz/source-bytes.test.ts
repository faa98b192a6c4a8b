/**
 * Source-bytes fuzzing through the real route (fast-check, fixed seed): small real PNG, JPEG,
 * GIF, WebP, TIFF, AVIF and SVG files, truncated, bit-flipped, byte-overwritten and
 * header-spliced, written to a temporary storage folder and requested with a few
 * transformations. Every answer is a 200 or a 4xx (never a 5xx, never a crash) and memory stays
 * flat. FUZZ_SOURCE_RUNS / FUZZ_SEED override the defaults.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import t from 'tap';
import { corpusDir, startServer } from '../helpers/harness.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20250505);
const RUNS = Number(process.env.FUZZ_SOURCE_RUNS ?? 2000);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-fuzz-src-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));

// Real encoder output, with some texture so the compressed streams are not trivial.
const W = 24, H = 16;
const raw = Buffer.alloc(W * H * 4);
for (let i = 0; i < W * H; i++) {
  raw[i * 4] = (i * 37) & 255; raw[i * 4 + 1] = (i * 11) & 255; raw[i * 4 + 2] = (i * 5) & 255; raw[i * 4 + 3] = 128 + (i & 127);
}
const img = () => sharp(raw, { raw: { width: W, height: H, channels: 4 } });
const frames = Buffer.concat([raw, Buffer.from(raw).reverse(), raw]);
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="12" height="16" fill="red"/><circle cx="18" cy="8" r="5" fill="blue"/><text x="1" y="10">A</text></svg>`;
const SEEDS: Array<{ ext: string; bytes: Buffer }> = [
  { ext: 'png', bytes: await img().png().toBuffer() },
  { ext: 'png', bytes: await img().png({ palette: true }).toBuffer() },
  { ext: 'jpg', bytes: await img().flatten().jpeg({ quality: 80 }).toBuffer() },
  { ext: 'jpg', bytes: await img().flatten().jpeg({ progressive: true }).toBuffer() },
  { ext: 'gif', bytes: await sharp(frames, { raw: { width: W, height: H * 3, channels: 4, pageHeight: H } as never }).gif({ loop: 0 }).toBuffer() },
  { ext: 'webp', bytes: await img().webp({ quality: 70 }).toBuffer() },
  { ext: 'webp', bytes: await img().webp({ lossless: true }).toBuffer() },
  { ext: 'tif', bytes: await img().tiff({ compression: 'lzw' }).toBuffer() },
  { ext: 'avif', bytes: await img().avif({ quality: 50, effort: 0 }).toBuffer() },
  { ext: 'svg', bytes: Buffer.from(SVG) },
  // Issue 12 shapes: what precedes `<svg` must not hide it from the sanitizer (comment over
  // 512 bytes, processing instruction, DOCTYPE with entities), gzip (.svgz), whitespace bomb.
  { ext: 'svg', bytes: Buffer.from(`<!--${'x'.repeat(700)}-->${SVG}`) },
  { ext: 'svg', bytes: Buffer.from(`<?pi data?><!DOCTYPE svg [<!ENTITY e "<rect width='4' height='4'/>">]>${SVG.replace('</svg>', '&e;</svg>')}`) },
  { ext: 'svg', bytes: gzipSync(Buffer.from(SVG)) },
  { ext: 'svg', bytes: Buffer.from(SVG.replace('<rect', `${' '.repeat(60_000)}<rect`)) },
];

/** One mutation of a seed file. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('flip' as const), bits: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }) }),
  // Flips inside the first 64 bytes: headers, dimensions, chunk lengths.
  fc.record({ kind: fc.constant('header' as const), bits: fc.array(fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('fill' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 64 }), value: fc.constantFrom(0x00, 0xff, 0x7f) }),
  fc.record({ kind: fc.constant('splice' as const), other: fc.nat(SEEDS.length - 1), cut: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 2, max: 50 }) }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 256 }) }),
);

function mutate(src: Buffer, m: MutationValue): Buffer {
  const pos = (f: number) => Math.min(src.length - 1, Math.floor(f * src.length));
  switch (m.kind) {
    case 'truncate': return Buffer.from(src.subarray(0, pos(m.at)));
    case 'flip': { const b = Buffer.from(src); for (const [f, bit] of m.bits) b[pos(f)] ^= 1 << bit; return b; }
    case 'header': { const b = Buffer.from(src); for (const [i, bit] of m.bits) if (i < b.length) b[i] ^= 1 << bit; return b; }
    case 'overwrite': { const b = Buffer.from(src); Buffer.from(m.bytes).copy(b, pos(m.at)); return b; }
    case 'fill': { const b = Buffer.from(src); b.fill(m.value, pos(m.at), Math.min(b.length, pos(m.at) + m.len)); return b; }
    case 'splice': { const o = SEEDS[m.other].bytes; return Buffer.concat([src.subarray(0, Math.min(m.cut, src.length)), o.subarray(Math.min(m.cut, o.length))]); }
    case 'repeat': { const a = pos(m.at); const chunk = src.subarray(a, a + m.len); return Buffer.concat([src.subarray(0, a), ...Array(m.times).fill(chunk), src.subarray(a)]); }
    case 'random': return Buffer.from(m.bytes);
  }
}
type MutationValue = typeof mutation extends fc.Arbitrary<infer V> ? V : never;

/**
 * libvips failures the route answers with a 500 instead of a 4xx, once reported and pinned by a
 * regression test below. Empty: every one found so far is fixed (see the regressions).
 */
const KNOWN_500: readonly RegExp[] = [];

const TRANSFORMS = ['', 'w_20/', 'c_fill,h_10,w_10/', 'f_png/', 'f_webp,q_60/', 'pg_2/', 'a_180,e_blur:3/', 'fl_getinfo/', 'e_trim/', 'c_pad,b_auto,h_12,w_30/'];

t.test(`source bytes: ${RUNS} mutated files, seed ${SEED}`, async (t) => {
  const { app } = await startServer(t, { listen: false, config: {
    storageDir: dir,
    maxOutputSide: 128,
    maxOutputPixels: 128 * 128,
    maxSourcePixels: 1_000_000,
    maxSourceBytes: 256 * 1024,
    cacheBytes: 2 * 1024 * 1024,
    sourceCacheBytes: 1024 * 1024,
    processTimeoutMs: 10_000,
  } });

  let n = 0;
  const knownHits = new Map<string, number>();
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let warm: NodeJS.MemoryUsage | undefined;
  const WARM_AT = Math.min(300, Math.floor(RUNS / 4));
  const t0 = performance.now();
  await fc.assert(fc.asyncProperty(fc.nat(SEEDS.length - 1), mutation, fc.constantFrom(...TRANSFORMS), fc.boolean(), async (which, m, tr, keepExt) => {
    const seed = SEEDS[which];
    const bytes = mutate(seed.bytes, m);
    // Usually the seed's extension; sometimes a lying one (the content decides the decoder).
    const ext = keepExt ? seed.ext : SEEDS[(which + 3) % SEEDS.length].ext;
    const name = `m${n++}.${ext}`;
    await fs.writeFile(path.join(dir, name), bytes);
    let r;
    try {
      r = await app.inject(`/image/upload/${tr}${name}`);
    } finally {
      await fs.rm(path.join(dir, name), { force: true });
    }
    if (n === WARM_AT) { gc(); warm = process.memoryUsage(); }
    statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    if (r.statusCode >= 500) {
      // Why libvips refuses these bytes (the response only says "Internal error").
      const cause = await sharp(bytes, { animated: true }).toBuffer().then(() => 'decodes', (e: Error) => e.message.split('\n')[0]);
      const known = KNOWN_500.find((k) => k.test(cause));
      if (known) {
        // Pinned by its own failing test below; counted here so the fuzzer keeps searching.
        knownHits.set(known.source, (knownHits.get(known.source) ?? 0) + 1);
        return true;
      }
      failures.push(`${r.statusCode} ${tr}${seed.ext} ${JSON.stringify(m).slice(0, 300)} libvips: ${cause}`);
      return false;
    }
    if (r.statusCode !== 200 && r.statusCode < 400) {
      failures.push(`${r.statusCode} ${tr}${seed.ext} ${JSON.stringify(m).slice(0, 300)} ${String(r.headers['x-cld-error'] ?? '')}`);
      return false;
    }
    if (r.statusCode >= 400 && r.headers['cache-control'] !== 'no-store') { failures.push(`4xx without no-store: ${tr}${name}`); return false; }
    return true;
  }), { seed: SEED, numRuns: RUNS, verbose: 1 }).catch((e: unknown) => {
    t.fail(`counterexample (seed ${SEED}): ${e instanceof Error ? e.message.split('\n').slice(0, 12).join('\n') : String(e)}`);
  });
  const ms = performance.now() - t0;
  gc();
  const end = process.memoryUsage();
  const hist = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}:${c}`).join(' ');
  t.comment(`${n} files (incl. shrinking) in ${(ms / 1000).toFixed(1)} s; statuses ${hist}`);
  for (const [re, c] of knownHits) t.comment(`known 500 (see the regression test): /${re}/ × ${c}`);
  t.equal(failures.length, 0, `no unknown 5xx (${failures.slice(0, 3).join(' | ')})`);
  t.ok(n >= RUNS, `at least ${RUNS} files requested`);
  t.ok((statuses.get(200) ?? 0) > RUNS / 20, 'some mutants still decode (the mutations are not all fatal)');
  if (warm) {
    const mb = (x: number) => (x / 1024 / 1024).toFixed(1);
    t.comment(`heapUsed ${mb(warm.heapUsed)} → ${mb(end.heapUsed)} MB, RSS ${mb(warm.rss)} → ${mb(end.rss)} MB (after warm-up → end, gc'd)`);
    t.ok(end.heapUsed - warm.heapUsed < 64 * 1024 * 1024, 'heap flat after warm-up (< 64 MB growth)');
    t.ok(end.rss - warm.rss < 256 * 1024 * 1024, 'RSS flat after warm-up (< 256 MB growth)');
  }
});

t.test('regression: a corrupt lossless WebP is a 422, not a 500 (shrunk fuzz counterexample)', async (t) => {
  // Seed 20250505 found it; shrunk to: the 24×16 lossless WebP above with bit 6 of byte 28
  // flipped (inside the VP8L bitstream header). sharp reads the header fine (24×16 webp) but
  // decoding fails with "webp2vips: unable to read pixels", which the keyword table src/errors.ts
  // then had did not match, so the route answered 500 "Internal error". Failures are now blamed
  // on the source when it does not decode alone (src/render/blame.ts), whatever the message.
  const bytes = Buffer.from(SEEDS[6].bytes);
  t.equal(SEEDS[6].ext, 'webp');
  bytes[28] ^= 1 << 6;
  await fs.writeFile(path.join(dir, 'corrupt-lossless.webp'), bytes);
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  for (const url of ['/image/upload/corrupt-lossless.webp', '/image/upload/w_10/corrupt-lossless.png']) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 422, `${url} → 422 (got ${r.statusCode} ${String(r.headers['x-cld-error'])})`);
  }
});

t.test('regression: a_90 on an animated GIF is not a 500 (found by the source fuzzer)', async (t) => {
  // Any a_90/a_270 (and a_45) on animated input whose output stays animated fails in libvips
  // with "Rotate is not supported for multi-page images", which the keyword table then in
  // src/errors.ts did not know, so the route answered 500 "Internal error". The source bytes are fine (a_180, w_10,
  // e_blur all work). Expected: rotate each frame (or answer a 4xx naming the limitation).
  await fs.writeFile(path.join(dir, 'anim.gif'), SEEDS[4].bytes);
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  t.equal((await app.inject('/image/upload/a_180/anim.gif')).statusCode, 200, 'a_180 works');
  for (const url of ['/image/upload/a_90/anim.gif', '/image/upload/a_270/w_10/anim.gif']) {
    const r = await app.inject(url);
    t.ok(r.statusCode === 200 || (r.statusCode >= 400 && r.statusCode < 500), `${url} → 200 or 4xx (got ${r.statusCode} ${String(r.headers['x-cld-error'])})`);
  }
});

const truncatedHalf = path.join(corpusDir, 'edge/truncated-half.jpg');
const hasTruncated = await fs.access(truncatedHalf).then(() => true, () => false);
t.test('regression: a truncated JPEG rendered next to another render is a 422, not a 500 (found by bench/load.ts)', { skip: !hasTruncated && 'no ../shared/corpus/edge/truncated-half.jpg' }, async (t) => {
  // Alone, a truncated JPEG answers 422 ("VipsJpeg: premature end of JPEG image"). Rendered
  // concurrently with another image, libvips reports only "Warning treated as error due to
  // failOn setting" (the specific message is lost), which the keyword table then in
  // src/errors.ts did not match, so the route answered 500 "Internal error". Expected: 422 both
  // ways (the source is blamed when it does not decode alone: src/render/blame.ts).
  const photo = await fs.readFile(new URL('../../images/rocket.jpg', import.meta.url));
  await fs.writeFile(path.join(dir, 'photo.jpg'), photo);
  // corpus/edge/truncated-half.jpg (a half-cut half of rocket.jpg does not show it).
  await fs.copyFile(truncatedHalf, path.join(dir, 'half.jpg'));
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  t.equal((await app.inject('/image/upload/w_50/half.jpg')).statusCode, 422, 'alone: 422');
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => app.inject(i % 2 ? `/image/upload/w_${51 + i}/half.jpg` : `/image/upload/w_${100 + i}/photo.jpg`)));
  const truncated = rs.filter((_, i) => i % 2).map((r) => r.statusCode);
  t.same(truncated, [422, 422, 422, 422], `next to other renders: ${truncated.join(' ')}`);
  t.ok(rs.filter((_, i) => i % 2 === 0).every((r) => r.statusCode === 200), 'the good ones are served');
});
