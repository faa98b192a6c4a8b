/**
 * URL-grammar fuzzing through the real route (fast-check, fixed seed): delivery URLs built from
 * the real parameter keys with valid and invalid values, odd separators, percent-encoding,
 * long strings, unicode, `..` and NUL. Every answer is a 200 or a 4xx with X-Cld-Error and
 * `no-store`, never a 5xx, and memory stays flat. Sources are tiny and output limits small so
 * each request is cheap.
 *
 * FUZZ_RUNS / FUZZ_SEED override the defaults (8,000 runs, seed below) for longer local runs.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import sharp from 'sharp';
import t from 'tap';
import { startServer } from '../helpers/harness.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

export const SEED = Number(process.env.FUZZ_SEED ?? 20250505);
const RUNS = Number(process.env.FUZZ_RUNS ?? 8000);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-fuzz-url-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
const base = sharp({ create: { width: 24, height: 16, channels: 4, background: { r: 200, g: 40, b: 90, alpha: 0.8 } } });
await fs.writeFile(path.join(dir, 'a.png'), await base.clone().png().toBuffer());
await fs.writeFile(path.join(dir, 'b.jpg'), await base.clone().flatten().jpeg().toBuffer());
await fs.writeFile(path.join(dir, 'c.webp'), await base.clone().webp().toBuffer());
await fs.mkdir(path.join(dir, 'folder'));
await fs.writeFile(path.join(dir, 'folder', 'd e.png'), await base.clone().png().toBuffer());
{
  // 3-frame 12×8 animated GIF.
  const frames = await Promise.all(['#f00', '#0f0', '#00f'].map((c) => sharp({ create: { width: 12, height: 8, channels: 3, background: c } }).raw().toBuffer()));
  await fs.writeFile(path.join(dir, 'anim.gif'), await sharp(Buffer.concat(frames), { raw: { width: 12, height: 24, channels: 3, pageHeight: 8 } as never }).gif({ loop: 0 }).toBuffer());
  const m = await sharp(path.join(dir, 'anim.gif'), { animated: true }).metadata();
  if (m.pages !== 3) throw new Error(`anim.gif has ${m.pages} pages`);
}
await fs.writeFile(path.join(dir, 'v.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10" fill="teal"/></svg>');

// A loopback origin for fetch URLs: the small PNG for any path ending in a known name, else 404.
const small = await fs.readFile(path.join(dir, 'a.png'));
const origin = await startOriginServer({
  '*': (req, res) => {
    if (/\.(png|jpg|webp|gif)$/.test((req.url ?? '').split('?')[0])) { res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'max-age=60' }); res.end(small); } else { res.writeHead(404); res.end(); }
  },
});
t.teardown(() => origin.close());
const originPort = origin.port;

const KEYS = ['w', 'h', 'c', 'g', 'x', 'y', 'ar', 'z', 'q', 'f', 'a', 'r', 'b', 'bo', 'o', 'e', 'fl', 'dpr', 'pg', 't', 'l', 'u', 'd', 'co', 'if', 'so', 'du', '$a', '$b'] as const;
type Key = (typeof KEYS)[number];

/** Object.prototype member names: table lookups must not find them (issue 12). */
const PROTO = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'];
const int = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map(String);
const frac = fc.double({ min: 0, max: 2, noNaN: true }).map((d) => d.toFixed(fc.sample(fc.integer({ min: 1, max: 3 }), 1)[0]));
const num = fc.oneof(int(-20, 120), frac, fc.constantFrom('0', '-0', '1e9', '99999999999999999999', '0.0', '.5', '1.', 'NaN', 'Infinity', '0x10'));
const CROPS = ['scale', 'fit', 'limit', 'mfit', 'fill', 'lfill', 'fill_pad', 'pad', 'lpad', 'mpad', 'crop', 'thumb', 'auto', 'imagga_crop', 'zzz', ...PROTO];
const GRAVITIES = ['north_west', 'north', 'north_east', 'west', 'center', 'east', 'south_west', 'south', 'south_east', 'xy_center', 'auto', 'auto:subject', 'auto:faces', 'face', 'faces', 'face:center', 'faces:auto', 'ocr_text', 'auto:classic', 'nowhere', ...PROTO];
const FORMATS = ['jpg', 'jpeg', 'png', 'webp', 'avif', 'gif', 'tiff', 'auto', 'jxl', 'svg', 'pdf', 'mp4', 'bmp', 'xyz', ...PROTO];
const EFFECTS = ['blur', 'blur:5', 'blur:2000', 'blur:0', 'blur:-1', 'sharpen', 'sharpen:50', 'unsharp_mask', 'unsharp_mask:80', 'grayscale', 'blackwhite', 'sepia', 'sepia:50', 'brightness:30', 'brightness:-300', 'contrast:50', 'saturation:-100', 'gamma:40', 'negate', 'pixelate', 'pixelate:3', 'pixelate:0', 'trim', 'trim:10', 'trim:10:white', 'improve', 'auto_contrast', 'vignette', 'vignette:50', 'colorize', 'colorize:40', 'background_removal', 'cartoonify', 'nope', 'blur:x',
  'sharpen:1901', 'sharpen:2000', 'unsharp_mask:901', 'unsharp_mask:2000', 'pixelate:10', 'pixelate:200', ...PROTO];
