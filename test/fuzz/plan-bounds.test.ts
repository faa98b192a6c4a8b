/**
 * Hostile plan shapes through real HTTP (issue 12): huge and implied sizes, pads, borders,
 * rotations, long flip chains, many and nested layers, text layers with spacing, and
 * breakpoints with big bounds, on a server with small limits. Holds: no 5xx, and every refusal
 * for size or shape is made before any source is opened for rendering (the plan walk,
 * src/render/plan-bounds.ts). e_trim is left out on purpose: sizes after it depend on the pixels.
 *
 * PLAN_FUZZ_RUNS / FUZZ_SEED override the defaults (150 runs) for longer local runs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { sourcesOpened } from '../../src/render/render.ts';
import { makeStorage, removeStorage, repoRoot } from '../helpers/core-fixtures.ts';
import { startServer } from '../helpers/harness.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.PLAN_FUZZ_RUNS ?? 150);

const storage = await makeStorage('aperture-plan-fuzz-');
await fs.copyFile(path.join(repoRoot, 'images/cat.png'), path.join(storage, 'cat.png'));
t.teardown(() => removeStorage(storage));

const server = await startServer(t, { config: { storageDir: storage, maxOutputSide: 1500, maxOutputPixels: 1_000_000 } });

const size = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 300 }), weight: 6 }, fc.integer({ min: 300, max: 20_000 }), fc.constantFrom(1000, 1500, 1501, 8192, 65535));
const crop = fc.constantFrom('', ',c_scale', ',c_fit', ',c_fill', ',c_pad', ',c_lpad', ',c_crop', ',c_limit', ',c_mfit', ',c_thumb');
const geometry = fc.tuple(fc.option(size), fc.option(size), crop, fc.option(fc.constantFrom(1.5, 2, 3))).map(([w, h, c, dpr]) =>
  [w !== null && `w_${w}`, h !== null && `h_${h}`, c.slice(1), dpr !== null && `dpr_${dpr}`].filter(Boolean).join(',') || 'w_10');
const angle = fc.array(fc.oneof(fc.constantFrom('hflip', 'vflip', '90', '180', 'auto_right'), fc.integer({ min: 1, max: 359 }).map(String)), { minLength: 1, maxLength: 10 })
  .map((ops) => `a_${ops.join('.')}`);
const border = fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 1000 })).map((n) => `bo_${n}px_solid_red`);
const blur = fc.integer({ min: 1, max: 2000 }).map((n) => `e_blur:${n}`);
const imageLayer = fc.tuple(geometry, fc.constantFrom('', ',fl_no_overflow', ',fl_tiled', ',g_north_west,x_-50', ',g_east,x_-900'))
  .map(([g, p]) => `l_cat,${g}${p}`);
const nested = fc.integer({ min: 1, max: 4 }).map((depth) =>
  [...Array(depth).fill(0).map((_, i) => `l_cat,w_${40 - i * 5}`), ...Array(depth).fill('fl_layer_apply')].join('/'));
const text = fc.tuple(fc.integer({ min: 5, max: 100 }), fc.integer({ min: -100, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 20 }))
  .map(([s, ls, lns, n]) => `l_text:Arial_${s}_letter_spacing_${ls}_line_spacing_${lns}:${'Wi%0A'.repeat(n)}W`);
const component = fc.oneof({ arbitrary: geometry, weight: 4 }, angle, border, blur, imageLayer, nested, text);
const breakpoints = fc.tuple(fc.integer({ min: 1, max: 8192 }), fc.integer({ min: 1, max: 100 }))
  .map(([max, count]) => `w_auto:breakpoints_50_${Math.max(50, max)}_1_${count}:json`);
const plan = fc.tuple(fc.array(component, { minLength: 1, maxLength: 6 }), fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, breakpoints))
  .map(([cs, bp]) => [...cs, ...(bp ? [bp] : [])].join('/'));

/** Refusals the plan walk owns: sizes and shape limits. */
const PLANNED = /^(Requested output too large|Invalid angle in transformation|Invalid URL: (too many layers|layers nested))/;

t.test(`plan bounds: ${RUNS} generated plans, seed ${SEED}`, async (t) => {
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let refusedEarly = 0;
  const others = new Map<string, string>();
  await fc.assert(fc.asyncProperty(plan, async (p) => {
    const url = `/image/upload/${p}/cat.png`;
    const before = sourcesOpened();
    const r = await server.get(url, { accept: 'image/webp,*/*', 'sec-ch-width': '9000', 'sec-ch-dpr': '3' });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    const why = r.headers.get('x-cld-error') ?? '';
    if (r.status >= 500) failures.push(`${r.status} ${url} ${why}`);
    if (r.status === 400 && !PLANNED.test(why)) others.set(why.replace(/\d+/g, 'N').slice(0, 80), url);
    if (r.status === 400 && PLANNED.test(why)) {
      if (sourcesOpened() !== before) failures.push(`refused after rendering: ${url} (${why})`);
      else refusedEarly++;
    }
    return r.status < 500;
  }), { seed: SEED, numRuns: RUNS, endOnFailure: true });
  t.same(failures, [], 'no 5xx; every size or shape refusal made before rendering');
  t.ok(refusedEarly > RUNS / 10, `the generator reaches the limits (${refusedEarly} refused from the plan)`);
  t.ok((statuses.get(200) ?? 0) > RUNS / 10, `and plans within them (${statuses.get(200) ?? 0} served)`);
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  for (const [why, url] of others) t.comment(`other 400: ${why} (e.g. ${url})`);
});
