/**
 * Shared argument helpers for transform parsers. Each takes the parameter's human name (for
 * the error message) and the raw text, and throws Errors.INVALID_PARAM on anything off.
 */
import { Errors } from '../src/errors.ts';

const INT = /^-?\d+$/;
const NUM = /^-?(?:\d+\.?\d*|\.\d+)$/;

export function parseIntIn(name: string, raw: string, min: number, max: number): number {
  if (!INT.test(raw)) throw new Errors.INVALID_PARAM(name, raw);
  const v = Number(raw);
  if (v < min || v > max) throw new Errors.INVALID_PARAM(name, raw);
  return v;
}

export function parseNumberIn(name: string, raw: string, min: number, max: number): number {
  if (!NUM.test(raw)) throw new Errors.INVALID_PARAM(name, raw);
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Errors.INVALID_PARAM(name, raw);
  return v;
}

/**
 * A pixel count or a fraction of the input (a value with a decimal point below/at 1.0). A pixel
 * count written with a decimal point above 1 (`w_1.5`) keeps that number as `decimal`: the plan's
 * layer grouping turns it into a multiple (150 %) for a layer sized with fl_relative or
 * fl_region_relative (src/plan/parse.ts).
 */
export type Dim = { kind: 'px'; value: number; decimal?: number } | { kind: 'fraction'; value: number };

export function parseDim(name: string, raw: string, maxPx: number): Dim {
  if (INT.test(raw)) {
    const v = Number(raw);
    if (v < 1 || v > maxPx) throw new Errors.INVALID_PARAM(name, raw);
    return { kind: 'px', value: v };
  }
  if (NUM.test(raw)) {
    const v = Number(raw);
    // Cloudinary: a decimal value is relative to the input ("w_0.5"); "w_1.0" is the full size.
    // Larger decimals like "w_100.5" are pixel counts rounded.
    if (v > 0 && v <= 1) return { kind: 'fraction', value: v };
    if (v > 1 && v <= maxPx) return { kind: 'px', value: Math.round(v), decimal: v };
  }
  throw new Errors.INVALID_PARAM(name, raw);
}

/**
 * Exact text of a number for cache keys: JavaScript's shortest round-trip spelling, so two
 * different values never print alike (rounding here once made `w_0.12354` and `w_0.12352`
 * share a key, issue 12).
 */
export function numberCanonical(v: number): string {
  return String(v);
}

