/**
 * What the effect families that work on raw pixels share: the canvas as one still frame of
 * 8-bit pixels, the region named by x, y, w, h of the effect's component, the colour of its
 * `co_`, and a deterministic random stream (equal URLs give equal bytes, cache or not).
 */
import sharp, { type Sharp } from 'sharp';
import { Errors } from '../../src/errors.ts';
import type { Canvas } from '../../src/render/canvas.ts';
import { translate, type Affine } from '../../src/render/affine.ts';
import { resolveDim, resolveOffset, type Rgba } from '../args.ts';
import type { Component } from '../types.ts';

export interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * The canvas's pixels as one still frame, for an effect that cannot work per frame (e_vectorize
 * makes one SVG): an animation is refused. `rgb`: at least 3 colour channels; `alpha`: with an
 * alpha channel.
 */
export async function stillPixels(c: Canvas, effect: string, want: Want = {}): Promise<Raw> {
  if (c.pages > 1) throw new Errors.UNSUPPORTED(`e_${effect}`, 'this effect is not supported on animated images (pick a frame with pg_)');
  return pixelsOf(c, want);
}

export interface Want { rgb?: boolean; alpha?: boolean }

/** The canvas's pixels, every frame stacked top to bottom, converted as `want` asks. */
async function pixelsOf(c: Canvas, want: Want): Promise<Raw> {
  const m = await c.materialize();
  let raw: Raw = { data: m.data, width: m.width, height: m.height, channels: m.channels as Raw['channels'] };
  const needRgb = want.rgb && raw.channels < 3, needAlpha = want.alpha && raw.channels !== 2 && raw.channels !== 4;
  if (needRgb || needAlpha) {
    let img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels }, limitInputPixels: false });
    if (needRgb) img = img.toColourspace('srgb');
    if (needAlpha || (needRgb && raw.channels === 2)) img = img.ensureAlpha();
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    raw = { data, width: info.width, height: info.height, channels: info.channels as Raw['channels'] };
  }
  return raw;
}

/** A redrawn frame, and how the new canvas maps onto the old one (the same for every frame). */
export interface Redrawn { raw: Raw; step: Affine }

/** The step of an effect that keeps every pixel where it was. */
export const IN_PLACE: Affine = translate(0, 0);

/**
 * Redraw the canvas frame by frame (a still has one): `draw` gets each frame's pixels (it may
 * change them in place) and returns the new frame, the same size for every frame.
 */
export async function redraw(c: Canvas, want: Want, draw: (frame: Raw, index: number) => Promise<Redrawn>): Promise<void> {
  const pages = c.pages;
  const all = await pixelsOf(c, want);
  if (pages === 1) {
    const r = await draw(all, 0);
    c.replace(r.raw, r.step);
    return;
  }
  const height = all.height / pages, bytes = all.width * height * all.channels;
  const out: Redrawn[] = [];
  for (let i = 0; i < pages; i++) {
    out.push(await draw({ ...all, height, data: all.data.subarray(i * bytes, (i + 1) * bytes) }, i));
  }
  const first = out[0].raw;
  if (out.some((r) => r.raw.width !== first.width || r.raw.height !== first.height || r.raw.channels !== first.channels)) {
    throw new Error('an effect drew frames of different sizes');
  }
  c.replace({ data: Buffer.concat(out.map((r) => r.raw.data)), width: first.width, height: first.height * pages, channels: first.channels }, out[0].step, pages);
}

/** Runs a sharp pipeline on raw pixels and returns raw pixels. */
export async function viaSharp(raw: Raw, fn: (img: Sharp) => Sharp): Promise<Raw> {
  const { data, info } = await fn(sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels }, limitInputPixels: false }))
    .raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as Raw['channels'] };
}

export interface Box { left: number; top: number; width: number; height: number }

/**
 * The region x, y, w, h of the effect's component names on a `W×H` canvas (Cloudinary's
 * e_blur_region, e_pixelate_region): x, y its top-left corner (default 0), w, h its size
 * (default: to the right and bottom edges; fractions of the canvas), clipped to the canvas.
 * Without any of them the region is the whole image (`e_blur_region:1500,y_0.75`: the bottom
 * quarter). Undefined when nothing of it is on the canvas.
 */
export function regionOf(component: Component, W: number, H: number): Box | undefined {
  const x = resolveOffset(component.x, W), y = resolveOffset(component.y, H);
  const w = component.width ? resolveDim(component.width, W) : W - x;
  const h = component.height ? resolveDim(component.height, H) : H - y;
  const left = Math.max(0, x), top = Math.max(0, y);
  const right = Math.min(W, x + w), bottom = Math.min(H, y + h);
  if (right <= left || bottom <= top) return undefined;
  return { left, top, width: right - left, height: bottom - top };
}

/** The `co_` of the effect's component, or `fallback`. */
export function colourOf(component: Component, fallback: Rgba): Rgba {
  return component.colour ?? fallback;
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same stream. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Grey level (0-255) of pixel `p` (byte offset) of raw pixels with `ch` channels. */
export function luma(data: Buffer, p: number, ch: number): number {
  return ch < 3 ? data[p] : 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
}
