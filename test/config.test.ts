/**
 * The settings table (src/config.ts) is the one place a setting is written down: the README's
 * table is generated from it, every APERTURE_* name the code mentions is in it, and overrides
 * pass the same checks as environment values.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, SETTINGS, configTable, loadConfig, testConfig } from '../src/config.ts';
import { Errors, type HttpError } from '../src/errors.ts';
import { README, withTable } from '../scripts/config-table.ts';
import { repoRoot } from './helpers/core-fixtures.ts';

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}

const NAME = /\bAPERTURE_[A-Z0-9_]*[A-Z0-9]\b/g;
const variables = new Set(Object.values(SETTINGS).map((s) => s.env));
const errorCodes = new Set(Object.values(Errors).map((E) => new (E as unknown as new (...a: string[]) => HttpError)('x', 'x').code));

t.test('the README table is the one the settings table gives (npm run docs:config)', async (t) => {
  const readme = await fs.readFile(README, 'utf8');
  t.equal(withTable(readme, configTable()), readme, 'README.md is up to date; run npm run docs:config');
  t.equal(configTable().split('\n').length, 2 + variables.size, 'one row per setting');
  for (const row of configTable().split('\n').slice(2)) t.match(row, /^\| `[A-Z0-9_]+` \| [^|\s][^|]* \| [^|\s]/, `${row.slice(0, 40)}…: a default and a meaning`);
});

t.test('every APERTURE_* name in src/ and transforms/ is a setting named in the README, or an error code', async (t) => {
  const readme = await fs.readFile(README, 'utf8');
  const files = [...await sourceFiles(path.join(repoRoot, 'src')), ...await sourceFiles(path.join(repoRoot, 'transforms'))];
  const seen = new Set<string>();
  for (const file of files) {
    const text = await fs.readFile(file, 'utf8');
    for (const [name] of text.matchAll(NAME)) {
      if (errorCodes.has(name)) continue;
      seen.add(name);
      t.ok(variables.has(name), `${name} (${path.relative(repoRoot, file)}) is in the settings table`);
      t.ok(readme.includes(`\`${name}\``), `${name} is in the README`);
    }
    if (!file.endsWith(`${path.sep}config.ts`)) t.notMatch(text, /process\.env/, `${path.relative(repoRoot, file)} does not read the environment`);
  }
  t.ok([...variables].every((v) => !v.startsWith('APERTURE_') || seen.has(v)), 'the settings table itself was read');
  for (const [name] of readme.matchAll(NAME)) t.ok(variables.has(name), `${name}, named in the README, is a setting`);
});

t.test('every default passes its own check, and its text reads back as the same value', async (t) => {
  const defaults = testConfig();
  for (const [key, s] of Object.entries(SETTINGS)) {
    const v = defaults[key as keyof typeof defaults];
    t.ok(v !== undefined, `${s.env} has a value`);
    if (typeof v === 'number') t.equal(loadConfig({ [s.env]: String(v) })[key as keyof typeof defaults], v, `${s.env}=${v} reads back`);
  }
});

t.test('a bad value names its variable, from the environment or an override', async (t) => {
  for (const s of Object.values(SETTINGS)) {
    let error: unknown;
    try { loadConfig({ [s.env]: '-1x' }); } catch (e) { error = e; }
    if (error) t.match((error as Error).message, s.env, `${s.env}=-1x: the message names it`);
  }
  t.throws(() => loadConfig({ APERTURE_QUEUE_TIMEOUT_MS: '0' }), /APERTURE_QUEUE_TIMEOUT_MS must be between 1 and 600000, got 0/);
  // Overrides are checked like environment values (they used to skip validation).
  t.throws(() => testConfig({ queueTimeoutMs: 0 }), /APERTURE_QUEUE_TIMEOUT_MS must be between 1 and 600000, got 0/);
  t.throws(() => testConfig({ maxComponents: 1.5 }), /APERTURE_MAX_COMPONENTS must be an integer/);
  t.throws(() => testConfig({ fetchPorts: [80, 70000] }), /APERTURE_FETCH_PORTS: "70000" is not a TCP port/);
  t.throws(() => testConfig({ remoteMappings: { media: 'ftp://x/' } }), /APERTURE_REMOTE_MAPPINGS: base for "media" must be an http\(s\) URL/);
  t.throws(() => testConfig({ namedTransformations: { thumb: 5 as unknown as string } }), /APERTURE_NAMED_TRANSFORMATIONS.thumb must be a transformation string/);
  t.throws(() => testConfig({ storageWatch: 'no' as unknown as boolean }), /APERTURE_STORAGE_WATCH must be a boolean/);
  t.throws(() => testConfig({ fetchCa: 'not a certificate' }), /APERTURE_FETCH_CA: the value holds no PEM certificate/);
  t.throws(() => testConfig({ strict: true }), /APERTURE_STRICT=1 needs APERTURE_SECRET/, 'cross-setting rules hold for overrides too');
  t.type(new ConfigError('x'), Error);
});

t.test('overrides are normalized like environment values and win over them', async (t) => {
  const c = loadConfig({ APERTURE_QUEUE: '5', APERTURE_FETCH_ALLOW: 'a.test' }, {
    queueSize: 7, fetchAllow: ['Images.Example.COM'], remoteMappings: { '/media/': 'https://cdn.test/m' }, storageDir: '/tmp/aperture-store/',
  });
  t.equal(c.queueSize, 7);
  t.same(c.fetchAllow, ['images.example.com']);
  t.same(c.remoteMappings, { media: 'https://cdn.test/m/' });
  t.equal(c.storageDir, '/tmp/aperture-store');
  t.equal(c.privateDir, '/tmp/aperture-store-private', 'derived defaults follow the overridden setting');
  t.equal(testConfig({ cacheBytes: 80 * 1024 * 1024 }).maxOutputBytes, 10 * 1024 * 1024, 'APERTURE_MAX_OUTPUT_BYTES defaults to an eighth of the cache');
  t.ok(Object.isFrozen(c));
});
