/**
 * `g_<gravity>` — where a crop or pad anchors (Cloudinary `gravity`). Compass points
 * (`north_west` … `south_east`, `center`), `xy_center` (x,y is the centre), `auto[:subject|faces]`
 * (content-aware), `face`, `faces`, `face:center`, `faces:auto`, `liquid` (content-aware liquid
 * rescaling, with `c_scale` only: src/render/liquid.ts). Owned by the geometry step.
 *
 * Object gravities (Cloudinary's object-aware cropping, names in src/analyze/coco.ts):
 * - `g_<class>[:<class>…]` crops around every detected object of those classes (or categories);
 *   absent objects leave the gravity at the centre, or, after `:auto[:…]`, at that automatic
 *   gravity (`g_dog:auto:bird`);
 * - `g_auto:<class>[_<weight>|_avoid][:…]` is `g_auto` with those objects weighted (0-100,
 *   default 100) or avoided; absent objects leave plain `g_auto`.
 * The detector may be turned off (APERTURE_OBJECTS=0): the `resolve` hook then answers 400.
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { own } from './args.ts';
import { canonicalObjectName } from '../src/analyze/coco.ts';

export const COMPASS = ['north_west', 'north', 'north_east', 'west', 'center', 'east', 'south_west', 'south', 'south_east'] as const;
export type Compass = (typeof COMPASS)[number];

/** An object a gravity names: a COCO class or category (canonical name), weighted or avoided. */
export interface ObjectFocus {
  readonly name: string;
  /** 0-100 (Cloudinary's `_<weight>`); 100 when not given. */
  readonly weight: number;
  readonly avoid: boolean;
}

export type AutoGravity = { kind: 'auto'; focus: 'default' | 'subject' | 'faces'; objects?: readonly ObjectFocus[] };

export type Gravity =
  | { kind: 'compass'; dir: Compass }
  | { kind: 'xy_center' }
  /** `g_liquid`: `c_scale` changes the aspect ratio by removing low-energy seams (src/render/liquid.ts). */
  | { kind: 'liquid' }
  | AutoGravity
  | { kind: 'face'; multiple: boolean; fallback: 'auto' | 'center' }
  | { kind: 'object'; names: readonly string[]; fallback: AutoGravity | 'center' };

/** True for gravities that need the object detector. */
export function usesObjects(g: Gravity | undefined): boolean {
  return g?.kind === 'object' || (g?.kind === 'auto' && !!g.objects?.length);
}

const AUTO_FOCUS: Record<string, AutoGravity['focus']> = { classic: 'default', subject: 'subject', faces: 'faces', face: 'faces' };

/** `auto[:<focus>|:<object>[_weight|_avoid]]…` after the `auto` token, or undefined when a part is not ours. */
function parseAuto(raw: string, parts: readonly string[]): AutoGravity | undefined {
  let focus: AutoGravity['focus'] = 'default';
  let sawFocus = false;
  const objects: ObjectFocus[] = [];
  for (const part of parts) {
    const f = own(AUTO_FOCUS, part);
    if (f) {
      if (sawFocus || objects.length) return undefined;
      focus = f;
      sawFocus = true;
      continue;
    }
    const m = /^([a-z_]+?)(?:_(avoid|\d{1,3}))?$/.exec(part);
    const name = m ? canonicalObjectName(m[1]) : undefined;
    if (!m || !name) return undefined;
    const weight = m[2] === undefined || m[2] === 'avoid' ? 100 : Number(m[2]);
    if (weight > 100) throw new Errors.INVALID_PARAM('gravity', raw);
    objects.push({ name, weight, avoid: m[2] === 'avoid' });
  }
  return objects.length ? { kind: 'auto', focus, objects } : { kind: 'auto', focus };
}

/** `<class>[:<class>…][:auto[:…]]`, or undefined when the first part names no object. */
function parseObject(raw: string): Gravity | undefined {
  const parts = raw.split(':');
  const names: string[] = [];
  let i = 0;
  for (; i < parts.length && parts[i] !== 'auto'; i++) {
    const name = canonicalObjectName(parts[i]);
    if (!name) return undefined;
    if (!names.includes(name)) names.push(name);
  }
  if (!names.length) return undefined;
  if (i === parts.length) return { kind: 'object', names, fallback: 'center' };
  const auto = parseAuto(raw, parts.slice(i + 1));
  return auto ? { kind: 'object', names, fallback: auto } : undefined;
}

function printAuto(v: AutoGravity): string {
  const parts = ['auto'];
  if (v.focus !== 'default') parts.push(v.focus);
  for (const o of v.objects ?? []) parts.push(o.avoid ? `${o.name}_avoid` : o.weight === 100 ? o.name : `${o.name}_${o.weight}`);
  return parts.join(':');
}

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
    if (raw === 'liquid') return { kind: 'liquid' };
    if (raw === 'auto' || raw === 'auto:classic') return { kind: 'auto', focus: 'default' };
    if (raw === 'auto:subject') return { kind: 'auto', focus: 'subject' };
    if (raw === 'auto:faces' || raw === 'auto:face') return { kind: 'auto', focus: 'faces' };
    if (raw.startsWith('auto:')) {
      const auto = parseAuto(raw, raw.split(':').slice(1));
      if (auto) return auto;
    }
    const object = /^[a-z_]+(:[a-z_0-9]+)*$/.test(raw) ? parseObject(raw) : undefined;
    if (object) return object;
    const fm = /^(faces?)(?::(center|auto))?$/.exec(raw);
    if (fm) return { kind: 'face', multiple: fm[1] === 'faces', fallback: fm[2] === 'center' ? 'center' : 'auto' };
    if (/^[a-z_]+(:[a-z_:0-9]+)?$/.test(raw)) {
      // auto:<object>, body, eyes, custom, ocr_text, objects (g_dog, g_bottle)...: detectors we do not have
      throw new Errors.UNSUPPORTED(`g_${raw}`, 'this gravity (object or feature detection) is not supported');
    }
    throw new Errors.INVALID_PARAM('gravity', raw);
  },
  // The detector can be turned off (APERTURE_OBJECTS=0): object gravities are then refused per
  // request, since parsing does not see the server's settings.
  dynamic: usesObjects,
  resolve(v, rc) {
    if (!rc.config.objects) throw new Errors.UNSUPPORTED(`g_${gravityText(v)}`, 'object detection is turned off on this server (APERTURE_OBJECTS=0)');
    return v;
  },
  canonical(v) {
    return gravityText(v);
  },
});

function gravityText(v: Gravity): string {
  {
    switch (v.kind) {
      case 'compass': return v.dir;
      case 'xy_center': return 'xy_center';
      case 'liquid': return 'liquid';
      case 'auto': return printAuto(v);
      case 'face': return `${v.multiple ? 'faces' : 'face'}${v.fallback === 'center' ? ':center' : ''}`;
      case 'object': return [...v.names, ...(v.fallback === 'center' ? [] : [printAuto(v.fallback)])].join(':');
    }
  }
}
