/**
 * Header grammars the image route reads and writes, each parsed or built in one linear pass:
 * `If-None-Match` (RFC 9110 §13.1.2, entity tags §8.8.3) and `Content-Disposition: attachment`
 * (RFC 6266 with the RFC 8187/5987 `filename*` parameter).
 */

const DQUOTE = 0x22;

/**
 * Whether an `If-None-Match` field value matches `etag` by weak comparison (`W/"x"` matches
 * `"x"`), or is `*`. One left-to-right scan: every step moves past what it read (a regex split
 * on `\s*,\s*` was quadratic on long runs of spaces). A field longer than `maxBytes` is not
 * evaluated and counts as no match: the full response is always a correct answer.
 * A malformed member (no opening quote) is skipped up to the next comma.
 */
export function ifNoneMatchHits(field: string | undefined, etag: string, maxBytes: number): boolean {
  if (!field || field.length > maxBytes) return false;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  const n = field.length;
  let i = 0;
  while (i < n) {
    const c = field.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x2c) { i++; continue; } // OWS, list separators
    if (c === 0x2a) return true; // "*"
    if (c === 0x57 && field.charCodeAt(i + 1) === 0x2f) i += 2; // W/
    if (field.charCodeAt(i) !== DQUOTE) {
      const comma = field.indexOf(',', i);
      if (comma === -1) return false;
      i = comma + 1;
      continue;
    }
    const end = field.indexOf('"', i + 1);
    if (end === -1) return false;
    if (end + 1 - i === opaque.length && field.startsWith(opaque, i)) return true;
    i = end + 1;
  }
  return false;
}

/** RFC 8187 attr-char: sent as is in `filename*`; every other byte is percent-encoded. */
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

/** Characters the quoted ASCII fallback never carries: non-printable or non-ASCII, and the
 *  ones some parsers treat specially inside a quoted `filename` (quote, backslash, `%`, `;`, `/`). */
const UNSAFE_FALLBACK = /[^\x20-\x7e]|["\\%;/]/g;

/**
 * `attachment; filename="<ascii>"` and, when the name is not plain safe ASCII,
 * `; filename*=UTF-8''<percent-encoded UTF-8>`: browsers that know `filename*` use the exact
 * name, older ones the fallback with unsafe characters replaced by `_`. No character of the
 * name can end the parameter or add another one.
 */
export function attachmentDisposition(filename: string): string {
  const fallback = filename.replace(UNSAFE_FALLBACK, '_');
  if (fallback === filename) return `attachment; filename="${fallback}"`;
  let encoded = '';
  for (const byte of Buffer.from(filename, 'utf8')) {
    const ch = String.fromCharCode(byte);
    encoded += byte < 0x80 && ATTR_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
