/**
 * Issue 12, "Low: a 5xx from client input is always a defect", through real HTTP: prototype
 * names as table keys (`t_constructor`, `e___proto__`, ...), sharpen strengths sharp refuses,
 * e_pixelate on animated input, folder names longer than a file name can be, and the GIF
 * output bound (APERTURE_MAX_GIF_PIXELS).
 */
import { sourcesOpened } from '../../src/render/render.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { startServer } from '../helpers/harness.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-hostile-low-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
await fs.copyFile(new URL('../../images/cat.png', import.meta.url), path.join(dir, 'cat.png'));

// A 3-frame 100×100 GIF whose frames are 1 px stripes of two colours: pixelating averages
// each block to one flat colour, and every frame keeps its own colour.
const STRIPES: Array<[number[], number[]]> = [[[255, 0, 0], [0, 0, 255]], [[0, 255, 0], [0, 0, 0]], [[255, 255, 255], [0, 0, 0]]];
const frames = Buffer.concat(STRIPES.map(([a, b]) => {
  const f = Buffer.alloc(100 * 100 * 3);
  for (let i = 0; i < 100 * 100; i++) f.set(i % 2 ? b : a, i * 3);
  return f;
}));
await fs.writeFile(path.join(dir, 'stripes.gif'), await sharp(frames, { raw: { width: 100, height: 300, channels: 3, pageHeight: 100 } }).gif({ loop: 0 }).toBuffer());

const PROTO = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'];

t.test('prototype member names are unknown names (400), not 500', async (t) => {
  const named = { thumb: 'w_10' };
  const live = await startServer(t, { config: { storageDir: dir, namedTransformations: named } });
  for (const name of PROTO) {
    for (const token of [`t_${name}`, `t_thumb.${name}`, `e_${name}`, `f_${name}`, `fl_${name}`, `g_${name}`, `c_${name}`, `b_${name}`]) {
      const r = await live.get(`/image/upload/${token}/cat.png`);
      t.equal(r.status, 400, `${token} → 400 (got ${r.status} ${String(r.headers.get('x-cld-error'))})`);
      t.match(String(r.headers.get('x-cld-error')), name, `${token}: the error names the parameter`);
    }
  }
  t.equal((await live.get('/image/upload/t_thumb/cat.png')).status, 200, 'a configured name still works');
});

t.test('strict mode: a prototype name is a 4xx too, never a 500', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir, strict: true, secret: 's', namedTransformations: { thumb: 'w_10' } } });
  for (const name of PROTO) {
    const r = await live.get(`/image/upload/t_${name}/cat.png`);
    t.ok(r.status === 400 || r.status === 401, `t_${name} in strict mode → ${r.status}`);
  }
});

t.test('sharpen strengths up to the documented 2000 render', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir } });
  const bodies = new Map<string, Buffer>();
  for (const e of ['sharpen:1000', 'sharpen:1901', 'sharpen:2000', 'unsharp_mask:500', 'unsharp_mask:901', 'unsharp_mask:2000']) {
    const r = await live.get(`/image/upload/w_200,e_${e}/cat.png`);
    t.equal(r.status, 200, `e_${e} → 200 (got ${r.status} ${String(r.headers.get('x-cld-error'))})`);
    bodies.set(e, r.body);
  }
  t.notSame(bodies.get('sharpen:2000'), bodies.get('sharpen:1000'), 'a stronger sharpen is a different image');
  t.notSame(bodies.get('unsharp_mask:2000'), bodies.get('unsharp_mask:500'), 'a stronger unsharp mask is a different image');
});

