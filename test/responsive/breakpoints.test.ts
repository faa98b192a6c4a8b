/**
 * Per-image breakpoints: properties of the list (ascending, both ends, at most `count`, max
 * capped at the width the preceding components produce), the size steps checked by encoding
 * every breakpoint for real, and the cache keyed by source, preceding plan and format.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { computeBreakpoints, clearBreakpointCache, breakpointStats, pickBreakpoints } from '../../src/responsive/breakpoints.ts';
import { readSourceMeta } from '../../src/render/source-meta.ts';
import { outputSettings } from '../../src/render/render.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { testConfig } from '../../src/config.ts';
import type { Component } from '../../transforms/types.ts';
import type { OutputFormat } from '../../src/formats.ts';
import { corpusDir } from '../helpers/harness.ts';

const config = testConfig();
const CUPS = path.join(corpusDir, 'photos/cups.jpg');

async function inputFor(buffer: Buffer, identity: string, ext: OutputFormat, before: readonly Component[] = []) {
  const source = { buffer, identity, name: identity };
  const meta = await readSourceMeta(source, config);
  return { source, meta, before, out: outputSettings({ components: before, canonical: '' }, ext, meta), config };
}

/** The encoded size at each width, made the way the renderer makes it (resize from the source). */
async function sizesAt(buffer: Buffer, widths: readonly number[], fmt: 'jpeg' | 'webp'): Promise<number[]> {
  return Promise.all(widths.map(async (w) => {
    const img = sharp(buffer).resize(w);
    const out = fmt === 'jpeg' ? img.jpeg({ quality: 80, mozjpeg: true }) : img.webp({ quality: 80, effort: config.webpEffort });
    return (await out.toBuffer()).length;
  }));
}

function checkShape(t: Test, bps: readonly number[], lo: number, hi: number, count: number) {
  t.equal(bps[0], lo, `starts at ${lo}`);
  t.equal(bps[bps.length - 1], hi, `ends at ${hi}`);
  t.ok(bps.length <= count, `${bps.length} <= ${count}`);
  t.ok(bps.every((w, i) => Number.isInteger(w) && (i === 0 || w > bps[i - 1])), `ascending integers: ${bps.join(',')}`);
}

t.test('pickBreakpoints on a known size curve', async (t) => {
  // size = 200 + 0.1·w² bytes: equal size steps are equal steps in w².
  const pts = [50, 300, 500, 800, 1000].map((w) => ({ width: w, bytes: 200 + 0.1 * w * w }));
  const bps = pickBreakpoints(pts, { min: 50, max: 1000, kb: 20, count: 20 }, 50, 1000);
  checkShape(t, bps, 50, 1000, 20);
  const sizes = bps.map((w) => 200 + 0.1 * w * w);
  const steps = sizes.slice(1).map((s, i) => s - sizes[i]);
  t.ok(steps.every((s) => s >= 20 * 1024 * 0.97 && s < 2 * 20 * 1024), `steps ${steps.map((s) => (s / 1024).toFixed(1)).join(' ')} KB`);
  t.same(pickBreakpoints(pts, { min: 50, max: 1000, kb: 1, count: 5 }, 50, 1000).length, 5, 'count binds');
  t.same(pickBreakpoints(pts, { min: 50, max: 1000, kb: 1000, count: 20 }, 50, 1000), [50, 1000], 'a step larger than the range: the ends');
  t.same(pickBreakpoints(pts, { min: 50, max: 1000, kb: 20, count: 1 }, 50, 1000), [1000], 'count 1: the max');
});

