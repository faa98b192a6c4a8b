/**
 * The markup in a real browser: Chromium must pick the srcset candidate the sizes rule implies
 * for its DPR, and, thanks to clientHintsMeta(), send its client hints to the image host (a
 * different origin from the page's).
 */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { imageTag, clientHintsMeta } from '../../src/sdk/index.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

// 1×1 transparent PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

function listen(handler: http.RequestListener): Promise<http.Server> {
  const s = http.createServer(handler);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

t.test('srcset choice and delegated client hints in Chromium', { skip: CHROMIUM ? false : 'chromium not installed' }, async (t) => {
  const seen: Array<{ path: string; dpr?: string; width?: string }> = [];
  const images = await listen((req, res) => {
    seen.push({ path: req.url ?? '', dpr: req.headers['sec-ch-dpr'] as string | undefined, width: req.headers['sec-ch-width'] as string | undefined });
    res.writeHead(200, { 'content-type': 'image/png', 'accept-ch': 'Sec-CH-DPR, Sec-CH-Width' });
    res.end(PNG);
  });
  // The image host is "localhost", the page "127.0.0.1": two origins, both secure contexts.
  const imgHost = `http://localhost:${(images.address() as AddressInfo).port}`;
  const html = `<!doctype html><html><head>${clientHintsMeta(imgHost)}</head><body>`
    + imageTag('folder/cat.jpg', { host: imgHost, alt: 'cat', widths: [400, 800, 1600], crop: 'fill', aspect_ratio: '4:3',
      sizes: [{ media: '(max-width: 600px)', size: '100vw' }, { size: '500px' }], attributes: { loading: 'eager', id: 'i' } })
    + '</body></html>';
  const page = await listen((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(html); });
  const pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(async () => { await browser.close(); images.close(); page.close(); });
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
