/**
 * Credentials of the Upload and Admin APIs (upload-api.md): Upload API calls carry Cloudinary's
 * request signature (the parameters except `file`, `api_key`, `resource_type`, `cloud_name` and
 * `signature`, sorted by name, `k=v` joined with `&`, the secret appended, SHA-1 or, with
 * `signature_algorithm=sha256`, SHA-256, hex) and a `timestamp` within the hour; Admin API
 * calls use HTTP Basic `api_key:api_secret`.
 */
import crypto from 'node:crypto';
import { Errors } from '../errors.ts';

const UNSIGNED = new Set(['file', 'api_key', 'resource_type', 'cloud_name', 'signature']);
/** How far a request's timestamp may be from now (Cloudinary: one hour). */
const MAX_SKEW_S = 3600;

export type Params = Readonly<Record<string, string>>;

/** The string Cloudinary signs: sorted `k=v` pairs of the signed, non-empty parameters. */
export function signedText(params: Params): string {
  return Object.keys(params).filter((k) => !UNSIGNED.has(k) && params[k] !== '').sort().map((k) => `${k}=${params[k]}`).join('&');
}

export function apiSignature(params: Params, secret: string, algorithm: 'sha1' | 'sha256' = 'sha1'): string {
  return crypto.createHash(algorithm).update(signedText(params) + secret).digest('hex');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export interface ApiCredentials { readonly apiKey: string; readonly secret: string }

/** Throws UNAUTHORIZED unless `params` are signed with the configured key and secret. */
export function checkSignedParams(params: Params, creds: ApiCredentials, nowMs: number): void {
  if (!creds.apiKey || !creds.secret) throw new Errors.UNAUTHORIZED('The Upload API is not configured (APERTURE_API_KEY and APERTURE_SECRET)');
  if (!params.api_key) throw new Errors.UNAUTHORIZED('Must supply api_key');
  if (!same(params.api_key, creds.apiKey)) throw new Errors.UNAUTHORIZED(`Unknown API key ${params.api_key.slice(0, 64)}`);
  if (!params.signature) throw new Errors.UNAUTHORIZED('Missing required parameter - signature');
  const ts = Number(params.timestamp);
  if (!params.timestamp || !Number.isInteger(ts)) throw new Errors.UNAUTHORIZED('Missing required parameter - timestamp');
  if (Math.abs(nowMs / 1000 - ts) > MAX_SKEW_S) throw new Errors.UNAUTHORIZED(`Stale request - reported time is ${ts} which is more than 1 hour from now`);
  const alg = params.signature_algorithm === 'sha256' ? 'sha256' : params.signature_algorithm === undefined || params.signature_algorithm === 'sha1' ? 'sha1' : undefined;
  if (!alg) throw new Errors.UNAUTHORIZED(`Unknown signature_algorithm ${params.signature_algorithm.slice(0, 20)}`);
  if (!same(params.signature.toLowerCase(), apiSignature(params, creds.secret, alg))) {
    throw new Errors.UNAUTHORIZED(`Invalid Signature ${params.signature.slice(0, 64)}. String to sign - '${signedText(params).slice(0, 200)}'.`);
  }
}

/** Throws UNAUTHORIZED unless the Authorization header is Basic `api_key:api_secret`. */
export function checkBasicAuth(header: string | undefined, creds: ApiCredentials): void {
  if (!creds.apiKey || !creds.secret) throw new Errors.UNAUTHORIZED('The Admin API is not configured (APERTURE_API_KEY and APERTURE_SECRET)');
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) throw new Errors.UNAUTHORIZED('Missing or malformed Basic authorization');
  const text = Buffer.from(m[1], 'base64').toString();
  const colon = text.indexOf(':');
  if (colon < 0 || !same(text.slice(0, colon), creds.apiKey) || !same(text.slice(colon + 1), creds.secret)) throw new Errors.UNAUTHORIZED('Invalid credentials');
}
