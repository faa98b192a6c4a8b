/**
 * Cloudinary's documentation corpus (../shared/conformance): every transformation string placed
 * in `/image/upload/<line>/rocket.jpg` is answered with an image or a 4xx whose X-Cld-Error
 * names the reason; never a 5xx, never a hang. Every layer, underlay, default image, LUT and ICC
 * profile a line names is in storage and its named transformations are defined, so a line is
 * measured on what it does, not on a missing file. Reports the share answered 200 over all lines
 * and over the still-image scope (issue #14; rules in test/helpers/conformance-scope.ts), and
 * the reasons for the rest. The source is a 240 px rocket so the run stays short.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './helpers/core-fixtures.ts';
import { hasShared, sharedDir, startServer } from './helpers/harness.ts';
import { NAMED, outOfScope, populateStorage, reasonOf } from './helpers/conformance-scope.ts';

const corpus = path.join(sharedDir, 'conformance/cloudinary-docs-transformations.txt');
const CONCURRENCY = 4;

interface Answer { line: string; status: number; error?: string }

/** Counts and reasons of a set of answers, as comments. */
function report(t: Test, label: string, results: readonly Answer[]): number {
  const ok = results.filter((r) => r.status === 200).length;
  t.comment(`${label}: answered 200: ${ok}/${results.length} = ${((100 * ok) / results.length).toFixed(1)} %`);
  const reasons = new Map<string, string[]>();
  for (const r of results) if (r.status !== 200) {
    const k = r.error ? reasonOf(r.error) : `status ${r.status}`;
    reasons.set(k, [...(reasons.get(k) ?? []), r.line]);
  }
  t.comment(`${label}: reasons for non-200 (count, reason, first line):`);
  for (const [reason, ls] of [...reasons].sort((a, b) => b[1].length - a[1].length).slice(0, 40)) t.comment(`  ${String(ls.length).padStart(4)}  ${reason}  e.g. ${ls[0]}`);
  return ok / results.length;
}

if (!hasShared) {
  t.comment('NOTICE: ../shared/conformance is absent; the docs corpus test is skipped');
  t.test('docs corpus', { skip: 'no ../shared/conformance' }, async () => {});
} else {
  const lines = (await fs.readFile(corpus, 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean);
  const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-conformance-'));
  // Registered first, so it runs after the server's close (tap runs teardowns last-in first-out).
  t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
  await fs.writeFile(path.join(storage, 'rocket.jpg'),
    await sharp(path.join(repoRoot, 'images/rocket.jpg')).resize(240).jpeg({ quality: 85 }).toBuffer());
  const assets = await populateStorage(storage, lines, await sharp(path.join(repoRoot, 'images/logo-alpha.png')).resize(120).toBuffer());
  // `l_fetch:` lines name real hosts: the allow-list refuses them (403) before any DNS lookup,
  // so the run never leaves the machine.
  const { app } = await startServer(t, { listen: false, config: { storageDir: storage, namedTransformations: NAMED, fetchAllow: ['127.0.0.1'] } });

  t.test(`docs corpus: ${lines.length} transformation strings, ${assets} named assets in storage`, async (t) => {
    const results: Answer[] = [];
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

    t.equal(results.length, lines.length, 'every line answered');
    t.same(results.filter((r) => r.status >= 500).map((r) => `${r.status} ${r.line}`), [], 'no 5xx');
    t.same(results.filter((r) => r.status !== 200 && !r.error).map((r) => `${r.status} ${r.line}`), [], 'every non-200 carries X-Cld-Error');
    t.same(results.filter((r) => r.status !== 200 && r.status < 400).map((r) => `${r.status} ${r.line}`), [], 'every non-200 is a 4xx');
    const byStatus = new Map<number, number>();
    for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    t.comment(`statuses: ${[...byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(', ')}`);
    report(t, 'all lines', results);
    const scope = results.filter((r) => outOfScope(r.line).length === 0);
    t.comment(`still-image scope: ${scope.length} of ${results.length} lines`);
    t.ok(report(t, 'still-image scope', scope) >= 0.93, 'still-image scope: at least 93 % answer 200 (issue #14)');
  });

  t.test('reason grouping', async (t) => {
    t.equal(reasonOf('Unsupported transformation l_text:Arial_50:Hi: overlays are not supported yet'), 'unsupported l (overlays are not supported yet)');
    t.equal(reasonOf('Unsupported transformation e_cartoonify:80: this effect is not supported'), 'unsupported e_cartoonify (this effect is not supported)');
    t.equal(reasonOf('Unknown transformation zz_1'), 'unknown key zz');
    t.equal(reasonOf('Invalid width in transformation: abc'), 'invalid width');
  });

  t.test('scope rules', async (t) => {
    t.same(outOfScope('c_fill,w_100'), []);
    t.same(outOfScope('so_2,du_5'), ['video or audio key']);
    t.same(outOfScope('c_thumb,g_auto:skateboard'), ['object gravity']);
    t.same(outOfScope('g_dog:cat'), ['object gravity']);
    t.same(outOfScope('g_auto:subject'), []);
    t.same(outOfScope('e_gen_remove:prompt_x'), ['generative AI or background removal']);
  });
}
