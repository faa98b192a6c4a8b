/**
 * The request deadline (src/render/deadline.ts) with an injected clock: the render stops at the
 * first step after the budget is spent, whatever the machine's speed, and a libvips timeout
 * is a 504, never a 500. (The real-HTTP test is in hostile-plans.test.ts.)
 */
import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Deadline } from '../../src/render/deadline.ts';
import { render, outputSettings, sourcesOpened } from '../../src/render/render.ts';
import { readSourceMeta } from '../../src/render/source-meta.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { testConfig } from '../../src/config.ts';
import { processingError, isHttpError } from '../../src/errors.ts';
import type { RenderContext } from '../../src/render/context.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';
import sharp from 'sharp';
import { Errors } from '../../src/errors.ts';
import { carvesRunning } from '../../src/render/liquid.ts';

const config = testConfig();
const buffer = await fs.readFile(path.join(repoRoot, 'images/cat.png'));
const src = { buffer, identity: 'cat', name: 'cat.png' };
const meta = await readSourceMeta(src, config);

/** A clock that reads 0 until `spend()`, then past any budget. */
function manualClock() {
  let now = 0;
  return { clock: () => now, spend: () => { now = 1e9; } };
}

function ctxWith(deadline: Deadline): RenderContext {
  return { config, hints: {}, vary: new Set(), sourceIdentity: 'cat', prefix: '', timing: {}, deadline };
}

t.test('the budget is checked between components', async (t) => {
  const { clock, spend } = manualClock();
  const deadline = new Deadline(1000, clock);
  const plan = parsePlan(['w_200', 'a_hflip', 'e_blur:100']);
  // The first transform spends the budget: the effect hook of `e_blur` never runs.
  const ctx = ctxWith(deadline);
  const original = ctx.deadline.check.bind(ctx.deadline);
  const steps: string[] = [];
  ctx.deadline.check = (what: string) => {
    steps.push(what);
    if (what === 'a_') spend();
    original(what);
  };
  const out = outputSettings(plan, 'png', meta);
  let err: unknown;
  try { await render(src, meta, plan, out, ctx); } catch (e) { err = e; }
  t.ok(isHttpError(err) && err.statusCode === 504, 'Errors.TIMEOUT');
  t.match(String((err as Error).message), /a_ ran past the 1000 ms processing budget/);
  t.notOk(steps.includes('e_'), 'no step ran after the deadline');
});

t.test('a spent budget opens no source', async (t) => {
  const { clock, spend } = manualClock();
  const deadline = new Deadline(1000, clock);
  spend();
  const plan = parsePlan(['w_100']);
  const before = sourcesOpened();
  await t.rejects(render(src, meta, plan, outputSettings(plan, 'png', meta), ctxWith(deadline)), /^Timed out: opening the source ran past/);
  t.equal(sourcesOpened(), before);
});

t.test('race answers at the deadline while the work goes on', async (t) => {
  const deadline = new Deadline(50);
  let finish!: (v: string) => void;
  const work = new Promise<string>((resolve) => { finish = resolve; });
  await t.rejects(deadline.race(work, 'held work'), /^Timed out: held work ran past the 50 ms processing budget$/);
  finish('done');
  t.equal(await work, 'done');
  t.equal(await new Deadline(60_000).race(Promise.resolve(7), 'quick'), 7);
});

t.test('g_liquid at the deadline: a 504 once its worker thread has stopped', async (t) => {
  // Grey noise, 400×200 (no skin tones: no face detector).
  const px = Buffer.alloc(400 * 200);
  for (let i = 0; i < px.length; i++) px[i] = (i * 2654435761) >>> 24;
  const noise = { buffer: await sharp(px, { raw: { width: 400, height: 200, channels: 1 } }).png().toBuffer(), identity: 'noise', name: 'noise.png' };
  const noiseMeta = await readSourceMeta(noise, config);
  const deadline = new Deadline(600_000);
  const seen: number[] = [];
  const race = deadline.race.bind(deadline);
  // The budget runs out the moment the carve is raced: its thread has just started.
  deadline.race = <T>(p: Promise<T>, what: string): Promise<T> => {
    if (what !== 'g_liquid') return race(p, what);
    seen.push(carvesRunning());
    p.catch(() => undefined);
    return Promise.reject(new Errors.TIMEOUT(`${what} ran past the 600000 ms processing budget`));
  };
  const plan = parsePlan(['c_scale,g_liquid,w_200,h_200']);
  let err: unknown;
  try { await render(noise, noiseMeta, plan, outputSettings(plan, 'png', noiseMeta), { ...ctxWith(deadline), sourceIdentity: 'noise' }); } catch (e) { err = e; }
  t.same(seen, [1], 'the carve was running when the budget ran out');
  t.ok(isHttpError(err) && err.statusCode === 504, `Errors.TIMEOUT (${String(err)})`);
  t.equal(carvesRunning(), 0, 'the render ended after the worker thread had stopped');
});

t.test('sharp timeout budget: the remaining time, at least one second', async (t) => {
  let now = 0;
  const d = new Deadline(2500, () => now);
  t.equal(d.seconds('x'), 3);
  now = 2000;
  t.equal(d.seconds('x'), 1);
  now = 2500;
  t.throws(() => d.seconds('x'), /^Timed out: x ran past/);
});

t.test('a libvips timeout is a 504', async (t) => {
  const e = processingError(new Error('timeout: 43% complete\n'));
  t.equal(e.statusCode, 504);
  t.match(e.message, /time limit/);
});
