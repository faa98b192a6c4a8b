/**
 * Memos of parsed request text (src/cache/memo.ts): bounded in bytes whatever the key length,
 * failures remembered, and the plans they share between requests frozen. The memos of what was
 * derived from sources (local listings and resolutions, source headers, breakpoints) are
 * bounded in bytes too.
 */
import t from 'tap';
import { byteMemo, memoizedParse, parseMemo, settingSized } from '../../src/cache/memo.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { Errors, isHttpError } from '../../src/errors.ts';
import path from 'node:path';
import { startServer } from '../helpers/harness.ts';
import { testConfig } from '../../src/config.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import sharp from 'sharp';
import { createLocalMemo, createLocalOrigin } from '../../src/origin/local.ts';
import { readSourceMeta, sourceMetaMemo } from '../../src/render/source-meta.ts';
import { breakpointStats, clearBreakpointCache, computeBreakpoints } from '../../src/responsive/breakpoints.ts';
import { outputSettings } from '../../src/render/render.ts';
import { qualityMemo } from '../../src/render/auto-encode.ts';

t.test('the byte bound holds with 8 KB keys', async (t) => {
  const bound = 4 * 1024 * 1024;
  const memo = parseMemo<{ n: number }>(bound);
  const long = (i: number) => `/image/upload/w_${i}/${'p'.repeat(8192)}.jpg`;
  for (let i = 0; i < 2000; i++) memo.set(long(i), { n: i });
  t.ok(memo.calculatedSize <= bound, `${memo.calculatedSize} bytes counted, bound ${bound}`);
  t.ok(memo.size > 0 && memo.size < 130, `${memo.size} long entries kept, not 2000`);
  t.ok(memo.has(long(1999)), 'the latest is kept');
  // The same bound holds short keys by the thousand: the bound is in bytes, not entries.
  for (let i = 0; i < 2000; i++) memo.set(`/image/upload/w_${i}/a.jpg`, { n: i });
  t.ok(Array.from({ length: 2000 }, (_, i) => `/image/upload/w_${i}/a.jpg`).every((k) => memo.has(k)), 'all 2000 short ones kept');
  t.ok(memo.calculatedSize <= bound);

  const bytes = byteMemo<Buffer>(64 * 1024, (b) => b.length);
  for (let i = 0; i < 100; i++) bytes.set(`svg${i}`, Buffer.alloc(10_000));
  t.ok(bytes.calculatedSize <= 64 * 1024 && bytes.size === 6, 'values count with their size');
  bytes.set('huge', Buffer.alloc(100_000));
  t.notOk(bytes.has('huge'), 'a value above the bound is not kept');
  t.equal(parseMemo(0).set('k', { n: 1 }).size, 0, 'a bound of 0 keeps nothing');
});

t.test('a repeated bad text hits the failure memo: parsed once, the same 4xx thrown again', async (t) => {
  const memo = parseMemo<{ ok: true }>(1024 * 1024);
  let parses = 0;
  const parse = (key: string) => {
    parses++;
    if (key.includes('bad')) throw new Errors.INVALID_PARAM('width', key);
    return { ok: true as const };
  };
  const errors: unknown[] = [];
  for (let i = 0; i < 5; i++) {
    try { memoizedParse(memo, 'w_bad', parse); } catch (e) { errors.push(e); }
  }
  t.equal(parses, 1, 'parsed once');
  t.equal(errors.length, 5);
  t.ok(errors.every((e) => e === errors[0] && isHttpError(e) && e.statusCode === 400), 'the remembered 400 each time');
  t.equal(memoizedParse(memo, 'w_1', parse), memoizedParse(memo, 'w_1', parse), 'a good text: the same value');
  t.equal(parses, 2);

  // A bug (not a 4xx) is not a property of the text: not remembered.
  let bugs = 0;
  const buggy = () => { bugs++; throw new TypeError('oops'); };
  t.throws(() => memoizedParse(memo, 'x', buggy));
  t.throws(() => memoizedParse(memo, 'x', buggy));
  t.equal(bugs, 2);
});

