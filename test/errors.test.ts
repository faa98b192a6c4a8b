/**
 * Errors tell the truth (issue 13, item 5): a failure is a 4xx only when the request or its
 * source caused it. A render that libvips fails while the source decodes fine is the server's
 * fault: a 500 "Internal error", logged with the request (id, method, URL) and its cause. A
 * source whose bytes do not decode is a 422, whatever libvips' message says, and is not logged.
 * Every error, whoever raises it (route, router, fastify), is written by one writer: the
 * same headers, the reason in X-Cld-Error.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { Test } from 'tap';
import { corpusDir, hasShared, startServer } from './helpers/harness.ts';
import { Canvas } from '../src/render/canvas.ts';
import { Errors, errorAnswer, hasCode } from '../src/errors.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-errors-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));

// A photo-like PNG with texture (so its IDAT is long enough to cut inside).
const W = 64, H = 48;
const raw = Buffer.alloc(W * H * 3);
for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + (i >> 7) * 11) & 255;
const png = await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
await fs.writeFile(path.join(dir, 'good.png'), png);
// Cut in the pixel data: the header reads (64x48 png), the pixels do not.
await fs.writeFile(path.join(dir, 'truncated.png'), png.subarray(0, Math.floor(png.length * 0.6)));
// A palette PNG whose PLTE chunk fails its CRC. The header reads and the pixels decode, but the
// loader's warning (an error under sharp's default failOn) surfaces as the *encoder's* failure
// ("vips2png: unable to write to target"): no keyword of the message says "source".
const pal = await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png({ palette: true }).toBuffer();
const plte = pal.indexOf('PLTE');
const badCrc = Buffer.from(pal);
badCrc[plte + 6] ^= 1;
await fs.writeFile(path.join(dir, 'bad-crc.png'), badCrc);

/** A server whose log lines (at level error) are collected. */
async function serverWithLog(t: Test) {
  const lines: Array<Record<string, unknown>> = [];
  const s = await startServer(t, {
    listen: false,
    config: { storageDir: dir, logLevel: 'error' },
    logStream: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } },
  });
  return { app: s.app, lines };
}

t.test('a renderer failure on a good source is a 500, logged with the request', async (t) => {
  const { app, lines } = await serverWithLog(t);
  t.equal((await app.inject('/image/upload/w_20/f_png/good.png')).statusCode, 200, 'the source and plan are fine');

  // Force a renderer bug: the canvas extracts a region outside its image before it materializes
  // (libvips: "extract_area: bad extract area", one of the messages the old keyword table
  // turned into a 422). Test-only: the prototype is restored when the subtest ends.
  const materialize = Object.getOwnPropertyDescriptor(Canvas.prototype, 'materialize')!;
  t.teardown(() => { Object.defineProperty(Canvas.prototype, 'materialize', materialize); });
  Canvas.prototype.materialize = function (this: Canvas) {
    const self = this as unknown as { img: Sharp };
    self.img = self.img.extract({ left: this.width + 5, top: 0, width: 2, height: 2 });
    return (materialize.value as Canvas['materialize']).call(this);
  };
  const url = '/image/upload/w_21/f_png/good.png?probe=1';
  const r = await app.inject({ url, headers: { 'x-request-id': 'ignored' } });
  t.equal(r.statusCode, 500, `500 (got ${r.statusCode} ${String(r.headers['x-cld-error'])})`);
  t.equal(r.headers['x-cld-error'], 'Internal error', 'no internals in X-Cld-Error');
  t.same(JSON.parse(r.body), { error: { message: 'Internal error' } });
  t.equal(r.headers['cache-control'], 'no-store');
  const logged = lines.filter((l) => l.msg === 'request failed');
  t.equal(logged.length, 1, 'logged once');
  const entry = logged[0] ?? {};
  t.equal(entry.url, url, 'with the URL');
  t.equal(entry.method, 'GET', 'and the method');
  t.ok(entry.reqId, `and the request id (${String(entry.reqId)})`);
  t.match(String((entry.err as { message?: string } | undefined)?.message), /bad extract area/, 'and the libvips cause');
});

