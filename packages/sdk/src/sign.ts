/**
 * `@aperture/sdk/sign`: URL signatures, for the server side only (it needs the secret, and
 * `node:crypto`). Cloudinary's scheme (url-api.md §6): `s--<sig>--` where `<sig>` is the
 * URL-safe base64 of SHA-1(`<components>/<public_id>.<ext>` + secret) cut to 8 characters, or
 * of SHA-256 cut to 32 characters for `long_url_signature`. The Aperture server verifies with
 * this same function, so the two cannot drift apart.
 *
 *   import { url } from '@aperture/sdk';
 *   import { signer } from '@aperture/sdk/sign';
 *   url('a.jpg', { width: 300, sign_url: true, signer: signer(process.env.APERTURE_SECRET!) });
 */
import { createHash } from 'node:crypto';
import type { Signer } from './url.ts';

export type { Signer };

/** Length of the signature for SHA-1 (the SDK default). */
export const SHORT_SIGNATURE_LENGTH = 8;
/** Length of the signature for SHA-256 (`long_url_signature`). */
export const LONG_SIGNATURE_LENGTH = 32;

/** The bare signature (no `s--`/`--`) for `toSign`; `long` selects SHA-256 / 32 characters. */
export function computeSignature(toSign: string, secret: string, long = false): string {
  const digest = createHash(long ? 'sha256' : 'sha1').update(toSign + secret, 'utf8').digest('base64');
  // Cut before mapping so the result equals the SDKs' (they slice, then replace).
  return digest.slice(0, long ? LONG_SIGNATURE_LENGTH : SHORT_SIGNATURE_LENGTH)
    .replace(/\+/g, '-').replace(/\//g, '_');
}

/** The `signer` option of `url()`/`srcset()`/`imageTag()` for `secret` (the server's `APERTURE_SECRET`). */
export function signer(secret: string): Signer {
  if (typeof secret !== 'string' || secret === '') {
    throw new TypeError('signer needs the secret (a non-empty string): the server\'s APERTURE_SECRET');
  }
  return (toSign, long) => computeSignature(toSign, secret, long);
}
