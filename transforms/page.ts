/**
 * `pg_<n>` — take page/frame n (1-based) of a multi-page (TIFF, PDF-like) or animated source
 * (Cloudinary `page`). Out of range → 400 at render time. Ranges (`pg_2-4`) and names are not
 * supported.
 */
import { defineTransform } from './types.ts';
import { parseIntIn } from './args.ts';
import { Errors } from '../src/errors.ts';

declare module './types.ts' {
  interface PlanValues { page: number }
}

export const page = defineTransform({
  key: 'pg', planKey: 'page', name: 'page', phase: 'input',
  computes: 'value',
  parse(raw) {
    if (/^[\d;-]+$/.test(raw) && /[-;]/.test(raw)) throw new Errors.UNSUPPORTED(`pg_${raw}`, 'page ranges are not supported');
    if (raw.startsWith('name:') || raw.startsWith('embedded:')) throw new Errors.UNSUPPORTED(`pg_${raw}`, 'named pages are not supported');
    return parseIntIn('page', raw, 1, 10000);
  },
  canonical: String,
  load(value, options) {
    options.page = value - 1;
  },
});
