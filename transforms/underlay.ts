/**
 * `u_<layer>` — underlay (Cloudinary `underlay`): the same layers as `l_` (transforms/layer.ts,
 * same grammar, grouping and placement), drawn under the base, which then shows the layer only
 * where the base is transparent. A layer reaching outside the base grows the canvas as for `l_`.
 */
import { defineTransform } from './types.ts';
import { bareLayer, layerCanonical, layerCompute, layerImages, layerReads, parseLayerSource, type LayerSpec } from './layer.ts';
import { applyLayer, layerBounds } from '../src/render/layers.ts';

declare module './types.ts' {
  interface PlanValues { underlay: LayerSpec }
}

export const underlay = defineTransform({
  key: 'u', planKey: 'underlay', name: 'underlay', phase: 'overlay',
  parse: (raw) => bareLayer(true, parseLayerSource('underlay', raw)),
  canonical: layerCanonical,
  compute: layerCompute,
  apply: (canvas, value, _component, ctx) => applyLayer(canvas, value, ctx),
  bounds: (value, dims, _component, bc) => layerBounds(value, dims, bc),
  images: layerImages,
  reads: layerReads,
});
