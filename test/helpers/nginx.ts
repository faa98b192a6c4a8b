/**
 * Runs the real edge config (deploy/nginx) through deploy/run-edge.sh, in the foreground as a
 * child process, with ports chosen by the test. Tests skip (visibly) when nginx is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis.ts';
import { waitFor } from './harness.ts';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/run-edge.sh');

function findNginx(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined;
}

export const nginxAvailable: boolean = findNginx() !== undefined;
export const nginxSkipReason = 'nginx is not installed (apt-get install nginx): skipping edge tests';

export interface Edge {
  readonly port: number;
  readonly prefix: string;
  /** nginx's access log and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Whether something accepts connections on `port` now. */
function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

export async function startNginx(opts: {
  port?: number;
  upstreams: ReadonlyArray<number | string>;
  cacheDir?: string;
  workers?: number;
}): Promise<Edge> {
  const port = opts.port ?? await freePort();
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'aperture-edge-'));
  const accessLog = path.join(prefix, 'access.log');
  const args = [script, '--prefix', prefix, '--listen', `127.0.0.1:${port}`, '--workers', String(opts.workers ?? 1),
    '--access-log', accessLog];
  for (const u of opts.upstreams) args.push('--upstream', typeof u === 'number' ? `127.0.0.1:${u}` : u);
  if (opts.cacheDir) args.push('--cache-dir', opts.cacheDir);

  const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d.toString(); });
  child.stderr.on('data', (d) => { out += d.toString(); });
  // TERM, not KILL: a killed master would orphan its workers, still holding the port.
  const killOnExit = () => { child.kill('SIGTERM'); };
  process.once('exit', killOnExit);

  const exitedWhy = () => (child.exitCode !== null || child.signalCode !== null
    ? `${child.exitCode ?? child.signalCode}: ${out}` : undefined);
  try {
    // No deadline: a failed start shows as an exit; tap's timeout is the backstop.
    await waitFor(() => {
      const why = exitedWhy();
      if (why !== undefined) throw new Error(`nginx exited before listening: ${why}`);
      return accepts(port);
    }, 'nginx to listen');
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(prefix, { recursive: true, force: true });
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    port,
    prefix,
    output: () => {
      let log = '';
      try { log = readFileSync(accessLog, 'utf8'); } catch { /* not written yet */ }
      return log + out;
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        process.removeListener('exit', killOnExit);
        rmSync(prefix, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
