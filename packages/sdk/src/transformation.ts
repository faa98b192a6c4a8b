/**
 * Options → transformation string, following the official Node SDK
 * (`cloudinary/lib/utils/index.js`, `generate_transformation_string`, v2.11) rule for rule, so
 * that an application moving from `cloudinary.url()` to `@aperture/sdk` gets byte-identical
 * URLs (and therefore identical cache keys and signatures). The quirks are the SDK's: keys of
 * one component sorted as `k_v` strings, `if` first, `$variables` next, `raw_transformation`
 * last, expressions rewritten (`width > 300` → `w_gt_300`).
 */

type Scalar = string | number;

/** A layer given as an object (`overlay`/`underlay`), as the SDK accepts it. */
export interface LayerOptions {
  public_id?: string;
  publicId?: string;
  format?: string;
  resource_type?: string;
  resourceType?: string;
  type?: string;
  url?: string;
  text?: string;
  text_style?: string;
  textStyle?: string;
  font_family?: string;
  fontFamily?: string;
  font_size?: Scalar;
  fontSize?: Scalar;
  font_weight?: string;
  fontWeight?: string;
  font_style?: string;
  fontStyle?: string;
  text_decoration?: string;
  textDecoration?: string;
  text_align?: string;
  textAlign?: string;
  stroke?: string;
  letter_spacing?: Scalar;
  letterSpacing?: Scalar;
  line_spacing?: Scalar;
  lineSpacing?: Scalar;
  font_hinting?: string;
  fontHinting?: string;
  font_antialiasing?: string;
  fontAntialiasing?: string;
}

export interface CustomFunction {
  function_type?: string;
  functionType?: string;
  source: string;
}

/** The parameters of one transformation component (names as in `cloudinary.url()`). */
export interface TransformationOptions {
  width?: Scalar;
  height?: Scalar;
  /** `"300x200"`: width and height at once. */
  size?: string;
  crop?: string;
  gravity?: string;
  x?: Scalar;
  y?: Scalar;
  zoom?: Scalar;
  aspect_ratio?: Scalar;
  aspectRatio?: Scalar;
  quality?: Scalar;
  fetch_format?: string;
  fetchFormat?: string;
  dpr?: Scalar;
  /** `"sepia:50"`, `["sepia", 50]` or `{sepia: 50}`. */
  effect?: string | Scalar[] | Record<string, Scalar>;
  angle?: Scalar | Scalar[];
  radius?: Scalar | Scalar[];
  /** Colour name, `rgb:…` or `#…` (rewritten to `rgb:`). */
  background?: string;
  color?: string;
  /** `"3px_solid_black"` or `{width, color}`; a bare number is an HTML attribute, not a parameter. */
  border?: string | number | { width?: Scalar; color?: string };
  opacity?: Scalar;
  flags?: string | string[];
  default_image?: string;
  defaultImage?: string;
  page?: Scalar;
  density?: Scalar;
  color_space?: string;
  colorSpace?: string;
  prefix?: string;
  delay?: Scalar;
  overlay?: string | LayerOptions;
  underlay?: string | LayerOptions;
  /** Chained components (array of option objects), or named transformation(s) (`t_…`). */
  transformation?: string | Array<string | TransformationOptions>;
  raw_transformation?: string;
  rawTransformation?: string;
  /** A condition, `"width > 300"` → `if_w_gt_300`. */
  if?: string;
  /** Ordered variables `[["$a", "width * 2"]]`, emitted after the sorted `$keys`. */
  variables?: Array<[string, Scalar]>;
  custom_function?: string | CustomFunction;
  customFunction?: string | CustomFunction;
  custom_pre_function?: string | CustomFunction;
  customPreFunction?: string | CustomFunction;
  /** Append `c_limit,w_auto` as a last component. */
  responsive_width?: boolean;
  responsiveWidth?: boolean;
  [variable: `$${string}`]: Scalar;
}

type Loose = Record<string, unknown>;

/**
 * camelCase keys → snake_case (an existing snake_case key wins). `$variables` keep their case:
 * their names are user data.
 */
export function snakeKeys(o: object): Loose {
  const out: Loose = {};
  for (const [k, v] of Object.entries(o)) {
    if (k.startsWith('$') || !/[A-Z]/.test(k)) out[k] = v;
  }
  for (const [k, v] of Object.entries(o)) {
    if (k.startsWith('$') || !/[A-Z]/.test(k)) continue;
    const snake = k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
    if (out[snake] === undefined) out[snake] = v;
  }
  return out;
}