/** A fraction always keeps a decimal point, so `w_1.0` (the full size) never reads as 1 px. */
export function dimCanonical(d: Dim): string {
  if (d.kind === 'px') return String(d.value);
  const s = numberCanonical(d.value);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

export function resolveDim(d: Dim, inputSize: number): number {
  return d.kind === 'px' ? d.value : Math.max(1, Math.round(d.value * inputSize));
}

/** An offset: integer pixels (may be negative) or a fraction (-1..1 with a decimal point). */
export function parseOffset(name: string, raw: string): Dim {
  if (INT.test(raw)) {
    const v = Number(raw);
    if (Math.abs(v) > 100_000) throw new Errors.INVALID_PARAM(name, raw);
    return { kind: 'px', value: v };
  }
  if (NUM.test(raw)) {
    const v = Number(raw);
    if (Math.abs(v) <= 1) return { kind: 'fraction', value: v };
    if (Math.abs(v) <= 100_000) return { kind: 'px', value: Math.round(v) };
  }
  throw new Errors.INVALID_PARAM(name, raw);
}

export function resolveOffset(d: Dim | undefined, inputSize: number): number {
  if (!d) return 0;
  return d.kind === 'px' ? d.value : Math.round(d.value * inputSize);
}

/** RGBA 0-255 (alpha 0-1 as sharp expects). */
export interface Rgba { r: number; g: number; b: number; alpha: number }

// CSS named colours (all of them); anything else goes through rgb:/hex.
const NAMED: Record<string, string> = {
  black: '000000', white: 'ffffff', red: 'ff0000', green: '008000', blue: '0000ff', yellow: 'ffff00',
  cyan: '00ffff', aqua: '00ffff', magenta: 'ff00ff', fuchsia: 'ff00ff', gray: '808080', grey: '808080',
  silver: 'c0c0c0', maroon: '800000', olive: '808000', lime: '00ff00', navy: '000080', purple: '800080',
  teal: '008080', orange: 'ffa500', pink: 'ffc0cb', brown: 'a52a2a', gold: 'ffd700', beige: 'f5f5dc',
  coral: 'ff7f50', crimson: 'dc143c', darkblue: '00008b', darkgray: 'a9a9a9', darkgrey: 'a9a9a9',
  darkgreen: '006400', darkred: '8b0000', indigo: '4b0082', ivory: 'fffff0', khaki: 'f0e68c',
  lavender: 'e6e6fa', lightblue: 'add8e6', lightgray: 'd3d3d3', lightgrey: 'd3d3d3', lightgreen: '90ee90',
  salmon: 'fa8072', skyblue: '87ceeb', tan: 'd2b48c', tomato: 'ff6347', turquoise: '40e0d0',
  violet: 'ee82ee', wheat: 'f5deb3', whitesmoke: 'f5f5f5', snow: 'fffafa', chocolate: 'd2691e',
  orchid: 'da70d6', plum: 'dda0dd', peru: 'cd853f', sienna: 'a0522d', steelblue: '4682b4',
  slategray: '708090', slategrey: '708090', dimgray: '696969', dimgrey: '696969', gainsboro: 'dcdcdc',
  hotpink: 'ff69b4', deeppink: 'ff1493', firebrick: 'b22222', forestgreen: '228b22', seagreen: '2e8b57',
  royalblue: '4169e1', midnightblue: '191970', mintcream: 'f5fffa', azure: 'f0ffff', linen: 'faf0e6',
  saddlebrown: '8b4513', darkslategray: '2f4f4f', darkslategrey: '2f4f4f', darkorange: 'ff8c00', goldenrod: 'daa520',
  // the rest of the CSS named colours (Cloudinary accepts them all)
  aliceblue: 'f0f8ff', antiquewhite: 'faebd7', aquamarine: '7fffd4', bisque: 'ffe4c4',
  blanchedalmond: 'ffebcd', blueviolet: '8a2be2', burlywood: 'deb887', cadetblue: '5f9ea0',
  chartreuse: '7fff00', cornflowerblue: '6495ed', cornsilk: 'fff8dc', darkcyan: '008b8b',
  darkgoldenrod: 'b8860b', darkkhaki: 'bdb76b', darkmagenta: '8b008b', darkolivegreen: '556b2f',
  darkorchid: '9932cc', darksalmon: 'e9967a', darkseagreen: '8fbc8f', darkslateblue: '483d8b',
  darkturquoise: '00ced1', darkviolet: '9400d3', deepskyblue: '00bfff', dodgerblue: '1e90ff',
  floralwhite: 'fffaf0', ghostwhite: 'f8f8ff', greenyellow: 'adff2f', honeydew: 'f0fff0',
  indianred: 'cd5c5c', lavenderblush: 'fff0f5', lawngreen: '7cfc00', lemonchiffon: 'fffacd',
  lightcoral: 'f08080', lightcyan: 'e0ffff', lightgoldenrodyellow: 'fafad2', lightpink: 'ffb6c1',
  lightsalmon: 'ffa07a', lightseagreen: '20b2aa', lightskyblue: '87cefa', lightslategray: '778899',
  lightslategrey: '778899', lightsteelblue: 'b0c4de', lightyellow: 'ffffe0', limegreen: '32cd32',
  mediumaquamarine: '66cdaa', mediumblue: '0000cd', mediumorchid: 'ba55d3', mediumpurple: '9370db',
  mediumseagreen: '3cb371', mediumslateblue: '7b68ee', mediumspringgreen: '00fa9a',
  mediumturquoise: '48d1cc', mediumvioletred: 'c71585', mistyrose: 'ffe4e1', moccasin: 'ffe4b5',
  navajowhite: 'ffdead', oldlace: 'fdf5e6', olivedrab: '6b8e23', orangered: 'ff4500',
  palegoldenrod: 'eee8aa', palegreen: '98fb98', paleturquoise: 'afeeee', palevioletred: 'db7093',
  papayawhip: 'ffefd5', peachpuff: 'ffdab9', powderblue: 'b0e0e6', rebeccapurple: '663399',
  rosybrown: 'bc8f8f', sandybrown: 'f4a460', seashell: 'fff5ee', slateblue: '6a5acd', springgreen: '00ff7f',
  thistle: 'd8bfd8', yellowgreen: '9acd32',
};

/** `red`, `rgb:ff0000`, `rgb:ff000080`, `rgb:f00`, `#ff0000`, `transparent`. */
export function parseColour(name: string, raw: string): Rgba {
  const s = raw.toLowerCase();
  if (s === 'transparent' || s === 'none') return { r: 0, g: 0, b: 0, alpha: 0 };
  let hex: string | undefined;
  if (s.startsWith('rgb:')) hex = s.slice(4);
  else if (s.startsWith('#')) hex = s.slice(1);
  else hex = own(NAMED, s);
  if (hex === undefined || !/^(?:[0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/.test(hex)) {
    throw new Errors.INVALID_PARAM(name, raw);
  }
  if (hex.length <= 4) hex = [...hex].map((c) => c + c).join('');
  const n = (i: number) => parseInt(hex!.slice(i, i + 2), 16);
  return { r: n(0), g: n(2), b: n(4), alpha: hex.length === 8 ? Math.round((n(6) / 255) * 1000) / 1000 : 1 };
}

const BARE_HEX = /^(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

/**
 * A colour inside a larger value (an effect's argument, a `b_auto` palette entry): a bad one is
 * a 400 naming parameter `name` and the `whole` value. `bareHex`: a hex without `rgb:` (`f00`,
 * `ff0000`) is a colour too, as Cloudinary writes palette and replace_color colours.
 */
export function colourPart(name: string, part: string, whole: string, bareHex = false): Rgba {
  try {
    return parseColour(name, bareHex && BARE_HEX.test(part) ? `rgb:${part}` : part);
  } catch {
    throw new Errors.INVALID_PARAM(name, whole);
  }
}

export function colourCanonical(c: Rgba): string {
  const h = (v: number) => v.toString(16).padStart(2, '0');
  return `rgb:${h(c.r)}${h(c.g)}${h(c.b)}${c.alpha < 1 ? h(Math.round(c.alpha * 255)) : ''}`;
}

/** Split `a:b:c` into parts (Cloudinary's multi-part separator). */
export function parts(raw: string): string[] {
  return raw.split(':');
}

/**
 * `table[key]` for the table's own keys only: a URL word such as `constructor` or `__proto__`
 * must not find Object.prototype's members (they answered 500 or parsed to garbage).
 */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
