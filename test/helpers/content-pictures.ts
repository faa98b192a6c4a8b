/**
 * Pictures whose content class is known, for the classifier and f_auto tests and bench/f-auto.ts:
 * a drawing (flat fills, anti-aliased edges and text) and a photo with real transparency.
 */
import sharp from 'sharp';

export const DRAWING_SVG = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400">
  <rect width="600" height="400" fill="#f4f4f4"/>
  <rect x="30" y="30" width="200" height="120" fill="#d62828" rx="12"/>
  <circle cx="420" cy="120" r="80" fill="#003049"/>
  <text x="40" y="300" font-family="sans-serif" font-size="48" fill="#222">Quarterly report</text>
  <line x1="0" y1="350" x2="600" y2="380" stroke="#f77f00" stroke-width="5"/>
</svg>`);

/** `photo` (451×300, e.g. images/cat.png) cut out by a soft-edged ellipse, as a PNG: fully
 *  transparent corners, a graded rim, an opaque middle. */
export function transparentCutout(photo: string): Promise<Buffer> {
  const mask = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="451" height="300"><defs><radialGradient id="g"><stop offset="0.8" stop-color="#fff"/><stop offset="1" stop-color="#fff" stop-opacity="0"/></radialGradient></defs><ellipse cx="225" cy="150" rx="200" ry="140" fill="url(#g)"/></svg>');
  return sharp(photo).ensureAlpha().composite([{ input: mask, blend: 'dest-in' }]).png().toBuffer();
}
