/**
 * The real server on a loopback port (buildServer + listen on 127.0.0.1, port 0), for tests
 * that go through real HTTP rather than inject().
 */
import type { AddressInfo } from 'node:net';
import { buildServer } from '../../src/server.ts';
import type { Config } from '../../src/config.ts';
import type { DeliveryOptions } from '../../src/delivery.ts';

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

export interface Listening {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** GET `path` (starting with `/`), body read in full. */
  get(path: string): Promise<Reply>;
  close(): Promise<void>;
}

export async function listen(config: Config, opts: DeliveryOptions = {}): Promise<Listening> {
  const app = await buildServer(config, { defaultMetrics: false, ...opts });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    origin,
    async get(path) {
      const r = await fetch(origin + path);
      return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
    },
    close: () => app.close(),
  };
}
