/**
 * Cloudinary "auto-upload" mappings: a folder of public ids stands for a remote base URL, so
 * `upload/…/photos/2024/a b.jpg` with `photos=https://img.example.com/assets/` loads
 * `https://img.example.com/assets/2024/a%20b.jpg`.
 */
import { Errors } from '../errors.ts';

/**
 * The remote URL for `publicId` (already percent-decoded), or undefined when no mapping's
 * folder prefixes it. The longest folder wins, so `a/b=` beats `a=` for `a/b/c.jpg`.
 * Throws Errors.BAD_URL for `.`/`..` segments: URL parsing would resolve them (even
 * percent-encoded ones) and climb out of the mapped base path.
 */
export function resolveRemoteMapping(publicId: string, mappings: Readonly<Record<string, string>>): string | undefined {
  let best: string | undefined;
  for (const folder of Object.keys(mappings)) {
    const f = folder.replace(/^\/+|\/+$/g, '');
    if (!f || !publicId.startsWith(f + '/')) continue;
    if (best === undefined || f.length > best.length) best = folder;
  }
  if (best === undefined) return undefined;
  const rest = publicId.slice(best.replace(/^\/+|\/+$/g, '').length + 1);
  if (rest === '') return undefined;
  const segments = rest.split('/');
  if (segments.some((s) => s === '.' || s === '..')) {
    throw new Errors.BAD_URL(`dot segment in mapped public id ${publicId}`);
  }
  const base = mappings[best];
  return (base.endsWith('/') ? base : base + '/') + segments.map((s) => encodeURIComponent(s)).join('/');
}

