/**
 * A throwaway S3-compatible server (s3rver from npm) in a child process per test file:
 * loopback only, random port, its own folder, one bucket. s3rver encrypts list continuation
 * tokens with DES, which OpenSSL 3 only offers through its legacy provider, hence the flag.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export interface S3Server {
  readonly endpoint: string;
  readonly bucket: string;
  /** `s3://bucket/<prefix>` for APERTURE_STORAGE_URL. */
  url(prefix?: string): string;
  stop(): Promise<void>;
}

const CHILD = `
const S3rver = require('s3rver');
const [dir, bucket] = process.argv.slice(1);
const s = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
s.run().then(({ port }) => console.log(JSON.stringify({ port })));
process.on('SIGTERM', () => s.close().then(() => process.exit(0)));
`;

/** Credentials the AWS SDK reads from the environment; s3rver accepts exactly these. */
export function useS3rverCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  process.env.AWS_REGION = 'us-east-1';
}

export async function startS3(bucket = 'aperture-test'): Promise<S3Server> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aperture-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, dir, bucket], {
    cwd: path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`))));
  const port = await Promise.race([
    new Promise<number>((resolve) => {
      readline.createInterface({ input: child.stdout! }).once('line', (l) => resolve((JSON.parse(l) as { port: number }).port));
    }),
    exited,
  ]);
  exited.catch(() => {});
  useS3rverCredentials();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint, bucket,
    url: (prefix = '') => `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
    async stop() {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
