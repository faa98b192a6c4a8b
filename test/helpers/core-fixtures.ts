/**
 * Fixtures for the core route tests: a temporary storage folder filled with synthetic images
 * whose pixels are known (so a test can tell which edge a crop kept or which way a flip went),
 * copies of the shipped sample images, and small decoders for asserting on responses.
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const hasShared = existsSync(path.join(sharedDir, 'corpus'));

export type Rgb = readonly [number, number, number];
export const RED: Rgb = [255, 0, 0];
export const GREEN: Rgb = [0, 255, 0];
export const BLUE: Rgb = [0, 0, 255];
export const YELLOW: Rgb = [255, 255, 0];
export const BLACK: Rgb = [0, 0, 0];
export const WHITE: Rgb = [255, 255, 255];

function solid(width: number, height: number, c: Rgb) {
  return { create: { width, height, channels: 3 as const, background: { r: c[0], g: c[1], b: c[2] } } };
}

/** width×height image made of rectangles of flat colour (exact pixels, no gradients). */
async function blocks(width: number, height: number, parts: { left: number; top: number; w: number; h: number; c: Rgb }[]): Promise<Buffer> {
  const layers = await Promise.all(parts.map(async (p) => ({
    input: await sharp(solid(p.w, p.h, p.c)).png().toBuffer(), left: p.left, top: p.top,
  })));
  return sharp(solid(width, height, BLACK)).composite(layers).png().toBuffer();
}

/**
 * Creates a fresh storage folder in os.tmpdir():
 * - `halves.png` 200×100: left half red, right half blue.
 * - `quads.png` 200×100: top-left red, top-right blue, bottom-left green, bottom-right yellow.
 * - `alpha.png` 100×100 opaque green with an alpha channel (alpha 255 everywhere).
 * - `clear.png` 100×100 fully transparent except an opaque red 50×50 square in the middle.
 * - `rocket.jpg` (640×427), `logo-alpha.png` (500×500, alpha), `animated.gif` (14×25, 24 frames)
 *   copied from images/.
 */
export async function makeStorage(prefix = 'aperture-core-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.writeFile(path.join(dir, 'halves.png'), await blocks(200, 100, [
    { left: 0, top: 0, w: 100, h: 100, c: RED }, { left: 100, top: 0, w: 100, h: 100, c: BLUE },
  ]));
  await fs.writeFile(path.join(dir, 'quads.png'), await blocks(200, 100, [
    { left: 0, top: 0, w: 100, h: 50, c: RED }, { left: 100, top: 0, w: 100, h: 50, c: BLUE },
    { left: 0, top: 50, w: 100, h: 50, c: GREEN }, { left: 100, top: 50, w: 100, h: 50, c: YELLOW },
  ]));
  await fs.writeFile(path.join(dir, 'alpha.png'), await sharp(solid(100, 100, GREEN)).ensureAlpha().png().toBuffer());
  const square = await sharp(solid(50, 50, RED)).ensureAlpha().png().toBuffer();
  await fs.writeFile(path.join(dir, 'clear.png'), await sharp({
    create: { width: 100, height: 100, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
  }).composite([{ input: square, left: 25, top: 25 }]).png().toBuffer());
  for (const f of ['rocket.jpg', 'logo-alpha.png', 'animated.gif']) {
    await fs.copyFile(path.join(repoRoot, 'images', f), path.join(dir, f));
  }
  return dir;
}

export async function removeStorage(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

export interface Decoded {
  format: string;
  width: number;
  /** Height of one frame. */
  height: number;
  pages: number;
  hasAlpha: boolean;
}

/** What the encoded bytes really are (not what the headers say). */
export async function decode(buf: Buffer): Promise<Decoded> {
  const m = await sharp(buf, { animated: true, limitInputPixels: false }).metadata();
  const pages = m.pages ?? 1;
  return {
    format: m.format === 'heif' && m.compression === 'av1' ? 'avif' : String(m.format),
    width: m.width ?? 0,
    height: pages > 1 ? (m.pageHeight ?? m.height ?? 0) : (m.height ?? 0),
    pages,
    hasAlpha: !!m.hasAlpha,
  };
}

export interface Pixels {
  width: number;
  height: number;
  /** [r, g, b, a] at (x, y) of the first frame. */
  at(x: number, y: number): [number, number, number, number];
}

export async function pixels(buf: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(buf, { limitInputPixels: false }).toColourspace('srgb').ensureAlpha().raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    at(x, y) {
      const i = (Math.round(y) * info.width + Math.round(x)) * 4;
      return [data[i], data[i + 1], data[i + 2], data[i + 3]];
    },
  };
}

/** Largest channel difference between an RGB(A) pixel and a colour. */
export function colourDistance(px: readonly number[], c: Rgb): number {
  return Math.max(Math.abs(px[0] - c[0]), Math.abs(px[1] - c[1]), Math.abs(px[2] - c[2]));
}
