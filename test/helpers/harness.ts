/**
 * The one test harness: a real server (buildServer, listening on 127.0.0.1 port 0 or used through
 * inject; config from overrides and/or an APERTURE_* env, closed with the test; `get` through
 * fetch, `getRaw` byte for byte), a render latch that holds renders in flight until the test
 * releases them, an injectable clock the test advances instead of sleeping, `waitFor` for events,
 * and the shared corpus path. Tests build no server by hand; loopback origins come from
 * ./origin-server.ts.
 *
 * Nothing here decides pass or fail by time: `waitFor` polls until its predicate holds, however
 * long that takes on a loaded machine; tap's per-file timeout (.taprc) is the only backstop.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { buildServer, type ServerOptions as BuildOptions } from '../../src/server.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { RenderStage } from '../../src/delivery.ts';
import { sharedDir, hasShared } from './core-fixtures.ts';

export { sharedDir, hasShared };
/** ../shared/corpus (the shared image corpus), beside the repository. */
export const corpusDir = path.join(sharedDir, 'corpus');

/**
 * Resolves once `predicate` holds (it may be async), checking again every few ms. It has no
 * deadline of its own: a condition that never holds is a failure tap's timeout reports, naming `what`.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what = 'a condition'): Promise<void> {
  while (!(await predicate())) {
    if (process.env.DEBUG_WAITFOR) console.error(`waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Holds renders (DeliveryOptions.renderLatch) until the test releases them. */
export interface RenderGate {
  /** The hook to pass as DeliveryOptions.renderLatch. */
  readonly hook: (stage: RenderStage) => Promise<void>;
  /** Renders waiting at the gate now. */
  readonly held: number;
  /** Renders of this stage waiting at the gate now. */
  heldAt(stage: RenderStage): number;
  /** Renders that went through the gate so far. */
  readonly passed: number;
  /** Resolves once at least `n` renders are held. */
  waitHeld(n?: number, stage?: RenderStage): Promise<void>;
  /** Let up to `n` held renders go (all when omitted); the gate stays shut for later ones. */
  release(n?: number): void;
  /** Let everything held go, and everything that comes later. */
  open(): void;
  /** Hold renders that come from now on. */
  shut(): void;
}

/** A render gate; `holding` lists the stages it holds (both by default), the others pass freely. */
export function renderGate(opts: { open?: boolean; holding?: RenderStage[] } = {}): RenderGate {
  const holding = new Set<RenderStage>(opts.holding ?? ['render', 'refine']);
  let isOpen = opts.open ?? false;
  let passed = 0;
  const queue: Array<{ stage: RenderStage; go: () => void }> = [];
  const gate: RenderGate = {
    hook: (stage) => {
      if (isOpen || !holding.has(stage)) { passed++; return Promise.resolve(); }
      return new Promise<void>((go) => { queue.push({ stage, go: () => { passed++; go(); } }); });
    },
    get held() { return queue.length; },
    heldAt: (stage) => queue.filter((q) => q.stage === stage).length,
    get passed() { return passed; },
    waitHeld: (n = 1, stage) => waitFor(() => (stage ? gate.heldAt(stage) : queue.length) >= n, `${n} render(s) held`),
    release(n = Infinity) {
      for (const q of queue.splice(0, Math.min(n, queue.length))) q.go();
    },
    open() { isOpen = true; gate.release(); },
    shut() { isOpen = false; },
  };
  return gate;
}

/** A clock the test moves by hand (DeliveryOptions.now). */
export interface ManualClock {
  now: () => number;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let at = start;
  return { now: () => at, advance: (ms) => { at += ms; } };
}