t.test('parsePlan remembers a refused transformation', async (t) => {
  const first = (() => { try { parsePlan(['c_fill,w_abc']); } catch (e) { return e; } })();
  const again = (() => { try { parsePlan(['c_fill,w_abc']); } catch (e) { return e; } })();
  t.ok(isHttpError(first) && first.message === 'Invalid width in transformation: abc');
  t.equal(again, first, 'the memoized error, not a second parse');
});

t.test('a memoized plan is frozen all the way down', async (t) => {
  const plan = parsePlan(['c_fill,w_100,h_80,g_auto', 'l_logo,w_30', 'e_sepia', 'fl_layer_apply,g_north_east,x_5', 'e_blur:200,fl_immutable_cache']);
  t.ok(Object.isFrozen(plan) && Object.isFrozen(plan.components));
  const walk = (v: unknown, at: string): void => {
    if (typeof v !== 'object' || v === null) return;
    t.ok(Object.isFrozen(v), `${at} is frozen`);
    for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
  };
  walk(plan.components, 'components');
  const c = plan.components[0] as Record<string, unknown>;
  t.throws(() => { c.width = { kind: 'px', value: 1 }; }, TypeError, 'a request cannot change the shared plan');
  t.throws(() => { (plan.components as unknown[]).push({}); }, TypeError);
  t.equal(parsePlan(['c_fill,w_100,h_80,g_auto', 'l_logo,w_30', 'e_sepia', 'fl_layer_apply,g_north_east,x_5', 'e_blur:200,fl_immutable_cache']).canonical, plan.canonical);
});

t.test('a module-level memo follows its setting', async (t) => {
  let made = 0;
  const memos = settingSized((bound) => { made++; return parseMemo<{ n: number }>(bound); });
  const a = memos.of(1000);
  t.equal(memos.of(1000), a, 'the same bound: the same memo');
  a.set('k', { n: 1 });
  const b = memos.of(2000);
  t.not(b, a, 'another bound: a new memo');
  t.equal(b.size, 0);
  t.equal(made, 2);
  b.set('k', { n: 1 });
  memos.clear();
  t.equal(b.size, 0, 'clear() empties the current memo');
});

t.test('the route parses a repeated URL once, a refused one included', async (t) => {
  const { app } = await startServer(t, { listen: false, config: { storageDir: path.join(repoRoot, 'images') } });
  // Access is checked as part of a URL's parse: counting its calls counts parses.
  const access = app.delivery.access;
  const check = access.check.bind(access);
  let parses = 0;
  access.check = (url) => { parses++; check(url); };
  for (let i = 0; i < 3; i++) {
    const r = await app.inject('/image/upload/w_abc/cat.png');
    t.equal(r.statusCode, 400);
    t.equal(r.headers['x-cld-error'], 'Invalid width in transformation: abc');
  }
  t.equal(parses, 1, 'the bad URL was parsed once, then answered from the failure memo');
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/image/upload/w_20/cat.png')).statusCode, 200);
  t.equal(parses, 2, 'a good URL likewise');
});

