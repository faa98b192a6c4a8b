/**
 * The markup in a real browser: Chromium must pick the srcset candidate the sizes rule implies
 * for its DPR, and, thanks to clientHintsMeta(), send its client hints to the image host (a
 * different origin from the page's).
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { imageTag, clientHintsMeta, url, srcset } from '@aperture/sdk';
import { startOriginServer } from '../helpers/origin-server.ts';

const ROOT = path.resolve(fileURLToPath(import.meta.url), '../../..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

// 1×1 transparent PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

t.test('srcset choice and delegated client hints in Chromium', { skip: CHROMIUM ? false : 'chromium not installed' }, async (t) => {
  const seen: Array<{ path: string; dpr?: string; width?: string }> = [];
  const images = await startOriginServer({ '*': (req, res) => {
    seen.push({ path: req.url ?? '', dpr: req.headers['sec-ch-dpr'] as string | undefined, width: req.headers['sec-ch-width'] as string | undefined });
    res.writeHead(200, { 'content-type': 'image/png', 'accept-ch': 'Sec-CH-DPR, Sec-CH-Width' });
    res.end(PNG);
  } });
  // The image host is "localhost", the page "127.0.0.1": two origins, both secure contexts.
  const imgHost = `http://localhost:${images.port}`;
  const html = `<!doctype html><html><head>${clientHintsMeta(imgHost)}</head><body>`
    + imageTag('folder/cat.jpg', { host: imgHost, alt: 'cat', widths: [400, 800, 1600], crop: 'fill', aspect_ratio: '4:3',
      sizes: [{ media: '(max-width: 600px)', size: '100vw' }, { size: '500px' }], attributes: { loading: 'eager', id: 'i' } })
    + '</body></html>';
  const page = await startOriginServer({ '*': (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(html); } });
  const pageUrl = `http://127.0.0.1:${page.port}/`;

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(async () => { await browser.close(); await images.close(); await page.close(); });
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 }, deviceScaleFactor: 2 });
  // No Playwright deadlines: a page event is waited for as long as it takes (tap's timeout is the backstop).
  ctx.setDefaultTimeout(0);
  const p = await ctx.newPage();
  await p.goto(pageUrl);
  await p.waitForFunction(() => (document.getElementById('i') as HTMLImageElement).complete);
  const current = await p.evaluate(() => (document.getElementById('i') as HTMLImageElement).currentSrc);
  // 500 CSS px × DPR 2 = 1000 device px → the 1600w candidate.
  t.equal(current, `${imgHost}/image/upload/ar_4:3,c_fill,w_1600/v1/folder/cat.jpg`);
  t.equal(seen.length, 1, 'one image request');
  t.equal(seen[0]?.path, '/image/upload/ar_4:3,c_fill,w_1600/v1/folder/cat.jpg');
  t.equal(seen[0]?.dpr, '2', 'Sec-CH-DPR delegated to the image origin');
  t.equal(seen[0]?.width, '1000', 'Sec-CH-Width (device px of the sizes slot)');
  await ctx.close();
});

t.test('the built main entry runs in the page itself, with the same results as in Node', { skip: CHROMIUM ? false : 'chromium not installed' }, async (t) => {
  // A fresh tsc build of packages/sdk (not the workspace's dist/, which may predate an edit),
  // served as ES modules to a page with no bundler.
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-sdk-browser-'));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'),
    '-p', path.join(ROOT, 'packages/sdk/tsconfig.json'), '--outDir', out]);
  const server = await startOriginServer({ '*': (req, res) => {
    const name = /^\/sdk\/([a-z-]+\.js)$/.exec(req.url ?? '')?.[1];
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>sdk</title>');
    } else if (name && fs.existsSync(path.join(out, name))) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(fs.readFileSync(path.join(out, name)));
    } else {
      res.writeHead(404);
      res.end();
    }
  } });
  const origin = `http://127.0.0.1:${server.port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(async () => { await browser.close(); await server.close(); });
  const p = await browser.newPage();
  await p.goto(`${origin}/`);
  // l_fetch overlays base64-encode their URL: the one place the SDK once needed Buffer.
  const options = { host: 'img.example.com', width: 300, crop: 'fill', gravity: 'auto', overlay: { url: 'https://ex.com/logo é.png' }, fetch_format: 'auto' };
  const args = { id: 'folder/cat.jpg', options, widths: [200, 400] };
  // A string, not a function: the test's own transpiler would rewrite a dynamic import() in it.
  const inPage = await p.evaluate(`(async () => {
    const sdk = await import('/sdk/index.js');
    const { id, options, widths } = ${JSON.stringify(args)};
    return [sdk.url(id, options), sdk.srcset(id, { ...options, widths }), typeof globalThis.Buffer];
  })()`) as [string, string, string];
  t.same(inPage, [url(args.id, options), srcset(args.id, { ...options, widths: args.widths }), 'undefined'], 'same URL and srcset, no Buffer in the page');
  t.match(inPage[0], /,l_fetch:aHR0cHM6Ly9leC5jb20vbG9nbyUyMCVDMyVBOS5wbmc,/, 'the overlay URL base64-encoded');
});
