/**
 * `d_<public_id>[.<ext>]` — default image (Cloudinary `default_image`, url-api.md §8): when the
 * requested image does not exist, the stored upload it names is delivered instead, with the
 * URL's transformations, and the answer says so in `X-Cld-Default`. Folders are written with
 * `:` (`d_avatars:anon.png`), as in layers. The pipeline's source stage
 * (src/pipeline/source.ts) asks this transform through its `fallback` hook when the origin
 * answers NOT_FOUND; the default is always an `upload` asset, whatever the URL's delivery type.
 * A missing default keeps the 404.
 */
import { defineTransform, type ImageRef } from './types.ts';
import { Errors } from '../src/errors.ts';
import { FORMAT_BY_EXTENSION } from '../src/formats.ts';

declare module './types.ts' {
  interface PlanValues { defaultImage: ImageRef }
}

function parseDefault(raw: string): ImageRef {
  if (raw.startsWith('$')) {
    // The default replaces a source that is missing, so it is chosen before the source, and
    // with it the variables (which may read its size), are known.
    throw new Errors.UNSUPPORTED(`d_${raw}`, 'a default image named by a variable is not supported (name it d_<public_id>)');
  }
  let id: string;
  try {
    id = decodeURIComponent(raw).split(':').join('/');
  } catch {
    throw new Errors.INVALID_PARAM('default image', raw);
  }
  let ext: string | undefined;
  const dot = id.lastIndexOf('.');
  if (dot > id.lastIndexOf('/') && FORMAT_BY_EXTENSION.has(id.slice(dot + 1).toLowerCase())) {
    ext = id.slice(dot + 1).toLowerCase();
    id = id.slice(0, dot);
  }
  if (!id || id.length > 512 || id.split('/').some((s) => !s || s === '.' || s === '..') || /[\0\\]/.test(id)) {
    throw new Errors.INVALID_PARAM('default image', raw);
  }
  return ext ? { publicId: id, ext } : { publicId: id };
}

export const defaultImage = defineTransform({
  key: 'd', planKey: 'defaultImage', name: 'default image', phase: 'input',
  parse: parseDefault,
  canonical: (v) => (v.publicId.split('/').join(':') + (v.ext ? `.${v.ext}` : '')),
  fallback: (v) => v,
});