t.test('a source that does not decode is a 4xx and is not logged', async (t) => {
  const { app, lines } = await serverWithLog(t);
  for (const url of ['/image/upload/w_20/truncated.png', '/image/upload/f_webp/truncated.png', '/image/upload/w_20/f_png/bad-crc.png', '/image/upload/bad-crc.jpg']) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 422, `${url} → 422 (got ${r.statusCode} ${String(r.headers['x-cld-error'])})`);
    t.match(String(r.headers['x-cld-error']), /^Corrupt image source: /, 'named as a corrupt source');
  }
  t.equal(lines.length, 0, `nothing logged (${lines.map((l) => l.msg).join(', ')})`);
});

t.test('the truncated JPEG of the shared corpus is a 422', { skip: !hasShared && 'no ../shared/corpus (edge/truncated-half.jpg)' }, async (t) => {
  await fs.copyFile(path.join(corpusDir, 'edge', 'truncated-half.jpg'), path.join(dir, 'half.jpg'));
  const { app, lines } = await serverWithLog(t);
  for (const url of ['/image/upload/half.jpg', '/image/upload/w_50/half.webp']) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 422, `${url} → 422 (${String(r.headers['x-cld-error'])})`);
  }
  t.equal(lines.length, 0, 'nothing logged');
});

t.test('one error writer: route, router and fastify errors have one shape', async (t) => {
  const { app } = await serverWithLog(t);
  const cases: Array<[string, number, RegExp]> = [
    ['/image/upload/w_abc/good.png', 400, /^Invalid width in transformation: abc$/], // the route
    ['/image/upload/missing.png', 404, /^Resource not found - missing$/], // the route (origin)
    ['/nothing-here', 404, /^Resource not found - \/nothing-here$/], // the router (no route matches)
    ['/image/upload/%E0%A4%A.png', 400, /^Invalid URL: /], // fastify, before routing
  ];
  for (const [url, status, message] of cases) {
    const r = await app.inject(url);
    t.equal(r.statusCode, status, url);
    t.match(String(r.headers['x-cld-error']), message, `${url}: X-Cld-Error`);
    t.equal(r.headers['cache-control'], 'no-store', `${url}: no-store`);
    t.equal(r.headers['access-control-allow-origin'], '*', `${url}: CORS`);
    t.match(String(r.headers['content-type']), /^application\/json/, `${url}: JSON body`);
    t.equal((JSON.parse(r.body) as { error: { message: string } }).error.message, r.headers['x-cld-error'], `${url}: body says the same`);
  }
});

t.test('the error table', async (t) => {
  // One "too large" code; its status says whose size it is, its message names the limit.
  const source = new Errors.TOO_LARGE('source is 20000x20000 = 400000000 pixels, limit 50000000');
  const output = new Errors.TOO_LARGE('width 9000 exceeds the 8192 px limit', 'output');
  t.equal(source.code, output.code);
  t.ok(hasCode(source, 'TOO_LARGE') && hasCode(output, 'TOO_LARGE'));
  t.equal(source.statusCode, 413);
  t.equal(output.statusCode, 400);
  t.equal(source.message, 'Resource too large: source is 20000x20000 = 400000000 pixels, limit 50000000');
  t.equal(output.message, 'Requested output too large: width 9000 exceeds the 8192 px limit');
  // A libvips message is no 4xx by itself: only failures known to come from the source are.
  t.same(errorAnswer(new Error('extract_area: bad extract area')), { status: 500, message: 'Internal error', logged: true });
  t.same(errorAnswer(new Error('VipsJpeg: out of order read at line 48')), { status: 500, message: 'Internal error', logged: true });
  t.same(errorAnswer(new Errors.TIMEOUT('x')), { status: 504, message: 'Timed out: x', logged: false });
  t.same(errorAnswer(new Errors.INTERNAL()), { status: 500, message: 'Internal error', logged: true });
});