/** The SDK's `present`: not null/undefined and not empty once stringified. */
export function present(v: unknown): boolean {
  return v != null && String(v).length > 0;
}

/** lodash `isEmpty` as the SDK uses it (numbers and booleans count as empty). */
function isEmpty(v: unknown): boolean {
  if (v == null) return true;
  if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return true;
}

function toArray<T>(v: T | T[] | null | undefined): T[] {
  if (v == null) return [];
  return Array.isArray(v) ? v : [v];
}

/** lodash `isObject`: objects, arrays and functions. */
function isObjectLike(v: unknown): v is object {
  return v !== null && (typeof v === 'object' || typeof v === 'function');
}

const CONDITIONAL_OPERATORS: Readonly<Record<string, string>> = {
  '=': 'eq', '!=': 'ne', '<': 'lt', '>': 'gt', '<=': 'lte', '>=': 'gte', '&&': 'and', '||': 'or',
  '*': 'mul', '/': 'div', '+': 'add', '-': 'sub', '^': 'pow',
};

// Key order matters: it is the alternation order of the SDK's regular expression.
const PREDEFINED_VARS: Readonly<Record<string, string>> = {
  aspect_ratio: 'ar', aspectRatio: 'ar', current_page: 'cp', currentPage: 'cp', duration: 'du',
  face_count: 'fc', faceCount: 'fc', height: 'h', initial_aspect_ratio: 'iar', initial_height: 'ih',
  initial_width: 'iw', initialAspectRatio: 'iar', initialHeight: 'ih', initialWidth: 'iw',
  initial_duration: 'idu', initialDuration: 'idu', page_count: 'pc', page_x: 'px', page_y: 'py',
  pageCount: 'pc', pageX: 'px', pageY: 'py', tags: 'tags', width: 'w',
};

const OPERATORS_RE = /((\|\||>=|<=|&&|!=|>|=|<|\/|-|\^|\+|\*)(?=[ _]))/g;
const VARIABLES_RE = new RegExp(
  '(\\$_*[^_ ]+)|(' + Object.keys(PREDEFINED_VARS).map((v) => `:${v}|${v}`).join('|') + ')', 'g');

/**
 * The SDK's `normalize_expression`: operators and well-known names to their URL codes, runs of
 * spaces/underscores to one `_`. Non-strings and `!literal!` values pass through untouched.
 */
export function normalizeExpression<T>(expression: T): T | string {
  if (typeof expression !== 'string' || expression.length === 0 || /^!.+!$/.test(expression)) {
    return expression;
  }
  return expression
    .replace(OPERATORS_RE, (m) => CONDITIONAL_OPERATORS[m])
    .replace(VARIABLES_RE, (m) => (Object.hasOwn(PREDEFINED_VARS, m) ? PREDEFINED_VARS[m] : m))
    .replace(/[ _]+/g, '_');
}

