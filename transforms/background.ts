/**
 * `b_<colour>` — background (Cloudinary `background`): named colour, `rgb:RRGGBB[AA]`,
 * `#RRGGBB`, `transparent`. Used for pad modes, rotation corners and, on its own, to flatten
 * transparency onto that colour. `b_auto…` (derived from the image) is not supported yet.
 */
import { defineTransform } from './types.ts';
import { colourCanonical, parseColour, type Rgba } from './args.ts';
import { Errors } from '../src/errors.ts';

declare module './types.ts' {
  interface PlanValues { background: Rgba }
}

const PAD_MODES = new Set(['pad', 'lpad', 'mpad', 'fill_pad']);

export const background = defineTransform({
  key: 'b', planKey: 'background', name: 'background', phase: 'input',
  parse(raw) {
    if (raw.startsWith('auto')) throw new Errors.UNSUPPORTED(`b_${raw}`, 'automatic background colour is not supported yet');
    if (raw.startsWith('gen_fill')) throw new Errors.UNSUPPORTED(`b_${raw}`, 'generative fill is not supported');
    return parseColour('background', raw);
  },
  canonical: colourCanonical,
  async apply(canvas, value, component) {
    // Geometry, rotation and the encoder read canvas.background; flattening happens here only
    // when b_ is used outside padding (Cloudinary: b_ fills transparent areas).
    canvas.background = value;
    if (!PAD_MODES.has(component.crop ?? '') && value.alpha === 1 && canvas.hasAlpha) {
      await canvas.op('flatten', 'flatten', (img) => img.flatten({ background: value }));
      canvas.channels = canvas.channels === 4 ? 3 : 1;
    }
  },
});
