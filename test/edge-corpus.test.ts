/**
 * The hostile and unusual inputs of ../shared/corpus/edge, each requested as stored, with
 * w_200, and converted to JPEG and WebP: never a 5xx, the documented 4xx for broken input,
 * sane sizes for the odd-but-valid ones, no network access from SVG, and a server that still
 * answers afterwards. Skipped with a notice when ../shared is absent.
 *
 * strip-1x30000.png with w_200 implies a 200×6,000,000 output: a 400 from the geometry, before
 * any render (the derived side is held to APERTURE_MAX_OUTPUT_SIDE).
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decode } from './helpers/core-fixtures.ts';
import { connectionCounter, corpusDir, hasShared, renderGate, startServer } from './helpers/harness.ts';

const edgeDir = path.join(corpusDir, 'edge');

interface Expect {
  /** Status for every variant, or a set of allowed statuses. */
  status: number | number[];
  /** Size of the stored image as displayed (for as-is) and with w_200. */
  size?: [number, number];
  w200?: [number, number];
  pages?: number;
  /** Override per variant. */
  variant?: Record<string, { status: number | number[]; size?: [number, number]; pages?: number; beforeRender?: boolean; error?: RegExp }>;
  /** Refused before any render starts (no render passes the render gate). */
  beforeRender?: boolean;
}

const TOO_TALL = /height 6000000 exceeds the \d+ px limit/;

const EXPECT: Record<string, Expect> = {
  'animated.gif': { status: 200, size: [14, 25], w200: [200, 357], pages: 24, variant: { jpg: { status: 200, size: [200, 357], pages: 1 } } },
  'animated.webp': { status: 200, size: [14, 25], w200: [200, 357], pages: 24, variant: { jpg: { status: 200, size: [200, 357], pages: 1 } } },
  'bomb-16000x16000.png': { status: 413, beforeRender: true },
  'cat.avif': { status: 200, size: [451, 300], w200: [200, 133] },
  'cmyk.jpg': { status: 200, size: [451, 300], w200: [200, 133] },
  'display-p3.jpg': { status: 200, size: [1280, 800], w200: [200, 125] },
  'empty.png': { status: 422 },
  'exif-orientation-6.jpg': { status: 200, size: [600, 400], w200: [200, 133] },
  'gray16.tif': { status: 200, size: [200, 200], w200: [200, 200] },
  // The SVG declares an external entity, a script and an external image: either refused
  // (libxml2 rejects the undefined entity) or sanitized and rasterized at its 400×200 size.
  'hostile.svg': { status: [200, 415, 422], size: [400, 200], w200: [200, 100] },
  // 2 pages of 10×10, 64-bit float, planar: libvips 8.18 cannot decode the sample format,
  // so a clear 4xx is the honest answer; a 200 must then be 10×10.
  'multipage.tif': { status: [200, 415, 422], size: [10, 10], w200: [200, 200] },
  'not-an-image.jpg': { status: 415 },
  'rgb16.png': { status: 200, size: [512, 512], w200: [200, 200] },
  'strip-1x30000.png': {
    status: 200, size: [1, 30000],
    variant: {
      // w_200 keeps the ratio: 200×6,000,000, refused from the geometry before any render.
      'w_200': { status: 400, beforeRender: true, error: TOO_TALL },
      'jpg': { status: 400, beforeRender: true, error: TOO_TALL },
      'webp': { status: 400, beforeRender: true, error: TOO_TALL },
      // WebP cannot hold 30000 px: a 4xx naming the reason.
      'webp-as-is': { status: [400, 422] },
    },
  },
  // libvips does not recover the missing half (sharp fails on the decode warning): 422.
  'truncated-half.jpg': { status: 422 },
  'truncated-small.jpg': { status: 422 },
};

