/**
 * Photo or graphic? Used by f_auto (a graphic may be smaller and sharper as PNG8 or lossless
 * WebP) and by q_auto (graphics keep full-resolution chroma).
 *
 * Cheap by construction: at most ~40K pixels on a regular lattice, one pass, no allocation per
 * pixel, so it stays on the main thread (~1 ms). Two tests, both needed:
 * - the colour population: a colour photo (even a JPEG-decoded illustration) spreads over tens of
 *   thousands of colours with no dominant ones, while drawings, logos, text and screenshots put
 *   most pixels on a few hundred colours even when anti-aliasing adds a long tail;
 * - flat areas: in a drawing most pixels equal their right-hand neighbour exactly (flat fills);
 *   in continuous tone (camera noise, gradients, interpolated upscales) few do. A grey picture
 *   has at most 256 colours whatever it shows, so for a photographed page or a black-and-white
 *   photo only this test tells. Measured with bench/f-auto.ts at 400 and 800 px: corpus photos
 *   0.003-0.44 (flow-5k, a smooth wallpaper, the highest), the photographed page 0.24, the
 *   photographed handwriting 0.10-0.14, the scikit-image logo (flat shapes over a duotone
 *   photo) 0.46-0.55; drawings and screenshots 0.74-0.98.
 */
import type { RawImage } from './types.ts';

export interface ContentClass {
  kind: 'photo' | 'graphic';
  /** Distinct colours (RGBA) among the sampled pixels. */
  colors: number;
  /** Some pixel is not fully opaque. */
  hasAlpha: boolean;
  /** Share of sampled pixels exactly equal to their right-hand neighbour (1 when none has one). */
  flatShare: number;
}

const SAMPLE_PIXELS = 40_000;
/** At most this many distinct colours in the sample: palette-like whatever the distribution. */
const GRAPHIC_MAX_COLORS = 1024;
/** ...or this few colours cover 90% of the sample (anti-aliased text and flat UI over a tail).
 *  Photos on the corpus need >= 2,500 (a smooth rendered wallpaper) and usually > 10,000. */
const GRAPHIC_DOMINANT_COLORS = 256;
/** ...and at least this share of pixels equal to their neighbour (flat fills). Between the
 *  photos' 0.44 and the drawings' 0.74; the scikit-image logo (0.46-0.55) falls on the photo
 *  side, where JPEG is 5x smaller than PNG at 500 px. */
const GRAPHIC_MIN_FLAT_SHARE = 0.6;

/** Hash table for the colour count: 2^18 slots. The lattice step is floor(sqrt(pixels / 40K)), so
 *  a sample holds under 160K pixels (step 1 below 160K pixels, else about 40-90K): the table is
 *  never more than 61 % full. */
const TABLE_BITS = 18;
const TABLE_SIZE = 1 << TABLE_BITS;
const TABLE_KEYS = new Uint32Array(TABLE_SIZE);
const TABLE_COUNTS = new Uint32Array(TABLE_SIZE);

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
  // Colours counted in an open-addressing table of 32-bit keys (a Map of 40K entries cost ~10 ms
  // on the request's path; this is ~1 ms). Keys: grey, grey+alpha, RGB or RGBA packed in 32 bits.
  const keys = TABLE_KEYS, counts = TABLE_COUNTS;
  counts.fill(0);
  let n = 0, colors = 0, pairs = 0, flat = 0;
  for (let y = step >> 1; y < h; y += step) {
    for (let x = step >> 1; x < w; x += step) {
      const p = (y * w + x) * ch;
      let key = 0;
      for (let c = 0; c < ch; c++) key = ((key << 8) | data[p + c]) >>> 0;
      if (x + 1 < w) {
        pairs++;
        let c = 0;
        while (c < ch && data[p + c] === data[p + ch + c]) c++;
        if (c === ch) flat++;
      }
      let slot = Math.imul(key ^ (key >>> 15), 0x2c1b3c6d) >>> (32 - TABLE_BITS);
      for (;;) {
        if (counts[slot] === 0) { keys[slot] = key; counts[slot] = 1; colors++; break; }
        if (keys[slot] === key) { counts[slot]++; break; }
        slot = (slot + 1) & (TABLE_SIZE - 1);
      }
      n++;
    }
  }
  const flatShare = pairs > 0 ? flat / pairs : 1;
  // Continuous tone is a photo whatever the colour count says (grey pictures have at most 256).
  const flatFills = n > 0 && flatShare >= GRAPHIC_MIN_FLAT_SHARE;
  let kind: ContentClass['kind'] = 'photo';
  if (flatFills && colors <= GRAPHIC_MAX_COLORS) kind = 'graphic';
  else if (flatFills && colors - GRAPHIC_DOMINANT_COLORS < 0.1 * n) {
    // Only then can 256 colours cover 90 % of the sample (the rest, at most 10 %, must hold all
    // the other colours): rank the counts.
    const top = counts.filter((c) => c > 0).sort().reverse();
    let covered = 0;
    for (let k = 0; k < GRAPHIC_DOMINANT_COLORS && k < top.length; k++) covered += top[k];
    if (covered >= 0.9 * n) kind = 'graphic';
  }
  return { kind, colors, hasAlpha, flatShare };
}
