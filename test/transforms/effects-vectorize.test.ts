/**
 * e_vectorize (issue 14 item 2) and SVG output: Cloudinary's front-end placeholder
 * `e_vectorize/q_auto/f_svg` answers 200 image/svg+xml; the SVG parses, and rasterized it
 * resembles the input (mean colour); an automatic or unstated format becomes SVG, a raster
 * format keeps the vectorized look; the arguments (positional or named) change the tracing.
 */
import t, { type Test } from 'tap';
import sharp from 'sharp';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parsePlan } from '../../src/plan/parse.ts';
import { Deadline } from '../../src/render/deadline.ts';
import { outputSettings, render } from '../../src/render/render.ts';
import { readSourceMeta } from '../../src/render/source-meta.ts';
import { testConfig } from '../../src/config.ts';
import { isHttpError } from '../../src/errors.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';
import { baseline, canonicalRoundTrip, effectServer, refused, statsOf, type Pixels } from '../helpers/effect-pixels.ts';

const s = await effectServer(t);
const plain = await baseline(s, '/image/upload/cat.png');

async function svgOf(t: Test, url: string, headers: Record<string, string> = {}): Promise<{ text: string; raster: Pixels }> {
  const r = await s.get(url, headers);
  t.equal(r.status, 200, `${url} → 200 (${r.headers.get('x-cld-error') ?? ''})`);
  t.equal(r.headers.get('content-type'), 'image/svg+xml', `${url}: SVG`);
  const text = r.body.toString('utf8');
  const { data, info } = await sharp(r.body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { text, raster: { data, width: info.width, height: info.height } };
}

const paths = (svg: string) => svg.split('<path').length - 1;

t.test("Cloudinary's placeholder e_vectorize/q_auto/f_svg", async (t) => {
  const { text, raster } = await svgOf(t, '/image/upload/e_vectorize/q_auto/f_svg/cat.png');
  t.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="451" height="300" viewBox="0 0 300 200"/, 'the image\'s size, traced at 300 px (detail default)');
  t.ok(paths(text) > 20, `traced shapes (${paths(text)} paths)`);
  t.notMatch(text, /<image|base64/, 'vector shapes, no embedded raster');
  t.same([raster.width, raster.height], [451, 300], 'it parses (librsvg) at the image\'s size');
  const a = statsOf(plain).mean, b = statsOf(raster).mean;
  for (let k = 0; k < 3; k++) t.ok(Math.abs(a[k] - b[k]) < 12, `rasterized, channel ${k} mean ${a[k].toFixed(0)} → ${b[k].toFixed(0)}`);
});

t.test('the format: automatic or unstated → SVG; a raster format keeps the look', async (t) => {
  await svgOf(t, '/image/upload/e_vectorize/f_auto/cat.png', { accept: 'image/avif,image/webp,*/*' });
  await svgOf(t, '/image/upload/e_vectorize/cat');
  await svgOf(t, '/image/upload/e_vectorize:colors:4/cat.svg');
  const r = await s.get('/image/upload/e_vectorize:colors:4/cat.png');
  t.equal(r.headers.get('content-type'), 'image/png', 'an explicit raster extension is kept');
  const { data, info } = await sharp(r.body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const png = { data, width: info.width, height: info.height };
  const colours = new Map<number, number>();
  for (let i = 0; i < data.length; i += 4) { const c = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]; colours.set(c, (colours.get(c) ?? 0) + 1); }
  const major = [...colours.values()].filter((n) => n > data.length / 4 / 100).length;
  t.ok(major <= 6, `4 colours: ${major} colours cover more than 1% each`);
  const a = statsOf(plain).mean, b = statsOf(png).mean;
  for (let k = 0; k < 3; k++) t.ok(Math.abs(a[k] - b[k]) < 20, `channel ${k} mean ${a[k].toFixed(0)} → ${b[k].toFixed(0)}`);
  const webp = await s.get('/image/upload/e_vectorize/f_webp/cat.png');
  t.equal(webp.headers.get('content-type'), 'image/webp', 'f_webp is kept');
});

