/**
 * Sources as the pipeline hands them to libvips: loaded through the delivery's origins, and an
 * SVG only once sanitized in the worker (security/svg.ts), memoized per source identity. Also
 * the image layers (`l_`/`u_`) a plan draws, loaded the same way.
 */
import type { Delivery } from '../delivery.ts';
import type { DeliveryUrl } from '../url/parse-url.ts';
import type { Source } from '../origin/types.ts';
import type { Plan } from '../plan/parse.ts';
import { TRANSFORMS } from '../../transforms/index.ts';
import type { Component, ImageRef } from '../../transforms/types.ts';
import { maybeSvg } from '../security/svg.ts';
import { byteMemo } from '../cache/memo.ts';

/** An image layer's stored upload. */
export type LayerRef = ImageRef;

/** The transforms that draw stored images besides the source (TransformDef.images). */
const DRAWING = TRANSFORMS.filter((t) => t.images);

export interface Sources {
  /** The source of a delivery URL, sanitized if it may be an SVG. */
  load(url: DeliveryUrl): Promise<Source>;
  /** The source, if the origin can vouch for it without I/O (see Origins.peek) and no sanitizing is pending. */
  peek(url: DeliveryUrl): Source | undefined;
  /** An `l_`/`u_` image layer: a stored upload, through the same origins and sanitizer as the base. */
  /** `l_`/`u_` image layers: stored uploads, or for `l_fetch:` a remote URL through the fetch route's SSRF-guarded origin. */
  loadLayer(publicId: string, ext?: string, type?: 'upload' | 'fetch'): Promise<Source>;
  /** The image layers a plan draws, nested ones included (memoized per plan), through TransformDef.images. */
  layers(plan: Plan): readonly LayerRef[];
  /** Identities of the layer images, so that a changed layer file is never served stale. */
  layerIdentities(plan: Plan): Promise<string>;
}

export function createSources(delivery: Delivery): Sources {
  const { origins, svg } = delivery;
  /** Sanitized SVG sources per source identity, bounded by bytes, and the sanitizations in flight (shared). */
  const svgMemo = byteMemo<Source>(delivery.config.svgMemoBytes, (s) => 256 + s.buffer.length);
  const svgPending = new Map<string, Promise<Source>>();

  function sanitized(src: Source): Source | Promise<Source> {
    if (!maybeSvg(src.buffer)) return src;
    const hit = svgMemo.get(src.identity);
    if (hit) return hit;
    let p = svgPending.get(src.identity);
    if (!p) {
      p = svg.sanitize(src.buffer)
        .then((buffer) => {
          const clean = { ...src, buffer };
          svgMemo.set(src.identity, clean);
          return clean;
        })
        .finally(() => svgPending.delete(src.identity));
      svgPending.set(src.identity, p);
    }
    return p;
  }

  const loadLayer = async (publicId: string, ext?: string, type: 'upload' | 'fetch' = 'upload'): Promise<Source> =>
    sanitized(await origins.load({ type, publicId, ...(ext ? { ext } : {}) }));

  const layerMemo = new WeakMap<Plan, readonly LayerRef[]>();
  function layers(plan: Plan): readonly LayerRef[] {
    let list = layerMemo.get(plan);
    if (!list) {
      const found: LayerRef[] = [];
      const walk = (components: readonly Component[]) => {
        for (const c of components) {
          for (const t of DRAWING) {
            const v = (c as Record<string, unknown>)[t.planKey];
            if (v === undefined) continue;
            const { refs, nested } = t.images!(v as never);
            found.push(...refs);
            walk(nested);
          }
        }
      };
      walk(plan.components);
      list = found;
      layerMemo.set(plan, list);
    }
    return list;
  }

  return {
    load: async (url) => sanitized(await origins.load(url)),
    peek(url) {
      const src = origins.peek(url);
      if (!src || !maybeSvg(src.buffer)) return src;
      return svgMemo.get(src.identity);
    },
    loadLayer,
    layers,
    async layerIdentities(plan) {
      const list = layers(plan);
      if (!list.length) return '';
      const ids = await Promise.all(list.map((l) => loadLayer(l.publicId, l.ext).then((s) => s.identity, () => `missing:${l.publicId}`)));
      return ids.join('|');
    },
  };
}
