/**
 * The single registry table. `src/` talks to this table, never to an individual transform.
 * Order matters only within a phase (see types.ts). Adding a parameter = one file + one line.
 */
import type { Component, PlanKey, TransformDef, UnsupportedKey } from './types.ts';
import { condition } from './condition.ts';
import { variable } from './variable.ts';
import { width } from './width.ts';
import { height } from './height.ts';
import { crop } from './crop.ts';
import { gravity } from './gravity.ts';
import { x } from './x.ts';
import { y } from './y.ts';
import { aspectRatio } from './aspect-ratio.ts';
import { zoom } from './zoom.ts';
import { dpr } from './dpr.ts';
import { page } from './page.ts';
import { density } from './density.ts';
import { colourSpace } from './colour-space.ts';
import { named } from './named.ts';
import { defaultImage } from './default-image.ts';
import { background } from './background.ts';
import { angle } from './angle.ts';
import { effect } from './effect.ts';
import { radius } from './radius.ts';
import { opacity } from './opacity.ts';
import { border } from './border.ts';
import { quality } from './quality.ts';
import { format } from './format.ts';
import { flags } from './flags.ts';
import { colour } from './colour.ts';
import { layer } from './layer.ts';
import { underlay } from './underlay.ts';
import { UNSUPPORTED_KEYS } from './unsupported.ts';

// Widened to the base type: each entry keeps its own value type inside its file.
// `condition` before `variable`: a false inline condition skips the component's variables too.
export const TRANSFORMS: readonly TransformDef<PlanKey>[] = [
  condition, variable,
  named, defaultImage, page, density, background,
  width, height, crop, gravity, x, y, aspectRatio, zoom, dpr,
  angle,
  effect,
  colour,
  radius, opacity, layer, underlay,
  border, quality, format, flags, colourSpace,
] as unknown as readonly TransformDef<PlanKey>[];

export const BY_KEY: ReadonlyMap<string, TransformDef<PlanKey>> = new Map(
  TRANSFORMS.flatMap((t) => [t.key, ...(t.aliases ?? [])].map((k) => [k, t] as const)),
);

export const UNSUPPORTED_BY_KEY: ReadonlyMap<string, UnsupportedKey> = new Map(UNSUPPORTED_KEYS.map((u) => [u.key, u]));

const CLAIMING = TRANSFORMS.filter((t) => t.claims);

/**
 * The component as the geometry owner sees it: without the keys other transforms of the same
 * component claim (TransformDef.claims). The same object when nothing is claimed.
 */
export function withoutClaimed(c: Component): Component {
  let out = c;
  for (const t of CLAIMING) {
    const v = (c as Record<string, unknown>)[t.planKey];
    if (v === undefined) continue;
    for (const k of t.claims!(v as never)) {
      if (out[k] === undefined) continue;
      if (out === c) out = { ...c };
      delete out[k];
    }
  }
  return out;
}

export function isKnownKey(key: string): boolean {
  return BY_KEY.has(key) || UNSUPPORTED_BY_KEY.has(key);
}

export type { Component, PlanKey, PlanValues, TransformDef, Phase, PlannedOutput } from './types.ts';
export type { LayerSpec, Placement } from './layer.ts';
export { PHASES } from './types.ts';
export { gallerySections, type GalleryEntry, type GallerySection, type GallerySample } from './gallery.ts';
export { effectNames } from './effects/index.ts';
export { LAYER_FLAGS } from './flags.ts';
