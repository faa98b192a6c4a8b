/**
 * `pg_<selection>` — pages/frames of a multi-page (TIFF) or animated (GIF, WebP) source
 * (Cloudinary `page`). A selection is items separated by `;`: `N` (1-based), `-N` (counted
 * from the last: `pg_-1` is the last page), `N-M` (a range), `N-` (from N to the last).
 * One page is delivered as a still. Several (`pg_2-4;6`) are delivered as an animation of
 * those frames, in the order given, when the source and the output both animate (GIF/WebP);
 * otherwise as the first page of the selection. A page past the source's last is a 400
 * naming the count (checked when the source is opened).
 *
 * `pg_name:<layer>` and `pg_embedded:…` select PSD layers and embedded images: the installed
 * libvips cannot read PSD and exposes no TIFF page names, so they are answered 400 unsupported.
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';

/** One item: first page and last page (1-based; negative from the end; 'end' = the last). */
export interface PageItem { from: number; to: number | 'end' }

declare module './types.ts' {
  interface PlanValues { page: PageItem[] }
}

const ITEM = /^(?:(-?\d{1,5})|(\d{1,5})-(\d{1,5})?)$/;

/** Zero-based pages of a source with `count` pages; throws naming the count. */
export function selectPages(items: readonly PageItem[], count: number): number[] {
  const out: number[] = [];
  const at = (n: number) => (n < 0 ? count + n : n - 1);
  for (const it of items) {
    const a = at(it.from), b = it.to === 'end' ? count - 1 : at(it.to);
    if (a < 0 || a >= count || b < a || b >= count) throw new Errors.INVALID_PARAM('page', `${itemText(it)} (the source has ${count})`);
    for (let p = a; p <= b; p++) if (!out.includes(p)) out.push(p);
  }
  return out;
}

function itemText(it: PageItem): string {
  return it.to === it.from ? String(it.from) : `${it.from}-${it.to === 'end' ? '' : it.to}`;
}

export const page = defineTransform({
  key: 'pg', planKey: 'page', name: 'page', phase: 'input',
  computes: 'value',
  parse(raw) {
    if (raw.startsWith('name:')) throw new Errors.UNSUPPORTED(`pg_${raw}`, 'named layers need PSD input, which this server cannot read (and TIFF page names are not exposed)');
    if (raw.startsWith('embedded:')) throw new Errors.UNSUPPORTED(`pg_${raw}`, 'embedded images need PSD input, which this server cannot read');
    const items = raw.split(';').map((s): PageItem => {
      const m = ITEM.exec(s);
      if (!m) throw new Errors.INVALID_PARAM('page', raw);
      if (m[1] !== undefined) {
        const n = Number(m[1]);
        if (n === 0 || Math.abs(n) > 10000) throw new Errors.INVALID_PARAM('page', raw);
        return { from: n, to: n };
      }
      const a = Number(m[2]), b = m[3] !== undefined ? Number(m[3]) : 'end';
      if (a < 1 || a > 10000 || (b !== 'end' && (b < a || b > 10000))) throw new Errors.INVALID_PARAM('page', raw);
      return { from: a, to: b };
    });
    if (items.length > 100) throw new Errors.INVALID_PARAM('page', raw);
    return items;
  },
  canonical: (v) => v.map(itemText).join(';'),
  load(value, options) {
    options.pages = (count) => selectPages(value, count);
  },
});
