/**
 * Per-pixel helpers shared by the colour families (not a family: no effects here). The
 * effects that sharp has no operation for work on raw 8-bit pixels through
 * Canvas.editPixels; these helpers keep that code short.
 */
import type { Canvas } from '../../src/render/canvas.ts';
import { Errors } from '../../src/errors.ts';
import { intArg } from './types.ts';

/** Rec. 601 luma of 8-bit r, g, b (0-255). */
export const luma = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b;

export const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Make sure the canvas is sRGB (a grey image gains colour channels; alpha is kept). */
export async function toRgb(c: Canvas): Promise<void> {
  if (c.channels >= 3) return;
  // a queued grayscale() would win over the conversion: settle it first
  await c.materialize();
  if (c.channels >= 3) return;
  await c.op('colourspace', 'colour', (img) => img.toColourspace('srgb'));
  // sharp converts the colour space after its other colour operations: the next ones must
  // see three bands
  await c.materialize();
}

/**
 * Map every pixel's r, g, b through `fn` (alpha untouched), blended with the original by
 * `k` (1 = the mapped colour only). `prepare` sees the pixels first (statistics).
 */
export async function mapRgb(
  c: Canvas,
  fn: (r: number, g: number, b: number, out: number[], x: number, y: number) => void,
  k = 1,
  prepare?: (data: Buffer, ch: number) => void,
): Promise<void> {
  await toRgb(c);
  await c.editPixels((data, info) => {
    prepare?.(data, info.channels);
    const ch = info.channels, w = info.width;
    const out = [0, 0, 0];
    for (let i = 0, p = 0; i < data.length; i += ch, p++) {
      const r = data[i], g = data[i + 1], b = data[i + 2];
      fn(r, g, b, out, p % w, Math.floor(p / w));
      data[i] = clamp8(r + (out[0] - r) * k);
      data[i + 1] = clamp8(g + (out[1] - g) * k);
      data[i + 2] = clamp8(b + (out[2] - b) * k);
    }
  });
}

/** Per-channel means of r, g, b and of luma. */
export function means(data: Buffer, ch: number): { r: number; g: number; b: number; l: number } {
  let r = 0, g = 0, b = 0;
  const n = Math.max(1, data.length / ch);
  for (let i = 0; i < data.length; i += ch) { r += data[i]; g += data[i + 1]; b += data[i + 2]; }
  r /= n; g /= n; b /= n;
  return { r, g, b, l: luma(r, g, b) };
}

/** Luma below which `lo` and above which `hi` of the pixels lie (fractions 0-1). */
export function lumaPercentiles(data: Buffer, ch: number, lo: number, hi: number): [number, number] {
  const hist = new Uint32Array(256);
  for (let i = 0; i < data.length; i += ch) hist[Math.round(luma(data[i], data[i + 1], data[i + 2]))]++;
  const n = data.length / ch;
  let acc = 0, a = 0, b = 255;
  for (let v = 0; v < 256; v++) { acc += hist[v]; if (acc >= n * lo) { a = v; break; } }
  acc = 0;
  for (let v = 255; v >= 0; v--) { acc += hist[v]; if (acc >= n * (1 - hi)) { b = v; break; } }
  return b > a ? [a, b] : [0, 255];
}

/** sRGB 8-bit value → linear light. */
const LINEAR = Float64Array.from({ length: 256 }, (_, i) => { const v = i / 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });

/** sRGB 8-bit → CIE Lab (D65). */
export function toLab(r: number, g: number, b: number): [number, number, number] {
  const R = LINEAR[r], G = LINEAR[g], B = LINEAR[b];
  const X = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047;
  const Y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  const Z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const fx = f(X), fy = f(Y), fz = f(Z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** CIE Lab (D65) → sRGB 8-bit, written into `out`. */
export function fromLab(L: number, a: number, bb: number, out: number[]): void {
  const fy = (L + 16) / 116, fx = fy + a / 500, fz = fy - bb / 200;
  const inv = (t: number) => (t ** 3 > 0.008856 ? t ** 3 : (t - 16 / 116) / 7.787);
  const X = inv(fx) * 0.95047, Y = inv(fy), Z = inv(fz) * 1.08883;
  const R = 3.2406 * X - 1.5372 * Y - 0.4986 * Z;
  const G = -0.9689 * X + 1.8758 * Y + 0.0415 * Z;
  const B = 0.0557 * X - 0.204 * Y + 1.057 * Z;
  const gam = (v: number) => 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
  out[0] = gam(R); out[1] = gam(G); out[2] = gam(B);
}

/** Parser of up to `n` optional integers, each in its range with its default. */
export const ints = (...specs: [lo: number, hi: number, def: number][]) => (args: string[], raw: string): number[] => {
  if (args.length > specs.length) throw new Errors.INVALID_PARAM('effect', raw);
  return specs.map(([lo, hi, def], i) => (args[i] !== undefined && args[i] !== '' ? intArg(args[i], raw, lo, hi) : def));
};
