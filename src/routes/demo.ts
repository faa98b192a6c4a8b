/**
 * `GET /` and `GET /demo`: a self-contained page showing responsive delivery (url-api.md §4).
 * - a `w_auto,dpr_auto` image with `sizes`, the client hints the browser sent and the width
 *   and DPR Aperture delivered (read from the image's own Server-Timing entries through
 *   PerformanceResourceTiming, which `Timing-Allow-Origin: *` allows);
 * - a transformation playground (text → image, bytes, format, time);
 * - the image's breakpoints as an inline SVG chart of width against delivered bytes.
 * The page delegates the hints to its own origin with the SDK's meta tag and headers, so
 * the first image request already carries them. Plain HTML and inline script, no build step.
 *
 * `GET /demo/hints` echoes the hints a request carried (for the page's "sent now" line).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientHintsHeaders, clientHintsMeta, imageTag, breakpointsUrl, escapeHtml } from '@aperture/sdk';
import { parseHints } from '../negotiate/client-hints.ts';
import { pageHead } from './page-style.ts';

const DEFAULT_ID = 'rocket.jpg';
const DEFAULT_TRANSFORMATION = 'c_fill,w_400,h_300/f_auto,q_auto';
/** The slot the hero image takes, as `sizes` and as CSS (they must agree). */
const HERO_SIZES = '(max-width: 700px) 100vw, 50vw';
const HINT_NAMES = ['sec-ch-dpr', 'sec-ch-width', 'sec-ch-viewport-width', 'dpr', 'width', 'viewport-width'] as const;

const SAFE_ID = /^(?!.*\.\.)[\w\-. /]{1,200}$/;
const SAFE_HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** The page's own origin, when the Host header is plain enough to put in a header and in HTML. */
function originOf(request: FastifyRequest): string | undefined {
  const host = request.host;
  return host && SAFE_HOST.test(host) ? `${request.protocol}://${host}` : undefined;
}

function hintsSent(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of HINT_NAMES) {
    const v = request.headers[h];
    if (typeof v === 'string') out[h] = v.slice(0, 20);
  }
  return out;
}

/** JSON for an inline <script>: `<` escaped so no text can close the element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

/** The demo page's own rules, after the shared stylesheet (page-style.ts). */
const DEMO_CSS = `  .row { display: flex; gap: 20px; flex-wrap: wrap; align-items: flex-start; }
  .hero-slot { width: 50vw; max-width: 100%; }
  @media (max-width: 700px) {
    section { margin: 10px 0; border-radius: 0; }
    .hero-slot { width: 100vw; max-width: none; margin: 0 -16px; }
    .hero-slot img { border-radius: 0; }
  }
  code { overflow-wrap: anywhere; }
  #bp-chart svg { width: 100%; max-width: 560px; height: auto; }
  .hero-slot img { width: 100%; height: auto; display: block; border-radius: 4px; background: #dde; }
  table { border-collapse: collapse; font-size: 13px; }
  td, th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
  th { color: #667; font-weight: 600; }
  code, input[type=text] { font: 13px ui-monospace, monospace; }
  input[type=text] { width: min(520px, 90%); padding: 5px 7px; border: 1px solid #aab; border-radius: 4px; }
  button { padding: 5px 12px; border: 0; border-radius: 4px; background: #2f6fde; color: #fff; cursor: pointer; }
  .ok { color: #176c2b; } .bad { color: #b3261e; }
  #pg-out img { max-width: 100%; display: block; margin-top: 8px; }
  svg text { font: 11px system-ui, sans-serif; fill: #445; }`;

