/**
 * The real server on a loopback port, for tests that go through real HTTP: buildServer +
 * listen on 127.0.0.1 port 0, closed at the end of the test. `get` sends one request with
 * undici and returns the status, headers and whole body.
 */
import http from 'node:http';
import type { Test } from 'tap';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server.ts';
import type { Config } from '../../src/config.ts';
import type { DeliveryOptions } from '../../src/delivery.ts';

export interface LiveResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface LiveServer {
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  get(path: string, headers?: Record<string, string>): Promise<LiveResponse>;
  /** GET with the request target sent byte for byte (node:http; undici percent-encodes `"`). */
  getRaw(path: string): Promise<LiveResponse>;
}

export async function startLive(t: Test, config: Config, opts: DeliveryOptions = {}): Promise<LiveServer> {
  const app = await buildServer(config, { defaultMetrics: false, ...opts });
  t.teardown(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const origin = `http://127.0.0.1:${port}`;
  return {
    app,
    origin,
    async get(path, headers = {}) {
      const r = await request(origin + path, { method: 'GET', headers });
      const body = Buffer.from(await r.body.arrayBuffer());
      return { status: r.statusCode, headers: r.headers, body };
    },
    getRaw(path) {
      return new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        }).on('error', reject);
      });
    },
  };
}
