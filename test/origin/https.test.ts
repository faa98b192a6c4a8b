/**
 * Issue 11 part 5: fetching from an HTTPS origin, through real HTTP and real TLS. The origin
 * is node:https on 127.0.0.1 with a self-signed certificate made at test time by `openssl`
 * (SAN img.internal.test); the service trusts it only through APERTURE_FETCH_CA. Names resolve
 * through the DNS stub, and the SSRF guard still judges every one of them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import type { Resolver } from '../../src/security/ssrf.ts';
import { startServer, type TestServer } from '../helpers/harness.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-tls-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
const certFile = path.join(dir, 'origin.crt');
const keyFile = path.join(dir, 'origin.key');
let haveOpenssl = true;
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=img.internal.test',
    '-addext', 'subjectAltName=DNS:img.internal.test'], { stdio: 'ignore' });
} catch {
  haveOpenssl = false;
}

if (!haveOpenssl) {
  t.comment('NOTICE: openssl is not installed; the HTTPS origin test is skipped');
  t.test('HTTPS origin', { skip: 'openssl is not installed' }, async () => {});
} else {
  const jpeg = await sharp({ create: { width: 64, height: 32, channels: 3, background: '#c60' } }).jpeg().toBuffer();
  let connections = 0;
  const origin = https.createServer({ key: await fs.readFile(keyFile), cert: await fs.readFile(certFile) }, (req, res) => {
    if (req.url === '/a.jpg') { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(jpeg); } else { res.writeHead(404); res.end(); }
  });
  origin.on('secureConnection', () => { connections++; });
  origin.on('connection', () => { connections++; });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { origin.closeAllConnections(); origin.close(() => resolve()); }));
  const port = (origin.address() as AddressInfo).port;

  const asked: string[] = [];
  const resolver: Resolver = async (host) => {
    asked.push(host);
    return ['img.internal.test', 'other.internal.test', 'evil.test'].includes(host) ? [{ address: '127.0.0.1', family: 4 }] : [];
  };

  const server = (env: Record<string, string>): Promise<TestServer> => startServer(t, {
    env: { APERTURE_FETCH_ALLOW: '*.internal.test', APERTURE_FETCH_PORTS: String(port), ...env },
    http: { resolver, negativeTtlMs: 0 },
  });

  t.test('a trusted self-signed origin is fetched over TLS', async (t) => {
    const s = await server({ APERTURE_FETCH_CA: certFile });
    const r = await s.get(`/image/fetch/w_20/https://img.internal.test:${port}/a.jpg`);
    t.equal(r.status, 200, `served (${String(r.headers.get('x-cld-error'))})`);
    t.equal(r.headers.get('content-type'), 'image/jpeg');
    t.equal((await sharp(r.body).metadata()).width, 20);
    t.ok(asked.includes('img.internal.test'), 'the name went through the guarded lookup');
  });

  t.test('without APERTURE_FETCH_CA the certificate is not trusted', async (t) => {
    const s = await server({});
    const r = await s.get(`/image/fetch/w_20/https://img.internal.test:${port}/a.jpg`);
    t.equal(r.status, 502);
    t.match(String(r.headers.get('x-cld-error')), /img\.internal\.test/);
  });

  t.test('the trusted CA does not loosen name checks or the SSRF guard', async (t) => {
    const s = await server({ APERTURE_FETCH_CA: certFile });
    const mismatch = await s.get(`/image/fetch/https://other.internal.test:${port}/a.jpg`);
    t.equal(mismatch.status, 502, 'a name the certificate does not cover fails verification');
    const before = connections;
    const evil = await s.get(`/image/fetch/https://evil.test:${port}/a.jpg`);
    t.equal(evil.status, 403, 'a name outside the allow-list');
    const literal = await s.get(`/image/fetch/https://127.0.0.1:${port}/a.jpg`);
    t.equal(literal.status, 403, 'a loopback literal');
    t.match(String(literal.headers.get('x-cld-error')), /loopback/);
    t.equal(connections, before, 'neither reached the origin');
  });

  t.test('APERTURE_FETCH_CA is validated at boot', async (t) => {
    t.throws(() => loadConfig({ APERTURE_FETCH_CA: path.join(dir, 'missing.pem') }), /APERTURE_FETCH_CA: cannot read/);
    t.throws(() => loadConfig({ APERTURE_FETCH_CA: keyFile }), /APERTURE_FETCH_CA: .* holds no PEM certificate/);
    t.match(loadConfig({ APERTURE_FETCH_CA: certFile }).fetchCa, /BEGIN CERTIFICATE/);
  });
}
