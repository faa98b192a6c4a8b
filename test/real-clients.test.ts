/**
 * URLs that real client libraries generate (test/helpers/real-clients.ts) against the real
 * server: each answers 200 with an image, except the ones that need a generative model, which
 * answer 400 naming the parameter (background removal runs its model: 200 while it is on).
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { testConfig } from '../src/config.ts';
import { startServer } from './helpers/harness.ts';
import { repoRoot } from './helpers/core-fixtures.ts';
import { REAL_CLIENT_URLS } from './helpers/real-clients.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-clients-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
await fs.writeFile(path.join(storage, 'shoes.jpg'), await sharp(path.join(repoRoot, 'images/astronaut.png')).resize(480).jpeg().toBuffer());
await fs.writeFile(path.join(storage, 'sample.png'), await sharp(path.join(repoRoot, 'images/logo-alpha.png')).resize(200).png().toBuffer());
await fs.writeFile(path.join(storage, 'avatar.png'), await sharp(path.join(repoRoot, 'images/cat.png')).resize(300).png().toBuffer());
const { app, config } = await startServer(t, { config: testConfig({ storageDir: storage, bgRemovalWaitMs: 600_000, processTimeoutMs: 600_000 }) });

const CHROME = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';

t.test('real-client URLs', async (t) => {
  let ok = 0;
  const failing: string[] = [];
  for (const c of REAL_CLIENT_URLS) {
    const res = await app.inject({ url: `/image/upload/${c.transformation}/${c.id ?? 'shoes.jpg'}`, headers: { accept: CHROME, 'sec-ch-dpr': '2', 'sec-ch-viewport-width': '800' } });
    if (c.model === 'bgremoval' && config.bgRemoval) {
      // the background removal model runs here (one inference, ~4-20 s on 2 cores)
      t.equal(res.statusCode, 200, `${c.client}: background removal answers 200 (${res.headers['x-cld-error'] ?? ''})`);
      t.match(String(res.headers['content-type']), /^image\/(avif|webp|png)$/, `${c.client}: an image format that keeps the alpha`);
      continue;
    }
    if (c.model) {
      t.equal(res.statusCode, 400, `${c.client}: needs a model, answered 400`);
      t.match(String(res.headers['x-cld-error']), /Unsupported transformation/, `${c.client}: X-Cld-Error names it`);
      continue;
    }
    if (res.statusCode === 200) ok++;
    else failing.push(`${c.client} (${c.transformation}): ${res.statusCode} ${res.headers['x-cld-error'] ?? ''}`);
  }
  const total = REAL_CLIENT_URLS.filter((c) => !c.model).length; // the background removal ones are asserted above
  const bg = REAL_CLIENT_URLS.filter((c) => c.model === 'bgremoval' && config.bgRemoval).length;
  t.comment(`real-client URLs answered 200: ${ok}/${total} (plus ${bg} background removal, and ${REAL_CLIENT_URLS.length - total - bg} that need a model, answered 400)`);
  t.equal(ok, total, `every real-client URL that needs no model answers 200; failing:\n${failing.join('\n')}`);
});
