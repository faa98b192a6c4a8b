/**
 * Sources as the pipeline hands them to libvips: loaded through the delivery's origins, and an
 * SVG only once sanitized in the worker (security/svg.ts), memoized per source identity. Also
 * the image layers (`l_`/`u_`) a plan draws, loaded the same way.
 */
import type { Delivery } from '../delivery.ts';
import type { DeliveryUrl } from '../url/parse-url.ts';
import type { Source, SourceRef } from '../origin/types.ts';
import type { Plan } from '../plan/parse.ts';
import { TRANSFORMS } from '../../transforms/index.ts';
import type { AssetMetadata, Component, ImageRef } from '../../transforms/types.ts';
import { maybeSvg } from '../security/svg.ts';
import { byteMemo } from '../cache/memo.ts';
import { hasCode } from '../errors.ts';

/** An image layer's stored upload. */
export type LayerRef = ImageRef;

/** The transforms that draw stored images besides the source (TransformDef.images). */
const DRAWING = TRANSFORMS.filter((t) => t.images);
/** The transforms that name an image to deliver when the source does not exist (TransformDef.fallback). */
const FALLBACKS = TRANSFORMS.filter((t) => t.fallback);

/** A delivery's source, or the stored image a fallback hook (`d_`) named because the source does not exist. */
export interface Delivered {
  readonly src: Source;
  /** Which asset `src` is (the URL's, or the fallback's), for its metadata (Sources.asset). */
  readonly ref: SourceRef;
  /** The fallback image delivered instead (`<id>[.<ext>]`, for `X-Cld-Default`); undefined: the source itself. */
  readonly fallback?: string;
}

export interface Sources {
  /** The source of a delivery URL, sanitized if it may be an SVG. */
  load(url: DeliveryUrl): Promise<Source>;
  /**
   * The source of a delivery URL or, when the origin answers NOT_FOUND, the stored upload the
   * plan's last `fallback` value names (`d_`); a missing fallback keeps the source's 404.
   */
  loadOrFallback(url: DeliveryUrl, plan: Plan): Promise<Delivered>;
  /** Tags and context stored with the asset `ref` names (Origin.asset), for conditions; undefined without. */
  asset(ref: SourceRef): Promise<AssetMetadata | undefined>;
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

  function fallbackOf(plan: Plan): ImageRef | undefined {
    let ref: ImageRef | undefined;
    for (const c of plan.components) {
      for (const t of FALLBACKS) {
        const v = (c as Record<string, unknown>)[t.planKey];
        if (v !== undefined) ref = t.fallback!(v as never);
      }
    }
    return ref;
  }

  const load = async (url: DeliveryUrl): Promise<Source> => sanitized(await origins.load(url));

  return {
    load,
    async loadOrFallback(url, plan) {
      try {
        return { src: await load(url), ref: url };
      } catch (err) {
        const ref = FALLBACKS.length && hasCode(err, 'NOT_FOUND') ? fallbackOf(plan) : undefined;
        if (!ref) throw err;
        const upload: SourceRef = { type: 'upload', publicId: ref.publicId, ...(ref.ext ? { ext: ref.ext } : {}) };
        const src = await loadLayer(ref.publicId, ref.ext).catch((e: unknown) => { throw hasCode(e, 'NOT_FOUND') ? err : e; });
        // Keyed by the default's bytes and by the URL it stands in for: the answer also depends
        // on the requested id (an attachment's name), so two missing ids never share a result.
        const identity = `${src.identity}|default-for:${url.type}:${url.publicId}`;
        return { src: { ...src, identity }, ref: upload, fallback: ref.publicId + (ref.ext ? `.${ref.ext}` : '') };
      }
    },
    peek(url) {
      const src = origins.peek(url);
      if (!src || !maybeSvg(src.buffer)) return src;
      return svgMemo.get(src.identity);
    },
    asset: (ref) => origins.asset(ref),
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
