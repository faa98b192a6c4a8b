/**
 * `url()`: the delivery URL `cloudinary.v2.url()` (Node SDK 2.11) builds for the same options
 * when configured with `private_cdn: true, secure_distribution: <host>`, minus the SDK's
 * `?_a=` analytics query (Aperture ignores it). Same public id escaping, same `v1` rule for
 * folders, same signature placement and signed text.
 */
import { smartEscape, snakeKeys, transformationString, type TransformationOptions } from './transformation.ts';

/**
 * Signs a URL: the bare signature (no `s--`/`--`) of `toSign`, SHA-1 cut to 8 characters, or
 * SHA-256 cut to 32 with `long`. `signer(secret)` from `@aperture/sdk/sign` makes one; it is
 * a parameter so that this entry needs neither the secret nor a crypto module.
 */
export type Signer = (toSign: string, long: boolean) => string;

/** Delivery options: where the URL points, how it is versioned and signed. */
export interface DeliveryOptions {
  /**
   * Aperture host, `cdn.example.com` (scheme from `secure`) or a full origin
   * `http://127.0.0.1:3000`. Without it the URL is root-relative (`/image/upload/…`).
   */
  host?: string;
  /** Tenant segment placed before `image/` (what the SDK does for a shared-domain cloud). */
  cloud?: string;
  /** Required with `sign_url`: `signer(process.env.APERTURE_SECRET)` from `@aperture/sdk/sign`. */
  signer?: Signer;
  /** `https` (default) or `http` when `host` has no scheme. */
  secure?: boolean;
  /** Extension, the output format unless `fetch_format` says otherwise. */
  format?: string;
  /** `upload` (default), `fetch`, `private`, `authenticated`. */
  type?: 'upload' | 'fetch' | 'private' | 'authenticated' | (string & {});
  resource_type?: 'image' | (string & {});
  resourceType?: 'image' | (string & {});
  version?: string | number;
  /** Add `v1` when the public id has a folder and no version is given (default true). */
  force_version?: boolean;
  forceVersion?: boolean;
  sign_url?: boolean;
  signUrl?: boolean;
  /** SHA-256, 32-character signature instead of SHA-1, 8 characters. */
  long_url_signature?: boolean;
  longUrlSignature?: boolean;
  /** `/iu/` instead of `/image/upload/`. */
  shorten?: boolean;
}

export type UrlOptions = TransformationOptions & DeliveryOptions;

function origin(o: Record<string, unknown>): string {
  const host = o.host as string | undefined;
  let base = '';
  if (host) {
    base = /^https?:\/\//i.test(host) ? host.replace(/\/+$/, '') : `${o.secure === false ? 'http' : 'https'}://${host}`;
  }
  if (o.cloud) base += '/' + String(o.cloud);
  return base;
}

/** The delivery URL for `publicId` (a public id, or a remote URL with `type: 'fetch'`). */
export function url(publicId: string, options: UrlOptions = {}): string {
  const o = snakeKeys(options);
  if (o.type === 'fetch' && o.fetch_format == null) {
    // Fetch URLs carry no extension of their own: the SDK turns `format` into `f_`.
    o.fetch_format = o.format;
    delete o.format;
  }
  let type = (o.type ?? null) as string | null;
  let transformation = transformationString(o as TransformationOptions);
  let resourceType = (o.resource_type ?? 'image') as string;
  let version = o.version as string | number | undefined | null;
  const forceVersion = o.force_version ?? true;
  const longSignature = !!o.long_url_signature;
  const format = o.format as string | undefined | null;
  const signUrl = !!o.sign_url;

  let id = publicId;
  const preloaded = /^(image|raw)\/([a-z0-9_]+)\/v(\d+)\/([^#]+)$/.exec(id);
  if (preloaded) {
    [, resourceType, type, version, id] = preloaded;
  }
  if (id == null) return id;
  id = String(id);
  // The SDK hands back absolute URLs untouched unless a delivery type was asked for.
  if (type === null && /^https?:\//i.test(id)) return id;

  type ??= 'upload';
  if (o.shorten && resourceType === 'image' && type === 'upload') {
    resourceType = 'iu';
    type = null;
  }

  let source = id.replace(/([^:])\/\//g, '$1/');
  let toSignSource: string;
  if (/^https?:\//i.test(source)) {
    source = smartEscape(source);
    toSignSource = source;
  } else {
    source = encodeURIComponent(decodeURIComponent(source)).replace(/%3A/g, ':').replace(/%2F/g, '/');
    toSignSource = source;
    if (format != null) {
      source += '.' + format;
      toSignSource += '.' + format;
    }
  }

  if (version == null && forceVersion && toSignSource.includes('/')
    && !/^v[0-9]+/.test(toSignSource) && !/^https?:\//.test(toSignSource)) {
    version = 1;
  }
  const versionSeg = version != null ? `v${version}` : null;

  transformation = transformation.replace(/([^:])\/\//g, '$1/');
  let signature: string | null = null;
  if (signUrl) {
    const signer = o.signer as Signer | undefined;
    if (typeof signer !== 'function') {
      throw new TypeError("sign_url needs a signer: signer(secret) from '@aperture/sdk/sign', on the server");
    }
    // Signed before spaces become %20, exactly like the SDK, so a raw space stays a space here.
    const toSign = [transformation, toSignSource].filter((p) => p != null && p !== '').join('/');
    signature = `s--${signer(toSign, longSignature)}--`;
  }

  const path = [resourceType, type, signature, transformation, versionSeg, source]
    .filter((p) => p != null && p !== '').join('/');
  return `${origin(o)}/${path}`.replace(/ /g, '%20');
}
