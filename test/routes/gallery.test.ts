/**
 * The effects gallery over app.inject(): it lists every effect the registry performs
 * (effectNames()) and every layer flag, each with at least one example and a doc line, every
 * entry as an <img> of its delivery URL with the name, doc and argument table; the page is
 * escaped HTML. That every image renders is test/browser/gallery.test.ts.
 */
import t from 'tap';
import { startServer } from '../helpers/harness.ts';
import { effectNames, gallerySections, LAYER_FLAGS } from '../../transforms/index.ts';
import { effectDef } from '../../transforms/effects/index.ts';
import { galleryUrl, GALLERY_SAMPLES } from '../../src/routes/gallery.ts';

const { app } = await startServer(t, { listen: false });

t.test('every effect has a doc line and at least one example', async (t) => {
  for (const name of effectNames()) {
    const def = effectDef(name)!;
    t.ok(def.examples.length > 0, `e_${name} has an example`);
    t.ok(def.doc.trim().length > 10, `e_${name} has a doc line`);
  }
});

t.test('GET /gallery lists every effect, its doc and its argument table', async (t) => {
  const r = await app.inject({ url: '/gallery' });
  t.equal(r.statusCode, 200);
  t.match(String(r.headers['content-type']), /^text\/html/);
  const body = r.body;
  const shown = new Set([...body.matchAll(/<figure data-name="([^"]+)">/g)].map((m) => m[1]));
  for (const name of effectNames()) {
    t.ok(shown.has(name), `e_${name} is on the page`);
  }
  const sections = gallerySections();
  for (const s of sections) {
    t.match(body, `argument table: <code>${s.file}</code>`, `${s.title} names ${s.file}`);
    for (const e of s.entries) {
      const url = galleryUrl(e.transformation, e.sample).replace(/&/g, '&amp;');
      t.ok(body.includes(`<img src="${url}"`), `${e.label}: <img> of ${url}`);
      t.ok(body.includes(`<code>${url}</code>`), `${e.label}: its URL is printed`);
    }
  }
  const entries = sections.flatMap((s) => s.entries);
  t.equal((body.match(/<figure data-name=/g) ?? []).length, entries.length, 'one figure per entry');
  t.ok(entries.every((e) => e.transformation.length > 0 && !/\s/.test(e.transformation)), 'every transformation is one URL path');
  t.notMatch(body, /<img src="[^"]*[<>]/, 'attributes are escaped');
  for (const id of Object.values(GALLERY_SAMPLES)) t.match(body, `/image/upload/c_scale,w_160/${id}"`, `sample ${id} shown`);
});

t.test('every layer flag, face placement and layer source has an example', async (t) => {
  const layer = gallerySections().find((s) => s.kind === 'layer')!;
  const names = new Set(layer.entries.map((e) => e.name));
  for (const f of LAYER_FLAGS) t.ok(names.has(`fl_${f}`), `fl_${f}`);
  for (const n of ['g_face', 'g_faces', 'l_text', 'l_lut', 'l_<public_id>', 'u_<public_id>']) t.ok(names.has(n), n);
  for (const e of layer.entries) {
    const token = e.name.replace(/<public_id>$/, '').replace(/^(l_text|l_lut)$/, '$1:');
    t.ok(e.transformation.includes(token), `${e.name}: its example uses ${token}`);
  }
});

t.test('the gallery is served as plain HTML with a revalidated cache', async (t) => {
  const r = await app.inject({ url: '/gallery' });
  t.equal(r.headers['cache-control'], 'no-cache');
  t.notMatch(r.body, '<script', 'no script');
});
