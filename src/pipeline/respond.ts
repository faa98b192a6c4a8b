/**
 * The one response writer of delivery (url-api.md §5): a result or its 304, a resolver's JSON
 * document, and every error any route or fastify itself answers. Synchronous.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CachedResult } from '../cache/result-cache.ts';
import type { Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { DeliveryUrl } from '../url/parse-url.ts';
import { ACCEPT_CH } from '../negotiate/client-hints.ts';
import { attachmentDisposition, ifNoneMatchHits } from '../routes/http-headers.ts';
import { errorAnswer } from '../errors.ts';

/** Headers every answer carries, errors included. */
export const COMMON_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'X-Cld-Error, X-Cld-Default, Server-Timing, Content-Length, ETag',
  'timing-allow-origin': '*',
  'x-content-type-options': 'nosniff',
} as const;

const IMMUTABLE = 'public, max-age=2592000, immutable';
const CACHEABLE = 'public, max-age=2592000';

/** Where a result came from: the process cache, the shared tier, or made for this request. */
export type CacheState = 'l1' | 'l2' | 'miss';

/** Headers a cached result always answers with, computed once per result. */
interface ResultHeaders {
  vary?: string;
  width?: string;
  dpr?: string;
  /** Server-Timing entries after the timings (`, width;desc=800, dpr;desc=2`). */
  timingTail: string;
  disposition?: string;
  /** Cache-Control of a provisional result (one a background refinement will replace). */
  cacheControl?: string;
  /** The plan asked for immutable caching (fl_immutable_cache, through its respond hook). */
  immutable: boolean;
}

function timingHeader(t: Record<string, number>, cache: string): string {
  const parts = Object.entries(t).map(([k, v]) => `${k};dur=${v.toFixed(1)}`);
  parts.push(`cache;desc="${cache}"`);
  return parts.join(', ');
}

export interface Responder {
  /**
   * A result (or 304): `timing` holds the phases of a result made for this request, `loadMs`
   * the source load, `t0` when the request began.
   */
  result(request: FastifyRequest, reply: FastifyReply, url: DeliveryUrl, result: CachedResult, cache: CacheState,
    timing: Record<string, number> | undefined, loadMs: number, t0: number): FastifyReply;
  /** A JSON document a resolver answered instead of the image, with the request headers it read. */
  json(reply: FastifyReply, doc: unknown, vary: ReadonlySet<string>): FastifyReply;
}

export function createResponder(config: Config, metrics: Metrics): Responder {
  const headerMemo = new WeakMap<CachedResult, ResultHeaders>();
  function headersOf(r: CachedResult): ResultHeaders {
    let h = headerMemo.get(r);
    if (!h) {
      const { width, dpr = 1, attachment, provisional } = r.meta;
      h = {
        ...(r.vary.length ? { vary: r.vary.join(', ') } : {}),
        ...(width !== undefined ? { width: String(width), dpr: String(dpr) } : {}),
        timingTail: (width !== undefined ? `, width;desc=${width}, dpr;desc=${dpr}` : '') + (provisional ? ', refine;desc="pending"' : ''),
        // A result answered with a fast encoder setting and queued for refinement
        // (src/cache/refiner.ts): edges and browsers keep it briefly, then get the refined bytes.
        ...(provisional ? { cacheControl: `public, max-age=${config.provisionalMaxAgeSeconds}` } : {}),
        ...(attachment ? { disposition: attachmentDisposition(String(attachment)) } : {}),
        immutable: Boolean(r.meta.immutable),
      };
      headerMemo.set(r, h);
    }
    return h;
  }

  return {
    result(request, reply, url, result, cache, timing, loadMs, t0) {
      const h = headersOf(result);
      reply.header('accept-ch', ACCEPT_CH);
      reply.header('cache-control', h.cacheControl ?? (h.immutable || url.version !== undefined ? IMMUTABLE : CACHEABLE));
      reply.header('etag', result.etag);
      if (h.vary) reply.header('vary', h.vary);
      // Delivered width and DPR, also as Server-Timing entries: those are CORS-exposed and
      // readable from PerformanceResourceTiming for an <img> (Timing-Allow-Origin: *).
      if (h.width !== undefined) reply.header('x-aperture-width', h.width).header('x-aperture-dpr', h.dpr);
      const total = performance.now() - t0;
      const st = timing
        ? timingHeader({ load: loadMs, ...timing, total }, cache)
        : `load;dur=${loadMs.toFixed(1)}, total;dur=${total.toFixed(1)}, cache;desc="${cache}"`;
      reply.header('server-timing', st + h.timingTail);
      if (h.disposition) reply.header('content-disposition', h.disposition);
      if (ifNoneMatchHits(request.headers['if-none-match'], result.etag, config.maxIfNoneMatchBytes)) {
        reply.code(304).send();
      } else {
        reply.header('content-type', result.contentType);
        reply.send(result.body);
      }
      metrics.recordHttp('image', reply.statusCode, reply.elapsedTime);
      return reply;
    },
    json(reply, doc, vary) {
      reply.header('Cache-Control', CACHEABLE);
      reply.header('Accept-CH', ACCEPT_CH);
      if (vary.size) reply.header('Vary', [...vary].join(', '));
      reply.type('application/json').send(doc);
      metrics.recordHttp('image', reply.statusCode, reply.elapsedTime);
      return reply;
    },
  };
}

/**
 * The one error writer: routing misses, fastify's refusals and every failure a route throws.
 * The reason goes in `X-Cld-Error` (Cloudinary's header; printable ASCII, at most 500
 * characters) and the JSON body; errors are never cached. A 500 is logged with the request (its
 * id, method and URL) and its cause; 4xx and the operational 5xx (502, 503, 504) are not.
 * `label` names the metrics route when the caller does not count responses by another way.
 */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown, metrics?: Metrics, label?: string): FastifyReply {
  const { status, message, logged } = errorAnswer(error);
  if (logged) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    request.log.error({ err: cause, method: request.method, url: request.url }, 'request failed');
  }
  reply.code(status).headers(COMMON_HEADERS);
  reply.header('cache-control', 'no-store');
  reply.header('x-cld-error', message.replace(/[^\x20-\x7e]/g, '?').slice(0, 500));
  reply.removeHeader('etag');
  reply.removeHeader('content-disposition');
  reply.removeHeader('x-cld-default');
  if (status === 503) reply.header('retry-after', '1');
  const retryAfterS = (error as { retryAfterS?: unknown }).retryAfterS;
  if (status === 423 && typeof retryAfterS === 'number') reply.header('retry-after', String(retryAfterS));
  reply.type('application/json');
  if (label) metrics?.recordHttp(label, status, reply.elapsedTime);
  return reply.send({ error: { message } });
}
