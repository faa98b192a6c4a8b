/**
 * Output size limits (APERTURE_MAX_OUTPUT_SIDE / _PIXELS) must hold for the size the request
 * implies, not only for the numbers written in the URL: `w_200` on a 1×30000 strip implies a
 * 200×6,000,000 output, which must be refused before any pixel is resized (the shared edge
 * corpus strip took ~170 s of CPU before being refused at the end).
 */
import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { makeStorage, removeStorage, decode } from '../helpers/core-fixtures.ts';

const storage = await makeStorage('aperture-limits-');
// A tall strip: 10×200. w_100 implies 100×2000.
await fs.writeFile(path.join(storage, 'strip.png'), await sharp({
  create: { width: 10, height: 200, channels: 3, background: { r: 9, g: 9, b: 9 } },
}).png().toBuffer());
// Registered first, so it runs after the server's close (tap runs teardowns last-in first-out).
t.teardown(() => removeStorage(storage));
const { app } = await startServer(t, { listen: false, config: { storageDir: storage, maxOutputSide: 1000, maxOutputPixels: 1_000_000 } });

t.test('sizes written in the URL over the side limit are refused', async (t) => {
  for (const u of ['w_1001/rocket.jpg', 'h_1500/rocket.jpg', 'c_fill,w_600,h_600,dpr_2/rocket.jpg']) {
    const res = await app.inject({ url: `/image/upload/${u}` });
    t.equal(res.statusCode, 400, u);
    t.match(res.headers['x-cld-error'], /^Requested output too large: (width|height) \d+ exceeds the 1000 px limit$/, u);
    t.equal(res.headers['cache-control'], 'no-store');
  }
});

t.test('a size implied by the input ratio is held to the same limit', async (t) => {
  // w_100 on 10×200 → 100×2000: the height is over the 1000 px side limit.
  const res = await app.inject({ url: '/image/upload/w_100/strip.png' });
  t.equal(res.statusCode, 400, `implied 100x2000 refused (got ${res.statusCode}${res.statusCode === 200 ? ` with ${JSON.stringify(await decode(res.rawPayload))}` : ''})`);
  t.match(res.headers['x-cld-error'] ?? '', /height 2000 exceeds the 1000 px limit/);
  // dpr alone scales the whole image: 640×427 × 2 = 1280 wide.
  const dpr = await app.inject({ url: '/image/upload/dpr_2/rocket.jpg' });
  t.equal(dpr.statusCode, 400, 'dpr_2 on 640 px → 1280 px > 1000');
  // c_fit grows into the box: 100×2000 box on 10×200 → 100×2000.
  const fit = await app.inject({ url: '/image/upload/c_fit,w_100,h_2000/strip.png' });
  t.equal(fit.statusCode, 400, 'requested h_2000 refused');
});

t.test('within the limits is served', async (t) => {
  const res = await app.inject({ url: '/image/upload/w_40/strip.png' });
  t.equal(res.statusCode, 200);
  const d = await decode(res.rawPayload);
  t.same([d.width, d.height], [40, 800]);
});
