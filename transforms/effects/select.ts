/**
 * Effects that pick pixels by colour or opacity and change only those.
 *
 * | effect | args (default) |
 * |---|---|
 * | replace_color | to colour[:tolerance 0-100 (50)][:from colour (the predominant saturated colour)]: pixels within `tolerance` (CIE Lab ΔE) of `from` are moved by to−from in Lab (shades kept; the last 20 % of the radius fades out). Colours: names, `rgb:`, `#` or bare hex (`2F4F4F`) |
 * | make_transparent | tolerance 0-100 (10): with `co_`, every pixel within tolerance of that colour becomes transparent; without, the predominant border colour, flooded from the edges |
 * | opacity_threshold | level 1-100 (50): alpha below level% → 0, else 255 (an image without alpha is unchanged: nothing is semi-transparent) |
 */
import { Errors } from '../../src/errors.ts';
import { colourCanonical, colourPart, type Rgba } from '../args.ts';
import type { Canvas } from '../../src/render/canvas.ts';
import { intArg, num, type EffectFamily } from './types.ts';
import { fromLab, toLab, toRgb } from './pixels.ts';
import { joinColourTokens } from './colour.ts';

/** A replace_color colour (bare hex too) in canonical text. */
function effectColour(tok: string, raw: string): string {
  return colourCanonical(colourPart('effect', tok, raw, true));
}

/** The most frequent colour (Lab bins of 8) among saturated pixels (chroma > 15), else among all. */
function predominant(data: Buffer, ch: number): [number, number, number] {
  const bins = new Map<number, { n: number; L: number; a: number; b: number }>();
  const grey = new Map<number, { n: number; L: number; a: number; b: number }>();
  const step = Math.max(1, Math.floor(data.length / ch / 40_000));
  for (let i = 0; i < data.length; i += ch * step) {
    const [L, a, b] = toLab(data[i], data[i + 1], data[i + 2]);
    const k = (Math.round(L / 8) * 64 + Math.round(a / 8) + 32) * 64 + Math.round(b / 8) + 32;
    const m = Math.hypot(a, b) > 15 ? bins : grey;
    const e = m.get(k) ?? { n: 0, L: 0, a: 0, b: 0 };
    e.n++; e.L += L; e.a += a; e.b += b;
    m.set(k, e);
  }
  let best = { n: 0, L: 50, a: 0, b: 0 };
  for (const e of (bins.size ? bins : grey).values()) if (e.n > best.n) best = e;
  return [best.L / best.n || 50, best.a / best.n || 0, best.b / best.n || 0];
}

const dist = (d: Buffer, i: number, c: Rgba) => Math.hypot(d[i] - c.r, d[i + 1] - c.g, d[i + 2] - c.b) / Math.hypot(255, 255, 255);

/** Colour most common along the border (5 bits per channel). */
function borderColour(d: Buffer, w: number, h: number, ch: number): Rgba {
  const counts = new Map<number, { n: number; r: number; g: number; b: number }>();
  const add = (x: number, y: number) => {
    const i = (y * w + x) * ch;
    const k = ((d[i] >> 3) << 10) | ((d[i + 1] >> 3) << 5) | (d[i + 2] >> 3);
    const e = counts.get(k) ?? { n: 0, r: 0, g: 0, b: 0 };
    e.n++; e.r += d[i]; e.g += d[i + 1]; e.b += d[i + 2];
    counts.set(k, e);
  };
  for (let x = 0; x < w; x++) { add(x, 0); add(x, h - 1); }
  for (let y = 0; y < h; y++) { add(0, y); add(w - 1, y); }
  let best = { n: 1, r: 255, g: 255, b: 255 };
  for (const e of counts.values()) if (e.n > best.n) best = e;
  return { r: best.r / best.n, g: best.g / best.n, b: best.b / best.n, alpha: 1 };
}

async function withAlpha(c: Canvas): Promise<void> {
  await toRgb(c);
  if (!c.hasAlpha) {
    await c.op('ensureAlpha', 'colour', (img) => img.ensureAlpha());
    c.markAlpha();
  }
}

