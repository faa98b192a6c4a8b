/**
 * Today's features against the hostile inputs of ../shared/corpus/edge and tiny images made
 * here (1x1, 2x1, 1x2, 3x3 with alpha), through the real server over HTTP: liquid rescaling
 * (`c_scale,g_liquid`), object gravities (`g_cat`, `g_auto:dog_avoid`), `fl_getinfo`'s objects
 * (the `inspect` hook), asset-reference layers (`$r_ref:!<id>!/l_$r`) and background removal
 * (model-backed: three small inputs only). Every answer is the expected status, never a 5xx;
 * a 4xx names its reason in X-Cld-Error.
 *
 * Then the bursts: 6 concurrent cold g_liquid requests and 3 concurrent e_background_removal
 * requests on different sources are admitted as APERTURE_CONCURRENCY says (2 run, the rest
 * wait in the queue, none shed), /health answers while they are held, and all finish 200.
 * Held by the harness's render gate and the background removal job latch, counted through
 * /metrics and bgRemovalState(): no timing.
 *
 * Skipped with a notice when ../shared is absent.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { corpusDir, hasShared, rawGet, renderGate, startServer, waitFor, type RawReply } from './helpers/harness.ts';
import { bgRemovalState, configureBgRemoval, stopBgRemoval } from '../src/analyze/bgremoval.ts';
import { carvesRunning } from '../src/render/liquid.ts';

const edgeDir = path.join(corpusDir, 'edge');

/** The URL templates; `{f}` is the file, `{id}` the file as an asset reference id. */
const FEATURES = {
  liquid: 'c_scale,g_liquid,w_100,h_100/{f}',
  liquidAr: 'c_scale,g_liquid,ar_3.0,w_1.0/{f}',
  cat: 'c_fill,g_cat,w_100,h_100/{f}',
  dogAvoid: 'c_fill,g_auto:dog_avoid,w_100,h_100/{f}',
  getinfo: 'fl_getinfo/{f}',
  ref: '$r_ref:!{id}!/l_$r,w_20/tiny3x3a.png',
} as const;
type Feature = keyof typeof FEATURES;

type Want = number | number[];
/** Expected status per file: one for every feature, overridden per feature. */
const EXPECT: Record<string, { all: Want; by?: Partial<Record<Feature, Want>>; reason?: RegExp }> = {
  // 14x25 → 14x4.7 is beyond the 4x liquid limit: a 400 from the geometry.
  'animated.gif': { all: 200, by: { liquidAr: 400 } },
  'animated.webp': { all: 200, by: { liquidAr: 400 } },
  'bomb-16000x16000.png': { all: 413, reason: /too large/i },
  'cat.avif': { all: 200 },
  'cmyk.jpg': { all: 200 },
  'display-p3.jpg': { all: 200 },
  'empty.png': { all: 422, reason: /empty/ },
  'exif-orientation-6.jpg': { all: 200 },
  'gray16.tif': { all: 200 },
  // as in edge-corpus.test.ts: sanitized and rasterized, or refused as a clear 4xx
  'hostile.svg': { all: [200, 415, 422] },
  'multipage.tif': { all: [200, 415, 422] },
  'not-an-image.jpg': { all: 415, reason: /unsupported image/i },
  'rgb16.png': { all: 200 },
  // 1x30000: any liquid change of ratio is over 4x; the 20 px wide layer would be 600000 tall
  'strip-1x30000.png': { all: 200, by: { liquid: 400, liquidAr: 400, ref: 400 } },
  'truncated-half.jpg': { all: 422, reason: /corrupt/i },
  'truncated-small.jpg': { all: 422, reason: /corrupt/i },
  'tiny1x1.png': { all: 200 },
  'tiny2x1.png': { all: 200 },
  'tiny1x2.png': { all: 200 },
  'tiny3x3a.png': { all: 200 },
};

const wants = (got: number, want: Want) => (Array.isArray(want) ? want.includes(got) : got === want);