t.test('arguments change the tracing', async (t) => {
  const base = (await svgOf(t, '/image/upload/e_vectorize/f_svg/cat.png')).text;
  const two = (await svgOf(t, '/image/upload/e_vectorize:2/f_svg/cat.png')).text;
  t.ok(paths(two) < paths(base), `colors 2: fewer paths (${paths(two)} < ${paths(base)})`);
  const coarse = await svgOf(t, '/image/upload/e_vectorize:10:0.2/f_svg/cat.png');
  t.match(coarse.text, /viewBox="0 0 90 60"/, 'detail 0.2: traced at a fifth of the size');
  t.ok(paths(coarse.text) < paths(base), 'with fewer shapes');
  const named = await svgOf(t, '/image/upload/e_vectorize:detail:100:colors:10/f_svg/cat.png');
  t.match(named.text, /viewBox="0 0 100 67"/, 'named arguments: detail 100 px');
  const clean = (await svgOf(t, '/image/upload/e_vectorize:10:300:20/f_svg/cat.png')).text;
  t.ok(paths(clean) < paths(base), `despeckle 20 drops small shapes (${paths(clean)} < ${paths(base)})`);
  const rough = (await svgOf(t, '/image/upload/e_vectorize:10:300:2:0:100/f_svg/cat.png')).text;
  t.ok(rough.length < base.length, `paths 0, corners 100: fewer curve segments (${rough.length} < ${base.length} bytes)`);
});

t.test('f_svg without e_vectorize embeds the pixels', async (t) => {
  const { text, raster } = await svgOf(t, '/image/upload/w_100/f_svg/cat.png');
  t.match(text, /<image width="100" height="67" xlink:href="data:image\/png;base64,/);
  t.same([raster.width, raster.height], [100, 67]);
  const small = await baseline(s, '/image/upload/w_100/cat.png');
  const a = statsOf(small).mean, b = statsOf(raster).mean;
  for (let k = 0; k < 3; k++) t.ok(Math.abs(a[k] - b[k]) < 1, 'the same pixels');
  const later = await svgOf(t, '/image/upload/e_vectorize/e_blur:300/f_svg/cat.png');
  t.match(later.text, /<image /, 'an effect after e_vectorize redraws the pixels: embedded, not the stale vector');
});

t.test('canonical round-trip', async (t) => {
  canonicalRoundTrip(t, [
    ['e_vectorize', 'e_vectorize:10:300:2:100:25'],
    ['e_vectorize:colors:3:detail:0.5', 'e_vectorize:3:0.5:2:100:25'],
    ['e_vectorize:5:1.0:0.1', 'e_vectorize:5:1.0:0.1:100:25'],
    ['e_vectorize:2:150:0:50:100', 'e_vectorize:2:150:0:50:100'],
  ]);
});

t.test('bad arguments are 400 naming the value', async (t) => {
  for (const [e, message] of [
    ['e_vectorize:1', /Invalid effect in transformation: vectorize:1 \(colors 2-30\)/],
    ['e_vectorize:31', /vectorize:31/],
    ['e_vectorize:10:2000', /vectorize:10:2000 \(px 0-1000 or a fraction 0.0-1.0\)/],
    ['e_vectorize:10:1.5', /vectorize:10:1.5/],
    ['e_vectorize:10:300:101', /vectorize:10:300:101/],
    ['e_vectorize:colors:5:bogus:1', /unknown option bogus/],
    ['e_vectorize:colors', /name:value pairs/],
    ['e_vectorize:1:2:3:4:5:6', /vectorize:1:2:3:4:5:6/],
  ] as const) await refused(t, s, `/image/upload/${e}/f_svg/cat.png`, 400, message);
  await refused(t, s, '/image/upload/e_vectorize/animated.gif', 400, /Unsupported transformation e_vectorize: .*animated/);
});

t.test('the trace runs within the request deadline (an injected clock)', async (t) => {
  const config = testConfig();
  const buffer = await fs.readFile(path.join(repoRoot, 'images/cat.png'));
  const src = { buffer, identity: 'cat-deadline', name: 'cat.png' };
  const meta = await readSourceMeta(src, config);
  let now = 0;
  const deadline = new Deadline(60_000, () => now);
  const race = deadline.race.bind(deadline);
  const raced: string[] = [];
  // The budget runs out while the worker traces: the render answers at once with a 504.
  deadline.race = <T>(p: Promise<T>, what: string) => { raced.push(what); now = 1e9; return race(p, what); };
  const plan = parsePlan(['e_vectorize']);
  const ctx = { config, hints: {}, vary: new Set<string>(), sourceIdentity: 'cat-deadline', prefix: '', timing: {}, deadline };
  let err: unknown;
  try { await render(src, meta, plan, outputSettings(plan, undefined, meta), ctx); } catch (e) { err = e; }
  t.same(raced, ['e_vectorize'], 'the trace is raced against the deadline');
  t.ok(isHttpError(err) && err.statusCode === 504, 'Errors.TIMEOUT');
  t.match(String((err as Error).message), /e_vectorize ran past the 60000 ms processing budget/);
});
