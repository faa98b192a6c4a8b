/**
 * The delivery route: `GET|HEAD /[<cloud>/]image/<type>/...` (and `/iu/...`), a thin adapter
 * from fastify to the delivery pipeline (src/pipeline/): resolve (URL, plan, source, automatic
 * values), key, lookup (L1, then the shared tier, then produce: render and encode), respond.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Delivery } from '../delivery.ts';
import { createSources } from '../pipeline/source.ts';
import { createResolver, type Parsed } from '../pipeline/resolve.ts';
import { resultKey, simpleKey } from '../pipeline/key.ts';
import { createProducer } from '../pipeline/produce.ts';
import { createLookup } from '../pipeline/lookup.ts';
import { createResponder } from '../pipeline/respond.ts';

/** The route pattern of image delivery (every GET/HEAD path the other routes do not claim). */
export const IMAGE_ROUTE = '/*';

export function imageRoutes(app: FastifyInstance, delivery: Delivery): void {
  const sources = createSources(delivery);
  const resolver = createResolver(delivery, sources);
  const lookup = createLookup(delivery, sources, createProducer(delivery, sources));
  const respond = createResponder(delivery.config, delivery.metrics);

  /**
   * A cache hit for a plan that needs nothing from the request (no automatic values, no layers)
   * is answered synchronously when the origin can vouch for its source without I/O (a validated
   * local file); everything else takes the asynchronous path.
   */
  function handler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> | undefined {
    const t0 = performance.now();
    const rawUrl = request.raw.url ?? '/';
    const q = rawUrl.indexOf('?');
    const parsed = resolver.parse(q === -1 ? rawUrl : rawUrl.slice(0, q));
    if (parsed.simple && !parsed.formatCheck) {
      const src = sources.peek(parsed.url);
      const result = src && lookup.l1(simpleKey(parsed, src));
      if (result) {
        respond.result(request, reply, parsed.url, result, 'l1', undefined, 0, t0);
        return undefined;
      }
    }
    return general(request, reply, parsed, t0);
  }

  async function general(request: FastifyRequest, reply: FastifyReply, parsed: Parsed, t0: number): Promise<FastifyReply> {
    const job = await resolver.resolve(parsed, request.headers);
    if (job.json !== undefined) return respond.json(reply, job.json, job.vary ?? new Set());
    const layers = sources.layers(job.plan).length ? await job.deadline.race(sources.layerIdentities(job.plan), 'loading the layers') : '';
    // A fallback image (`d_`) delivered in place of a missing source: same result, named here.
    if (job.fallback !== undefined) reply.header('x-cld-default', job.fallback);
    const { result, cache } = await lookup.get(resultKey(job.src, parsed, job.plan, job.variant, layers), job);
    return respond.result(request, reply, parsed.url, result, cache, cache === 'miss' ? result.timing : undefined, job.loadMs, t0);
  }

  app.get(IMAGE_ROUTE, handler);
}
