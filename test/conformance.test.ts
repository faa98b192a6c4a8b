/**
 * Cloudinary's documentation corpus (../shared/conformance): every transformation string placed
 * in `/image/upload/<line>/rocket.jpg` is answered with an image or a 4xx whose X-Cld-Error
 * names the reason; never a 5xx, never a hang. Reports the share answered 200 and the most
 * common reasons for the rest. The source is a 240 px rocket so the run stays short.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { splitToken } from '../src/plan/parse.ts';
import { repoRoot } from './helpers/core-fixtures.ts';
import { hasShared, sharedDir, startServer } from './helpers/harness.ts';

const corpus = path.join(sharedDir, 'conformance/cloudinary-docs-transformations.txt');
const CONCURRENCY = 4;

/** Group an X-Cld-Error into a reason: the key (and effect name) and the kind of refusal. */
export function reasonOf(message: string): string {
  let m = /^Unsupported transformation ([^:]+?)(?::.*)?: ([^:]+)$/.exec(message);
  if (m) {
    const [key, value] = splitToken(m[1]);
    const name = key === 'e' || key === 'fl' || key === 'c' || key === 'g' ? `${key}_${value.split(':')[0]}` : key;
    return `unsupported ${name} (${m[2]})`;
  }
  m = /^Unknown transformation (.+)$/.exec(message);
  if (m) return `unknown key ${splitToken(m[1])[0]}`;
  m = /^Invalid (.+?) in transformation: /.exec(message);
  if (m) return `invalid ${m[1]}`;
  return message.replace(/\d+/g, 'N').slice(0, 80);
}

if (!hasShared) {
  t.comment('NOTICE: ../shared/conformance is absent; the docs corpus test is skipped');
  t.test('docs corpus', { skip: 'no ../shared/conformance' }, async () => {});
} else {
  const lines = (await fs.readFile(corpus, 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean);
  const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-conformance-'));
  await fs.writeFile(path.join(storage, 'rocket.jpg'),
    await sharp(path.join(repoRoot, 'images/rocket.jpg')).resize(240).jpeg({ quality: 85 }).toBuffer());
  // `l_fetch:` lines name real hosts: the allow-list refuses them (403) before any DNS lookup,
  // so the run never leaves the machine.
  const { app } = await startServer(undefined, { listen: false, config: { storageDir: storage, fetchAllow: ['127.0.0.1'] } });
  t.teardown(async () => {
    await app.close();
    await fs.rm(storage, { recursive: true, force: true });
  });

  t.test(`docs corpus: ${lines.length} transformation strings`, async (t) => {
    const results: { line: string; status: number; error?: string }[] = [];
    let next = 0;
    async function worker() {
      while (next < lines.length) {
        const line = lines[next++];
        const res = await app.inject({ url: `/image/upload/${line}/rocket.jpg` });
        const err = res.headers['x-cld-error'];
        results.push({ line, status: res.statusCode, ...(err ? { error: String(err) } : {}) });
      }
    }
    // A hang is caught by tap's per-file timeout, not by a wall-clock bound here.
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const five = results.filter((r) => r.status >= 500);
    t.same(five.map((r) => `${r.status} ${r.line}`), [], 'no 5xx');
    const silent = results.filter((r) => r.status !== 200 && !r.error);
    t.same(silent.map((r) => `${r.status} ${r.line}`), [], 'every non-200 carries X-Cld-Error');
    const odd = results.filter((r) => r.status !== 200 && (r.status < 400 || r.status >= 500));
    t.same(odd.map((r) => `${r.status} ${r.line}`), [], 'every non-200 is a 4xx');
    t.equal(results.length, lines.length, 'every line answered');

    const ok = results.filter((r) => r.status === 200).length;
    const byStatus = new Map<number, number>();
    for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    t.comment(`answered 200: ${ok}/${results.length} = ${((100 * ok) / results.length).toFixed(1)} %`);
    t.comment(`statuses: ${[...byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(', ')}`);
    const reasons = new Map<string, number>();
    for (const r of results) if (r.error) reasons.set(reasonOf(r.error), (reasons.get(reasonOf(r.error)) ?? 0) + 1);
    t.comment('top 20 reasons for non-200:');
    for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 20)) t.comment(`  ${String(n).padStart(4)}  ${reason}`);
  });

  t.test('reason grouping', async (t) => {
    t.equal(reasonOf('Unsupported transformation l_text:Arial_50:Hi: overlays are not supported yet'), 'unsupported l (overlays are not supported yet)');
    t.equal(reasonOf('Unsupported transformation e_cartoonify:80: this effect is not supported'), 'unsupported e_cartoonify (this effect is not supported)');
    t.equal(reasonOf('Unknown transformation zz_1'), 'unknown key zz');
    t.equal(reasonOf('Invalid width in transformation: abc'), 'invalid width');
  });
}
