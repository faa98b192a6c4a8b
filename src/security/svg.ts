/**
 * SVG sources are rasterized, never served as SVG. Before libvips/librsvg sees one, it is
 * reduced to drawing instructions: no DOCTYPE (so no entity declarations, internal or
 * external), no undefined entity references, no scripts or foreignObject, no event handlers,
 * and no references that leave the document (only `#fragment` and `data:image/...` survive).
 * librsvg fetches nothing over the network anyway; this also keeps it from reading local files.
 */
const SVG_HEAD = /^\s*(?:\uFEFF)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*(?:<!DOCTYPE|<svg)/i;

export function looksLikeSvg(buf: Buffer): boolean {
  if (buf.length < 5) return false;
  // Raster formats start with a binary signature byte; only text can be SVG (cheap exit on
  // the cache-hit path).
  const b = buf[0];
  if (b !== 0x3c && b !== 0xef && b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  const head = buf.subarray(0, 512).toString('utf8');
  return SVG_HEAD.test(head);
}

const PREDEFINED = new Set(['lt', 'gt', 'amp', 'quot', 'apos']);

export function sanitizeSvg(buf: Buffer): Buffer {
  let s = buf.toString('utf8');
  s = s.replace(/<!DOCTYPE[^[>]*(\[[\s\S]*?\])?\s*>/gi, '');
  s = s.replace(/<\?xml-stylesheet[\s\S]*?\?>/gi, '');
  s = s.replace(/<(script|foreignObject)\b[\s\S]*?<\/\1\s*>/gi, '').replace(/<(script|foreignObject)\b[^>]*\/>/gi, '');
  s = s.replace(/\s+on[a-z]+\s*=\s*("[^"]*"|'[^']*')/gi, '');
  s = s.replace(/\s(xlink:href|href)\s*=\s*("([^"]*)"|'([^']*)')/gi, (m, attr: string, _q, d?: string, sq?: string) => {
    const v = (d ?? sq ?? '').trim();
    return v.startsWith('#') || /^data:image\//i.test(v) ? m : ` ${attr}="#"`;
  });
  s = s.replace(/url\(\s*(['"]?)(?!#|data:image\/)[^)]*\1\s*\)/gi, 'none');
  s = s.replace(/&([A-Za-z_][\w.-]*);/g, (m, name: string) => (PREDEFINED.has(name) ? m : ''));
  return Buffer.from(s, 'utf8');
}
