/**
 * `g_<gravity>` — where a crop or pad anchors (Cloudinary `gravity`). Compass points
 * (`north_west` … `south_east`, `center`), `xy_center` (x,y is the centre), `auto[:subject|faces]`
 * (content-aware), `face`, `faces`, `face:center`, `faces:auto`. Owned by the geometry step.
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { own } from './args.ts';

export const COMPASS = ['north_west', 'north', 'north_east', 'west', 'center', 'east', 'south_west', 'south', 'south_east'] as const;
export type Compass = (typeof COMPASS)[number];

export type Gravity =
  | { kind: 'compass'; dir: Compass }
  | { kind: 'xy_center' }
  | { kind: 'auto'; focus: 'default' | 'subject' | 'faces' }
  | { kind: 'face'; multiple: boolean; fallback: 'auto' | 'center' };

declare module './types.ts' {
  interface PlanValues { gravity: Gravity }
}

const ALIASES: Record<string, Compass> = { centre: 'center', northwest: 'north_west', northeast: 'north_east', southwest: 'south_west', southeast: 'south_east' };

export const gravity = defineTransform({
  key: 'g',
  planKey: 'gravity',
  name: 'gravity',
  phase: 'geometry',
  parse(raw): Gravity {
    if ((COMPASS as readonly string[]).includes(raw)) return { kind: 'compass', dir: raw as Compass };
    const alias = own(ALIASES, raw);
    if (alias) return { kind: 'compass', dir: alias };
    if (raw === 'xy_center') return { kind: 'xy_center' };
    if (raw === 'auto' || raw === 'auto:classic') return { kind: 'auto', focus: 'default' };
    if (raw === 'auto:subject') return { kind: 'auto', focus: 'subject' };
    if (raw === 'auto:faces' || raw === 'auto:face') return { kind: 'auto', focus: 'faces' };
    const fm = /^(faces?)(?::(center|auto))?$/.exec(raw);
    if (fm) return { kind: 'face', multiple: fm[1] === 'faces', fallback: fm[2] === 'center' ? 'center' : 'auto' };
    if (/^[a-z_]+(:[a-z_:0-9]+)?$/.test(raw)) {
      // auto:<object>, body, eyes, custom, ocr_text, objects (g_dog, g_bottle)...: detectors we do not have
      throw new Errors.UNSUPPORTED(`g_${raw}`, 'this gravity (object or feature detection) is not supported');
    }
    throw new Errors.INVALID_PARAM('gravity', raw);
  },
  canonical(v) {
    switch (v.kind) {
      case 'compass': return v.dir;
      case 'xy_center': return 'xy_center';
      case 'auto': return v.focus === 'default' ? 'auto' : `auto:${v.focus}`;
      case 'face': return `${v.multiple ? 'faces' : 'face'}${v.fallback === 'center' ? ':center' : ''}`;
    }
  },
});