if (!hasShared) {
  t.comment('NOTICE: ../shared/corpus/edge is absent; the edge corpus test is skipped');
  t.test('edge corpus', { skip: 'no ../shared/corpus/edge' }, async () => {});
} else {
  const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-edge-'));
  const files = (await fs.readdir(edgeDir)).sort();
  for (const f of files) await fs.copyFile(path.join(edgeDir, f), path.join(storage, f));

  // hostile.svg references an image on a loopback port: listen there and count connections.
  const svg = await fs.readFile(path.join(storage, 'hostile.svg'), 'utf8');
  const m = /https?:\/\/127\.0\.0\.1:(\d+)\//.exec(svg);
  const listener = await connectionCounter(Number(m?.[1] ?? 0));
  const port = listener.port;
  if (String(port) !== m?.[1]) t.comment(`port ${m?.[1]} unavailable; the SVG copies reference ${port} instead`);
  const portSvg = svg.replace(/127\.0\.0\.1:\d+/g, `127.0.0.1:${port}`);
  await fs.writeFile(path.join(storage, 'hostile.svg'), portSvg);
  // The same SVG without the entity declaration parses, so the <image> reference is reached.
  await fs.writeFile(path.join(storage, 'hostile-noxxe.svg'), portSvg.replace(/<!DOCTYPE[^\]]*\]>/, '').replace('&xxe;', 'x'));

  // Open: it only counts renders, so a refusal can be shown to come before any render.
  const gate = renderGate({ open: true });
  const { app } = await startServer(undefined, { listen: false, gate, config: { storageDir: storage } });
  t.teardown(async () => {
    await app.close();
    await listener.close();
    await fs.rm(storage, { recursive: true, force: true });
  });

  const statusOk = (got: number, want: number | number[]) => (Array.isArray(want) ? want.includes(got) : got === want);

  for (const f of files) {
    const e = EXPECT[f];
    t.test(f, async (t) => {
      if (!e) {
        t.comment(`no expectation for new corpus file ${f}: checking only "never 5xx"`);
      }
      const stem = f.replace(/\.[^.]+$/, '');
      const variants: [string, string][] = [
        ['as-is', `/image/upload/${f}`],
        ['w_200', `/image/upload/w_200/${f}`],
        ['jpg', `/image/upload/w_200/${stem}.jpg`],
        ['webp', `/image/upload/w_200/${stem}.webp`],
        ['webp-as-is', `/image/upload/${stem}.webp`],
      ];
      for (const [name, url] of variants) {
        // The as-is webp variant is only interesting for the strip (WebP's 16383 px limit).
        if (name === 'webp-as-is' && f !== 'strip-1x30000.png') continue;
        const rendersBefore = gate.passed;
        const res = await app.inject({ url });
        t.ok(res.statusCode < 500, `${url}: no 5xx (got ${res.statusCode} ${res.headers['x-cld-error'] ?? ''})`);
        if (res.statusCode >= 400) t.ok(res.headers['x-cld-error'], `${url}: X-Cld-Error says why`);
        if (!e) continue;
        const v = e.variant?.[name];
        const want = v?.status ?? e.status;
        t.ok(statusOk(res.statusCode, want), `${url}: status ${res.statusCode} in ${JSON.stringify(want)}`);
        if (v?.error) t.match(String(res.headers['x-cld-error']), v.error, `${url}: X-Cld-Error names the reason`);
        if (v?.beforeRender ?? e.beforeRender) t.equal(gate.passed, rendersBefore, `${url}: refused before any render`);
        if (res.statusCode !== 200) continue;
        const d = await decode(res.rawPayload);
        const size = v?.size ?? (name === 'as-is' ? e.size : e.w200);
        if (size) t.same([d.width, d.height], size, `${url}: ${size.join('x')}`);
        const expectFormat = name === 'jpg' ? 'jpeg' : name.startsWith('webp') ? 'webp' : undefined;
        if (expectFormat) t.equal(d.format, expectFormat, `${url}: format`);
        const pages = v?.pages ?? e.pages;
        if (pages !== undefined && name !== 'jpg') t.equal(d.pages, pages, `${url}: ${pages} frames`);
        if (name === 'jpg' && pages !== undefined) t.equal(d.pages, 1, `${url}: one frame in JPEG`);
      }
      if (f === 'multipage.tif' || f === 'truncated-half.jpg' || f === 'hostile.svg') {
        const r = await app.inject({ url: `/image/upload/${f}` });
        t.comment(`${f} is answered ${r.statusCode} ${r.headers['x-cld-error'] ?? ''}`);
      }
    });
  }

  t.test('CMYK and wide-gamut sources are delivered as sRGB', async (t) => {
    const sharp = (await import('sharp')).default;
    for (const f of ['cmyk.jpg', 'display-p3.jpg']) {
      const res = await app.inject({ url: `/image/upload/w_200/${f}` });
      t.equal(res.statusCode, 200);
      const meta = await sharp(res.rawPayload).metadata();
      t.equal(meta.space, 'srgb', `${f} → sRGB`);
      t.equal(meta.channels, 3, `${f} → 3 channels`);
    }
  });

  t.test('SVG never reaches the network', async (t) => {
    const noxxe = await app.inject({ url: '/image/upload/w_200/hostile-noxxe.png' });
    t.ok(noxxe.statusCode < 500, `parsable hostile SVG: ${noxxe.statusCode} ${noxxe.headers['x-cld-error'] ?? ''}`);
    if (noxxe.statusCode === 200) {
      const d = await decode(noxxe.rawPayload);
      t.same([d.width, d.height], [200, 100], 'rasterized at 400×200 → 200×100');
    }
    t.equal(await listener.settled(), 0, `no connection to 127.0.0.1:${port}`);
  });

  t.test('the server still answers afterwards', async (t) => {
    const h = await app.inject({ url: '/health' });
    t.equal(h.statusCode, 200);
    t.same(h.json(), { status: 'ok' });
    const img = await app.inject({ url: '/image/upload/w_50/cat.jpg' });
    t.equal(img.statusCode, 200, 'and still transforms');
  });
}
