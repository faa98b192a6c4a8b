/**
 * `q_<1-100>[:420|:444]` — encoder quality and chroma subsampling (Cloudinary `quality`).
 * Read by the encoder; the last component that sets it wins. `q_auto[:level]` is perceptual.
 */
import { defineTransform } from './types.ts';
import { parseIntIn } from './args.ts';
import { Errors } from '../src/errors.ts';

export type Quality = { kind: 'fixed'; value: number; chroma?: '4:2:0' | '4:4:4' };

declare module './types.ts' {
  interface PlanValues { quality: Quality }
}

export const quality = defineTransform({
  key: 'q', planKey: 'quality', name: 'quality', phase: 'output',
  parse(raw): Quality {
    if (raw.startsWith('auto')) throw new Errors.UNSUPPORTED(`q_${raw}`, 'automatic quality is not supported yet');
    if (raw === 'jpegmini' || raw.startsWith('jpegmini')) throw new Errors.UNSUPPORTED(`q_${raw}`, 'JPEGmini is not supported');
    const [q, sub, ...rest] = raw.split(':');
    if (rest.length) throw new Errors.INVALID_PARAM('quality', raw);
    const value = parseIntIn('quality', q, 1, 100);
    if (sub === undefined) return { kind: 'fixed', value };
    if (sub === '420') return { kind: 'fixed', value, chroma: '4:2:0' };
    if (sub === '444') return { kind: 'fixed', value, chroma: '4:4:4' };
    throw new Errors.INVALID_PARAM('quality', raw);
  },
  canonical: (q) => `${q.value}${q.chroma ? ':' + q.chroma.replace(/:/g, '').slice(0, 3) : ''}`,
});
