/**
 * `co_<colour>` — colour (Cloudinary `color`): named colour, `rgb:RRGGBB[AA]`, `#RRGGBB`.
 * Default black. Read by text layers (`l_text:…,co_red`) as the text colour and by the effects
 * of the same component that take a colour (`e_colorize`, `e_make_transparent`, `e_outline`,
 * `e_shadow`); it has no effect of its own on an image, so it has no `apply`: the reader takes it
 * from the component, and a component where nothing reads it is a 400 (`inert`).
 */
import { defineTransform } from './types.ts';
import { colourCanonical, parseColour, type Rgba } from './args.ts';

declare module './types.ts' {
  interface PlanValues { colour: Rgba }
}

export const colour = defineTransform({
  key: 'co', planKey: 'colour', name: 'color', phase: 'effect',
  computes: 'value',
  parse: (raw) => parseColour('color', raw),
  canonical: colourCanonical,
  // Nothing of its own: a component needs a reader (TransformDef.reads), else it is a 400.
  inert: true,
});
