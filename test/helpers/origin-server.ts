/**
 * A real loopback HTTP origin for tests: routes by path, counts TCP connections and requests,
 * keeps the request headers, and closes every socket on close() so stalled handlers never
 * hold a test open.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface OriginServer {
  readonly port: number;
  /** `http://127.0.0.1:<port><path>` */
  url(path: string): string;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Requests seen for `path` (all paths when omitted). */
  hits(path?: string): number;
  /** Request headers seen for `path`, in order. */
  headers(path: string): IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** `routes` by exact path; a `'*'` route answers the paths no other route names (404 without one). */
export async function startOriginServer(routes: Record<string, Handler>): Promise<OriginServer> {
  let connections = 0;
  const seen = new Map<string, IncomingHttpHeaders[]>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const list = seen.get(path) ?? [];
    list.push(req.headers);
    seen.set(path, list);
    const route = Object.hasOwn(routes, path) ? routes[path] : routes['*'];
    if (route) route(req, res);
    else { res.statusCode = 404; res.end('no route'); }
  });
  server.on('connection', () => { connections++; });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    connections: () => connections,
    hits: (path) => (path === undefined
      ? [...seen.values()].reduce((n, l) => n + l.length, 0)
      : seen.get(path)?.length ?? 0),
    headers: (path) => seen.get(path) ?? [],
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Run `fn` when the response is torn down, so timers of stalled handlers never outlive a test. */
export function onGone(res: ServerResponse, fn: () => void): void {
  res.on('close', fn);
}

/**
 * A route that holds every request until the test releases it: `handler` for startOriginServer,
 * `waiting` the requests held now, `release()` answers them (and every later one at once) with
 * `respond`. Requests whose client went away are dropped from the count.
 */
export function heldRoute(respond: Handler): { handler: Handler; readonly waiting: number; release(): void } {
  let open = false;
  const held = new Set<{ req: IncomingMessage; res: ServerResponse }>();
  return {
    handler: (req, res) => {
      if (open) { respond(req, res); return; }
      const entry = { req, res };
      held.add(entry);
      onGone(res, () => held.delete(entry));
    },
    get waiting() { return held.size; },
    release() {
      open = true;
      for (const { req, res } of held) respond(req, res);
      held.clear();
    },
  };
}