if (!hasShared) {
  t.comment('NOTICE: ../shared/corpus/edge is absent; the edge features test is skipped');
  t.test('edge features', { skip: 'no ../shared/corpus/edge' }, async () => {});
} else {
  const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-edge-features-'));
  for (const f of await fs.readdir(edgeDir)) await fs.copyFile(path.join(edgeDir, f), path.join(storage, f));
  const solid = (w: number, h: number, c: string) => sharp({ create: { width: w, height: h, channels: 3, background: c } }).png();
  await solid(1, 1, '#f00').toFile(path.join(storage, 'tiny1x1.png'));
  await solid(2, 1, '#0f0').toFile(path.join(storage, 'tiny2x1.png'));
  await solid(1, 2, '#00f').toFile(path.join(storage, 'tiny1x2.png'));
  // 3x3 RGBA, alpha from opaque to fully transparent
  await sharp(Buffer.from([
    255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0,
    10, 10, 10, 255, 200, 200, 200, 50, 0, 0, 0, 0,
    255, 255, 0, 255, 0, 255, 255, 200, 255, 0, 255, 10,
  ]), { raw: { width: 3, height: 3, channels: 4 } }).png().toFile(path.join(storage, 'tiny3x3a.png'));
  const files = (await fs.readdir(storage)).sort();

  // the background removal job latch: jobs wait there while `holding`
  let holding = false;
  const waiting: Array<() => void> = [];
  configureBgRemoval({ jobLatch: () => (holding ? new Promise<void>((go) => { waiting.push(go); }) : Promise.resolve()) });

  const gate = renderGate({ open: true });
  // Two slots (deterministic counts on any machine); nothing shed or timed out by a loaded
  // machine: the queue waits, the model's wait and the processing budget are raised.
  const s = await startServer(undefined, {
    gate,
    // refineQueue 0: no idle-time refinement renders, which would pass the gate and take slots
    // at moments no test controls (the counts below are of the requests' own renders)
    config: { storageDir: storage, concurrency: 2, queueSize: 64, queueTimeoutMs: 600_000, bgRemovalWaitMs: 600_000, processTimeoutMs: 600_000, refineQueue: 0 },
  });
  t.teardown(async () => {
    holding = false;
    for (const go of waiting.splice(0)) go();
    configureBgRemoval({ jobLatch: null });
    await s.close();
    stopBgRemoval();
    await fs.rm(storage, { recursive: true, force: true });
  });
  /** A GET on a connection of its own (concurrent on the wire). */
  const get = (u: string): Promise<RawReply> => rawGet(s.port, u.startsWith('/') ? u : `/image/upload/${u}`, {}, false);
  const gauge = async (name: string): Promise<number> => {
    const m = (await get('/metrics')).body.toString();
    const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(m);
    return line ? Number(line[1]) : NaN;
  };

  for (const f of files) {
    t.test(f, async (t) => {
      const e = EXPECT[f];
      if (!e) t.comment(`no expectation for new corpus file ${f}: checking only "never 5xx"`);
      const meta = e && wants(200, e.all) ? await sharp(path.join(storage, f)).metadata().catch(() => undefined) : undefined;
      for (const feature of Object.keys(FEATURES) as Feature[]) {
        const url = FEATURES[feature].replace('{f}', f).replace('{id}', f);
        const r = await get(url);
        const why = String(r.headers['x-cld-error'] ?? '');
        t.ok(r.status < 500, `${url}: no 5xx (got ${r.status} ${why})`);
        if (r.status >= 400) t.ok(why, `${url}: X-Cld-Error says why`);
        if (!e) continue;
        const want = e.by?.[feature] ?? e.all;
        t.ok(wants(r.status, want), `${url}: status ${r.status} in ${JSON.stringify(want)} ${why}`);
        if (r.status === 400 && feature.startsWith('liquid')) t.match(why, /liquid/, `${url}: names g_liquid's limit`);
        if (r.status >= 400 && e.reason && !e.by?.[feature]) t.match(why, e.reason, `${url}: names the reason`);
        if (r.status !== 200) continue;
        if (feature === 'getinfo') {
          const info = JSON.parse(r.body.toString());
          t.ok(Array.isArray(info.objects), `${url}: lists objects`);
          if (meta?.width && f !== 'exif-orientation-6.jpg') t.same([info.input.width, info.input.height], [meta.width, meta.height], `${url}: input size`);
          continue;
        }
        const d = await sharp(r.body).metadata();
        if (feature === 'liquid' || feature === 'cat' || feature === 'dogAvoid') t.same([d.width, d.height], [100, 100], `${url}: 100x100`);
        if (feature === 'liquidAr' && d.width && d.height) t.ok(Math.abs(d.width / d.height - 3) <= 3 / d.height + 0.01 || d.height === 1, `${url}: ${d.width}x${d.height} is 3:1`);
        if (feature === 'ref') t.ok(d.width && d.width >= 3, `${url}: decodes (${d.width}x${d.height})`);
      }
    });
  }

  t.test('6 concurrent cold g_liquid requests: 2 admitted, 4 queued, /health answers, all 200', async (t) => {
    const sources = ['animated.gif', 'cat.avif', 'cmyk.jpg', 'display-p3.jpg', 'exif-orientation-6.jpg', 'rgb16.png'];
    gate.shut();
    const passed = gate.passed;
    let done = 0;
    const replies = sources.map((f) => get(`c_scale,g_liquid,w_90,h_120/${f}`).finally(() => { done++; }));
    await gate.waitHeld(2);
    await waitFor(async () => (await gauge('aperture_transforms_queued')) === 4, 'the other 4 queued');
    t.equal(gate.held, 2, 'APERTURE_CONCURRENCY=2: two renders admitted');
    t.equal(await gauge('aperture_transforms_in_flight'), 2, 'two in flight');
    const h = await get('/health');
    t.equal(h.status, 200, '/health answers while the 6 are in flight');
    t.equal(done, 0, 'none has finished (held)');
    gate.open();
    // and once carving (a worker thread) or done: the event loop is free for /health
    await waitFor(() => carvesRunning() > 0 || done === sources.length, 'a carve running, or all done');
    t.equal((await get('/health')).status, 200, `/health answers (${carvesRunning()} carve(s) running, ${done} done)`);
    for (const [i, r] of (await Promise.all(replies)).entries()) {
      t.equal(r.status, 200, `${sources[i]}: 200 ${r.headers['x-cld-error'] ?? ''}`);
      const d = await sharp(r.body).metadata();
      t.same([d.width, d.height], [90, 120], `${sources[i]}: 90x120`);
    }
    t.equal(gate.passed - passed, 6, 'six renders, none shed');
  });

  t.test('3 concurrent e_background_removal on different sources: they wait for the model outside their slots, /health and other renders answer, 200 each', async (t) => {
    // model-backed: three small inputs (3x3 with alpha, 16-bit grey TIFF, a frame of the GIF)
    const urls = ['e_background_removal/tiny3x3a.png', 'e_background_removal/gray16.png', 'e_background_removal,pg_2/animated.png'];
    holding = true;
    const started = bgRemovalState().masksComputed;
    let done = 0;
    const replies = urls.map((u) => get(u).finally(() => { done++; }));
    await waitFor(() => waiting.length === 1, 'the first model job held at the latch');
    // one job at the latch, two behind it in the model's queue; none holds a transform slot
    await waitFor(() => bgRemovalState().queued === 2, 'the other two jobs queued for the model');
    await waitFor(async () => (await gauge('aperture_transforms_in_flight')) === 0, 'their slots given up while they wait');
    t.equal(await gauge('aperture_transforms_queued'), 0, 'nothing waits for a slot');
    t.equal((await get('/health')).status, 200, '/health answers while they wait for the model');
    const other = await get('c_scale,w_2/tiny3x3a.png');
    t.equal(other.status, 200, 'another render is served meanwhile, in a slot they gave up');
    t.equal(done, 0, 'none has finished');
    holding = false;
    for (const go of waiting.splice(0)) go();
    const rs = await Promise.all(replies);
    for (const [i, r] of rs.entries()) t.equal(r.status, 200, `${urls[i]}: 200 ${r.headers['x-cld-error'] ?? ''}`);
    const sizes = await Promise.all(rs.map((r) => sharp(r.body).metadata()));
    t.same(sizes.map((m) => [m.format, m.width, m.height, m.hasAlpha]), [['png', 3, 3, true], ['png', 200, 200, true], ['png', 14, 25, true]], 'sizes kept, with alpha');
    t.equal(bgRemovalState().masksComputed - started, 3, 'three masks computed');
    // the animation itself (no frame picked), an empty and a bomb source: 4xx before any model job
    for (const [u, want, why] of [
      ['e_background_removal/animated.gif', 400, /animated/],
      ['e_background_removal/empty.png', 422, /empty/],
      ['e_background_removal/bomb-16000x16000.png', 413, /too large/i],
    ] as const) {
      const r = await get(u);
      t.equal(r.status, want, `${u}: ${want}`);
      t.match(String(r.headers['x-cld-error']), why, `${u}: names the reason`);
    }
    t.equal(bgRemovalState().masksComputed - started, 3, 'no model job for the refused ones');
  });
}
