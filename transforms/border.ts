/** `bo_<N>px_solid_<colour>` — a solid border N px wide around the image (Cloudinary `border`). */
import { defineTransform } from './types.ts';
import { colourCanonical, parseColour, type Rgba } from './args.ts';
import { Errors } from '../src/errors.ts';
import { translate } from '../src/render/affine.ts';

declare module './types.ts' {
  interface PlanValues { border: { width: number; colour: Rgba } }
}

export const border = defineTransform({
  key: 'bo', planKey: 'border', name: 'border', phase: 'output',
  computes: 'words',
  parse(raw) {
    const m = /^(\d+)px_solid_(.+)$/.exec(raw);
    if (!m) throw new Errors.INVALID_PARAM('border', raw);
    const width = Number(m[1]);
    if (width < 1 || width > 1000) throw new Errors.INVALID_PARAM('border', raw);
    return { width, colour: parseColour('border', m[2]) };
  },
  canonical: (v) => `${v.width}px_solid_${colourCanonical(v.colour)}`,
  bounds: (v, d) => ({ ...d, width: d.width + 2 * v.width, height: d.height + 2 * v.width }),
  async apply(canvas, v) {
    const n = v.width;
    await canvas.ensureDims();
    await canvas.op('extend', 'extend', (img) => img.extend({ top: n, bottom: n, left: n, right: n, background: v.colour }));
    if (v.colour.alpha < 1) canvas.markAlpha();
    canvas.mapThrough(translate(-n, -n), canvas.width + 2 * n, canvas.height + 2 * n);
  },
});