t.test('e_pixelate on animated input pixelates every frame', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir } });
  const r = await live.get('/image/upload/e_pixelate:10/stripes.gif');
  t.equal(r.status, 200, `200 (got ${r.status} ${String(r.headers.get('x-cld-error'))})`);
  const m = await sharp(r.body, { animated: true }).metadata();
  t.same([m.width, m.pageHeight, m.pages], [100, 100, 3], 'three frames of 100×100');
  const { data, info } = await sharp(r.body, { animated: true }).raw().toBuffer({ resolveWithObject: true });
  const colours: string[] = [];
  const px = (f: number, x: number, y: number) => {
    const o = (f * 100 * 100 + y * 100 + x) * info.channels;
    return `${data[o]},${data[o + 1]},${data[o + 2]}`;
  };
  for (let f = 0; f < 3; f++) {
    // Every 10×10 block is one colour (the 1 px stripes are gone).
    let mixed = 0;
    for (let by = 0; by < 100; by += 10) {
      for (let bx = 0; bx < 100; bx += 10) {
        const c = px(f, bx, by);
        for (let y = by; y < by + 10; y++) for (let x = bx; x < bx + 10; x++) if (px(f, x, y) !== c) { mixed++; y = by + 10; break; }
      }
    }
    t.equal(mixed, 0, `frame ${f}: every 10×10 block is flat`);
    colours.push(px(f, 50, 50));
  }
  t.equal(new Set(colours).size, 3, `each frame keeps its own colour (${colours.join(' / ')})`);

  const small = await live.get('/image/upload/w_5/e_pixelate:10/stripes.gif');
  t.equal(small.status, 200, `w_5/e_pixelate:10 → 200 (got ${small.status} ${String(small.headers.get('x-cld-error'))})`);
  const sm = await sharp(small.body, { animated: true }).metadata();
  t.same([sm.width, sm.pageHeight], [5, 5], 'frames of 5×5');
});

t.test('a folder or file name longer than the filesystem allows is a 404', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir } });
  const urls = [
    `/image/upload/${'d'.repeat(256)}/cat.png`,
    `/image/upload/w_10/${'%C3%A9'.repeat(128)}/cat.png`,
    `/image/upload/${'n'.repeat(300)}.png`,
    `/image/upload/${Array.from({ length: 20 }, () => 'f'.repeat(250)).join('/')}/cat.png`,
  ];
  for (const url of urls) {
    const r = await live.get(url);
    t.equal(r.status, 404, `${url.slice(0, 40)}… (${url.length} chars) → 404 (got ${r.status} ${String(r.headers.get('x-cld-error')).slice(0, 60)})`);
  }
  t.equal((await live.get(`/image/upload/${'d'.repeat(255)}/cat.png`)).status, 404, 'a 255-byte folder that does not exist: 404');
});

t.test('GIF output is bounded by APERTURE_MAX_GIF_PIXELS', async (t) => {
  const live = await startServer(t, { config: { storageDir: dir, maxGifPixels: 100 * 100 * 3 } });
  const opened = sourcesOpened();
  const over = await live.get('/image/upload/w_300/f_gif/cat.png');
  t.equal(over.status, 400, `a 300 px wide GIF over a 30,000 px bound → 400 (got ${over.status})`);
  t.match(String(over.headers.get('x-cld-error')), /GIF of 300x\d+ exceeds 30000 pixels \(APERTURE_MAX_GIF_PIXELS\)/, 'the error names the size and the setting');
  const animated = await live.get('/image/upload/w_101/stripes.gif');
  t.equal(animated.status, 400, `3 frames of 101×101 (30,603 px) → 400 (got ${animated.status})`);
  t.match(String(animated.headers.get('x-cld-error')), /x3 frames/, 'frames are counted');
  t.equal(sourcesOpened(), opened, 'both refused from the plan, before any source was opened for rendering');
  const under = await live.get('/image/upload/w_100/f_gif/cat.png');
  t.equal(under.status, 200, 'a GIF under the bound is served');
  t.equal((await sharp(under.body).metadata()).format, 'gif');
  t.equal((await live.get('/image/upload/w_300/f_webp/cat.png')).status, 200, 'other formats are not bound by it');
});
