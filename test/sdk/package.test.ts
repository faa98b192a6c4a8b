/**
 * `@aperture/sdk` as an application gets it: `npm pack` (which runs `prepack`, the tsc build),
 * the tarball installed offline into an empty project, imported from plain JavaScript by a
 * `node` with no loader and no custom condition, and type-checked by a TypeScript consumer.
 * Its `url()` must still be `cloudinary.v2.url()`; its main entry must reach no `node:`
 * module and no dependency, so browser and edge bundlers take it.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HOST, SECRET, cases, official } from '../helpers/cloudinary.ts';

const run = promisify(execFile);
const ROOT = path.resolve(fileURLToPath(import.meta.url), '../../..');
const MAX_TARBALL_BYTES = 40 * 1024;

// Children run as an application's would: no --conditions from NODE_OPTIONS, no npm settings
// inherited from an enclosing `npm test`.
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env)
  .filter(([k]) => k !== 'NODE_OPTIONS' && !k.toLowerCase().startsWith('npm_')));

/** Relative and bare specifiers of the static and dynamic imports/re-exports in an ES module. */
function specifiers(code: string): string[] {
  const bare = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const re = /\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s*['"]([^'"]+)['"]/g;
  return [...bare.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Every file the module graph from `entry` loads, with the specifiers each one imports. */
function moduleGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.shift() as string;
    if (graph.has(file)) continue;
    const specs = specifiers(fs.readFileSync(file, 'utf8'));
    graph.set(file, specs);
    for (const s of specs) if (s.startsWith('.')) queue.push(path.resolve(path.dirname(file), s));
  }
  return graph;
}

