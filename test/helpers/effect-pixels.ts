/**
 * Pixel checks for the effect tests (test/transforms/effects-*.test.ts): a storage folder with
 * the core fixtures, the cat photo and a few shapes on transparency, a live server on it, and
 * readers of delivered pixels (raw RGBA, region statistics, alpha coverage).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Test } from 'tap';
import { startServer, type TestServer } from './harness.ts';
import type { Config } from '../../src/config.ts';
import { makeStorage, removeStorage, repoRoot } from './core-fixtures.ts';
import { parsePlan } from '../../src/plan/parse.ts';

export interface Pixels { data: Buffer; width: number; height: number }

/**
 * Storage: makeStorage()'s fixtures plus `cat.png` (451×300 photo), `disc.png` (100×80,
 * transparent, an opaque red disc of radius 25 in the middle) and `halfdisc.png` (the same disc
 * at alpha 128), and `files` (name → bytes).
 */
export async function effectServer(t: Test, config: Partial<Config> = {}, files: Readonly<Record<string, Buffer>> = {}): Promise<TestServer> {
  const dir = await makeStorage('aperture-effects-');
  t.teardown(() => removeStorage(dir));
  for (const [name, bytes] of Object.entries(files)) await fs.writeFile(path.join(dir, name), bytes);
  await fs.copyFile(path.join(repoRoot, 'images/cat.png'), path.join(dir, 'cat.png'));
  const disc = (alpha: number) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="80"><circle cx="50" cy="40" r="25" fill="#ff0000" fill-opacity="${alpha}"/></svg>`);
  await fs.writeFile(path.join(dir, 'disc.png'), await sharp(disc(1)).png().toBuffer());
  await fs.writeFile(path.join(dir, 'halfdisc.png'), await sharp(disc(128 / 255)).png().toBuffer());
  return startServer(t, { config: { storageDir: dir, ...config } });
}

/** GET `url`; asserts 200 and returns the body decoded to RGBA. */
export async function rgbaOf(t: Test, s: TestServer, url: string): Promise<Pixels & { body: Buffer; type: string }> {
  const r = await s.get(url);
  t.equal(r.status, 200, `${url} → 200 (${r.headers.get('x-cld-error') ?? ''})`);
  const { data, info } = await sharp(r.body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, body: r.body, type: r.headers.get('content-type') ?? '' };
}

/** GET `url` (which must answer 200) decoded to RGBA, without an assertion (for top-level baselines). */
export async function baseline(s: TestServer, url: string): Promise<Pixels> {
  const r = await s.get(url);
  if (r.status !== 200) throw new Error(`${url} → ${r.status} ${r.headers.get('x-cld-error')}`);
  const { data, info } = await sharp(r.body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** GET `url` of an animation; asserts 200 and returns its frame count and frame size. */
export async function framesOf(t: Test, s: TestServer, url: string): Promise<{ pages: number; width: number; height: number }> {
  const r = await s.get(url);
  t.equal(r.status, 200, `${url} → 200 (${r.headers.get('x-cld-error') ?? ''})`);
  const m = await sharp(r.body, { animated: true }).metadata();
  return { pages: m.pages ?? 1, width: m.width ?? 0, height: m.pageHeight ?? m.height ?? 0 };
}

/** Each `[text, canonical]`: `text` parses to `canonical`, which re-parses to itself. */
export function canonicalRoundTrip(t: Test, pairs: readonly (readonly [string, string])[]): void {
  for (const [text, canonical] of pairs) {
    const p = parsePlan([text]);
    t.equal(p.canonical, canonical, text);
    t.equal(parsePlan([p.canonical]).canonical, canonical, `${canonical} re-parses to itself`);
  }
}

/** GET `url`; asserts the status and that X-Cld-Error matches `message`. */
export async function refused(t: Test, s: TestServer, url: string, status: number, message: RegExp): Promise<void> {
  const r = await s.get(url);
  t.equal(r.status, status, `${url} → ${status}`);
  t.match(r.headers.get('x-cld-error') ?? '', message, `${url}: ${r.headers.get('x-cld-error')}`);
}

export function px(p: Pixels, x: number, y: number): [number, number, number, number] {
  const i = (y * p.width + x) * 4;
  return [p.data[i], p.data[i + 1], p.data[i + 2], p.data[i + 3]];
}

/** Pixels with some opacity. */
export function covered(p: Pixels): number {
  let n = 0;
  for (let i = 3; i < p.data.length; i += 4) if (p.data[i] > 0) n++;
  return n;
}

export interface Box { left: number; top: number; width: number; height: number }

/** Mean and standard deviation of R, G, B over a box (all of it by default). */
export function statsOf(p: Pixels, box: Box = { left: 0, top: 0, width: p.width, height: p.height }): { mean: number[]; sd: number[] } {
  const sum = [0, 0, 0], sq = [0, 0, 0];
  const n = box.width * box.height;
  for (let y = box.top; y < box.top + box.height; y++) {
    for (let x = box.left; x < box.left + box.width; x++) {
      const i = (y * p.width + x) * 4;
      for (let k = 0; k < 3; k++) { sum[k] += p.data[i + k]; sq[k] += p.data[i + k] ** 2; }
    }
  }
  const mean = sum.map((s) => s / n);
  return { mean, sd: sq.map((s, k) => Math.sqrt(Math.max(0, s / n - mean[k] ** 2))) };
}

/** Whether every pixel outside `box` is the same in `a` and `b` (same size). */
export function sameOutside(a: Pixels, b: Pixels, box: Box): boolean {
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (x >= box.left && x < box.left + box.width && y >= box.top && y < box.top + box.height) continue;
      const i = (y * a.width + x) * 4;
      for (let k = 0; k < 4; k++) if (a.data[i + k] !== b.data[i + k]) return false;
    }
  }
  return true;
}

/** Share of pixels in `box` equal to their right-hand neighbour (flat areas, blocks). */
export function flatShare(p: Pixels, box: Box = { left: 0, top: 0, width: p.width, height: p.height }): number {
  let same = 0, n = 0;
  for (let y = box.top; y < box.top + box.height; y++) {
    for (let x = box.left; x < box.left + box.width - 1; x++) {
      const i = (y * p.width + x) * 4;
      n++;
      if (p.data[i] === p.data[i + 4] && p.data[i + 1] === p.data[i + 5] && p.data[i + 2] === p.data[i + 6]) same++;
    }
  }
  return same / n;
}

/** Distinct RGB colours. */
export function colourCount(p: Pixels): number {
  const seen = new Set<number>();
  for (let i = 0; i < p.data.length; i += 4) seen.add((p.data[i] << 16) | (p.data[i + 1] << 8) | p.data[i + 2]);
  return seen.size;
}
