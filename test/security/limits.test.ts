/**
 * Input and output limits through the real route: decompression bombs are refused from the
 * header (before any render starts), animated frames count towards the source pixel limit,
 * byte/side/area/component/DPR limits answer the documented statuses, and a hostile SVG is
 * rasterized without network access or entity expansion and is never served as SVG.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { repoRoot } from '../helpers/core-fixtures.ts';
import { connectionCounter, corpusDir, hasShared, renderGate, startServer } from '../helpers/harness.ts';

const edge = path.join(corpusDir, 'edge');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-limits-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
await fs.copyFile(path.join(repoRoot, 'images', 'animated.gif'), path.join(dir, 'animated.gif')); // 14×25, 24 frames
await fs.writeFile(path.join(dir, 'still.png'), await sharp({ create: { width: 50, height: 50, channels: 3, background: '#888' } }).png().toBuffer());
await fs.writeFile(path.join(dir, 'photo.jpg'), await sharp({ create: { width: 200, height: 100, channels: 3, background: '#468' } }).jpeg().toBuffer());
if (hasShared) {
  for (const f of await fs.readdir(edge)) await fs.copyFile(path.join(edge, f), path.join(dir, f));
}

t.test('decompression bomb: 413 from the header, before any render', { skip: !hasShared && 'no ../shared/corpus (bomb-16000x16000.png)' }, async (t) => {
  // Open: the gate only counts renders, so the refusal can be shown to come before one.
  const gate = renderGate({ open: true });
  const { app } = await startServer(t, { listen: false, gate, config: { storageDir: dir } });
  t.equal((await app.inject('/image/upload/w_10/still.png')).statusCode, 200);
  t.equal(gate.passed, 1, 'a normal request passes the gate (the count works)');
  for (const url of ['/image/upload/bomb-16000x16000.png', '/image/upload/w_100/bomb-16000x16000.png', '/image/upload/c_fill,h_50,w_50/bomb-16000x16000.jpg']) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 413, `${url} → 413`);
    t.match(String(r.headers['x-cld-error']), /16000x16000.*limit/, 'the message gives size and limit');
    t.equal(r.headers['cache-control'], 'no-store');
  }
  t.equal(gate.passed, 1, 'no render started for any of them: refused from the header');
});

t.test('source pixel limit counts animated frames', async (t) => {
  // 14×25×24 = 8,400 pixels in all; one frame is 350; still.png is 2,500.
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir, maxSourcePixels: 3_000 } });
  const still = await app.inject('/image/upload/w_20/still.png');
  t.equal(still.statusCode, 200, '2,500-pixel still under a 3,000 limit');
  const anim = await app.inject('/image/upload/w_10/animated.gif');
  t.equal(anim.statusCode, 413, 'a 350-pixel frame × 24 frames is over the limit');
  t.match(String(anim.headers['x-cld-error']), /24 frames.*8400.*3000/, 'message counts the frames');
  t.equal(anim.headers['cache-control'], 'no-store');
  const { app: roomy } = await startServer(t, { listen: false, config: { storageDir: dir, maxSourcePixels: 8_400 } });
  t.equal((await roomy.inject('/image/upload/w_10/animated.gif')).statusCode, 200, 'exactly at the limit is fine');
});

t.test('source byte limit', async (t) => {
  const size = (await fs.stat(path.join(dir, 'photo.jpg'))).size;
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir, maxSourceBytes: size - 1 } });
  const r = await app.inject('/image/upload/w_10/photo.jpg');
  t.equal(r.statusCode, 413, `${size}-byte source over a ${size - 1}-byte limit`);
  t.ok(r.headers['x-cld-error'], 'X-Cld-Error says why');
  t.equal(r.headers['cache-control'], 'no-store');
  const { app: ok } = await startServer(t, { listen: false, config: { storageDir: dir, maxSourceBytes: size } });
  t.equal((await ok.inject('/image/upload/w_10/photo.jpg')).statusCode, 200, 'at the limit is fine');
});

t.test('output side, area, components, DPR cap', async (t) => {
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  for (const [url, re] of [
    ['/image/upload/w_9000/photo.jpg', /width 9000.*8192/],
    ['/image/upload/h_9000/photo.jpg', /height 9000.*8192/],
    ['/image/upload/c_pad,h_10,w_8193/photo.jpg', /8193.*8192/],
    ['/image/upload/w_3000,dpr_3/photo.jpg', /9000.*8192/],
  ] as const) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 400, `${url} → 400`);
    t.match(String(r.headers['x-cld-error']), re, `names the value and the limit: ${String(r.headers['x-cld-error'])}`);
    t.equal(r.headers['cache-control'], 'no-store');
  }
  t.equal((await app.inject('/image/upload/w_8192,h_1,c_scale/photo.jpg')).statusCode, 200, 'exactly 8192 wide is allowed');

  const { app: small } = await startServer(t, { listen: false, config: { storageDir: dir, maxOutputPixels: 10_000 } });
  const big = await small.inject('/image/upload/c_scale,h_101,w_100/photo.jpg');
  t.equal(big.statusCode, 400, '100×101 over a 10,000-pixel limit');
  t.match(String(big.headers['x-cld-error']), /10000 pixels/, 'names the area limit');
  t.equal((await small.inject('/image/upload/c_scale,h_100,w_100/photo.jpg')).statusCode, 200, '100×100 at the limit');

  // maxComponents (default 20): URLs used nowhere else, so no memoized plan is reused.
  const comps = (n: number) => Array.from({ length: n }, (_, i) => `a_${i + 1}`).join('/');
  const c21 = await app.inject(`/image/upload/${comps(21)}/photo.jpg`);
  t.equal(c21.statusCode, 400, '21 components → 400');
  t.match(String(c21.headers['x-cld-error']), /too many components \(21 > 20\)/);
  t.equal((await app.inject(`/image/upload/${comps(20)}/photo.jpg`)).statusCode, 200, '20 components are fine');

  // DPR is capped (default 3), both dpr_N and dpr_auto.
  for (const [url, headers, width] of [
    ['/image/upload/w_10,dpr_5/photo.jpg', {}, 30],
    ['/image/upload/w_10,dpr_2/photo.jpg', {}, 20],
    ['/image/upload/w_11,dpr_auto/photo.jpg', { 'sec-ch-dpr': '7' }, 33],
  ] as const) {
    const r = await app.inject({ url, headers });
    t.equal(r.statusCode, 200, url);
    t.equal((await sharp(r.rawPayload).metadata()).width, width, `${url} ${JSON.stringify(headers)} → ${width} px`);
  }
  const { app: capped } = await startServer(t, { listen: false, config: { storageDir: dir, dprCap: 2 } });
  const r = await capped.inject('/image/upload/w_12,dpr_3/photo.jpg');
  t.equal((await sharp(r.rawPayload).metadata()).width, 24, 'APERTURE_DPR_CAP=2 caps dpr_3 at 2');
});

t.test('edge corpus: every file answers 200 or 4xx, never 5xx', { skip: !hasShared && 'no ../shared/corpus' }, async (t) => {
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  for (const f of (await fs.readdir(edge)).sort()) {
    // w_40 on the 1×30000 strip is its own test below (it is slow until the bug is fixed).
    for (const tr of ['', 'h_40/', 'f_webp/', 'c_fill,h_20,w_20/']) {
      const r = await app.inject(`/image/upload/${tr}${f}`);
      t.ok(r.statusCode < 500, `${tr}${f} → ${r.statusCode} ${String(r.headers['x-cld-error'] ?? '')}`);
      if (r.statusCode === 200) t.notMatch(String(r.headers['content-type']), /svg|xml|html|javascript/, 'never active content');
      else t.equal(r.headers['cache-control'], 'no-store', 'errors are not cached');
    }
  }
  for (const [f, status] of [['empty.png', 422], ['not-an-image.jpg', 415], ['truncated-small.jpg', 422], ['truncated-half.jpg', 422]] as const) {
    const rr = await app.inject(`/image/upload/w_30/${f}`);
    t.equal(rr.statusCode, status, `${f} → ${status} ${String(rr.headers['x-cld-error'])}`);
  }
});

t.test('a derived output side is held to maxOutputSide before any pixel work', { skip: !hasShared && 'no ../shared/corpus (strip-1x30000.png)' }, async (t) => {
  // w_40 on a 1×30000 strip keeps the ratio: 40×1,200,000. The requested side is fine, the
  // derived one is 146× over maxOutputSide; it must be refused from the geometry, not after
  // rendering 48 MP and then failing the area check.
  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  const r = await app.inject('/image/upload/w_40/strip-1x30000.png');
  t.equal(r.statusCode, 400, '400');
  t.match(String(r.headers['x-cld-error']), /height 1200000 exceeds the 8192 px limit/, 'names the derived side and the side limit');
});

t.test('hostile SVG: rasterized, no network, no entities, never image/svg+xml', { skip: !hasShared && 'no ../shared/corpus (hostile.svg)' }, async (t) => {
  const original = await fs.readFile(path.join(edge, 'hostile.svg'), 'utf8');
  const ref = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(original);
  t.ok(ref, 'hostile.svg references a loopback port');
  // Listen where it points; if that port is taken, point a copy at a port we hold.
  const listener = await connectionCounter(Number(ref![1]));
  const port = listener.port;
  let svg = original;
  if (String(port) !== ref![1]) {
    svg = original.replace(ref![0], `http://127.0.0.1:${port}/`);
    t.comment(`port ${ref![1]} busy; the copy points at ${port}`);
  }
  t.teardown(() => listener.close());
  await fs.writeFile(path.join(dir, 'hostile.svg'), svg);
  // The same drawing without the entity, and with the text an expansion would show.
  const withoutEntity = svg.replace('&xxe;', '');
  await fs.writeFile(path.join(dir, 'baseline.svg'), withoutEntity);
  const passwd = await fs.readFile('/etc/passwd', 'utf8').catch(() => 'root:x:0:0:root:/root:/bin/bash');
  const leaked = passwd.split('\n')[0].replace(/[<&>]/g, '');
  await fs.writeFile(path.join(dir, 'control.svg'), withoutEntity.replace('<text x="10" y="50"></text>', `<text x="10" y="50">${leaked}</text>`).replace(/<!DOCTYPE[^\]]*\]>/, ''));

  const { app } = await startServer(t, { listen: false, config: { storageDir: dir } });
  for (const url of ['/image/upload/hostile.svg', '/image/upload/hostile.png', '/image/upload/w_200/hostile.jpg', '/image/upload/f_auto/hostile.svg', '/image/upload/f_webp/hostile']) {
    const r = await app.inject({ url, headers: { accept: 'image/svg+xml,image/*;q=0.8' } });
    // The contract: a hostile SVG is served rasterized (first URL); all of them stay < 500.
    if (url === '/image/upload/hostile.svg') t.equal(r.statusCode, 200, `${url} → 200 ${String(r.headers['x-cld-error'] ?? '')}`);
    else t.ok(r.statusCode === 200 || (r.statusCode >= 400 && r.statusCode < 500), `${url} → ${r.statusCode}`);
    t.notMatch(String(r.headers['content-type']), /svg|xml/, `${url}: served as ${String(r.headers['content-type'])}, not SVG`);
    if (r.statusCode === 200) {
      const m = await sharp(r.rawPayload).metadata();
      t.ok(['png', 'jpeg', 'webp', 'avif', 'heif'].includes(String(m.format)), `${url}: body is a raster ${m.format}`);
    }
    t.notOk(r.rawPayload.includes('<svg') || r.rawPayload.includes('root:'), 'no markup or file text in the body');
  }
  t.equal(await listener.settled(), 0, `no connection to 127.0.0.1:${port}`);

  // The same external reference and script without the entity: rasterized, still no connection.
  for (const url of ['/image/upload/baseline.svg', '/image/upload/w_100/baseline.jpg']) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 200, `${url} → 200`);
    t.notMatch(String(r.headers['content-type']), /svg|xml/, `${url}: ${String(r.headers['content-type'])}`);
  }
  t.equal(await listener.settled(), 0, `still no connection to 127.0.0.1:${port}`);

  // Entity not expanded: the hostile render equals the render without the entity reference,
  // and differs from one that shows the leaked text (proving the comparison can see text).
  const px = async (name: string) => {
    const r = await app.inject(`/image/upload/${name}.png`);
    return r.statusCode === 200 ? await sharp(r.rawPayload).raw().toBuffer() : undefined;
  };
  const [hostile, base, control] = await Promise.all([px('hostile'), px('baseline'), px('control')]);
  t.ok(base && control, 'baseline and control SVGs render');
  if (!base || !control) return;
  const diff = (a: Buffer, b: Buffer) => { let n = 0; for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) n++; return n; };
  const seen = diff(control, base);
  t.comment(`control: rendering the leaked line changes ${seen} bytes`);
  t.ok(seen > 0, 'rendered text shows in the pixels (so the comparison below has power)');
  if (!hostile) {
    t.fail('hostile.svg is not rasterized, so the no-expansion pixel comparison cannot run');
    return;
  }
  t.ok(hostile.equals(base), 'hostile render has the same pixels as the one without &xxe;');
});