/** The SDK's `smart_escape`: percent-encode runs matched by `unsafe`, byte by byte (UTF-16 units). */
export function smartEscape(s: string, unsafe = /([^a-zA-Z0-9_.\-/:]+)/g): string {
  return s.replace(unsafe, (m) => m.split('').map((c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).join(''));
}

/** URL-safe, unpadded base64 of a (re-)URI-encoded URL, as the SDK writes `l_fetch:` sources. */
export function base64EncodeUrl(sourceUrl: string): string {
  let s = sourceUrl;
  try { s = decodeURI(s); } catch { /* keep as given, like the SDK */ }
  // encodeURI leaves only ASCII, which btoa (browsers, edge runtimes and Node alike) takes as is.
  return btoa(encodeURI(s))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const LAYER_KEYWORD_PARAMS: ReadonlyArray<[string, string | null]> = [
  ['font_weight', 'normal'], ['font_style', 'normal'], ['text_decoration', 'none'],
  ['text_align', null], ['stroke', 'none'],
];

function textStyle(layer: Loose): string {
  if (!isEmpty(layer.text_style)) return String(layer.text_style);
  const keywords: unknown[] = [];
  for (const [attr, def] of LAYER_KEYWORD_PARAMS) {
    const value = layer[attr] || def;
    if (value !== def) keywords.push(value);
  }
  for (const attr of Object.keys(layer)) {
    if (attr === 'letter_spacing' || attr === 'line_spacing') keywords.push(`${attr}_${layer[attr]}`);
    if (attr === 'font_hinting') keywords.push(`hinting_${layer[attr]}`);
    if (attr === 'font_antialiasing') keywords.push(`antialias_${layer[attr]}`);
  }
  if (Object.hasOwn(layer, 'font_size') || keywords.length > 0) {
    if (!layer.font_size) throw new Error('Must supply font_size for text in overlay/underlay');
    if (!layer.font_family) throw new Error('Must supply font_family for text in overlay/underlay');
    keywords.unshift(layer.font_size);
    keywords.unshift(layer.font_family);
    return keywords.filter(Boolean).join('_');
  }
  return '';
}

const encodeCurlyBraces = (s: string): string => s.split('(').join('%28').split(')').join('%29');

/**
 * The SDK's `process_layer`, with two deliberate differences where the SDK emits a broken URL:
 * every `/` of a folder becomes `:` (the SDK replaces only the first), and
 * `<resource_type>:fetch:<url>` keeps the whole URL (the SDK cuts it at its first `:`).
 */
function processLayer(input: unknown): unknown {
  let layerIn = input;
  if (typeof layerIn === 'string') {
    let resourceType: string | null = null;
    let layerUrl: string;
    if (layerIn.startsWith('fetch:')) {
      layerUrl = layerIn.slice('fetch:'.length);
    } else if (layerIn.includes(':fetch:')) {
      const at = layerIn.indexOf(':fetch:');
      resourceType = layerIn.slice(0, at);
      layerUrl = layerIn.slice(at + ':fetch:'.length);
    } else {
      return layerIn;
    }
    layerIn = resourceType ? { url: layerUrl, type: 'fetch', resource_type: resourceType } : { url: layerUrl, type: 'fetch' };
  }
  if (!isObjectLike(layerIn)) return layerIn;
  const layer = snakeKeys(layerIn);
  let resourceType = layer.resource_type as string | undefined;
  let type = layer.type as string | undefined;
  let publicId = layer.public_id as string | undefined;
  const { text, format, url: fetchUrl } = layer as { text?: string; format?: string; url?: string };
  const components: string[] = [];

  if (!isEmpty(text) && isEmpty(resourceType)) resourceType = 'text';
  if (!isEmpty(fetchUrl) && isEmpty(type)) type = 'fetch';
  if (!isEmpty(publicId) && !isEmpty(format)) publicId = `${publicId}.${format}`;
  if (isEmpty(publicId) && resourceType !== 'text' && type !== 'fetch') {
    throw new Error('Must supply public_id for non-text overlay');
  }
  if (!isEmpty(resourceType) && resourceType !== 'image') components.push(resourceType!);
  if (!isEmpty(type) && type !== 'upload') components.push(type!);

  if (resourceType === 'text' || resourceType === 'subtitles') {
    if (isEmpty(publicId) && isEmpty(text)) throw new Error('Must supply either text or public_id in overlay');
    const style = textStyle(layer);
    if (!isEmpty(style)) components.push(style);
    if (!isEmpty(publicId)) components.push(publicId!.replace(/\//g, ':'));
    if (!isEmpty(text)) {
      const parts = text!.split(/(\$\([a-zA-Z]\w+\))/g).filter((x) => x);
      components.push(parts.map((part) => (/^\$\([a-zA-Z]\w+\)$/.test(part)
        ? part
        : encodeCurlyBraces(encodeURIComponent(smartEscape(part, /([,/])/g))))).join(''));
    }
  } else if (type === 'fetch') {
    components.push(base64EncodeUrl(String(fetchUrl)));
  } else {
    components.push(publicId!.replace(/\//g, ':'));
  }
  return components.join(':');
}

function processRadius(radius: unknown): unknown {
  if (!radius) return radius;
  const list = toArray(radius);
  if (list.length === 0 || list.length > 4) throw new Error('Radius array should contain between 1 and 4 values');
  if (list.some((x) => x === null)) throw new Error('Corner: Cannot be null');
  return list.map(normalizeExpression).join(':');
}

function processCustomFunction(fn: unknown): unknown {
  if (!isObjectLike(fn)) return fn;
  const f = snakeKeys(fn) as { function_type?: string; source?: string };
  if (f.function_type === 'remote') return `remote:${base64EncodeUrl(String(f.source))}`;
  return [f.function_type, f.source].join(':');
}

// Parameters copied as they are (no expression rewriting), by their SDK name.
const SIMPLE_PARAMS: ReadonlyArray<[string, string]> = [
  ['color_space', 'cs'], ['default_image', 'd'], ['delay', 'dl'], ['density', 'dn'],
  ['fetch_format', 'f'], ['gravity', 'g'], ['page', 'pg'], ['prefix', 'p'],
];

/** Options (one component, an array of components, or a raw string) → the transformation path. */
export function transformationString(options: TransformationOptions | Array<string | TransformationOptions> | string): string {
  if (typeof options === 'string') return options;
  if (Array.isArray(options)) {
    return options.map((t) => transformationString(t)).filter(present).join('/');
  }
  const o = snakeKeys(options);
  const responsiveWidth = o.responsive_width;
  let width = o.width as Scalar | undefined;
  let height = o.height as Scalar | undefined;
  if (o.size) [width, height] = String(o.size).split('x');

  const crop = o.crop;
  const angle = toArray(o.angle).join('.');
  const bg = o.background;
  const background = typeof bg === 'string' ? bg.replace(/^#/, 'rgb:') : bg;
  const co = o.color;
  const color = typeof co === 'string' ? co.replace(/^#/, 'rgb:') : co;

  let base: string[] = [];
  let named = '';
  const chain = toArray(o.transformation as unknown);
  if (chain.some(isObjectLike)) {
    base = chain.map((tr) => transformationString(
      isObjectLike(tr) ? (tr as TransformationOptions) : { transformation: tr as string }));
  } else {
    named = chain.join('.');
  }

  let effect = o.effect;
  if (Array.isArray(effect)) effect = effect.join(':');
  else if (isObjectLike(effect)) effect = Object.entries(effect).map(([k, v]) => `${k}:${v}`);

  let border = o.border;
  if (isObjectLike(border)) {
    const b = border as { width?: Scalar; color?: string };
    border = `${b.width != null ? b.width : 2}px_solid_${(b.color != null ? b.color : 'black').replace(/^#/, 'rgb:')}`;
  } else if (/^\d+$/.test(String(border))) {
    // A bare number is the HTML `border` attribute in the SDK, not a transformation parameter.
    border = undefined;
  }
  const flags = toArray(o.flags as unknown).join('.');
  const ifValue = o.if ? 'if_' + normalizeExpression(o.if) : o.if;
  const customPre = processCustomFunction(o.custom_pre_function);
  const customFn = processCustomFunction(o.custom_function)
    || (typeof customPre === 'string' ? `pre:${customPre}` : null);

  const params: Record<string, unknown> = {
    a: normalizeExpression(angle),
    ar: normalizeExpression(o.aspect_ratio),
    b: background,
    bo: border,
    c: crop,
    co: color,
    dpr: normalizeExpression(o.dpr),
    e: normalizeExpression(effect),
    fl: flags,
    fn: customFn,
    h: normalizeExpression(height),
    l: processLayer(o.overlay),
    o: normalizeExpression(o.opacity),
    q: normalizeExpression(o.quality),
    r: processRadius(o.radius),
    t: named,
    u: processLayer(o.underlay),
    w: normalizeExpression(width),
    x: normalizeExpression(o.x),
    y: normalizeExpression(o.y),
    z: normalizeExpression(o.zoom),
  };
  for (const [name, short] of SIMPLE_PARAMS) {
    if (o[name] !== undefined) params[short] = o[name];
  }

  const variablesParam = (o.variables ?? []) as Array<[string, Scalar]>;
  const variables = Object.entries(o)
    .filter(([k]) => k.startsWith('$'))
    .map(([k, v]) => `${k}_${normalizeExpression(v)}`)
    .sort()
    .concat(variablesParam.map(([name, value]) => `${name}_${normalizeExpression(value)}`))
    .join(',');

  const component = Object.entries(params)
    .filter(([, v]) => present(v))
    .map(([k, v]) => `${k}_${v}`)
    .sort()
    .join(',');

  const joined = [ifValue, variables, component, o.raw_transformation].filter(Boolean).join(',');
  base.push(joined);
  if (responsiveWidth) base.push('c_limit,w_auto');
  return base.filter(present).join('/');
}
