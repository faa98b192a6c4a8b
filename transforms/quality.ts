/**
 * `q_<1-100>[:420|:444]` — encoder quality and chroma subsampling (Cloudinary `quality`).
 * Read by the encoder; the last component that sets it wins. `q_auto[:level]` is perceptual.
 */
import { defineTransform } from './types.ts';
import { parseIntIn } from './args.ts';
import { Errors } from '../src/errors.ts';

export type QualityLevel = 'best' | 'good' | 'eco' | 'low';
export const QUALITY_LEVELS: readonly QualityLevel[] = ['best', 'good', 'eco', 'low'];

/**
 * `q_auto[:best|good|eco|low]` (default good): the lowest quality whose perceptual distance
 * stays within the level's budget (src/analyze/quality.ts). `Save-Data: on` lowers best/good to
 * eco (`resolve`), and such responses carry `Vary: Save-Data`.
 */
export type Quality =
  | { kind: 'fixed'; value: number; chroma?: '4:2:0' | '4:4:4' }
  | { kind: 'auto'; level: QualityLevel };

declare module './types.ts' {
  interface PlanValues { quality: Quality }
}

export const quality = defineTransform({
  key: 'q', planKey: 'quality', name: 'quality', phase: 'output',
  computes: 'value',
  parse(raw): Quality {
    if (raw === 'auto') return { kind: 'auto', level: 'good' };
    if (raw.startsWith('auto:')) {
      const level = raw.slice(5) as QualityLevel;
      if (!QUALITY_LEVELS.includes(level)) throw new Errors.INVALID_PARAM('quality', raw);
      return { kind: 'auto', level };
    }
    if (raw === 'jpegmini' || raw.startsWith('jpegmini')) throw new Errors.UNSUPPORTED(`q_${raw}`, 'JPEGmini is not supported');
    const [q, sub, ...rest] = raw.split(':');
    if (rest.length) throw new Errors.INVALID_PARAM('quality', raw);
    const value = parseIntIn('quality', q, 1, 100);
    if (sub === undefined) return { kind: 'fixed', value };
    if (sub === '420') return { kind: 'fixed', value, chroma: '4:2:0' };
    if (sub === '444') return { kind: 'fixed', value, chroma: '4:4:4' };
    throw new Errors.INVALID_PARAM('quality', raw);
  },
  canonical: (q) => (q.kind === 'auto' ? `auto:${q.level}` : `${q.value}${q.chroma ? ':' + q.chroma.replace(/:/g, '').slice(0, 3) : ''}`),
  dynamic: (q) => q.kind === 'auto',
  resolve(q, rc) {
    rc.vary.add('Save-Data');
    if (q.kind === 'auto' && rc.hints.saveData && (q.level === 'best' || q.level === 'good')) return { kind: 'auto', level: 'eco' } as Quality;
    return q;
  },
});