t.test('npm pack → offline install → plain node import: same URLs as cloudinary.v2.url()', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-sdk-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // Pack a copy of the package so prepack's build never rewrites packages/sdk/dist under a
  // test process that is loading it; its node_modules link gives prepack tsc and @types/node.
  const pkgDir = path.join(tmp, 'pkg');
  fs.cpSync(path.join(ROOT, 'packages/sdk'), pkgDir, {
    recursive: true,
    filter: (src) => !/[/\\](dist|node_modules)$/.test(src),
  });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkgDir, 'node_modules'), 'dir');
  const packed = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: pkgDir, env });
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; size: number; files: Array<{ path: string }> }>;
  const tarball = path.join(tmp, info.filename);
  const size = fs.statSync(tarball).size;
  t.comment(`tarball ${info.filename}: ${size} bytes, ${info.files.length} files`);
  t.ok(size <= MAX_TARBALL_BYTES, `tarball ${size} B <= ${MAX_TARBALL_BYTES} B`);
  const files = info.files.map((f) => f.path).sort();
  t.same(files.filter((f) => !f.startsWith('dist/')), ['README.md', 'package.json'], 'only dist/, README and package.json');
  for (const entry of ['index', 'sign']) {
    t.ok(files.includes(`dist/${entry}.js`) && files.includes(`dist/${entry}.d.ts`), `prepack built dist/${entry}.js and .d.ts`);
  }

  const app = path.join(tmp, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cache', path.join(tmp, 'npm-cache'), tarball], { cwd: app, env });
  const installed = path.join(app, 'node_modules/@aperture/sdk');
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
  t.equal(manifest.dependencies, undefined, 'no runtime dependencies');
  t.same(fs.readdirSync(path.join(app, 'node_modules')).sort(), ['.package-lock.json', '@aperture'], 'nothing else installed');

  // Plain JavaScript, plain node: every case of the in-process comparison, signed with the
  // server-side entry.
  fs.writeFileSync(path.join(tmp, 'cases.json'), JSON.stringify({ host: HOST, secret: SECRET, cases }));
  fs.writeFileSync(path.join(app, 'urls.js'), `
import { readFileSync } from 'node:fs';
import { url } from '@aperture/sdk';
import { signer } from '@aperture/sdk/sign';
const { host, secret, cases } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const sign = signer(secret);
const urls = cases.map(({ id, o }) => {
  try { return url(id, { host, signer: sign, ...o }); } catch (e) { return 'THROWS ' + e.message; }
});
console.log(JSON.stringify({ resolved: import.meta.resolve('@aperture/sdk'), urls }));
`);
  const out = await run(process.execPath, ['urls.js', path.join(tmp, 'cases.json')], { cwd: app, env });
  const { resolved, urls } = JSON.parse(out.stdout) as { resolved: string; urls: string[] };
  t.equal(resolved, pathToFileURL(path.join(installed, 'dist/index.js')).href, 'the installed build, not the workspace');
  t.equal(urls.length, cases.length);
  let matched = 0;
  cases.forEach((c, i) => {
    const theirs = official(c.id, c.o, c.theirs);
    if (urls[i] === theirs) matched++;
    else t.equal(urls[i], theirs, `${c.id} ${JSON.stringify(c.o)}`);
  });
  t.equal(matched, cases.length, `${matched}/${cases.length} option sets match cloudinary.v2.url()`);
  t.ok(cases.some((c) => c.o.sign_url), 'the table has signed URLs');

  // The README's Next.js loader file, as written, against the calls and URLs it documents.
  const readme = fs.readFileSync(path.join(ROOT, 'packages/sdk/README.md'), 'utf8');
  const loaderFile = /```js\n(\/\/ image-loader\.js\n[\s\S]*?)```/.exec(readme)?.[1];
  t.ok(loaderFile, 'README has the image-loader.js block');
  const documented = [...(loaderFile ?? '').matchAll(/^\/\/ apertureLoader\((.+)\)\n\/\/\s+→ (\S+)$/gm)];
  t.equal(documented.length, 2, 'two documented calls');
  fs.writeFileSync(path.join(app, 'image-loader.js'), loaderFile ?? '');
  fs.writeFileSync(path.join(app, 'loader-check.js'), `import loader from './image-loader.js';
console.log(JSON.stringify([${documented.map((m) => `loader(${m[1]})`).join(', ')}]));\n`);
  const loaded = JSON.parse((await run(process.execPath, ['loader-check.js'], { cwd: app, env })).stdout) as string[];
  t.same(loaded, documented.map((m) => m[2]), 'the loader returns the URLs the README shows');

  // The main entry's graph: relative imports only, so no node: module and no package.
  const main = moduleGraph(path.join(installed, 'dist/index.js'));
  const reached = [...main.keys()].map((f) => path.basename(f)).sort();
  t.same(reached, ['index.js', 'responsive.js', 'transformation.js', 'url.js'], 'files the main entry loads');
  for (const [file, specs] of main) {
    t.same(specs.filter((s) => !s.startsWith('./')), [], `${path.basename(file)} imports only its siblings`);
    t.notMatch(fs.readFileSync(file, 'utf8'), /\bBuffer\.|\brequire\(/, `${path.basename(file)} uses no Node-only global`);
  }
  // The same scan sees node:crypto where it is.
  t.same(specifiers(fs.readFileSync(path.join(installed, 'dist/sign.js'), 'utf8')), ['node:crypto']);

  // A TypeScript consumer (strict, NodeNext, no @types/node) gets the declarations.
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: [] },
    files: ['check.ts'],
  }));
  fs.writeFileSync(path.join(app, 'check.ts'), `
import { url, srcset, type UrlOptions } from '@aperture/sdk';
import { signer } from '@aperture/sdk/sign';
const o: UrlOptions = { width: 300, crop: 'fill', sign_url: true, signer: signer('s') };
export const u: string = url('a.jpg', o);
export const s: string = srcset('a.jpg', { widths: [100, 200] });
// @ts-expect-error width is a number or a string
url('a.jpg', { width: {} });
`);
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const typed = await run(process.execPath, [tsc, '-p', app], { cwd: app, env }).then(() => 'ok', (e: { stdout: string }) => e.stdout);
  t.equal(typed, 'ok', 'the consumer type-checks against the packed .d.ts');
});
