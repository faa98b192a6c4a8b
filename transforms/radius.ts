/**
 * `r_<px>` | `r_<tl>:<tr>[:<br>[:<bl>]]` | `r_max` — rounded corners (Cloudinary `radius`).
 * Corners outside the radius become transparent (or the `b_` colour when the output format
 * has no alpha). `max` makes a circle/ellipse.
 */
import { defineTransform } from './types.ts';
import { parseIntIn } from './args.ts';
import { Errors } from '../src/errors.ts';

export type Radius = { kind: 'max' } | { kind: 'corners'; tl: number; tr: number; br: number; bl: number };

declare module './types.ts' {
  interface PlanValues { radius: Radius }
}

export const radius = defineTransform({
  key: 'r', planKey: 'radius', name: 'radius', phase: 'overlay',
  computes: 'parts',
  parse(raw): Radius {
    if (raw === 'max') return { kind: 'max' };
    const p = raw.split(':');
    if (p.length > 4) throw new Errors.INVALID_PARAM('radius', raw);
    const n = p.map((s) => parseIntIn('radius', s, 0, 10000));
    // CSS-like shorthand: a, a:b (tl=br, tr=bl), a:b:c (tl, tr=bl, br), a:b:c:d
    const [tl, tr = tl, br = tl, bl = tr] = n.length === 3 ? [n[0], n[1], n[2], n[1]] : n.length === 2 ? [n[0], n[1], n[0], n[1]] : n;
    return { kind: 'corners', tl, tr, br, bl };
  },
  canonical: (r) => (r.kind === 'max' ? 'max' : `${r.tl}:${r.tr}:${r.br}:${r.bl}`),
  async apply(canvas, r) {
    await canvas.ensureDims();
    const { width: w, height: h, pages } = canvas;
    let shape: string;
    if (r.kind === 'max') {
      shape = `<ellipse cx="${w / 2}" cy="${h / 2}" rx="${w / 2}" ry="${h / 2}"/>`;
    } else {
      const lim = Math.min(w, h) / 2;
      const [tl, tr, br, bl] = [r.tl, r.tr, r.br, r.bl].map((v) => Math.min(v, lim));
      if (tl + tr + br + bl === 0) return;
      shape = `<path d="M${tl},0 H${w - tr} A${tr},${tr} 0 0 1 ${w},${tr} V${h - br} A${br},${br} 0 0 1 ${w - br},${h} H${bl} A${bl},${bl} 0 0 1 0,${h - bl} V${tl} A${tl},${tl} 0 0 1 ${tl},0 Z"/>`;
    }
    const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${shape}</svg>`);
    await canvas.op('composite', 'composite', (img) => img.ensureAlpha().composite([{ input: svg, blend: 'dest-in', tile: pages > 1, gravity: 'northwest' }]));
    canvas.markAlpha();
  },
});