t.test('the local origin memo (listings, resolutions) is bounded in bytes for all folders together', async (t) => {
  const dirs = await Promise.all([0, 1].map(() => fs.mkdtemp(path.join(os.tmpdir(), 'aperture-memo-'))));
  t.teardown(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));
  const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#fff' } }).png().toBuffer();
  const N = 150;
  for (const d of dirs) await Promise.all(Array.from({ length: N }, (_, i) => fs.writeFile(path.join(d, `picture-${i}.png`), png)));
  const bound = 48 * 1024;
  const memo = createLocalMemo(bound);
  const origins = dirs.map((d, i) => createLocalOrigin(d, { type: i ? 'private' : 'upload', memo, maxSourceBytes: 1 << 20 }));
  t.teardown(() => origins.forEach((o) => o.close()));
  let most = 0;
  for (let i = 0; i < N; i++) {
    for (const [k, o] of origins.entries()) {
      const s = await o.load({ type: k ? 'private' : 'upload', publicId: `picture-${i}` });
      t.equal(s.buffer.length, png.length);
      most = Math.max(most, memo.calculatedSize);
    }
  }
  t.ok(most <= bound, `${most} bytes at most, bound ${bound}`);
  t.ok(memo.size < 2 * N, `${memo.size} entries kept of ${2 * N} resolutions and 2 listings`);
  t.ok(memo.has(`L${dirs[1]}`), 'the folder last listed is kept');

  // A bound of 0 keeps nothing, and every file is still served.
  const none = createLocalMemo(0);
  const bare = createLocalOrigin(dirs[0], { memo: none, maxSourceBytes: 1 << 20 });
  t.teardown(() => bare.close());
  t.equal((await bare.load({ type: 'upload', publicId: 'picture-7' })).buffer.length, png.length);
  t.equal(none.size, 0);
});

t.test('the source-meta memo is bounded in bytes', async (t) => {
  const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#f00' } }).png().toBuffer();
  const bound = 8 * 1024;
  const config = testConfig({ sourceMetaMemoBytes: bound });
  const memo = sourceMetaMemo(config);
  memo.clear();
  // Identities as long as a fetch URL can make them.
  const identity = (i: number) => `http://img.example.com/${'p'.repeat(2000)}/${i}.png#etag:"x"`;
  for (let i = 0; i < 50; i++) {
    const meta = await readSourceMeta({ buffer: png, identity: identity(i), name: 'x' }, config);
    t.equal(meta.width, 3);
    t.ok(memo.calculatedSize <= bound, `${memo.calculatedSize} <= ${bound}`);
  }
  t.ok(memo.size > 0 && memo.size < 10, `${memo.size} of 50 long-keyed entries kept`);
  t.ok(memo.has(identity(49)), 'the latest is kept');
});

t.test('the breakpoint memo is bounded in bytes', async (t) => {
  const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#0f0' } }).png().toBuffer();
  const bound = 16 * 1024;
  const config = testConfig({ breakpointMemoBytes: bound });
  clearBreakpointCache();
  const spec = { min: 10, max: 40, kb: 1, count: 1 };
  const before = breakpointStats().computed;
  const inputOf = async (i: number) => {
    const source = { buffer: png, identity: `file:/srv/${'d'.repeat(1500)}/${i}.png:1:${png.length}`, name: 'x' };
    const meta = await readSourceMeta(source, config);
    return { source, meta, before: [], out: outputSettings({ components: [], canonical: '' }, 'png', meta), config };
  };
  for (let i = 0; i < 40; i++) t.same((await computeBreakpoints(await inputOf(i), spec)).breakpoints, [40]);
  t.equal(breakpointStats().computed - before, 40);
  // The latest few are remembered (no new computation), the first ones were let go.
  await computeBreakpoints(await inputOf(39), spec);
  t.equal(breakpointStats().computed - before, 40, 'the latest is a hit');
  await computeBreakpoints(await inputOf(0), spec);
  t.equal(breakpointStats().computed - before, 41, 'the first was evicted: 40 entries of ~2 KB do not fit 16 KB');
});

t.test('the q_auto quality memo is bounded in bytes', async (t) => {
  const bound = 2048;
  const config = { storageDir: path.join(repoRoot, 'images'), qualityMemoBytes: bound };
  const { app } = await startServer(t, { listen: false, config });
  const memo = qualityMemo(app.delivery.config);
  memo.clear();
  for (let w = 16; w < 28; w++) {
    const r = await app.inject(`/image/upload/q_auto,w_${w}/cat.jpg`);
    t.equal(r.statusCode, 200);
    t.ok(memo.calculatedSize <= bound, `${memo.calculatedSize} <= ${bound}`);
  }
  t.ok(memo.size > 0 && memo.size < 12, `${memo.size} of 12 choices kept`);
});
