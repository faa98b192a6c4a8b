/**
 * Plan-parse throughput of plain strings (no `$`, `if_` or computed value), for comparing two
 * checkouts: `npx tsx bench/parse-compare.ts <checkout root> [rounds]`, run alternately on
 * each. The lines are the docs-corpus lines the first run parsed into a plan
 * (/tmp/aperture-plain-lines.json, reused by later runs so that every checkout parses the same
 * set); the memo is cleared before each pass; best of 7 batches of CPU time (shared machines).
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? '.');
const rounds = Number(process.argv[3] ?? 15);
const { parsePlan, clearPlanMemo } = await import(path.join(root, 'src/plan/parse.ts'));
const LIST = '/tmp/aperture-plain-lines.json';
let plain: string[];
if (fs.existsSync(LIST)) plain = JSON.parse(fs.readFileSync(LIST, 'utf8')) as string[];
else {
  const corpus = path.join(root, '../shared/conformance/cloudinary-docs-transformations.txt');
  const lines = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l && !l.startsWith('#') && !/\$|(^|[/,])if_/.test(l));
  plain = lines.filter((l) => { try { parsePlan(l.split('/')); return true; } catch { return false; } });
  fs.writeFileSync(LIST, JSON.stringify(plain));
}
const pass = () => {
  clearPlanMemo();
  for (const l of plain) { try { parsePlan(l.split('/')); } catch { /* counted as parsed */ } }
};
for (let i = 0; i < 5; i++) pass();
let ms = Infinity;
for (let b = 0; b < 7; b++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) pass();
  const c = process.cpuUsage(c0);
  ms = Math.min(ms, (c.user + c.system) / 1000 / rounds);
}
console.log(JSON.stringify({ root, strings: plain.length, parsesPerSec: Math.round(plain.length / (ms / 1000)) }));