t.test('a generated photo: properties and real size steps', async (t) => {
  clearBreakpointCache();
  const buf = await sharp({ create: { width: 1400, height: 900, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
    .blur(1.2).jpeg({ quality: 92 }).toBuffer();
  for (const fmt of ['jpeg', 'webp'] as const) {
    const input = await inputFor(buf, `gen-${fmt}`, fmt);
    const spec = { min: 50, max: 1000, kb: 20, count: 20 };
    const { breakpoints: bps, samples } = await computeBreakpoints(input, spec);
    checkShape(t, bps, 50, 1000, 20);
    t.ok(samples.length <= 9, `${samples.length} encodes`);
    const real = await sizesAt(buf, bps, fmt);
    const steps = real.slice(1).map((s, i) => (s - real[i]) / 1024);
    // Breakpoint steps are at least `kb` (Cloudinary's bytes_step is a minimum) and equal,
    // so below 2 kb; real encodes may differ from the interpolation by a few percent.
    t.ok(steps.every((s) => s > 20 * 0.75 && s < 20 * 2.3), `${fmt}: real steps ${steps.map((s) => s.toFixed(1)).join(' ')} KB`);
  }
});

t.test('max capped at the source width and at what preceding components produce', async (t) => {
  const small = fs.readFileSync(new URL('../fixtures/astronaut-320.jpg', import.meta.url));
  const a = await computeBreakpoints(await inputFor(small, 'small', 'jpeg'), { min: 50, max: 1000, kb: 5, count: 20 });
  checkShape(t, a.breakpoints, 50, 320, 20);
  const before = parsePlan(['c_crop,w_200,h_200']).components;
  const b = await computeBreakpoints(await inputFor(small, 'small', 'jpeg', before), { min: 50, max: 1000, kb: 5, count: 20 });
  checkShape(t, b.breakpoints, 50, 200, 20);
  const c = await computeBreakpoints(await inputFor(small, 'small', 'jpeg'), { min: 400, max: 1000, kb: 5, count: 20 });
  t.same(c.breakpoints, [320], 'min above the source width: the source width only');
});

t.test('cached per source + preceding plan + format; concurrent callers share one computation', async (t) => {
  clearBreakpointCache();
  const small = fs.readFileSync(new URL('../fixtures/astronaut-320.jpg', import.meta.url));
  const spec = { min: 50, max: 1000, kb: 4, count: 20 };
  const s0 = breakpointStats();
  const input = await inputFor(small, 'small', 'jpeg');
  const [x, y] = await Promise.all([computeBreakpoints(input, spec), computeBreakpoints(input, spec)]);
  t.equal(x, y, 'same result object');
  const s1 = breakpointStats();
  t.equal(s1.computed - s0.computed, 1, 'computed once');
  const again = await computeBreakpoints(await inputFor(small, 'small', 'jpeg'), spec);
  t.equal(again, x, 'a cached list: the same result object');
  t.equal(breakpointStats().computed, s1.computed, 'no new computation');
  await computeBreakpoints(await inputFor(small, 'small', 'webp'), spec);
  await computeBreakpoints(await inputFor(small, 'small', 'jpeg', parsePlan(['e_grayscale']).components), spec);
  await computeBreakpoints(await inputFor(small, 'small-v2', 'jpeg'), spec);
  t.equal(breakpointStats().computed - s1.computed, 3, 'format, preceding plan and source identity are all in the key');
});

t.test('cups.jpg (2560 px photo)', { skip: fs.existsSync(CUPS) ? false : `${CUPS} not present: shared corpus check skipped` }, async (t) => {
  clearBreakpointCache();
  const buf = fs.readFileSync(CUPS);
  const input = await inputFor(buf, 'cups', 'jpeg');
  const { breakpoints: bps } = await computeBreakpoints(input, { min: 50, max: 2560, kb: 20, count: 20 });
  checkShape(t, bps, 50, 2560, 20);
  const real = await sizesAt(buf, bps, 'jpeg');
  const steps = real.slice(1).map((s, i) => (s - real[i]) / 1024);
  t.ok(steps.every((s) => s > 20 * 0.75), `real steps ${steps.map((s) => s.toFixed(1)).join(' ')} KB`);
  const mean = steps.reduce((a, b) => a + b, 0) / steps.length;
  t.ok(steps.every((s) => Math.abs(s - mean) < mean * 0.35), `equal steps within 35% of ${mean.toFixed(1)} KB`);
});
