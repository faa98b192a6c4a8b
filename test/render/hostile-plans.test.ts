/**
 * Hostile plans through real HTTP (issue 12, items 3-6 and 10): plans over the size or shape
 * limits are refused before any source is opened for rendering (sourcesOpened() does not
 * move), breakpoint sampling waits for an admission slot like any transform, the request's
 * processing budget covers layer loads, client hints never ask for more pixels than the source
 * has, and results up to APERTURE_MAX_OUTPUT_BYTES are cached while larger ones are refused
 * once and never rendered again. No assertion depends on how fast the machine is.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { sourcesOpened } from '../../src/render/render.ts';
import { makeStorage, removeStorage, repoRoot } from '../helpers/core-fixtures.ts';
import { startOriginServer } from '../helpers/origin-server.ts';
import { startServer } from '../helpers/harness.ts';

const storage = await makeStorage('aperture-hostile-');
await fs.copyFile(path.join(repoRoot, 'images/cat.png'), path.join(storage, 'cat.png'));
/** Noise does not compress: PNG bytes ≈ raw bytes. */
async function noise(side: number): Promise<Buffer> {
  return sharp(crypto.randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}
await fs.writeFile(path.join(storage, 'noise-small.png'), await noise(900)); // ~2.4 MB
await fs.writeFile(path.join(storage, 'noise-big.png'), await noise(1100)); // ~3.6 MB
t.teardown(() => removeStorage(storage));

/** The base server's storage and output limits; each test may override some. */
const LIMITS = { storageDir: storage, maxOutputSide: 2000, maxOutputPixels: 1_000_000 };

const { app, get } = await startServer(t, { config: LIMITS });

/** `url` is answered `status` with an error naming `why`, and opens no source to render. */
async function refusedBeforeRender(t: Test, url: string, status: number, why: RegExp): Promise<void> {
  const before = sourcesOpened();
  const r = await get(url);
  t.equal(r.status, status, `${url} → ${status}`);
  t.match(r.headers.get('x-cld-error') ?? '', why, 'the error names the limit');
  t.equal(sourcesOpened() - before, 0, 'no source was opened for rendering');
}

t.test('sizes are computed from the plan and refused before any pixel', async (t) => {
  // a_45 of 451×300 at w_2000: the turned bounding box is over both limits.
  await refusedBeforeRender(t, '/image/upload/a_45,w_2000/cat.png', 400, /exceeds/);
  // The 2000×2000 intermediate is over 1 MP even though the final image is 10 px wide.
  await refusedBeforeRender(t, '/image/upload/w_2000,h_2000,c_scale,e_blur:2000/w_10/cat.png', 400, /2000x2000 exceeds 1000000 pixels/);
  // Rotation: 1990×1323 fits; turned by 45° it does not.
  await refusedBeforeRender(t, '/image/upload/w_1000/a_45/cat.png', 400, /exceeds 1000000 pixels/);
  // Pads and borders grow the canvas.
  await refusedBeforeRender(t, '/image/upload/w_900/bo_600px_solid_red/cat.png', 400, /width 2100 exceeds the 2000 px limit/);
  await refusedBeforeRender(t, '/image/upload/c_pad,w_1990,h_1990/cat.png', 400, /exceeds 1000000 pixels/);
  // A layer reaching outside the base grows it.
  await refusedBeforeRender(t, '/image/upload/w_100/l_cat,w_1900,x_1000,g_west/cat.png', 400, /exceeds/);
  // Text: letter spacing widens every character (0.7 em alone would be 560 px).
  await refusedBeforeRender(t, `/image/upload/l_text:Arial_20_letter_spacing_100:${'W'.repeat(40)}/cat.png`, 400, /text layer of about 4560x30 px/);
  // Line spacing adds between lines.
  await refusedBeforeRender(t, '/image/upload/l_text:Arial_10_line_spacing_1000:a%0Aa%0Aa%0Aa/cat.png', 400, /text layer of about 7x3060 px/);
  // Within the limits the same shapes render.
  const ok = await get('/image/upload/a_45,w_300/cat.png');
  t.equal(ok.status, 200);
  const m = await sharp(ok.body).metadata();
  t.ok(m.width! > 300 && m.width! * m.height! <= 1_000_000, `a_45 at w_300 renders (${m.width}x${m.height})`);
});

t.test('the shape of a URL bounds its work', async (t) => {
  await refusedBeforeRender(t, `/image/upload/a_${Array(9).fill('hflip').join('.')}/cat.png`, 400, /9 rotations and flips in one component \(at most 8, APERTURE_MAX_ANGLE_OPS\)/);
  const eight = await get(`/image/upload/a_${Array(8).fill('hflip').join('.')}/cat.png`);
  t.equal(eight.status, 200, '8 flips are within the default limit');
  const layers = Array(9).fill('l_cat,w_10').join('/');
  await refusedBeforeRender(t, `/image/upload/${layers}/cat.png`, 400, /too many layers \(more than 8, APERTURE_MAX_LAYERS\)/);
  // l_ inside l_ inside l_: three deep.
  await refusedBeforeRender(t, '/image/upload/l_cat,w_50/l_cat,w_20/l_cat,w_10/fl_layer_apply/fl_layer_apply/fl_layer_apply/cat.png', 400,
    /layers nested more than 2 deep \(APERTURE_MAX_LAYER_DEPTH\)/);
  // A layer's own components count against APERTURE_MAX_COMPONENTS (20) like the base's.
  await refusedBeforeRender(t, `/image/upload/l_cat/${Array(20).fill('a_hflip').join('/')}/fl_layer_apply/cat.png`, 400,
    /too many components \(more than 20 with the layers' own, APERTURE_MAX_COMPONENTS\)/);
  const two = await get('/image/upload/l_cat,w_50/l_cat,w_20/fl_layer_apply/fl_layer_apply/cat.png');
  t.equal(two.status, 200, 'two deep is within the default limit');
});

t.test('breakpoint sampling takes an admission slot', async (t) => {
  const { app: one, get: get1 } = await startServer(t, { config: { ...LIMITS, concurrency: 1, queueSize: 0, maxOutputSide: 8192, maxOutputPixels: 40_000_000 } });
  const release = await one.delivery.admission.acquire();
  const before = sourcesOpened();
  const r = await get1('/image/upload/w_400,h_300,c_scale/w_auto:breakpoints_50_400_1_100:json/cat.png');
  t.equal(r.status, 503, 'shed like a transform while the only slot is busy');
  t.equal(sourcesOpened() - before, 0, 'nothing sampled');
  t.equal((await get1('/image/upload/e_blur:100/cat.png')).status, 503, 'a transform is shed the same way');
  release();
  const ok = await get1('/image/upload/w_400,h_300,c_scale/w_auto:breakpoints_50_400_1_100:json/cat.png');
  t.equal(ok.status, 200, 'served once the slot is free');
  t.ok(Array.isArray(JSON.parse(ok.body.toString()).breakpoints));
  t.equal(one.delivery.admission.inFlight, 0, 'the slot is given back');
  // Over-limit preceding components are refused before sampling.
  const big = await get1('/image/upload/w_8192,h_8192,c_scale/w_auto:breakpoints_50_8192_1_100:json/cat.png');
  t.equal(big.status, 400);
  t.match(big.headers.get('x-cld-error') ?? '', /8192x8192 exceeds 40000000 pixels/);
});

t.test('the processing budget covers the whole request, layer loads included', async (t) => {
  // The layer's origin holds its answer until the client has its response: the deadline has
  // to fire while the layer is still loading.
  let answered!: () => void;
  const gotResponse = new Promise<void>((resolve) => { answered = resolve; });
  const held: ServerResponse[] = [];
  const layerPng = await sharp(path.join(storage, 'cat.png')).png().toBuffer();
  const origin = await startOriginServer({
    '/layers/held.png': (_req, res) => {
      held.push(res);
      void gotResponse.then(() => { res.writeHead(200, { 'content-type': 'image/png' }); res.end(layerPng); });
    },
  });
  t.teardown(() => origin.close());
  const { app: timed, get: getT } = await startServer(t, { config: { ...LIMITS,
    processTimeoutMs: 300, fetchTimeoutMs: 60_000, fetchAllow: ['127.0.0.1'], fetchPorts: '*',
    remoteMappings: { remote: origin.url('/layers/') },
  } });
  const r = await getT('/image/upload/l_remote:held.png,w_50/cat.png');
  answered();
  // Whether the layer request reached the origin before the 300 ms ran out depends on the
  // machine's speed; either way the origin had not answered, so only the deadline can have.
  t.equal(r.status, 504, 'answered at the deadline, not when the origin answers');
  t.match(r.headers.get('x-cld-error') ?? '', /^Timed out: loading the layers ran past the 300 ms processing budget$/);
  t.equal(timed.delivery.admission.inFlight, 0, 'no slot held');
});

t.test('client hints never ask for more pixels than the source has, nor cause an error', async (t) => {
  const width = async (u: string, h: Record<string, string>) => {
    const r = await get(u, h);
    t.equal(r.status, 200, `${u} ${JSON.stringify(h)}`);
    return r.status === 200 ? (await sharp(r.body).metadata()).width : undefined;
  };
  // cat.png is 451 px wide; 2000 px at 1330 tall would be over the 1 MP limit of this server.
  t.equal(await width('/image/upload/w_auto/cat.png', { 'sec-ch-width': '2000' }), 451, 'w_auto: at most the source width');
  t.equal(await width('/image/upload/w_auto,f_auto,q_auto/cat.png', { 'sec-ch-width': '7000', accept: 'image/webp' }), 451);
  t.equal(await width('/image/upload/w_auto/cat.png', { 'sec-ch-width': '200' }), 200, 'a smaller hint still scales down');
  t.equal(await width('/image/upload/w_300,dpr_auto/cat.png', { 'sec-ch-dpr': '3' }), 451, 'dpr_auto: at most input ÷ w');
  t.equal(await width('/image/upload/w_100,dpr_auto/cat.png', { 'sec-ch-dpr': '3' }), 300, 'dpr_auto within the source is kept');
  t.equal(await width('/image/upload/dpr_auto/cat.png', { 'sec-ch-dpr': '2' }), 451, 'dpr_auto without a size: 1');
  // After a preceding component the cap is what that component makes.
  t.equal(await width('/image/upload/w_200/w_auto/cat.png', { 'sec-ch-width': '1000' }), 200);
});

t.test('results up to APERTURE_MAX_OUTPUT_BYTES are cached; larger ones are refused once', async (t) => {
  // 8 MB cache: an eighth is 1 MB; the limit is raised to 3 MB, and results up to it are kept.
  const { get: getC } = await startServer(t, { config: { ...LIMITS, cacheBytes: 8 * 1024 * 1024, maxOutputBytes: 3 * 1024 * 1024, maxOutputSide: 8192, maxOutputPixels: 40_000_000 } });
  const first = await getC('/image/upload/a_hflip/noise-small.png');
  t.equal(first.status, 200);
  t.ok(first.body.length > 1024 * 1024, `a ${first.body.length} byte result, over an eighth of the cache`);
  const before = sourcesOpened();
  const again = await getC('/image/upload/a_hflip/noise-small.png');
  t.equal(again.status, 200);
  t.match(again.headers.get('server-timing') ?? '', /cache;desc="l1"/, 'served from the cache');
  t.equal(sourcesOpened() - before, 0, 'not rendered again');

  const big = await getC('/image/upload/bo_1px_solid_red/noise-big.png');
  t.equal(big.status, 400);
  t.match(big.headers.get('x-cld-error') ?? '', /^Requested output too large: the encoded result \(3\.\d MB\) exceeds the 3\.0 MB limit$/);
  const b2 = sourcesOpened();
  const bigAgain = await getC('/image/upload/bo_1px_solid_red/noise-big.png');
  t.equal(bigAgain.status, 400, 'refused again');
  t.equal(sourcesOpened() - b2, 0, 'without rendering again');
});

t.test('nothing here leaked a slot', async (t) => {
  t.equal(app.delivery.admission.inFlight, 0);
});
