/**
 * `c_<mode>` — crop/resize mode (Cloudinary `crop`). Default `scale` when w/h are given.
 * Modes: scale fit limit mfit fill lfill pad lpad mpad crop thumb (fill_pad and auto need
 * content-aware gravity). Owned by the geometry step.
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { own } from './args.ts';

export const CROP_MODES = ['scale', 'fit', 'limit', 'mfit', 'fill', 'lfill', 'pad', 'lpad', 'mpad', 'crop', 'thumb', 'fill_pad', 'auto'] as const;
export type CropMode = (typeof CROP_MODES)[number];

const LATER: Partial<Record<string, string>> = {
  imagga_crop: 'third-party add-on crops are not supported',
  imagga_scale: 'third-party add-on crops are not supported',
};

declare module './types.ts' {
  interface PlanValues { crop: CropMode }
}

export const crop = defineTransform({
  key: 'c',
  planKey: 'crop',
  name: 'crop',
  phase: 'geometry',
  parse(raw) {
    if ((CROP_MODES as readonly string[]).includes(raw)) return raw as CropMode;
    const later = own(LATER, raw);
    if (later) throw new Errors.UNSUPPORTED(`c_${raw}`, later);
    throw new Errors.INVALID_PARAM('crop', raw);
  },
  canonical: (v) => v,
});
