/**
 * The effects gallery (GET /gallery) in headless Chromium against a real server serving the
 * bundled images/: every <img> on the page loads (naturalWidth > 0) and every image response is
 * a 200 — no example in any EffectDef or in the layer examples table answers an error. One
 * screenshot per section goes to os.tmpdir() for a human look.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startServer } from '../helpers/harness.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

t.test('every gallery image loads in Chromium', { skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed: browser test skipped` }, async (t) => {
  // The page asks for ~150 renders at once (6 at a time from the browser): on a loaded machine
  // the queue's and the budget's wall-clock limits would shed some as 503/504, which is
  // admission control at work, not a gallery entry failing. Lifted here.
  const { base } = await startServer(t, {
    config: { storageDir: path.join(repoRoot, 'images'), queueTimeoutMs: 600_000, processTimeoutMs: 600_000, bgRemovalWaitMs: 600_000 },
  });
  let browser: Browser | undefined;
  t.teardown(async () => { await browser?.close(); });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const ctx = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  t.teardown(() => ctx.close());
  // No Playwright deadlines: the page's load event is waited for as long as it takes.
  ctx.setDefaultTimeout(0);
  const page = await ctx.newPage();
  const statuses = new Map<string, number>();
  page.on('response', (res) => {
    if (res.url().includes('/image/upload/')) statuses.set(new URL(res.url()).pathname, res.status());
  });
  const failed: string[] = [];
  page.on('requestfailed', (req) => { failed.push(req.url()); });

  await page.goto(`${base}/gallery`, { waitUntil: 'load' });
  const imgs = await page.evaluate(() => [...document.images].map((i) => ({
    src: new URL(i.src).pathname, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
  })));
  t.ok(imgs.length >= 100, `${imgs.length} images on the page`);
  const broken = imgs.filter((i) => !i.complete || i.w === 0 || i.h === 0);
  t.same(broken, [], 'every image decoded with a size');
  const errors = [...statuses].filter(([, s]) => s !== 200);
  t.same(errors, [], 'every image answered 200');
  t.same(failed, [], 'no request failed');
  const distinct = new Set(imgs.map((i) => i.src));
  t.equal(statuses.size, distinct.size, 'a response seen for every image URL');

  const sections = await page.locator('section').count();
  for (let i = 0; i < sections; i++) {
    await page.locator('section').nth(i).screenshot({ path: path.join(os.tmpdir(), `aperture-gallery-${i}.png`) });
  }
  t.comment(`screenshots: ${path.join(os.tmpdir(), 'aperture-gallery-*.png')}`);
});