export const SELECT_EFFECTS: EffectFamily = {
  replace_color: {
    doc: 'Pixels near a colour (default: the predominant one) moved to another, shades kept.',
    examples: ['blue', 'green:40', 'rgb:2f6fde:30:rgb:60402a'],
    parse(args, raw) {
      const t = joinColourTokens(args);
      if (t.length < 1 || t.length > 3) throw new Errors.INVALID_PARAM('effect', raw);
      return [effectColour(t[0], raw), t[1] !== undefined ? intArg(t[1], raw, 0, 100) : 50, ...(t[2] !== undefined ? [effectColour(t[2], raw)] : [])];
    },
    async apply(c, v) {
      const to = colourPart('effect', v.args[0] as string, 'replace_color');
      const tol = Math.max(0.5, v.args[1] as number);
      const from = v.args[2] !== undefined ? colourPart('effect', v.args[2] as string, 'replace_color') : undefined;
      const T = toLab(to.r, to.g, to.b);
      await toRgb(c);
      await c.editPixels((d, info) => {
        const ch = info.channels;
        const F = from ? toLab(from.r, from.g, from.b) : predominant(d, ch);
        const dL = T[0] - F[0], da = T[1] - F[1], db = T[2] - F[2];
        const out = [0, 0, 0];
        // photos repeat colours: one Lab round trip per distinct colour (-1: left alone)
        const seen = new Map<number, number>();
        for (let i = 0; i < d.length; i += ch) {
          const key = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
          let v = seen.get(key);
          if (v === undefined) {
            const [L, a, b] = toLab(d[i], d[i + 1], d[i + 2]);
            const e = Math.hypot(L - F[0], a - F[1], b - F[2]);
            if (e > tol) v = -1;
            else {
              const w = e <= 0.8 * tol ? 1 : (tol - e) / (0.2 * tol);
              fromLab(L + dL * w, a + da * w, b + db * w, out);
              const c = (j: number) => Math.max(0, Math.min(255, Math.round(out[j])));
              v = (c(0) << 16) | (c(1) << 8) | c(2);
            }
            if (seen.size < 1 << 20) seen.set(key, v);
          }
          if (v < 0) continue;
          d[i] = v >> 16; d[i + 1] = (v >> 8) & 255; d[i + 2] = v & 255;
        }
      });
    },
  },
  make_transparent: {
    doc: "The border's colour flooded from the edges made transparent (with co_: that colour everywhere).",
    examples: ['20', { transformation: 'co_white,e_make_transparent:20' }],
    parse: num(0, 100, 10),
    reads: ['colour'],
    async apply(c, v, _ctx, component) {
      const tol = (v.args[0] as number) / 100;
      await withAlpha(c);
      await c.editPixels((d, info) => {
        const { width: w, channels: ch } = info;
        const h = info.height;
        if (component.colour) {
          for (let i = 0; i < d.length; i += ch) if (dist(d, i, component.colour) <= tol) d[i + 3] = 0;
          return;
        }
        // flood from the border through pixels near the border's colour (each frame alike)
        const bg = borderColour(d, w, h, ch);
        const seen = new Uint8Array(w * h);
        const stack: number[] = [];
        const push = (p: number) => { if (!seen[p]) { seen[p] = 1; if (dist(d, p * ch, bg) <= tol) stack.push(p); } };
        for (let x = 0; x < w; x++) { push(x); push((h - 1) * w + x); }
        for (let y = 0; y < h; y++) { push(y * w); push(y * w + w - 1); }
        while (stack.length) {
          const p = stack.pop()!;
          d[p * ch + 3] = 0;
          const x = p % w, y = (p - x) / w;
          if (x > 0) push(p - 1);
          if (x < w - 1) push(p + 1);
          if (y > 0) push(p - w);
          if (y < h - 1) push(p + w);
        }
      });
    },
  },
  opacity_threshold: {
    doc: 'Alpha below level % becomes 0, the rest 255.',
    examples: [{ transformation: 'e_gradient_fade:40,y_0.9/e_opacity_threshold:40' }],
    parse: num(1, 100, 50),
    async apply(c, v) {
      if (!c.hasAlpha) return;
      const t = ((v.args[0] as number) / 100) * 255;
      await c.editPixels((d, info) => {
        const ch = info.channels;
        for (let i = ch - 1; i < d.length; i += ch) d[i] = d[i] < t ? 0 : 255;
      });
    },
  },
};