const FLAGS = ['progressive', 'lossy', 'png8', 'strip_profile', 'keep_iptc', 'attachment', 'attachment:my file', 'immutable_cache', 'animated', 'awebp', 'getinfo', 'layer_apply', 'relative', 'preserve_transparency', 'any_format', 'bogus', ...PROTO];

// Computed values (url-api.md §8): expressions over predefined names (fc, which loads the face
// detector, left out), variables, strings and the operators, spelled out and percent-encoded.
const OPERAND = fc.oneof(int(-3, 60), frac, fc.constantFrom('w', 'h', 'iw', 'ih', 'ar', 'iar', 'cw', 'ch', 'pc', 'cp', 'ils', 'tags', 'ctx', 'md',
  '$a', '$b', '$zz', '!x!', '!!', '!12!', 'ctx:!k!', 'md:!k!', '0', '3:4', 'zz', ...PROTO));
const OPERATOR = fc.constantFrom('add', 'sub', 'mul', 'div', 'mod', 'pow', 'div_0', 'mod_0', '%2B', '%2A', '%2F', '%25', '%5E', '-', 'to_i', 'to_f', 'to', 'zz');
const expr = fc.tuple(OPERAND, fc.array(fc.tuple(OPERATOR, OPERAND), { maxLength: 4 }), fc.constantFrom('_', '_', '_', ''))
  .map(([first, rest, sep]) => [first, ...rest.flat()].join(sep));
const CMP = fc.constantFrom('eq', 'ne', 'lt', 'gt', 'lte', 'gte', 'in', 'nin', 'zz');
const condition = fc.oneof(
  fc.array(fc.tuple(expr, CMP, expr).map((c) => c.join('_')), { minLength: 1, maxLength: 3 })
    .chain((cs) => fc.constantFrom('_and_', '_or_').map((j) => cs.join(j))),
  fc.constantFrom('end', 'else', 'w_gt_1000', 'ar_lt_1.0', '!sale!_in_tags', 'ctx:!a!_eq_!!', 'w_gt', 'gt_1'),
);
const variable = fc.oneof(expr, fc.constantFrom('!Sale!', '!a%20b!', '!!', '!x', 'iw_div_4_to_i', '$a_add_1'));

