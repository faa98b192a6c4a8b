/**
 * The demo page in headless Chromium against a real server on 127.0.0.1: at viewport widths
 * 400 and 1200 and DPR 1 and 2, the first load of the page (fresh context) must make the
 * browser send Sec-CH-DPR, Sec-CH-Width and Sec-CH-Viewport-Width with the `w_auto,dpr_auto`
 * image request, and the delivered image (decoded from the response body) must be the hinted
 * width rounded up to 100. Screenshots go to os.tmpdir() for a human look.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';
import { startServer } from '../helpers/harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

t.test('client hints and delivered widths in Chromium', { skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed: browser test skipped` }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aperture-browser-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A photo-like test image: smoothed noise over a gradient, 1600×1000.
  const grad = Buffer.alloc(1600 * 1000 * 3);
  for (let y = 0; y < 1000; y++) for (let x = 0; x < 1600; x++) {
    const i = (y * 1600 + x) * 3;
    grad[i] = (x * 255) / 1600; grad[i + 1] = (y * 255) / 1000; grad[i + 2] = 160;
  }
  const noise = await sharp({ create: { width: 1600, height: 1000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
  const hero = await sharp(grad, { raw: { width: 1600, height: 1000, channels: 3 } })
    .composite([{ input: noise, blend: 'overlay' }]).blur(1).jpeg({ quality: 88 }).toBuffer();
  fs.writeFileSync(path.join(dir, 'hero.jpg'), hero);

  const { base: origin } = await startServer(t, { config: { storageDir: dir } });
  let browser: Browser | undefined;
  t.teardown(async () => { await browser?.close(); });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });

  for (const vw of [400, 1200]) {
    for (const dpr of [1, 2]) {
      await t.test(`viewport ${vw}, DPR ${dpr}`, async (t) => {
        const ctx = await browser!.newContext({ viewport: { width: vw, height: 900 }, deviceScaleFactor: dpr });
        t.teardown(() => ctx.close());
        // No Playwright deadlines: a page event is waited for as long as it takes (tap's timeout is the backstop).
        ctx.setDefaultTimeout(0);
        const page = await ctx.newPage();
        // Register each response synchronously; reading its body is awaited after the page is
        // ready, so a slow body read cannot make the request look missing.
        const pending: Array<Promise<{ headers: Record<string, string>; body: Buffer; resHeaders: Record<string, string> }>> = [];
        page.on('response', (res) => {
          if (!res.url().includes('/c_scale,dpr_auto,w_auto/hero.jpg')) return;
          pending.push((async () => ({ headers: await res.request().allHeaders(), body: await res.body(), resHeaders: await res.allHeaders() }))());
        });
        await page.goto(`${origin}/?id=hero.jpg`);
        await page.waitForFunction(() => document.body.dataset.ready === '1' && document.body.dataset.delivered !== undefined);
        const heroReq = await Promise.all(pending);

        t.equal(heroReq.length, 1, 'one request for the responsive image, on the first load');
        const { headers: h, body, resHeaders } = heroReq[0];
        const slot = vw <= 700 ? vw : vw / 2;
        t.equal(h['sec-ch-dpr'], String(dpr), 'Sec-CH-DPR sent');
        t.equal(h['sec-ch-viewport-width'], String(vw), 'Sec-CH-Viewport-Width sent');
        t.ok(h['sec-ch-width'] !== undefined, `Sec-CH-Width sent (${h['sec-ch-width']})`);
        const sent = Number(h['sec-ch-width']);
        t.ok(Math.abs(sent - slot * dpr) <= 1, `Sec-CH-Width ${sent} = slot ${slot} CSS px × DPR ${dpr}`);
        const meta = await sharp(body).metadata();
        const want = Math.ceil(sent / 100) * 100;
        t.equal(meta.width, want, `delivered ${meta.width} px = Sec-CH-Width rounded up to 100`);
        t.equal(resHeaders['x-aperture-width'], String(want));
        t.equal(resHeaders['x-aperture-dpr'], String(dpr));
        t.match(resHeaders.vary, /Sec-CH-Width/);
        const shown = await page.evaluate(() => document.body.dataset.delivered);
        t.equal(shown, String(want), 'the page read the delivered width from Server-Timing');
        const bps = (await page.evaluate(() => document.body.dataset.breakpoints ?? '')).split(',').map(Number);
        t.ok(bps.length >= 2 && bps[0] === 50 && bps[bps.length - 1] === 1000, `breakpoints chart data: ${bps.join(',')}`);
        t.ok(await page.locator('#bp-chart svg circle').count() === bps.length, 'one chart point per breakpoint');
        t.match(await page.locator('#pg-out').innerText(), /KB/, 'playground rendered');
        const shot = path.join(os.tmpdir(), `aperture-demo-${vw}x${dpr}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        t.ok(fs.statSync(shot).size > 1000, `screenshot ${shot}`);
      });
    }
  }
});
