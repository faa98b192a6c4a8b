/**
 * The one table of error codes. Every failure a request can meet is one of these: a status and
 * a message shape. 4xx messages are shown to the client (in `X-Cld-Error`); 5xx messages are
 * generic and the cause is logged.
 */
import createError from '@fastify/error';

export const Errors = {
  /** `Invalid width in transformation: abc` (Cloudinary's wording). Args: parameter name, raw value. */
  INVALID_PARAM: createError<'APERTURE_INVALID_PARAM', 400, [string, string]>(
    'APERTURE_INVALID_PARAM', 'Invalid %s in transformation: %s', 400),
  /** A key nobody knows. Arg: the token. */
  UNKNOWN_TRANSFORMATION: createError<'APERTURE_UNKNOWN_TRANSFORMATION', 400, [string]>(
    'APERTURE_UNKNOWN_TRANSFORMATION', 'Unknown transformation %s', 400),
  /** A key Cloudinary has that Aperture does not perform (yet). Args: token, reason. */
  UNSUPPORTED: createError<'APERTURE_UNSUPPORTED', 400, [string, string]>(
    'APERTURE_UNSUPPORTED', 'Unsupported transformation %s: %s', 400),
  /** A structurally broken URL (bad delivery type, empty public id, ...). Arg: reason. */
  BAD_URL: createError<'APERTURE_BAD_URL', 400, [string]>(
    'APERTURE_BAD_URL', 'Invalid URL: %s', 400),
  /** The requested output is over a configured limit. Arg: what and the limit. */
  OUTPUT_TOO_LARGE: createError<'APERTURE_OUTPUT_TOO_LARGE', 400, [string]>(
    'APERTURE_OUTPUT_TOO_LARGE', 'Requested output too large: %s', 400),
  /** Signature missing or wrong. Arg: reason. */
  BAD_SIGNATURE: createError<'APERTURE_BAD_SIGNATURE', 401, [string]>(
    'APERTURE_BAD_SIGNATURE', 'Invalid signature: %s', 401),
  /** Upload/Admin API credentials missing or wrong. Arg: reason. */
  UNAUTHORIZED: createError<'APERTURE_UNAUTHORIZED', 401, [string]>(
    'APERTURE_UNAUTHORIZED', '%s', 401),
  /** The API call would replace something it was told not to. Arg: reason. */
  CONFLICT: createError<'APERTURE_CONFLICT', 409, [string]>(
    'APERTURE_CONFLICT', '%s', 409),
  /** An Upload/Admin API parameter is missing, unknown or invalid. Arg: reason. */
  BAD_API_PARAM: createError<'APERTURE_BAD_API_PARAM', 400, [string]>(
    'APERTURE_BAD_API_PARAM', '%s', 400),
  /** Source refused by policy (SSRF guard, allow-list). Arg: reason. */
  FORBIDDEN: createError<'APERTURE_FORBIDDEN', 403, [string]>(
    'APERTURE_FORBIDDEN', 'Forbidden: %s', 403),
  /** Missing source. Arg: public id. */
  NOT_FOUND: createError<'APERTURE_NOT_FOUND', 404, [string]>(
    'APERTURE_NOT_FOUND', 'Resource not found - %s', 404),
  /** Source or output over a configured limit. Arg: what and by how much. */
  TOO_LARGE: createError<'APERTURE_TOO_LARGE', 413, [string]>(
    'APERTURE_TOO_LARGE', 'Resource too large: %s', 413),
  /** The source is not an image format we decode. Arg: reason. */
  UNSUPPORTED_SOURCE: createError<'APERTURE_UNSUPPORTED_SOURCE', 415, [string]>(
    'APERTURE_UNSUPPORTED_SOURCE', 'Unsupported image source: %s', 415),
  /** The source decodes badly (empty, truncated, corrupt). Arg: reason. */
  CORRUPT_SOURCE: createError<'APERTURE_CORRUPT_SOURCE', 422, [string]>(
    'APERTURE_CORRUPT_SOURCE', 'Corrupt image source: %s', 422),
  /** The requested processing cannot be done on this input (e.g. output too large). Arg: reason. */
  UNPROCESSABLE: createError<'APERTURE_UNPROCESSABLE', 422, [string]>(
    'APERTURE_UNPROCESSABLE', 'Cannot process image: %s', 422),
  /** Remote origin answered with an error. Arg: reason. */
  ORIGIN_FAILED: createError<'APERTURE_ORIGIN_FAILED', 502, [string]>(
    'APERTURE_ORIGIN_FAILED', 'Origin failed: %s', 502),
  /** Too busy: admission control shed the request. Arg: reason. */
  OVERLOADED: createError<'APERTURE_OVERLOADED', 503, [string]>(
    'APERTURE_OVERLOADED', 'Service overloaded: %s', 503),
  /** Remote origin or processing timed out. Arg: reason. */
  TIMEOUT: createError<'APERTURE_TIMEOUT', 504, [string]>(
    'APERTURE_TIMEOUT', 'Timed out: %s', 504),
  /** Anything unexpected. The message never leaks internals. */
  INTERNAL: createError<'APERTURE_INTERNAL', 500, []>(
    'APERTURE_INTERNAL', 'Internal error', 500),
} as const;

export type ApertureErrorCode = keyof typeof Errors;

export interface HttpError extends Error {
  statusCode: number;
  code: string;
}

export function isHttpError(e: unknown): e is HttpError {
  return e instanceof Error && typeof (e as { statusCode?: unknown }).statusCode === 'number'
    && typeof (e as { code?: unknown }).code === 'string';
}

/** Shorthand for the most common throw in parsers. */
export function invalid(name: string, raw: string): HttpError {
  return new Errors.INVALID_PARAM(name, raw);
}

/**
 * Map a libvips/sharp failure met while decoding a source to the right 4xx. libvips reports
 * problems with the input in a handful of recognisable phrasings; anything else is a 500.
 */
export function classifySharpError(e: unknown): HttpError {
  if (isHttpError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0].slice(0, 200);
  // sharp's `timeout` stopped libvips ("timeout: 43% complete"): the request's budget ran out.
  if (/^timeout: \d+% complete/.test(msg)) return new Errors.TIMEOUT(`processing stopped at the time limit (${first})`);
  if (/unsupported image format|not a known file format|is not in a known format|bad seek|VipsForeignLoad: .* is not/i.test(msg)) {
    return new Errors.UNSUPPORTED_SOURCE(first);
  }
  if (/pixel limit|exceeds pixel limit|Input image exceeds/i.test(msg)) {
    return new Errors.TOO_LARGE(first);
  }
  // Loader messages: "<format>2vips: unable to read pixels", "VipsForeignLoad...", libpng/libjpeg wording.
  if (/premature end|truncated|corrupt|invalid|bad|unexpected end|read error|Empty|zero-length|not enough data|decode|load|out of order|CRC|IDAT|huffman|marker|2vips|unable to (read|load|decode)|VipsForeign|vips_image_get|image ended|failOn|warning treated as error/i.test(msg)) {
    return new Errors.CORRUPT_SOURCE(first);
  }
  if (/too large|dimensions|width and height|maximum|exceeds/i.test(msg)) {
    return new Errors.UNPROCESSABLE(first);
  }
  const err = new Errors.INTERNAL();
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}
