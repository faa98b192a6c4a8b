/**
 * Properties of the SVG sanitizer (src/security/svg-worker.ts) on generated hostile markup
 * (fast-check, fixed seed): its output is a fixed point (sanitizing it again changes nothing,
 * so librsvg parses exactly what the scanner understood), carries no declaration, PI, comment,
 * dropped element, event handler or outside reference, and nests no deeper than libxml2 allows.
 * The route-level behaviour (worker, limits, canaries through HTTP) is in svg-hostile.test.ts.
 */
import fc from 'fast-check';
import t from 'tap';
import { MAX_DEPTH, sanitizeSvgText } from '../../src/security/svg-worker.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20250505);

const names = fc.constantFrom('svg', 'g', 'rect', 'style', 'script', 'SCRIPT', 'svg:script', 'foreignObject', 'xi:include', 'image', 'use', 'a', 'text', 'x');
const attrNames = fc.constantFrom('href', 'xlink:href', 'src', 'onload', 'ONCLICK', 'style', 'fill', 'xml:base', 'width', 'a', 'a');
const values = fc.constantFrom('#x', 'http://e/x', ' data:image/png;base64,AA', 'data:image/svg+xml,<svg/>', 'javascript:1', 'url(http://e)', 'url(#ok)', 'u\\72l(http://e)',
  '&#104;ttp://e', '&#x75;rl(http://e)', '&ent;', '&amp;', '"', "'", '<', '>', '&', 'url(', ' ', '');
const piece: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(names, fc.array(fc.tuple(attrNames, values, fc.constantFrom('"', "'")), { maxLength: 3 }), fc.boolean())
    .map(([n, attrs, self]) => `<${n}${attrs.map(([a, v, q]) => ` ${a}=${q}${v.replaceAll(q, '')}${q}`).join('')}${self ? '/>' : '>'}`),
  names.map((n) => `</${n}>`),
  fc.constantFrom('<!--c-->', '<!--', '-->', '<?pi x?>', '<?xml-stylesheet href="data:text/css,rect{fill:red}"?>', '<!DOCTYPE svg [<!ENTITY e "<rect/>">]>', '<!ENTITY x "y">',
    '<![CDATA[<script>]]>', ']]>', '&e;', '&#60;script&#62;', '&lt;', '<', '>', '&', '"', "'", '@import "x";', 'url(http://e)', ' ', '\n', 'text', '\uFEFF'),
);
const doc = fc.array(piece, { maxLength: 40 }).map((p) => p.join(''));

/** Whether `pos` of a (well-formed) output is inside a style element. */
function inStyle(out: string, pos: number): boolean {
  let depth = 0;
  for (const m of out.slice(0, pos).matchAll(/<(\/?)([^\s/>]+)[^>]*?(\/?)>/g)) {
    if (m[2].replace(/^.*:/, '').toLowerCase() !== 'style' || m[3]) continue;
    depth += m[1] ? -1 : 1;
  }
  return depth > 0;
}

t.test('sanitizer output is a fixed point with nothing dangerous in it', async (t) => {
  let checked = 0;
  fc.assert(fc.property(doc, (input) => {
    const out = sanitizeSvgText(input);
    checked++;
    const why = (m: string) => { throw new Error(`${m}\n  in:  ${input}\n  out: ${out}`); };
    if (sanitizeSvgText(out) !== out) why('not a fixed point');
    if (/<[!?]/.test(out)) why('declaration, comment, CDATA or PI in the output');
    if (/<(?:[\w.-]+:)?(?:script|foreignobject|include)\b/i.test(out)) why('a dropped element survived');
    if (/\son[a-z]*\s*=/i.test(out) || /\sxml:base\s*=/i.test(out)) why('an event handler or xml:base survived');
    for (const m of out.matchAll(/\s(?:[\w.-]+:)?(?:href|src)="([^"]*)"/gi)) {
      if (!/^(?:#|data:image\/(?:png|jpeg|jpg|gif|webp)[;,])/i.test(m[1])) why(`an outside reference survived: ${m[1]}`);
    }
    for (const m of out.matchAll(/url\(([^)]*)\)/gi)) {
      const arg = m[1].trim().replace(/^["']|["']$/g, '').trim();
      if (!/^(?:#|data:image\/(?:png|jpeg|jpg|gif|webp)[;,])/i.test(arg)) {
        // Text outside <style> may say url(...); librsvg never resolves it there.
        if (inStyle(out, m.index) || /=\s*"[^"]*$/.test(out.slice(0, m.index))) why(`an outside url() survived: ${m[0]}`);
      }
    }
    for (const m of out.matchAll(/@import/gi)) if (inStyle(out, m.index)) why('@import survived in a style element');
    if (/&(?!amp;|lt;|gt;|quot;|#\d+;)/.test(out)) why('an entity reference other than the escapes survived');
    return true;
  }), { seed: SEED, numRuns: 3000 });
  t.ok(checked >= 3000, `${checked} generated documents`);
});

t.test('nesting deeper than libxml2 allows is refused', async (t) => {
  t.doesNotThrow(() => sanitizeSvgText(`<svg>${'<g>'.repeat(MAX_DEPTH - 1)}</svg>`), `${MAX_DEPTH} levels pass`);
  t.throws(() => sanitizeSvgText(`<svg>${'<g>'.repeat(MAX_DEPTH)}</svg>`), { message: /nest deeper than 256/ }, `${MAX_DEPTH + 1} levels: corrupt`);
});
