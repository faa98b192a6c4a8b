/**
 * Cloudinary-compatible delivery URL signatures (url-api.md §6): `s--<sig>--` where `<sig>` is
 * the URL-safe base64 of SHA-1(`<components>/<public_id>.<ext>` + secret) cut to 8 characters,
 * or of SHA-256 cut to 32 characters for the SDKs' `long_url_signature`. The signed text is the
 * path exactly as written in the URL (still percent-encoded, version segment excluded), so the
 * server must hand it over unchanged rather than re-encoding a decoded form.
 */
import { timingSafeEqual } from 'node:crypto';
import { computeSignature, SHORT_SIGNATURE_LENGTH, LONG_SIGNATURE_LENGTH } from '@aperture/sdk/sign';

// One implementation for signing (the SDK) and verifying (here).
export { computeSignature, SHORT_SIGNATURE_LENGTH, LONG_SIGNATURE_LENGTH };

/**
 * Whether `given` (bare, either length) signs `toSign` with `secret`. The length picks the
 * algorithm; the comparison runs in constant time over equal-length buffers. An empty secret
 * never verifies: a server without a secret cannot tell real signatures from forged ones.
 */
export function verifySignature(given: string, toSign: string, secret: string): boolean {
  if (!secret) return false;
  let long: boolean;
  if (given.length === SHORT_SIGNATURE_LENGTH) long = false;
  else if (given.length === LONG_SIGNATURE_LENGTH) long = true;
  else return false;
  const expected = Buffer.from(computeSignature(toSign, secret, long), 'utf8');
  const actual = Buffer.from(given, 'utf8');
  // Non-ASCII input changes the byte length; timingSafeEqual would throw on unequal lengths.
  if (actual.length !== expected.length) return false;
  return timingSafeEqual(actual, expected);
}

/**
 * Split a leading `s--<sig>--` path segment off a delivery path remainder (the part after
 * `<type>/`), returning the bare signature and the rest, or null when there is none.
 */
export function splitSignatureSegment(path: string): { signature: string; rest: string } | null {
  const m = /^s--([A-Za-z0-9_-]{8}|[A-Za-z0-9_-]{32})--(?:\/|$)/.exec(path);
  if (!m) return null;
  return { signature: m[1], rest: path.slice(m[0].length) };
}
