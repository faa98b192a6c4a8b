/**
 * From the request to what it asks for: the URL and plan parsed (memoized, frozen, shared by
 * every request for the URL; a refused URL's 4xx is memoized too), access checked, the source
 * loaded, and automatic values resolved from the request's headers (negotiate/resolve.ts). The
 * request's processing budget starts here.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Delivery } from '../delivery.ts';
import { parseDeliveryUrl, type DeliveryUrl } from '../url/parse-url.ts';
import { parsePlan, type Plan } from '../plan/parse.ts';
import { Errors } from '../errors.ts';
import type { Source } from '../origin/types.ts';
import { readSourceMeta } from '../render/source-meta.ts';
import type { RequestHints } from '../render/context.ts';
import { Deadline } from '../render/deadline.ts';
import { isDynamic, resolvePlan } from '../negotiate/resolve.ts';
import { parseHints } from '../negotiate/client-hints.ts';
import { deepFreeze, memoizedParse, parseMemo } from '../cache/memo.ts';
import type { Sources } from './source.ts';
import { admitted } from './produce.ts';

/** A URL's parse, memoized (cache/memo.ts): its url and plan are frozen, shared by every request for it. */
export interface Parsed {
  readonly url: DeliveryUrl;
  readonly plan: Plan;
  /** No automatic values and no image layers: the result depends on the URL and the source only. */
  readonly simple: boolean;
  /** Access also depends on the source's format (Access.needsFormatCheck). */
  readonly formatCheck: boolean;
  /** For simple plans: the result key last built, and the source identity it was built for (key.ts). */
  lastKey?: { identity: string; key: string };
}

/** One request, resolved: what to deliver and what it depends on. */
export interface Job {
  readonly parsed: Parsed;
  readonly src: Source;
  /** The plan with automatic values made concrete, and their canonical text (for the key). */
  readonly plan: Plan;
  readonly variant: string;
  /** The processing budget of the whole request (APERTURE_TIMEOUT_MS): sampling, layers, components, encode. */
  readonly deadline: Deadline;
  readonly headers: IncomingHttpHeaders;
  /** Client hints, and the request headers that changed the result: read for dynamic plans only. */
  readonly hints?: RequestHints;
  readonly vary?: Set<string>;
  /** The stored image delivered because the source does not exist (`d_`), for `X-Cld-Default`. */
  readonly fallback?: string;
  /** Time spent loading the source, ms. */
  readonly loadMs: number;
  /** A resolver's document to answer instead of the image (breakpoints JSON). */
  readonly json?: unknown;
}

export interface Resolver {
  /** The parse of a URL path (no query), or its 4xx thrown. */
  parse(path: string): Parsed;
  /** Load the source and resolve the plan for this request. */
  resolve(parsed: Parsed, headers: IncomingHttpHeaders): Promise<Job>;
}

export function createResolver(delivery: Delivery, sources: Sources): Resolver {
  const { config, access } = delivery;
  /** Parsed URLs, and the 4xx of refused ones: a repeated URL is parsed once. */
  const parsedMemo = parseMemo<Parsed>(config.urlMemoBytes);

  function parseFresh(path: string): Parsed {
    const url = parseDeliveryUrl(path);
    if (!url) throw new Errors.NOT_FOUND(path);
    // A URL that needs a signature it lacks is refused before its transformation is read. The
    // outcome depends on the path and the config only, so a memoized path has passed it.
    access.check(url);
    const plan = parsePlan(url.components, config.namedTransformations, config.maxComponents, config.planMemoBytes);
    return {
      url: deepFreeze(url),
      plan,
      formatCheck: access.needsFormatCheck(url, plan),
      simple: !isDynamic(plan) && sources.layers(plan).length === 0,
    };
  }

  return {
    parse: (path) => memoizedParse(parsedMemo, path, parseFresh),
    async resolve(parsed, headers) {
      const { url, plan } = parsed;
      const deadline = new Deadline(config.processTimeoutMs);
      const tl = performance.now();
      const { src, ref, fallback } = await sources.loadOrFallback(url, plan);
      const loadMs = performance.now() - tl;
      const fb = fallback !== undefined ? { fallback } : {};
      if (parsed.formatCheck) access.checkFormat(url, await readSourceMeta(src, config));
      // Hints and Vary matter to dynamic plans and to renders; a plain cache hit skips them.
      if (!isDynamic(plan)) return { parsed, src, plan, variant: '', deadline, headers, loadMs, ...fb };
      const hints = parseHints(headers);
      const vary = new Set<string>();
      const meta = await readSourceMeta(src, config);
      const admit = <T>(work: (d: Deadline) => Promise<T>) => admitted(delivery, deadline, 'breakpoint sampling', () => work(deadline));
      // Tags and context (`if_!sale!_in_tags`) are read only when an expression reads them; the
      // resolved plan, which the result key holds, then shows what they decided.
      const asset = () => sources.asset(ref);
      // `$name_current` names the asset delivered: the URL's, or the default image standing in for it.
      const current = { type: ref.type, publicId: ref.publicId, ...(ref.ext ? { ext: ref.ext } : {}) };
      const r = await resolvePlan(plan, { hints, vary, config, source: src, meta, plan, extFormat: url.extFormat, admit, asset, current });
      return { parsed, src, plan: r.plan, variant: r.variant, deadline, headers, hints, vary, loadMs, ...fb, ...(r.json !== undefined ? { json: r.json } : {}) };
    },
  };
}
