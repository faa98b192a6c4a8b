/**
 * `l_fetch:<base64url>` through the real route and the fetch route's SSRF-guarded origin,
 * against a loopback origin (allow-listed, any port, as test/security/fetch-route.test.ts):
 * the remote image is placed and transformed like a stored layer; a missing one is a 400 naming
 * it; private, link-local and loopback addresses behind a name are refused (403) with zero
 * connections (stubbed DNS); a host outside the allow-list is refused before DNS.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import type { Config } from '../../src/config.ts';
import type { Resolver } from '../../src/security/ssrf.ts';
import { startServer } from '../helpers/harness.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-layer-fetch-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
await fs.writeFile(path.join(storage, 'white.png'), await sharp({ create: { width: 100, height: 80, channels: 3, background: '#fff' } }).png().toBuffer());
const red = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#f00' } }).png().toBuffer();

const send = (res: ServerResponse, body: Buffer) => {
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(body.length), 'cache-control': 'max-age=60' });
  res.end(body);
};
const origin = await startOriginServer({
  '/red.png': (_req, res) => send(res, red),
  '/missing.png': (_req, res) => { res.writeHead(404); res.end(); },
});
t.teardown(() => origin.close());

const b64 = (url: string) => Buffer.from(url).toString('base64url');
const O = `http://127.0.0.1:${origin.port}`;

async function server(overrides: Partial<Config> = {}, resolver?: Resolver) {
  const config: Partial<Config> = { storageDir: storage, fetchAllow: ['127.0.0.1'], fetchPorts: '*', ...overrides };
  return (await startServer(t, { listen: false, config, http: { negativeTtlMs: 0, ...(resolver ? { resolver } : {}) } })).app;
}

type Box = { left: number; top: number; right: number; bottom: number };
async function redBox(body: Buffer): Promise<Box | undefined> {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  let left = Infinity, top = Infinity, right = -1, bottom = -1;
  for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) {
    const o = (y * info.width + x) * info.channels;
    if (data[o] > 200 && data[o + 1] < 60 && data[o + 2] < 60) { left = Math.min(left, x); top = Math.min(top, y); right = Math.max(right, x); bottom = Math.max(bottom, y); }
  }
  return right < 0 ? undefined : { left, top, right, bottom };
}

t.test('a remote layer is loaded, transformed and placed', async (t) => {
  const app = await server();
  const hits = origin.hits('/red.png');
  const r = await app.inject(`/image/upload/l_fetch:${b64(`${O}/red.png`)},g_north_west,x_5,y_5/white.png`);
  t.equal(r.statusCode, 200, String(r.headers['x-cld-error'] ?? ''));
  t.same(await redBox(r.rawPayload), { left: 5, top: 5, right: 24, bottom: 24 }, 'placed at 5,5');
  t.ok(origin.hits('/red.png') > hits, 'fetched from the origin');
  // Its own transformations apply; standard base64 with padding is read too.
  const std = Buffer.from(`${O}/red.png`).toString('base64').replace(/\//g, '_').replace(/\+/g, '-');
  const scaled = await app.inject(`/image/upload/l_fetch:${std},w_40/fl_layer_apply,g_south_east/white.png`);
  t.equal(scaled.statusCode, 200, String(scaled.headers['x-cld-error'] ?? ''));
  t.same(await redBox(scaled.rawPayload), { left: 60, top: 40, right: 99, bottom: 79 });
  // Cloudinary allows remote underlays too.
  const under = await app.inject(`/image/upload/u_fetch:${b64(`${O}/red.png`)},w_1.0,h_1.0,c_scale,fl_relative/l_fetch:${b64(`${O}/red.png`)},w_10/white.png`);
  t.equal(under.statusCode, 200, String(under.headers['x-cld-error'] ?? ''));
  t.same(await redBox(under.rawPayload), { left: 45, top: 35, right: 54, bottom: 44 }, 'the opaque white base hides the underlay; the overlay shows');
  // A remote layer the origin does not have: a 400 naming it (the base exists).
  const missing = await app.inject(`/image/upload/l_fetch:${b64(`${O}/missing.png`)}/white.png`);
  t.equal(missing.statusCode, 400);
  t.equal(missing.headers['x-cld-error'], `Invalid overlay in transformation: fetch:${O}/missing.png (Resource not found - ${O}/missing.png)`);
});

t.test('the SSRF guard refuses private addresses before connecting', async (t) => {
  const answers: Record<string, string> = { 'private.test': '10.0.0.1', 'metadata.test': '169.254.169.254', 'loop.test': '127.0.0.1' };
  const asked: string[] = [];
  const resolver: Resolver = async (host) => {
    asked.push(host);
    const a = answers[host];
    return a ? [{ address: a, family: 4 }] : [];
  };
  // Any public host, stubbed DNS: the names resolve to addresses the guard must refuse.
  const open = await server({ fetchAllow: [] }, resolver);
  const conns = origin.connections();
  for (const host of Object.keys(answers)) {
    const r = await open.inject(`/image/upload/l_fetch:${b64(`http://${host}:${origin.port}/red.png`)}/white.png`);
    t.equal(r.statusCode, 403, host);
    t.match(String(r.headers['x-cld-error']), answers[host], `names ${answers[host]}`);
  }
  t.same([...new Set(asked)].sort(), Object.keys(answers).sort(), 'each name went through the stubbed resolver');
  // An IP literal is refused without DNS.
  const lit = await open.inject(`/image/upload/l_fetch:${b64(`http://127.0.0.1:${origin.port}/red.png`)}/white.png`);
  t.equal(lit.statusCode, 403, 'loopback literal');
  t.equal(origin.connections(), conns, 'zero connections reached the origin');
  // With an allow-list a name outside it is refused before DNS.
  asked.length = 0;
  const listed = await server({}, resolver);
  const out = await listed.inject(`/image/upload/l_fetch:${b64(`http://loop.test:${origin.port}/red.png`)}/white.png`);
  t.equal(out.statusCode, 403);
  t.same(asked, [], 'no DNS lookup');
  // The port policy applies too.
  const ports = await server({ fetchPorts: [443] });
  const port = await ports.inject(`/image/upload/l_fetch:${b64(`${O}/red.png`)}/white.png`);
  t.equal(port.statusCode, 403, 'a port outside APERTURE_FETCH_PORTS');
  t.equal(origin.connections(), conns, 'still zero connections');
});

t.test('$name_current of a fetch delivery is its remote URL, drawn as an l_fetch: layer', async (t) => {
  const app = await server();
  const r = await app.inject(`/image/fetch/$img_current/e_grayscale/l_$img,w_0.5/fl_layer_apply,g_north_west/${O}/red.png`);
  t.equal(r.statusCode, 200, String(r.headers['x-cld-error'] ?? ''));
  t.same(await redBox(r.rawPayload), { left: 0, top: 0, right: 9, bottom: 9 }, 'the coloured half-size copy over the greyed base');
  const literal = await app.inject(`/image/fetch/e_grayscale/l_fetch:${b64(`${O}/red.png`)},w_0.5/fl_layer_apply,g_north_west/${O}/red.png`);
  t.equal(r.headers.etag, literal.headers.etag, 'the same result as l_fetch: of the URL');
});
