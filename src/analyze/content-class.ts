/**
 * Photo or graphic? Used by f_auto (a graphic may be smaller and sharper as PNG8 or lossless
 * WebP) and by q_auto (graphics keep full-resolution chroma).
 *
 * Cheap by construction: at most ~40K pixels on a regular lattice, one pass, no allocation per
 * pixel, so it stays on the main thread (~1 ms). What separates the two on our corpus is the
 * colour population, not edges: a photo (even a JPEG-decoded illustration) spreads over tens of
 * thousands of colours with no dominant ones, while drawings, logos, text and screenshots put
 * most pixels on a few hundred colours even when anti-aliasing adds a long tail.
 */
import type { RawImage } from './types.ts';

export interface ContentClass {
  kind: 'photo' | 'graphic';
  /** Distinct colours (RGBA) among the sampled pixels. */
  colors: number;
  /** Some pixel is not fully opaque. */
  hasAlpha: boolean;
}

const SAMPLE_PIXELS = 40_000;
/** At most this many distinct colours in the sample: palette-like whatever the distribution. */
const GRAPHIC_MAX_COLORS = 1024;
/** ...or this few colours cover 90% of the sample (anti-aliased text and flat UI over a tail).
 *  Photos on the corpus need >= 2,500 (a smooth rendered wallpaper) and usually > 10,000. */
const GRAPHIC_DOMINANT_COLORS = 256;

export function classifyContent(img: RawImage): ContentClass {
  const { data, width: w, height: h, channels: ch } = img;
  const alpha = ch === 2 || ch === 4;
  let hasAlpha = false;
  if (alpha) {
    // Scanned in full, not sampled: one transparent corner decides whether PNG/WebP must be kept.
    for (let p = ch - 1; p < data.length; p += ch) {
      if (data[p] !== 255) { hasAlpha = true; break; }
    }
  }
  const step = Math.max(1, Math.floor(Math.sqrt((w * h) / SAMPLE_PIXELS)));
  const counts = new Map<number, number>();
  let n = 0;
  for (let y = step >> 1; y < h; y += step) {
    for (let x = step >> 1; x < w; x += step) {
      const p = (y * w + x) * ch;
      let key = 0;
      for (let c = 0; c < ch; c++) key = key * 256 + data[p + c];
      counts.set(key, (counts.get(key) ?? 0) + 1);
      n++;
    }
  }
  const colors = counts.size;
  let kind: ContentClass['kind'] = 'photo';
  if (n > 0 && colors <= GRAPHIC_MAX_COLORS) kind = 'graphic';
  else if (n > 0) {
    const top = [...counts.values()].sort((a, b) => b - a);
    let covered = 0;
    for (let k = 0; k < GRAPHIC_DOMINANT_COLORS && k < top.length; k++) covered += top[k];
    if (covered >= 0.9 * n) kind = 'graphic';
  }
  return { kind, colors, hasAlpha };
}
