/**
 * A TLS terminator in front of a test server, for clients that speak HTTPS only (the official
 * `cloudinary` SDK). The certificate is self-signed, made at test time with `openssl`; the
 * client trusts it through `agent`.
 */
import https from 'node:https';
import http from 'node:http';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export const opensslAvailable = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

export interface TlsProxy { readonly base: string; readonly agent: https.Agent; close(): Promise<void> }

export async function startTlsProxy(targetPort: number): Promise<TlsProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-tls-'));
  const key = path.join(dir, 'k.pem'), cert = path.join(dir, 'c.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const ca = fs.readFileSync(cert);
  const server = https.createServer({ key: fs.readFileSync(key), cert: ca }, (req, res) => {
    const up = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-proto': 'https' } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.statusCode = 502; res.end(); });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new https.Agent({ ca, keepAlive: false });
  return {
    base: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    agent,
    async close() {
      agent.destroy();
      await new Promise((r) => server.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