const VALID: Record<Key, fc.Arbitrary<string>> = {
  w: fc.oneof(int(1, 80), frac, fc.constantFrom('auto', 'auto:100', 'auto:50:30', 'auto:breakpoints', 'auto:breakpoints_10_60_5_4:json', 'iw', 'ih_div_2'), expr),
  h: fc.oneof(int(1, 80), frac, fc.constantFrom('auto', 'ih', '0.5'), expr),
  c: fc.constantFrom(...CROPS),
  g: fc.constantFrom(...GRAVITIES),
  x: fc.oneof(num, expr),
  y: fc.oneof(num, expr),
  ar: fc.oneof(fc.tuple(int(0, 20), int(0, 20)).map(([a, b]) => `${a}:${b}`), frac, fc.constantFrom('16:9', '1.0', '0', 'abc')),
  z: fc.oneof(frac, fc.constantFrom('0', '-1', '10', '1.5')),
  q: fc.oneof(int(0, 101), fc.constantFrom('auto', 'auto:good', 'auto:best', 'auto:eco', 'auto:low', 'auto:bad', '80:420', '80:444', '80:422', 'jpegmini')),
  f: fc.constantFrom(...FORMATS),
  a: fc.oneof(int(-720, 720), fc.constantFrom('auto', 'auto_right', 'auto_left', 'hflip', 'vflip', 'ignore', 'hflip.vflip', '90.hflip', 'exif')),
  r: fc.oneof(int(0, 50), fc.constantFrom('max', '1:2', '1:2:3', '1:2:3:4', '1:2:3:4:5', '-4')),
  b: fc.constantFrom('toString', '__proto__', 'red', 'white', 'transparent', 'rgb:ff0000', 'rgb:ff000080', 'rgb:f00', 'rgb:zzzzzz', 'auto', 'auto:border', 'auto:predominant', 'auto:border_contrast', 'gen_fill', 'blurred', '#fff', 'notacolour'),
  bo: fc.constantFrom('3px_solid_red', '1px_solid_rgb:00ff00', '0px_solid_black', '99999px_solid_red', '2px_dashed_red', 'px_solid_red'),
  o: fc.oneof(int(-5, 105), frac, expr),
  e: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...EFFECTS) }, { weight: 1, arbitrary: expr.map((x) => `blur:${x}`) }),
  fl: fc.array(fc.constantFrom(...FLAGS), { minLength: 1, maxLength: 3 }).map((a) => a.join('.')),
  dpr: fc.oneof(fc.constantFrom('1.0', '2', '2.5', 'auto', '0', '10', '3.0', '0.5', '-1'), frac),
  pg: fc.oneof(int(-1, 5), fc.constantFrom('1-2', '1;3', 'name:x', 'embedded:1')),
  t: fc.constantFrom('thumb', 'square', 'thumb.square', 'loop', 'missing', 'a.b.c', 'thumb.constructor', ...PROTO),
  // Remote layers go to the loopback origin (a layer it does not have is a 400, as a stored one).
  l: fc.constantFrom('text:Arial_20:hello', 'sample', `fetch:${Buffer.from(`http://127.0.0.1:${originPort}/x.jpg`).toString('base64url')}`,
    `fetch:${Buffer.from(`http://127.0.0.1:${originPort}/missing`).toString('base64url')}`, 'folder:a', 'text:Arial_20:$(a)', 'text:Arial_20:$(zz)', 'text:Arial_20:a$(b)b'),
  u: fc.constantFrom('sample', 'a'),
  d: fc.constantFrom('default.png', 'a.png'),
  co: fc.constantFrom('red', 'rgb:00ff00'),
  if: condition,
  $a: variable,
  $b: variable,
  so: int(0, 10),
  du: int(0, 10),
};

/** Values nobody should send: odd bytes, encodings, long and unicode strings. */
const junk = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('', '..', '.', '%00', '\u0000', '%2F', '%2f..%2f', '%', '%zz', '%25', '%E9', 'é', '😀', ' ', '%20', '::', '__', ',', '/', '\\', '$', '${x}', '<svg>', '%3Cscript%3E', '%0d%0aX-Injected:%20yes', '\r\nX-Injected: yes', '-', 'true', 'null', 'undefined', '[]', '{}') },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', '1', '_', ',', ':', '.', '%', '/'), minLength: 200, maxLength: 3000 }) },
);

const key = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.constantFrom('$var', '$w', 'zz', 'W', 'width', 'c0', 'vc', 'fn', 'cs', 'ki') });
const token = key.chain((k) => {
  const valid = (VALID as Record<string, fc.Arbitrary<string> | undefined>)[k];
  const v = valid ? fc.oneof({ weight: 14, arbitrary: valid }, { weight: 1, arbitrary: junk }) : fc.oneof(int(0, 100), junk);
  return fc.tuple(fc.constant(k), v, fc.constantFrom('_', '_', '_', '_', '_', '_', '_', '_', '_', '-', '', '__', ':'));
}).map(([k, v, sep]) => `${k}${sep}${v}`);
const component = fc.tuple(fc.array(token, { minLength: 1, maxLength: 4 }), fc.constantFrom(',', ',', ',', ',', ',', ',', ',', '.', ';', ', ', ',,'))
  .map(([tokens, sep]) => tokens.join(sep));

const PUBLIC_IDS = ['a.png', 'b.jpg', 'c.webp', 'anim.gif', 'v.svg', 'a', 'b', 'a.jpg', 'a.avif', 'a.gif', 'a.tiff', 'a.PNG', 'a.exe', 'missing.png',
  'folder/d%20e.png', 'v1/folder/d%20e.png', '..%2Fa.png', '../a.png', 'folder/../a.png', '%2E%2E/a.png', 'a.png%00.jpg', 'a%2Epng', '%61.png', 'a.png/', '.png', 'a..png', 'folder//d%20e.png',
  // Names longer than a file name can be (ENAMETOOLONG), quotes and non-Latin-1 names (Content-Disposition).
  `${'d'.repeat(256)}/a.png`, `folder/${'%C3%A9'.repeat(128)}.png`, `${Array.from({ length: 18 }, () => 'f'.repeat(250)).join('/')}/a.png`, 'a%22;x=%22.png', '%E7%8C%AB.png'];
