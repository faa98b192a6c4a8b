/**
 * Keys Cloudinary has that Aperture recognises but does not perform: each is answered 400 with
 * a message naming it, never "unknown" and never a 500.
 */
import type { UnsupportedKey } from './types.ts';

const VIDEO = 'video-only parameter, not valid for images';

export const UNSUPPORTED_KEYS: readonly UnsupportedKey[] = [
  { key: 'dl', reason: 'animation delay is not supported' },
  { key: 'fn', reason: 'custom functions are not supported' },
  { key: 'ki', reason: 'keyframe interval is not supported' },
  ...['so', 'eo', 'du', 'vc', 'ac', 'af', 'br', 'fps', 'sp', 'vs', 'ap', 'sg'].map((key) => ({ key, reason: VIDEO })),
];