export interface TestServer {
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` when listening, '' otherwise. */
  base: string;
  port: number;
  /** The config the server runs with. */
  config: Config;
  /** A GET through real HTTP (listen: true) with the given headers; redirects are not followed. */
  get(urlPath: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: Buffer }>;
  /** A GET with the request target sent byte for byte (node:http; fetch percent-encodes `"` and more). */
  getRaw(urlPath: string, headers?: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>;
  close(): Promise<void>;
}

export interface ServerOptions extends BuildOptions {
  /** Config overrides, validated like the environment (testConfig's defaults otherwise). */
  config?: Partial<Config>;
  /** APERTURE_* environment the config is loaded from (log level silent unless given). */
  env?: Record<string, string>;
  /** Listen on 127.0.0.1 port 0 (default true); false for app.inject only. */
  listen?: boolean;
  /** A render gate, wired in as renderLatch. */
  gate?: RenderGate;
  /** A manual clock, wired in as now. */
  clock?: ManualClock;
}

/** An answer read byte for byte. */
export interface RawReply { status: number; headers: IncomingHttpHeaders; body: Buffer }

/**
 * GET `urlPath` from 127.0.0.1:`port` with the request target sent byte for byte (node:http).
 * `agent: false` gives the request a connection of its own, so concurrent calls are concurrent
 * on the wire too; by default Node's global agent.
 */
export function rawGet(port: number, urlPath: string, headers: Record<string, string> = {}, agent?: false): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: urlPath, headers, ...(agent === false ? { agent } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Build (and by default start) a server; closed at the end of `t` when given. */
export async function startServer(t: Test | undefined, opts: ServerOptions = {}): Promise<TestServer> {
  const { config: overrides, env, listen = true, gate, clock, ...delivery } = opts;
  const config = loadConfig({ APERTURE_LOG_LEVEL: 'silent', ...env }, overrides ?? {});
  const app = await buildServer(config, {
    defaultMetrics: false,
    ...delivery,
    ...(gate ? { renderLatch: gate.hook } : {}),
    ...(clock ? { now: clock.now } : {}),
  });
  let port = 0;
  if (listen) {
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  }
  const base = listen ? `http://127.0.0.1:${port}` : '';
  let closed = false;
  const s: TestServer = {
    app,
    base,
    port,
    config,
    async get(urlPath, headers = {}) {
      if (!listen) throw new Error('startServer({ listen: false }): use app.inject');
      const res = await fetch(base + urlPath, { headers, redirect: 'manual' });
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    },
    getRaw(urlPath, headers = {}) {
      if (!listen) throw new Error('startServer({ listen: false }): use app.inject');
      return rawGet(port, urlPath, headers);
    },
    async close() {
      if (closed) return;
      closed = true;
      // Let held renders finish so close() does not wait on them forever.
      gate?.open();
      await app.close();
    },
  };
  t?.teardown(() => s.close());
  return s;
}

/** A loopback listener that counts the connections made to it (and closes each at once). */
export interface ConnectionCounter {
  readonly port: number;
  /**
   * Connections made before this call, marker excluded. Connects a marker and waits until the
   * listener has accepted it: connections are accepted in arrival order, so any connection a
   * finished render had started is counted by then. No sleep standing in for "long enough".
   */
  settled(): Promise<number>;
  close(): Promise<void>;
}

/** Listen on `preferredPort` of 127.0.0.1 if it is free, else on any port (see `port`). */
export async function connectionCounter(preferredPort = 0): Promise<ConnectionCounter> {
  const seen: number[] = [];
  const markers = new Set<number>();
  const listener = net.createServer((s) => { seen.push(s.remotePort ?? -1); s.destroy(); });
  try {
    await new Promise<void>((resolve, reject) => { listener.once('error', reject); listener.listen(preferredPort, '127.0.0.1', () => resolve()); });
  } catch {
    listener.removeAllListeners('error');
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  }
  const { port } = listener.address() as AddressInfo;
  return {
    port,
    async settled() {
      const marker = net.connect(port, '127.0.0.1');
      marker.on('error', () => {});
      await new Promise((r) => marker.once('connect', r));
      const mine = marker.localPort!;
      markers.add(mine);
      await waitFor(() => seen.includes(mine), 'the marker connection');
      marker.destroy();
      return seen.slice(0, seen.indexOf(mine)).filter((p) => !markers.has(p)).length;
    },
    close: () => new Promise<void>((r) => listener.close(() => r())),
  };
}

/** Decoded pixels of an answer (raw, the channels it has). */
export interface RawImage { data: Buffer; width: number; height: number; channels: number }

/** `app.inject` GET of `url`, which must answer 200 (else it throws naming the X-Cld-Error), decoded to raw pixels. */
export async function injectRaw(app: FastifyInstance, url: string): Promise<RawImage> {
  const res = await app.inject({ url });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${String(res.headers['x-cld-error'])}`);
  const { data, info } = await sharp(res.rawPayload).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
