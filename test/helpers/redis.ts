/**
 * A throwaway redis-server per test file: loopback only, random port, no persistence, its own
 * working directory. Tests that need Redis call `startRedis()` and skip (visibly) when
 * `redisAvailable` is false, so `npm test` on a machine without redis-server still passes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { waitFor } from './harness.ts';

export const redisAvailable: boolean =
  spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export const redisSkipReason = 'redis-server is not installed (apt-get install redis-server): skipping real-Redis tests';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stop the server (SIGTERM, then SIGKILL after 2 s). Safe to call twice. */
  stop(): Promise<void>;
  /** Start again on the same port (after `stop()`), empty. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the TCP connection stays open but nothing answers (a "slow" Redis). */
  pause(): void;
  resume(): void;
}

/** A port that was free a moment ago; a race with other processes is possible but unlikely on loopback. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Whether redis-server on `port` answers PING now. */
function pings(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) { s.destroy(); resolve(buf.startsWith('+PONG')); }
    });
    s.on('error', () => resolve(false));
  });
}

export async function startRedis(opts: { port?: number } = {}): Promise<RedisServer> {
  const port = opts.port ?? await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aperture-redis-'));
  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    stderr = '';
    const proc = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d) => { stderr += d.toString(); });
    child = proc;
    // No deadline: a failed start shows as an exit; tap's timeout is the backstop.
    await waitFor(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited early (${proc.exitCode ?? proc.signalCode}): ${stderr}`);
      return pings(port);
    }, 'redis-server to answer PING');
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  // A failed test must not leak a server or its scratch dir (restart() reuses the dir, so it
  // outlives stop()).
  process.once('exit', () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    pause: () => { child?.kill('SIGSTOP'); },
    resume: () => { child?.kill('SIGCONT'); },
  };
}
