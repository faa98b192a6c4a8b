/**
 * The one table of error codes. Every failure a request can meet is one of these: a status and
 * a message shape. 4xx messages are shown to the client (in `X-Cld-Error`); 502, 503 and 504
 * say what failed (an origin, the queue, the budget); anything else is a 500 "Internal error"
 * whose cause is logged with the request (`errorAnswer`, written by pipeline/respond.ts).
 *
 * A libvips failure is a 4xx only when it was raised while decoding or validating the source
 * (`sourceError`: the header read, or the source decoded alone after a render failed, see
 * render/blame.ts); its wording is never enough, since broken files and renderer bugs share
 * messages ("bad extract area", "out of order read").
 */
import createError from '@fastify/error';

/** Errors.TOO_LARGE: one code, whose status says whose size is over the limit. */
class TooLarge extends Error {
  readonly code = 'APERTURE_TOO_LARGE';
  readonly statusCode: 400 | 413;
  constructor(detail: string, whose: 'source' | 'output' = 'source') {
    super(`${whose === 'source' ? 'Resource' : 'Requested output'} too large: ${detail}`);
    this.name = 'ApertureError';
    this.statusCode = whose === 'source' ? 413 : 400;
  }
}

/**
 * Errors.PENDING: the result needs work that is still running (a background removal mask); the
 * answer is 423 with `Retry-After`, as Cloudinary answers while a derived asset is generated.
 */
class Pending extends Error {
  readonly code = 'APERTURE_PENDING';
  readonly statusCode = 423;
  /** Seconds for `Retry-After`. */
  readonly retryAfterS: number;
  constructor(detail: string, retryAfterS: number) {
    super(`Processing: ${detail}`);
    this.name = 'ApertureError';
    this.retryAfterS = Math.max(1, Math.ceil(retryAfterS));
  }
}

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
  /**
   * Over a configured limit: the one "too large" code. Args: what is over the limit and the limit
   * ("source is 16000x16000 = 256000000 pixels, limit 50000000"), and whose: the `source` (the
   * stored or fetched image, 413 "Resource too large: …", the default) or the `output` the
   * request asks for (400 "Requested output too large: …", a bad transformation).
   */
  TOO_LARGE: TooLarge,
  /** Work this result needs is still running: 423 with Retry-After. Args: what, seconds. */
  PENDING: Pending,
  /** The source is not an image format we decode. Arg: reason. */
  UNSUPPORTED_SOURCE: createError<'APERTURE_UNSUPPORTED_SOURCE', 415, [string]>(
    'APERTURE_UNSUPPORTED_SOURCE', 'Unsupported image source: %s', 415),
  /** The source decodes badly (empty, truncated, corrupt). Arg: reason. */
  CORRUPT_SOURCE: createError<'APERTURE_CORRUPT_SOURCE', 422, [string]>(
    'APERTURE_CORRUPT_SOURCE', 'Corrupt image source: %s', 422),
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

/** Whether `e` is the table's error `name` (by its code, never by its message). */
export function hasCode(e: unknown, name: ApertureErrorCode): e is HttpError {
  return isHttpError(e) && e.code === `APERTURE_${name}`;
}

/** Shorthand for the most common throw in parsers. */
export function invalid(name: string, raw: string): HttpError {
  return new Errors.INVALID_PARAM(name, raw);
}

/** sharp's `timeout` stopped libvips ("timeout: 43% complete"): the request's budget ran out. */
function libvipsTimeout(msg: string): HttpError | undefined {
  if (!/^timeout: \d+% complete/.test(msg)) return undefined;
  return new Errors.TIMEOUT(`processing stopped at the time limit (${msg.split('\n')[0].slice(0, 200)})`);
}

/**
 * The 4xx of a failure raised while decoding or validating a source, and only there: the
 * source's header read (render/source-meta.ts) or the source decoded alone after a render
 * failed (render/blame.ts). The caller knows the source is at fault; the message only chooses
 * between not an image we decode (415), over the pixel limit (413) and broken bytes (422), and
 * `otherwise` is the answer when it says none of these.
 */
export function sourceError(e: unknown, otherwise: 'unsupported' | 'corrupt'): HttpError {
  if (isHttpError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0].slice(0, 200);
  const timeout = libvipsTimeout(msg);
  if (timeout) return timeout;
  if (/unsupported image format|not a known file format|is not in a known format|bad seek|VipsForeignLoad: .* is not/i.test(msg)) {
    return new Errors.UNSUPPORTED_SOURCE(first);
  }
  if (/pixel limit|Input image exceeds|too large|exceeds (user )?limit/i.test(msg)) return new Errors.TOO_LARGE(first);
  // Loader wording: "<format>2vips: unable to read pixels", "VipsForeignLoad…", libpng/libjpeg's.
  if (otherwise === 'corrupt' || /premature end|truncated|corrupt|invalid|bad|unexpected end|read error|Empty|zero-length|not enough data|decode|load|out of order|CRC|IDAT|huffman|marker|2vips|unable to (read|load|decode)|VipsForeign|vips_image_get|image ended|failOn|warning treated as error|dimensions|width and height|maximum/i.test(msg)) {
    return new Errors.CORRUPT_SOURCE(first);
  }
  return new Errors.UNSUPPORTED_SOURCE('not a recognised image format');
}

/**
 * A failure of the work done for a request, not of its source (the renderer, an encoder, an
 * analysis): the budget running out is a 504; anything else that is not already one of the
 * table's errors is a 500 whose cause is logged with the request.
 */
export function processingError(e: unknown): HttpError {
  if (isHttpError(e)) return e;
  const timeout = libvipsTimeout(e instanceof Error ? e.message : String(e));
  if (timeout) return timeout;
  const err = new Errors.INTERNAL();
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/** What a client is told of a failure, and whether it is logged (only failures of the server are). */
export interface ErrorAnswer {
  readonly status: number;
  readonly message: string;
  /** A 500: the cause is logged with the request, the client sees "Internal error". */
  readonly logged: boolean;
}

/**
 * The answer to any thrown value. The table's errors answer their status and message (502, 503
 * and 504 are operational and not logged), and so do fastify's own 4xx (a body or header it
 * refused; a schema validation failure is a 400); anything else, an INTERNAL included, is a
 * logged 500 with a generic message.
 */
export function errorAnswer(e: unknown): ErrorAnswer {
  const status = (e as { validation?: unknown }).validation ? 400 : isHttpError(e) ? e.statusCode : 500;
  if (status < 500 || (isHttpError(e) && e.code.startsWith('APERTURE_') && e.code !== 'APERTURE_INTERNAL')) {
    return { status, message: (e as Error).message, logged: false };
  }
  return { status: 500, message: new Errors.INTERNAL().message, logged: true };
}