function page(id: string, origin: string | undefined, sent: Record<string, string>): string {
  const hero = imageTag(id, {
    alt: 'Responsive demo image', crop: 'scale', width: 'auto', dpr: 'auto', sizes: HERO_SIZES,
    attributes: { id: 'hero', loading: 'eager', decoding: undefined },
  });
  const sentRows = Object.keys(sent).length
    ? Object.entries(sent).map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')
    : '<tr><td colspan="2"><em>none (a browser learns Accept-CH from this response; reload to see them)</em></td></tr>';
  const data = { id, transformation: DEFAULT_TRANSFORMATION, breakpointsUrl: breakpointsUrl(id) };
  return `${pageHead('Aperture · responsive delivery', DEMO_CSS, origin ? `${clientHintsMeta(origin, origin.startsWith('https:'))}\n` : '')}
<body>
<header><h1>Aperture · responsive delivery</h1><p>w_auto, dpr_auto and per-image breakpoints, served by this instance</p></header>

<section id="responsive">
  <h2>Responsive image <code>c_scale,dpr_auto,w_auto</code>, <code>sizes="${escapeHtml(HERO_SIZES)}"</code></h2>
  <div class="row">
    <div class="hero-slot">${hero}</div>
    <div>
      <table>
        <tr><th colspan="2">Hints on this page's request</th></tr>
        ${sentRows}
        <tr><th colspan="2">Hints a request sends now</th></tr>
        <tbody id="hints-now"><tr><td colspan="2">…</td></tr></tbody>
        <tr><th colspan="2">Delivered image</th></tr>
        <tbody id="delivered"><tr><td colspan="2">…</td></tr></tbody>
      </table>
    </div>
  </div>
</section>

<section id="playground">
  <h2>Playground</h2>
  <form id="pg-form">
    <div><label>Transformation <input type="text" id="pg-t" value="${escapeHtml(DEFAULT_TRANSFORMATION)}" spellcheck="false"></label></div>
    <div style="margin-top:6px"><label>Public id <input type="text" id="pg-id" value="${escapeHtml(id)}" spellcheck="false" style="width:220px"></label>
    <button type="submit">Render</button></div>
  </form>
  <div id="pg-out"></div>
</section>

<section id="breakpoints">
  <h2>Breakpoints of <code id="bp-id">${escapeHtml(id)}</code></h2>
  <div id="bp-text">…</div>
  <div id="bp-chart"></div>
</section>

<script>
const DATA = ${scriptJson(data)};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
const rows = (o) => Object.entries(o).map(([k, v]) => '<tr><td>' + esc(k) + '</td><td>' + esc(v) + '</td></tr>').join('');

function timingOf(url) {
  const e = performance.getEntriesByName(new URL(url, location.href).href).pop();
  if (!e) return null;
  const st = Object.fromEntries((e.serverTiming || []).map((s) => [s.name, s.description || s.duration]));
  return { entry: e, st };
}

async function showHints() {
  const r = await fetch('/demo/hints', { cache: 'no-store' });
  const h = await r.json();
  $('hints-now').innerHTML = Object.keys(h).length ? rows(h) : '<tr><td colspan="2"><em>none</em></td></tr>';
}

function showDelivered() {
  const img = $('hero');
  const t = timingOf(img.currentSrc || img.src);
  const o = { 'rendered (CSS px)': Math.round(img.getBoundingClientRect().width), 'devicePixelRatio': window.devicePixelRatio };
  if (t) {
    o['delivered width'] = t.st.width + ' px';
    o['delivered DPR'] = t.st.dpr;
    o['bytes'] = t.entry.encodedBodySize ? kb(t.entry.encodedBodySize) : 'n/a';
    o['cache'] = t.st.cache;
  } else o['delivered'] = 'no timing entry';
  o['natural size'] = img.naturalWidth + '×' + img.naturalHeight;
  $('delivered').innerHTML = rows(o);
  document.body.dataset.delivered = t ? String(t.st.width) : '';
}

async function render(ev) {
  if (ev) ev.preventDefault();
  const tr = $('pg-t').value.trim().replace(/^\\/+|\\/+$/g, '');
  const id = $('pg-id').value.trim();
  const url = '/image/upload/' + (tr ? tr + '/' : '') + id.split('/').map(encodeURIComponent).join('/');
  const out = $('pg-out');
  out.textContent = 'rendering…';
  const t0 = performance.now();
  try {
    const r = await fetch(url, { cache: 'no-store' });
    const blob = await r.blob();
    const ms = performance.now() - t0;
    if (!r.ok) {
      out.innerHTML = '<p class="bad">' + r.status + ' ' + esc(r.headers.get('x-cld-error') || '') + '</p>';
      return;
    }
    const st = r.headers.get('server-timing') || '';
    const img = new Image();
    img.src = URL.createObjectURL(blob);
    await img.decode().catch(() => {});
    out.innerHTML = '<p><code>' + esc(url) + '</code><br>' + esc(blob.type) + ', ' + kb(blob.size) + ', '
      + img.naturalWidth + '×' + img.naturalHeight + ', ' + ms.toFixed(0) + ' ms in the browser'
      + ' <span style="color:#667">(' + esc(st) + ')</span></p>';
    out.appendChild(img);
  } catch (e) {
    out.innerHTML = '<p class="bad">' + esc(e.message || e) + '</p>';
  }
}

async function breakpoints() {
  const r = await fetch(DATA.breakpointsUrl);
  if (!r.ok) { $('bp-text').innerHTML = '<p class="bad">' + r.status + ' ' + esc(r.headers.get('x-cld-error') || '') + '</p>'; return; }
  const { breakpoints } = await r.json();
  const pts = [];
  for (const w of breakpoints) {
    const res = await fetch('/image/upload/c_scale,w_' + w + '/' + DATA.id.split('/').map(encodeURIComponent).join('/'));
    pts.push({ w, bytes: (await res.blob()).size });
  }
  $('bp-text').innerHTML = '<p><code>' + esc(DATA.breakpointsUrl) + '</code> → ' + breakpoints.length + ' widths: '
    + breakpoints.join(', ') + '</p>';
  const W = 560, H = 230, L = 48, B = 28, T = 22, R = 14;
  const maxW = Math.max(...pts.map((p) => p.w)), maxB = Math.max(...pts.map((p) => p.bytes));
  const x = (w) => L + (w / maxW) * (W - L - R), y = (b) => H - B - (b / maxB) * (H - B - T);
  let svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + W + ' ' + H + '" width="' + W + '" height="' + H + '" role="img" aria-label="bytes by width">';
  svg += '<line x1="' + L + '" y1="' + (H - B) + '" x2="' + (W - R) + '" y2="' + (H - B) + '" stroke="#99a"/>';
  svg += '<line x1="' + L + '" y1="' + T + '" x2="' + L + '" y2="' + (H - B) + '" stroke="#99a"/>';
  for (let i = 0; i <= 4; i++) {
    const b = (maxB * i) / 4;
    svg += '<text x="' + (L - 4) + '" y="' + (y(b) + 4) + '" text-anchor="end">' + (b / 1024).toFixed(0) + '</text>';
  }
  svg += '<text x="' + L + '" y="' + (T - 10) + '" text-anchor="middle">KB</text>';
  svg += '<text x="' + (W - R) + '" y="' + (H - B - 6) + '" text-anchor="end">width</text>';
  svg += '<polyline fill="none" stroke="#2f6fde" stroke-width="2" points="' + pts.map((p) => x(p.w) + ',' + y(p.bytes)).join(' ') + '"/>';
  for (const p of pts) {
    svg += '<circle cx="' + x(p.w) + '" cy="' + y(p.bytes) + '" r="3.5" fill="#2f6fde"><title>' + p.w + ' px: ' + kb(p.bytes) + '</title></circle>';
  }
  pts.forEach((p, i) => {
    // label the ends, and inner points where there is room
    const last = i === pts.length - 1;
    if (i > 0 && !last && (x(p.w) - x(pts[i - 1].w) < 34 || x(pts[pts.length - 1].w) - x(p.w) < 50)) return;
    svg += '<text x="' + x(p.w) + '" y="' + (H - B + 16) + '" text-anchor="' + (last ? 'end' : i === 0 ? 'start' : 'middle') + '">' + p.w + (last || i === 0 ? ' px' : '') + '</text>';
  });
  svg += '</svg>';
  $('bp-chart').innerHTML = svg;
  document.body.dataset.breakpoints = breakpoints.join(',');
}

$('pg-form').addEventListener('submit', render);
const hero = $('hero');
(hero.complete ? Promise.resolve() : new Promise((r) => { hero.onload = r; hero.onerror = r; })).then(showDelivered);
Promise.all([showHints(), render(), breakpoints()]).finally(() => { document.body.dataset.ready = '1'; });
</script>
</body>
</html>`;
}

export function demoRoutes(app: FastifyInstance): void {
  async function demo(request: FastifyRequest<{ Querystring: { id?: string } }>, reply: FastifyReply) {
    const q = request.query.id;
    const id = typeof q === 'string' && SAFE_ID.test(q) ? q : DEFAULT_ID;
    const origin = originOf(request);
    if (origin) {
      const h = clientHintsHeaders(origin, origin.startsWith('https:'));
      reply.header('Accept-CH', h['Accept-CH']).header('Permissions-Policy', h['Permissions-Policy']);
    }
    // The page prints the hints it received.
    reply.header('Vary', 'Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width, DPR, Width, Viewport-Width');
    reply.header('Cache-Control', 'no-store');
    return reply.type('text/html; charset=utf-8').send(page(id, origin, hintsSent(request)));
  }
  app.get('/', demo);
  app.get('/demo', demo);
  app.get('/demo/hints', async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const parsed = parseHints(request.headers);
    return { ...hintsSent(request), ...(parsed.dpr !== undefined ? { 'parsed dpr': parsed.dpr } : {}) };
  });
}
