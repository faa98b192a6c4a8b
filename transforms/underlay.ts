/**
 * `u_<layer>` — underlay (Cloudinary `underlay`): the same layers as `l_` (transforms/layer.ts,
 * same grammar, grouping and placement), drawn under the base, which then shows the layer only
 * where the base is transparent. A layer reaching outside the base grows the canvas as for `l_`.
 */
import { defineTransform } from './types.ts';
import { bareLayer, layerHooks, parseLayerSource, type LayerSpec } from './layer.ts';

declare module './types.ts' {
  interface PlanValues { underlay: LayerSpec }
}

export const underlay = defineTransform({
  key: 'u', planKey: 'underlay', name: 'underlay',
  parse: (raw) => bareLayer(true, parseLayerSource('underlay', raw)),
  ...layerHooks,
});