const publicId = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...PUBLIC_IDS) }, { weight: 1, arbitrary: junk.map((j) => `${j}.png`) });
const prefix = fc.constantFrom('/image/upload/', '/image/upload/', '/image/upload/', '/demo/image/upload/', '/iu/', '/image/private/', '/image/authenticated/',
  '/image/upload/s--AAAAAAAA--/', '/image/upload/v123/', '/image/video/', '/video/upload/', '/image/raw/', '/image/', '/', '/image/fetch/');

/** Percent-encode a random slice, as a proxy or a careless client might. */
function encodeSome(s: string, start: number, len: number): string {
  const a = Math.min(start, s.length);
  const b = Math.min(s.length, a + len);
  const enc = (ch: string) => { try { return encodeURIComponent(ch); } catch { return '%ED%A0%80'; } }; // lone surrogate → its CESU bytes
  return s.slice(0, a) + [...s.slice(a, b)].map((ch) => enc(ch).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('') + s.slice(b);
}

const deliveryUrl = fc.record({
  prefix,
  components: fc.array(component, { minLength: 0, maxLength: 4 }),
  slash: fc.constantFrom('/', '/', '/', '/', '//'),
  version: fc.constantFrom('', '', '', 'v1/', 'v99999999999/'),
  id: publicId,
  query: fc.constantFrom('', '', '?_a=BAMAROfk0', '?w_10', '?%00', '?a=1&a=2'),
  encode: fc.option(fc.tuple(fc.nat(200), fc.nat(30)), { freq: 8 }),
}).map((r) => {
  const id = r.prefix === '/image/fetch/' ? `http://127.0.0.1:${originPort}/${r.id}` : r.id;
  let p = r.prefix + r.components.map((c) => c + r.slash).join('') + r.version + id;
  if (r.encode) p = encodeSome(p, r.encode[0], r.encode[1]);
  return p + r.query;
});

/** Whether a request target is one an HTTP/1.1 client could send at all (else inject throws). */
function sendable(url: string): boolean {
  return !/[\u0000-\u0020\u007f]/.test(url);
}

t.test(`URL grammar: ${RUNS} generated requests, seed ${SEED}`, async (t) => {
  const { app } = await startServer(t, { listen: false, http: { resolver: async () => [] }, config: {
    storageDir: dir,
    // e_background_removal would run the model (seconds a mask, a new one per source and
    // prefix): off here, it is a 400 unsupported; test/transforms/effects-bgremoval.test.ts runs it
    bgRemoval: false,
    maxOutputSide: 96,
    maxOutputPixels: 96 * 96,
    maxSourcePixels: 200_000,
    cacheBytes: 4 * 1024 * 1024,
    sourceCacheBytes: 1024 * 1024,
    fetchAllow: ['127.0.0.1'],
    fetchPorts: '*',
    fetchTimeoutMs: 200,
    secret: 'b',
    namedTransformations: { thumb: 'c_fill,h_20,w_20', square: 'ar_1:1,c_crop', loop: 't_loop' },
    processTimeoutMs: 10_000,
  } });

  const statuses = new Map<number, number>();
  let sent = 0;
  let warm: NodeJS.MemoryUsage | undefined;
  const WARM_AT = Math.min(1000, Math.floor(RUNS / 4));
  const t0 = performance.now();
  const failures: string[] = [];
  await fc.assert(fc.asyncProperty(deliveryUrl, async (raw) => {
    // Control characters and spaces cannot appear in a request line; a client would encode them.
    const url = sendable(raw) ? raw : raw.replace(/[\u0000-\u0020\u007f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
    const r = await app.inject({ method: 'GET', url, headers: { accept: 'image/avif,image/webp,*/*', 'sec-ch-dpr': '2', 'sec-ch-width': '60' } });
    sent++;
    if (sent === WARM_AT) { gc(); warm = process.memoryUsage(); }
    statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    if (r.statusCode >= 500) {
      failures.push(`5xx: ${r.statusCode} ${url} ${String(r.headers['x-cld-error'] ?? '')}`);
      return false;
    }
    const bad = (why: string) => { failures.push(`${why}: ${r.statusCode} ${url}`); return false; };
    if (r.statusCode >= 400) {
      if (!r.headers['x-cld-error']) return bad('4xx without X-Cld-Error');
      if (r.headers['cache-control'] !== 'no-store') return bad('4xx without no-store');
      if (/[\r\n]/.test(String(r.headers['x-cld-error']))) return bad('CR/LF in X-Cld-Error');
    } else if (r.statusCode === 200) {
      if (!/^(image\/(jpeg|png|webp|avif|gif|tiff|svg\+xml)|application\/json)/.test(String(r.headers['content-type']))) return bad(`200 as ${String(r.headers['content-type'])}`);
    } else if (r.statusCode !== 304) {
      return bad('unexpected status');
    }
    if (r.headers['x-injected']) return bad('header injection');
    return true;
  }), { seed: SEED, numRuns: RUNS, endOnFailure: false, verbose: 1 }).catch((e: unknown) => {
    t.fail(`counterexample (seed ${SEED}): ${e instanceof Error ? e.message.split('\n').slice(0, 12).join('\n') : String(e)}`);
  });
  const ms = performance.now() - t0;
  gc();
  const end = process.memoryUsage();
  const hist = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
  t.comment(`${sent} requests (incl. shrinking) in ${(ms / 1000).toFixed(1)} s, ${(sent / (ms / 1000)).toFixed(0)}/s; statuses ${hist}`);
  t.equal(failures.length, 0, `no 5xx, every 4xx well-formed (${failures.slice(0, 5).join(' | ')})`);
  t.ok(sent >= RUNS, `at least ${RUNS} requests sent`);
  t.ok((statuses.get(200) ?? 0) > RUNS / 50, 'a fair share of the URLs is valid and rendered');
  if (warm) {
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    t.comment(`heapUsed ${mb(warm.heapUsed)} → ${mb(end.heapUsed)} MB, RSS ${mb(warm.rss)} → ${mb(end.rss)} MB (after warm-up → end, gc'd)`);
    t.ok(end.heapUsed - warm.heapUsed < 64 * 1024 * 1024, 'heap flat after warm-up (< 64 MB growth)');
    t.ok(end.rss - warm.rss < 256 * 1024 * 1024, 'RSS flat after warm-up (< 256 MB growth)');
  }
});

t.test('malformed percent-encoding is answered like every other 4xx', async (t) => {
  // A path that cannot be percent-decoded must not be answered by fastify's router itself
  // (FST_ERR_BAD_URL, without X-Cld-Error, no-store or the common headers url-api.md §5 requires).
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  for (const url of ['/image/upload/w_%zz/a.png', '/image/upload/a%E9.png']) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 400, `${url} → 400`);
    t.ok(r.headers['x-cld-error'], `${url}: X-Cld-Error (got ${r.payload.slice(0, 80)})`);
    t.equal(r.headers['cache-control'], 'no-store', `${url}: Cache-Control no-store`);
    t.equal(r.headers['access-control-allow-origin'], '*', `${url}: CORS header like every answer`);
  }
});

t.test('a division by zero in any expression is a 400 naming it', async (t) => {
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  // Operands and operators that cannot fail before the division (no variables, strings or pow).
  const safe = fc.tuple(fc.constantFrom('w', 'h', 'iw', 'ih', 'ar', 'iar', 'cw', 'ch', 'pc', 'cp', '0', '1', '7', '0.5'),
    fc.array(fc.tuple(fc.constantFrom('add', 'sub', 'mul', 'div', 'mod', '%2B', '%2A', '%2F'), fc.constantFrom('w', 'ih', '2', '9', '0.25')), { maxLength: 4 }),
    fc.constantFrom('div_0', 'mod_0', '%2F_0', 'div_0_mul_ih', 'mod_0.0_add_w'), fc.constantFrom('w', 'h', 'x', 'o', '$v'))
    .map(([first, rest, zero, key]) => ({ text: [first, ...rest.flat(), zero].join('_'), key }));
  let n = 0;
  await fc.assert(fc.asyncProperty(safe, async ({ text, key }) => {
    const url = key === '$v' ? `/image/upload/$v_${text}/w_10/a.png` : `/image/upload/${key}_${text}/a.png`;
    const r = await app.inject(url);
    n++;
    return r.statusCode === 400 && String(r.headers['x-cld-error']).includes('(division by zero)') && r.headers['cache-control'] === 'no-store';
  }), { seed: SEED, numRuns: 300 });
  t.pass(`${n} expressions dividing by zero: every one a 400 "division by zero"`);
});
