/**
 * The process lifecycle of src/main.ts as an orchestrator drives it: start the real entry point
 * as a child process, wait for /health, put a request in flight, send SIGTERM. The in-flight
 * request must complete (200, a whole image), new work must be turned away (/ready 503 or the
 * port closed), and the process must exit 0 by itself. A drain that outlasts
 * APERTURE_SHUTDOWN_MS exits 1.
 *
 * The request in flight is held by a loopback origin (an `upload` folder mapped to it with
 * APERTURE_REMOTE_MAPPINGS) that answers only when the test releases it, so nothing here depends
 * on how long a render takes: the request is in flight from the moment the origin sees it.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { freePort } from './helpers/redis.ts';
import { repoRoot } from './helpers/core-fixtures.ts';
import { waitFor } from './helpers/harness.ts';
import { heldRoute, startOriginServer, type OriginServer } from './helpers/origin-server.ts';

/** The drain limit of the graceful cases: never reached, since the test releases the origin. */
const SHUTDOWN_MS = 120_000;

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

function get(port: number, urlPath: string, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** 503 from a draining server, or the error code of a refused/reset connection. */
async function readyState(port: number): Promise<string> {
  try {
    return String((await get(port, '/ready')).status);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

interface Child { proc: ChildProcess; port: number; output(): string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }

async function startMain(origin: OriginServer, env: Record<string, string> = {}): Promise<Child> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      APERTURE_STORAGE_DIR: repoRoot + '/images',
      APERTURE_LOG_LEVEL: 'info',
      APERTURE_REDIS_URL: '',
      // `held/...` public ids load from the test's loopback origin (allow-listed by address).
      APERTURE_REMOTE_MAPPINGS: `held=${origin.url('/')}`,
      APERTURE_FETCH_ALLOW: '127.0.0.1',
      APERTURE_FETCH_PORTS: '*',
      APERTURE_FETCH_TIMEOUT_MS: '600000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d.toString(); });
  proc.stderr!.on('data', (d) => { out += d.toString(); });
  const exited = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const killOnExit = () => { proc.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  await waitFor(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`main.ts exited before /health: ${out}`);
    return get(port, '/health').then((r) => r.status === 200, () => false);
  }, '/health');
  return { proc, port, output: () => out, exited };
}

t.test('SIGTERM drains gracefully', async (t) => {
  const big = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .jpeg({ quality: 85 }).toBuffer();
  const sendBig = (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(big.length) });
    res.end(big);
  };

  /**
   * Start main.ts, put a request in flight through `agent` (held at the origin), SIGTERM, check
   * that new work is refused, release the origin, check the reply and the exit.
   * `agent` false = one connection per request (Connection: close); a keep-alive agent is what
   * a balancer's connection pool looks like (the shipped nginx edge keeps `keepalive 32`).
   */
  async function drain(t: Test, agent: http.Agent | false, width: number): Promise<void> {
    const held = heldRoute(sendBig);
    const origin = await startOriginServer({ '/big.jpg': held.handler });
    t.teardown(() => origin.close());
    const child = await startMain(origin, { APERTURE_SHUTDOWN_MS: String(SHUTDOWN_MS) });
    t.teardown(() => { child.proc.kill('SIGKILL'); });
    t.equal((await get(child.port, '/ready')).status, 200, '/ready 200 before the signal');
    t.match(child.output(), /Server listening at/, 'a listen line is logged');

    const slow = get(child.port, `/image/upload/w_${width}/held/big.jpg`, agent);
    slow.catch(() => {});
    await waitFor(() => held.waiting === 1, 'the request at the origin');
    t.pass('the request is in flight (held at the origin)');
    child.proc.kill('SIGTERM');
    await waitFor(() => /SIGTERM received, draining/.test(child.output()), 'the drain log line');
    // Fastify starts refusing once its close hooks run: wait for that, with the request still held.
    let after = '200';
    await waitFor(async () => (after = await readyState(child.port)) !== '200', '/ready to stop answering 200');
    t.ok(['503', 'ECONNREFUSED', 'ECONNRESET'].includes(after), `/ready after SIGTERM: ${after}`);
    t.equal(held.waiting, 1, 'the in-flight request is still held while new work is refused');

    held.release();
    const reply = await slow;
    t.equal(reply.status, 200, 'in-flight request completes with 200');
    t.equal(reply.headers['content-type'], 'image/jpeg');
    const meta = await sharp(reply.body).metadata();
    t.equal(meta.width, width, 'a whole image');

    const exit = await child.exited;
    t.equal(exit.code, 0, 'exit code 0: the drain ended by itself');
    t.notMatch(child.output(), /drain timed out/, 'the drain finished by itself');
  }

  await t.test('in-flight request completes, new work is refused, exit 0', async (t) => {
    await drain(t, false, 1200);
  });

  // A pooled keep-alive connection that carries a request during the drain is closed after its
  // reply (server.ts sends Connection: close while draining), so the drain still ends by itself.
  await t.test('same through a keep-alive connection (a balancer\'s pool)', async (t) => {
    const agent = new http.Agent({ keepAlive: true });
    t.teardown(() => agent.destroy());
    await drain(t, agent, 1190);
  });

  await t.test('a drain longer than APERTURE_SHUTDOWN_MS exits 1', async (t) => {
    // Never released: the drain cannot end by itself, whatever the machine's speed.
    const held = heldRoute(sendBig);
    const origin = await startOriginServer({ '/big.jpg': held.handler });
    t.teardown(() => origin.close());
    const child = await startMain(origin, { APERTURE_SHUTDOWN_MS: '200' });
    t.teardown(() => { child.proc.kill('SIGKILL'); });
    const slow = get(child.port, '/image/upload/w_1180/held/big.jpg');
    slow.catch(() => {});
    await waitFor(() => held.waiting === 1, 'the request at the origin');
    child.proc.kill('SIGTERM');
    const exit = await child.exited;
    t.equal(exit.code, 1, 'exit code 1 when the drain is cut short');
    t.match(child.output(), /SIGTERM received, draining/);
    t.match(child.output(), /drain timed out/);
    const cut = await slow.then((r) => `status ${r.status}`, (e: NodeJS.ErrnoException) => e.code ?? e.message);
    t.notMatch(cut, /^status 200$/, `the held request was cut, not served (${cut})`);
    if (process.env.DEBUG_LIFECYCLE) t.comment(child.output());
  });
});
