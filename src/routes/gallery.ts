/**
 * `GET /gallery`: every effect and layer option on a small sample, each with its URL — a
 * user's reference and a visual check. The content comes from the registry
 * (transforms/gallery.ts: each effect's `doc` and `examples`, the layer examples table), so a
 * new effect shows up here with its examples. The samples are the bundled `images/` (what
 * `npm start` serves): a photo, a portrait (face effects and placement) and a logo with
 * transparency (shape effects), scaled to 160 px wide first so the whole page stays cheap to
 * render. Plain HTML, no script.
 */
import type { FastifyInstance } from 'fastify';
import { escapeHtml } from '@aperture/sdk';
import { pageHead } from './page-style.ts';
import { gallerySections, type GallerySample, type GallerySection } from '../../transforms/index.ts';

/** The bundled picture behind each sample kind (images/). */
export const GALLERY_SAMPLES: Readonly<Record<GallerySample, string>> = {
  photo: 'coffee.png',
  portrait: 'astronaut.png',
  logo: 'logo-cutout.png',
};

/** Every entry's sizing, before the transformation it shows. */
export const GALLERY_WIDTH = 160;

/** The delivery URL of an entry: sized sample, then the shown transformation. */
export function galleryUrl(transformation: string, sample: GallerySample): string {
  return `/image/upload/c_scale,w_${GALLERY_WIDTH}/${transformation}/${GALLERY_SAMPLES[sample]}`;
}

/** The gallery's own rules, after the shared stylesheet (page-style.ts). */
const GALLERY_CSS = `  nav { padding: 8px 20px; font-size: 13px; }
  h2 small { font-weight: normal; color: #667; font-size: 12px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 14px; }
  figure { margin: 0; }
  figure img { display: block; max-width: 100%; height: auto; border-radius: 3px;
    background: repeating-conic-gradient(#ddd 0% 25%, #fff 0% 50%) 0 0 / 16px 16px; }
  figcaption { margin-top: 4px; font-size: 12px; }
  figcaption b { font-family: ui-monospace, monospace; }
  figcaption code { display: block; font: 11px ui-monospace, monospace; color: #334; overflow-wrap: anywhere; margin-top: 2px; }
  .doc { color: #445; }
  .table { display: block; color: #889; font-size: 11px; }`;

function sectionHtml(s: GallerySection, index: number): string {
  const id = `s${index}`;
  const figures = s.entries.map((e) => {
    const url = galleryUrl(e.transformation, e.sample);
    return `<figure data-name="${escapeHtml(e.name)}">
  <a href="${escapeHtml(url)}"><img src="${escapeHtml(url)}" alt="${escapeHtml(e.label)}" width="${GALLERY_WIDTH}" decoding="async"></a>
  <figcaption><b>${escapeHtml(e.label)}</b> <span class="doc">${escapeHtml(e.doc)}</span>
  <code>${escapeHtml(url)}</code>
  <span class="table">arguments: ${escapeHtml(s.file)}</span></figcaption>
</figure>`;
  }).join('\n');
  return `<section id="${id}">
<h2>${escapeHtml(s.title)} <small>argument table: <code>${escapeHtml(s.file)}</code></small></h2>
<div class="grid">
${figures}
</div>
</section>`;
}

export function galleryPage(): string {
  const sections = gallerySections();
  const nav = sections.map((s, i) => `<a href="#s${i}">${escapeHtml(s.title)}</a>`).join(' · ');
  const samples = Object.entries(GALLERY_SAMPLES).map(([k, id]) =>
    `<figure><img src="/image/upload/c_scale,w_${GALLERY_WIDTH}/${escapeHtml(id)}" alt="${escapeHtml(k)} sample" width="${GALLERY_WIDTH}"><figcaption><b>${escapeHtml(k)}</b> <code>${escapeHtml(id)}</code></figcaption></figure>`).join('\n');
  return `${pageHead('Aperture · effects gallery', GALLERY_CSS)}
<body>
<header><h1>Aperture · effects gallery</h1>
<p>Every effect and layer option this instance performs, on the bundled samples scaled to ${GALLERY_WIDTH} px
(<code>c_scale,w_${GALLERY_WIDTH}</code> first). Each image is its URL; argument tables head the files named.
Layers from remote URLs (<code>l_fetch:</code>) need an allowed origin and are not shown. <a href="/">Demo page</a></p></header>
<nav>${nav}</nav>
<section id="samples"><h2>Samples</h2><div class="grid">
${samples}
</div></section>
${sections.map(sectionHtml).join('\n')}
</body>
</html>`;
}

export function galleryRoutes(app: FastifyInstance): void {
  // Built once: it depends on the registry only.
  let html: string | undefined;
  app.get('/gallery', async (_request, reply) => {
    html ??= galleryPage();
    reply.header('Cache-Control', 'no-cache');
    return reply.type('text/html; charset=utf-8').send(html);
  });
}
