/**
 * buildServer(config): the fastify app with every route, never listening (tests use inject).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type onResponseHookHandler } from 'fastify';
import type { Metrics } from './metrics.ts';
import type { Config } from './config.ts';
import { Errors } from './errors.ts';
import { createDelivery, type Delivery, type DeliveryOptions } from './delivery.ts';
import { imageRoutes, IMAGE_ROUTE } from './routes/image.ts';
import { healthRoutes } from './routes/health.ts';
import { demoRoutes } from './routes/demo.ts';
import { galleryRoutes } from './routes/gallery.ts';
import { apiRoutes } from './routes/api.ts';
import { createStore } from './storage/index.ts';
import { createApi } from './upload/service.ts';
import { COMMON_HEADERS, sendError } from './pipeline/respond.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    delivery: Delivery;
  }
}

export interface ServerOptions extends DeliveryOptions {
  /** Where the log lines go (default stdout), e.g. for a test that reads what a failure logged. */
  logStream?: { write(line: string): void };
}

export async function buildServer(config: Config, options: ServerOptions = {}): Promise<FastifyInstance> {
  const { logStream, ...opts } = options;
  let metrics: Metrics | undefined;
  const app: FastifyInstance = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel, ...(logStream ? { stream: logStream } : {}) },
    // Public ids and fetch URLs can be long.
    routerOptions: { maxParamLength: 8192 },
    return503OnClosing: true,
    // Errors fastify raises before routing (malformed percent-encoding, bad headers) get the
    // same shape as ours: X-Cld-Error, no-store, CORS.
    frameworkErrors: (error, request, reply) => {
      const bad = new Errors.BAD_URL(error.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 487));
      sendError(request as unknown as FastifyRequest, reply as unknown as FastifyReply, bad, metrics, 'unmatched');
    },
  });
  const delivery = createDelivery(config, opts);
  metrics = delivery.metrics;
  app.decorate('config', config);
  app.decorate('delivery', delivery);
  const draining = { value: false };

  // Per-request work common to every route (CORS and timing headers, Connection: close while
  // draining, HTTP metrics) is attached once per route at registration (onRoute) rather than as
  // onRequest/onResponse hooks on the instance: those cost every request a hook-runner pass and
  // fastify's routeOptions getter, about 5 µs of a ~30 µs cache hit.
  //
  // fastify's close() ends the connections idle at that moment; a keep-alive connection that
  // carries a request during the drain would then stay open for keepAliveTimeout. Replies that
  // start during the drain say Connection: close; connections whose in-flight reply ends during
  // it are closed as soon as they are idle (see preClose), so the drain ends with the last request.
  app.addHook('onRoute', (route) => {
    const handler = route.handler as (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;
    route.handler = function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      reply.headers(COMMON_HEADERS);
      if (draining.value) reply.header('connection', 'close');
      return handler.call(this, request, reply);
    };
    // The image route counts its own responses when it sends them (pipeline/respond.ts); the
    // error handler counts its errors.
    if (route.url === IMAGE_ROUTE) return;
    const label = route.url;
    const record: onResponseHookHandler = (_request, reply, done) => {
      delivery.metrics.recordHttp(label, reply.statusCode, reply.elapsedTime);
      done();
    };
    const before = route.onResponse;
    route.onResponse = before === undefined ? record : [...(Array.isArray(before) ? before : [before]), record];
  });

  // Ready = accepting work; false while draining so a balancer stops sending traffic.
  app.get('/ready', async (_req, reply) => {
    reply.header('Cache-Control', 'no-store');
    if (draining.value) return reply.code(503).send({ ready: false });
    return { ready: true };
  });

  // The one error writer (pipeline/respond.ts) for what routes throw and for unmatched paths.
  // Image errors are counted here (the route counts its successes); other routes' responses
  // are counted by their onResponse hook.
  app.setErrorHandler((error, request, reply) =>
    sendError(request, reply, error, delivery.metrics, request.routeOptions.url === IMAGE_ROUTE ? 'image' : undefined));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new Errors.NOT_FOUND(request.url.split('?')[0]), delivery.metrics, 'unmatched'));

  healthRoutes(app);
  demoRoutes(app);
  galleryRoutes(app);
  app.get('/metrics', async (_req, reply) => {
    reply.header('Cache-Control', 'no-store');
    reply.type(delivery.metrics.registry.contentType);
    return delivery.metrics.registry.metrics();
  });
  imageRoutes(app, delivery);
  const store = createStore(config);
  apiRoutes(app, createApi({
    config, store, delivery,
    async deliver(path) {
      const r = await app.inject({ url: path });
      const error = r.headers['x-cld-error'];
      return { status: r.statusCode, body: r.rawPayload, ...(error ? { error: String(error) } : {}) };
    },
    // Result keys hold the source's identity, so forgetting the source is enough (here and, through
    // Redis, on the other instances); local folders are also watched by their origin.
    invalidate: (publicId) => delivery.invalidations.announce({ type: 'upload', publicId }),
    log: (msg, err) => app.log.warn({ err }, msg),
  }));
  let idleSweep: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    draining.value = true;
    // No refinement starts during the drain (the running one is awaited in onClose).
    void delivery.refiner.close();
    idleSweep = setInterval(() => app.server.closeIdleConnections(), 50);
    idleSweep.unref();
    done();
  });
  app.addHook('onClose', async () => {
    await delivery.svg.close();
    clearInterval(idleSweep);
    await delivery.refiner.close();
    await delivery.origins.close();
    await delivery.tier.close();
    await store.close();
  });
  return app;
}
