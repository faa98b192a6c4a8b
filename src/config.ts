/**
 * The only reader of process.env. Every limit and knob of the service lives here with a safe
 * default; values are validated once at boot (a bad value names its variable) and the result
 * is frozen. Tests build configs with `loadConfig({...})` instead of touching the environment.
 */
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';

export interface Config {
  /** `PORT`: listen port. */
  readonly port: number;
  /** `HOST`: listen address. */
  readonly host: string;
  /** `APERTURE_STORAGE_DIR`: folder of originals for the `upload` type. */
  readonly storageDir: string;
  /**
   * `APERTURE_PRIVATE_DIR` (default: the storage folder's sibling `<storage>-private`) and
   * `APERTURE_AUTHENTICATED_DIR` (default `<storage>-authenticated`): originals of the
   * `private` and `authenticated` delivery types. Cloudinary stores the type with the asset;
   * here each type has its own folder, so an `upload` asset is never served as `private` and
   * the other way round. No folder may contain another.
   */
  readonly privateDir: string;
  readonly authenticatedDir: string;
  /**
   * `APERTURE_STORAGE_WATCH` (default 1): revalidate local files by filesystem events (inotify)
   * instead of a stat per request; a cache hit then makes no system call. Set 0 on network
   * filesystems (NFS, SMB, FUSE mounts), where changes made by other machines raise no events.
   */
  readonly storageWatch: boolean;
  /** `APERTURE_CACHE_BYTES`: result cache bound in bytes (default 256 MB). */
  readonly cacheBytes: number;
  /** `APERTURE_SOURCE_CACHE_BYTES`: source bytes cache bound (default 128 MB). */
  readonly sourceCacheBytes: number;
  /** `APERTURE_MAX_SOURCE_PIXELS`: refuse sources above this many pixels (frames summed; default 50 MP). */
  readonly maxSourcePixels: number;
  /** `APERTURE_MAX_SOURCE_BYTES`: refuse sources above this many bytes (default 50 MB). */
  readonly maxSourceBytes: number;
  /**
   * `APERTURE_MAX_SVG_BYTES`: largest SVG document (inflated size for `.svgz`) sanitized and
   * rasterized (default 5 MB); larger ones answer 413.
   */
  readonly maxSvgBytes: number;
  /** `APERTURE_MAX_OUTPUT_SIDE`: largest output width or height (default 8192). */
  readonly maxOutputSide: number;
  /** `APERTURE_MAX_OUTPUT_PIXELS`: largest output area (default 40 MP). */
  readonly maxOutputPixels: number;
  /**
   * `APERTURE_MAX_GIF_PIXELS`: largest GIF output, frames summed (default 10 MP). GIF encoding
   * quantizes every pixel (libimagequant): about 1 s per megapixel on 2 cores, so a 5k photo
   * as `f_gif` (14.7 MP) took 14 s. Larger GIF outputs are refused with a 400.
   */
  readonly maxGifPixels: number;
  /**
   * `APERTURE_MAX_IF_NONE_MATCH_BYTES`: longest `If-None-Match` evaluated (default 4096, about
   * 140 of our entity tags). A longer one counts as no match: the full response, never a 304.
   */
  readonly maxIfNoneMatchBytes: number;
  /** `APERTURE_MAX_COMPONENTS`: most components in one URL (default 20). */
  readonly maxComponents: number;
  /** `APERTURE_MAX_ANGLE_OPS`: most rotations and flips in one `a_` (`a_hflip.90.vflip` is 3; default 8). */
  readonly maxAngleOps: number;
  /** `APERTURE_MAX_LAYERS`: most overlays and underlays in one URL, nested ones included (default 8). */
  readonly maxLayers: number;
  /** `APERTURE_MAX_LAYER_DEPTH`: deepest nesting of layers in layers (default 2). */
  readonly maxLayerDepth: number;
  /**
   * `APERTURE_MAX_OUTPUT_BYTES`: largest encoded result (default: an eighth of
   * APERTURE_CACHE_BYTES, 32 MB). A larger one is refused with a 400, and the refusal is
   * remembered, so it is never rendered again in vain; every result served fits the cache.
   */
  readonly maxOutputBytes: number;
  /** `APERTURE_DPR_CAP`: highest DPR, for `dpr_N` and `dpr_auto` (default 3). */
  readonly dprCap: number;
  /** `APERTURE_TIMEOUT_MS`: processing budget of a whole request: layer loads, components, breakpoint sampling, encode (default 30000; 504 when spent). */
  readonly processTimeoutMs: number;
  /** `APERTURE_CONCURRENCY`: transforms running at once (default: CPU count). */
  readonly concurrency: number;
  /** `APERTURE_QUEUE`: transforms waiting for a slot before 503 (default 64). */
  readonly queueSize: number;
  /** `APERTURE_QUEUE_TIMEOUT_MS`: longest wait for a slot before 503 (default 10000). */
  readonly queueTimeoutMs: number;
  /** `APERTURE_SECRET`: signing secret (empty = signatures cannot be checked). */
  readonly secret: string;
  /** `APERTURE_STRICT=1`: require signatures on every transformation not in `strictAllowed`. */
  readonly strict: boolean;
  /** `APERTURE_STRICT_ALLOW`: `|`-separated transformation strings allowed unsigned in strict mode. */
  readonly strictAllowed: readonly string[];
  /** `APERTURE_FETCH_ALLOW`: comma-separated host allow-list for fetch and remote mappings. */
  readonly fetchAllow: readonly string[];
  /** `APERTURE_FETCH_TIMEOUT_MS`: origin connect/headers/body timeout (default 10000). */
  readonly fetchTimeoutMs: number;
  /** `APERTURE_FETCH_MAX_REDIRECTS`: redirects followed, each re-validated (default 5). */
  readonly fetchMaxRedirects: number;
  /**
   * `APERTURE_FETCH_PORTS`: comma-separated TCP ports fetch targets and redirects may use
   * (default `80,443`; `*` allows any). Others are refused with 403 before connecting.
   */
  readonly fetchPorts: readonly number[] | '*';
  /**
   * `APERTURE_FETCH_CA`: path of a PEM file of extra certificate authorities trusted for HTTPS
   * origins, in addition to Node's bundled roots (an internal CA, a self-signed origin). Read
   * at boot; this field holds the PEM text ('' = none).
   */
  readonly fetchCa: string;
  /** `APERTURE_REMOTE_MAPPINGS`: `folder=https://base/,other=https://...` auto-upload mappings. */
  readonly remoteMappings: Readonly<Record<string, string>>;
  /** `APERTURE_NAMED_TRANSFORMATIONS`: JSON object `{name: "c_fill,w_100"}` for `t_name`. */
  readonly namedTransformations: Readonly<Record<string, string>>;
  /** `APERTURE_REDIS_URL`: shared cache tier (unset = none). */
  readonly redisUrl: string;
  /** `APERTURE_REDIS_TTL_S`: shared tier entry TTL (default 7 days). */
  readonly redisTtlSeconds: number;
  /** `APERTURE_REDIS_MAX_ENTRY_BYTES`: largest result stored in Redis (default 5 MB). */
  readonly redisMaxEntryBytes: number;
  /** `APERTURE_REDIS_TIMEOUT_MS`: per-command budget before a Redis call counts as a miss (default 100). */
  readonly redisTimeoutMs: number;
  /** `APERTURE_REDIS_LOCK_MS`: cross-instance render lock TTL; a dead holder is replaced after this (default 5000). */
  readonly redisLockMs: number;
  /** `APERTURE_AVIF_EFFORT`: AVIF encoder effort 0-9 for the first (cold) response (default 1:
   *  an 800 px AVIF near a WebP's time; QUALITY.md). */
  readonly avifEffort: number;
  /**
   * `APERTURE_AVIF_REFINE_EFFORT`: effort of the background refinement of AVIF results (default 3;
   * 0, or not above APERTURE_AVIF_EFFORT, turns refinement off). A cold AVIF is answered at the
   * fast effort with a short max-age; when the server has no transform to run, it is encoded
   * again at this effort (q_auto searched again) and replaces the cached result. Effort 3 is
   * ~10 % smaller than effort 1 at the same quality, and 3-5x slower (QUALITY.md, "AVIF").
   */
  readonly avifRefineEffort: number;
  /**
   * `APERTURE_PROVISIONAL_MAX_AGE_S`: max-age of a result awaiting refinement (default 60). Also
   * how long an instance keeps such a result in memory before it reads the shared tier again
   * (where the instance that rendered it stores the refined one).
   */
  readonly provisionalMaxAgeSeconds: number;
  /** `APERTURE_WEBP_EFFORT`: WebP encoder effort 0-6 (default 4). */
  readonly webpEffort: number;
  /** `APERTURE_LOG_LEVEL`: pino level (default info; `silent` in tests). */
  readonly logLevel: string;
  /** `APERTURE_SHUTDOWN_MS`: longest graceful drain on SIGTERM (default 10000). */
  readonly shutdownTimeoutMs: number;
  /**
   * `APERTURE_FACES_IDLE_MS`: the face detector worker starts on the first request that needs
   * faces and is stopped after this long without one, giving back its memory (~100 MB); 0 keeps
   * it once started (default 30000).
   */
  readonly facesIdleMs: number;
}

export const DEFAULT_FACES_IDLE_MS = 30_000;

type Env = Record<string, string | undefined>;

class ConfigError extends Error {}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const v = Number(raw.trim());
  if (v < min || v > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${v}`);
  return v;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be 1/0/true/false, got "${raw}"`);
}

function list(env: Env, name: string, sep: string): string[] {
  const raw = env[name];
  if (!raw) return [];
  return raw.split(sep).map((s) => s.trim()).filter(Boolean);
}

function ports(env: Env, name: string, def: readonly number[]): readonly number[] | '*' {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  if (raw.trim() === '*') return '*';
  return list(env, name, ',').map((p) => {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new ConfigError(`${name}: "${p}" is not a TCP port (1-65535) or *`);
    return Number(p);
  });
}

function pemFile(env: Env, name: string): string {
  const file = env[name];
  if (!file) return '';
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError(`${name}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`); }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${name}: ${file} holds no PEM certificate`);
  return text;
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

function mappings(env: Env, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list(env, name, ',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${name}: expected folder=https://base/, got "${pair}"`);
    const folder = pair.slice(0, eq).replace(/^\/+|\/+$/g, '');
    const base = pair.slice(eq + 1);
    if (!/^https?:\/\//.test(base)) throw new ConfigError(`${name}: base for "${folder}" must be an http(s) URL`);
    out[folder] = base.endsWith('/') ? base : base + '/';
  }
  return out;
}

function json(env: Env, name: string): Record<string, string> {
  const raw = env[name];
  if (!raw) return {};
  let v: unknown;
  try { v = JSON.parse(raw); } catch { throw new ConfigError(`${name} must be a JSON object`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${name} must be a JSON object`);
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw new ConfigError(`${name}.${k} must be a transformation string`);
  }
  return v as Record<string, string>;
}

/** Parse and validate a configuration from an environment-shaped object (default: process.env). */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const cpus = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const storageDir = path.resolve(overrides.storageDir ?? (env.APERTURE_STORAGE_DIR || 'images'));
  const cfg: Config = {
    port: int(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '0.0.0.0',
    storageDir,
    privateDir: path.resolve(env.APERTURE_PRIVATE_DIR || `${storageDir}-private`),
    authenticatedDir: path.resolve(env.APERTURE_AUTHENTICATED_DIR || `${storageDir}-authenticated`),
    storageWatch: bool(env, 'APERTURE_STORAGE_WATCH', true),
    cacheBytes: int(env, 'APERTURE_CACHE_BYTES', 256 * 1024 * 1024, 0, 2 ** 40),
    sourceCacheBytes: int(env, 'APERTURE_SOURCE_CACHE_BYTES', 128 * 1024 * 1024, 0, 2 ** 40),
    maxSourcePixels: int(env, 'APERTURE_MAX_SOURCE_PIXELS', 50_000_000, 1, 2 ** 40),
    maxSourceBytes: int(env, 'APERTURE_MAX_SOURCE_BYTES', 50 * 1024 * 1024, 1, 2 ** 40),
    maxSvgBytes: int(env, 'APERTURE_MAX_SVG_BYTES', 5 * 1024 * 1024, 1, 2 ** 31),
    maxOutputSide: int(env, 'APERTURE_MAX_OUTPUT_SIDE', 8192, 1, 65535),
    maxOutputPixels: int(env, 'APERTURE_MAX_OUTPUT_PIXELS', 40_000_000, 1, 2 ** 40),
    maxGifPixels: int(env, 'APERTURE_MAX_GIF_PIXELS', 10_000_000, 1, 2 ** 40),
    maxIfNoneMatchBytes: int(env, 'APERTURE_MAX_IF_NONE_MATCH_BYTES', 4096, 0, 1 << 20),
    maxComponents: int(env, 'APERTURE_MAX_COMPONENTS', 20, 1, 1000),
    maxAngleOps: int(env, 'APERTURE_MAX_ANGLE_OPS', 8, 1, 1000),
    maxLayers: int(env, 'APERTURE_MAX_LAYERS', 8, 0, 1000),
    maxLayerDepth: int(env, 'APERTURE_MAX_LAYER_DEPTH', 2, 0, 100),
    maxOutputBytes: int(env, 'APERTURE_MAX_OUTPUT_BYTES', 0, 1, 2 ** 40),
    dprCap: int(env, 'APERTURE_DPR_CAP', 3, 1, 10),
    processTimeoutMs: int(env, 'APERTURE_TIMEOUT_MS', 30_000, 100, 600_000),
    concurrency: int(env, 'APERTURE_CONCURRENCY', cpus, 1, 1024),
    queueSize: int(env, 'APERTURE_QUEUE', 64, 0, 100_000),
    queueTimeoutMs: int(env, 'APERTURE_QUEUE_TIMEOUT_MS', 10_000, 1, 600_000),
    secret: env.APERTURE_SECRET ?? '',
    strict: bool(env, 'APERTURE_STRICT', false),
    strictAllowed: list(env, 'APERTURE_STRICT_ALLOW', '|'),
    fetchAllow: list(env, 'APERTURE_FETCH_ALLOW', ',').map((h) => h.toLowerCase()),
    fetchTimeoutMs: int(env, 'APERTURE_FETCH_TIMEOUT_MS', 10_000, 1, 600_000),
    fetchMaxRedirects: int(env, 'APERTURE_FETCH_MAX_REDIRECTS', 5, 0, 50),
    fetchPorts: ports(env, 'APERTURE_FETCH_PORTS', [80, 443]),
    fetchCa: pemFile(env, 'APERTURE_FETCH_CA'),
    remoteMappings: mappings(env, 'APERTURE_REMOTE_MAPPINGS'),
    namedTransformations: json(env, 'APERTURE_NAMED_TRANSFORMATIONS'),
    redisUrl: env.APERTURE_REDIS_URL ?? '',
    redisTtlSeconds: int(env, 'APERTURE_REDIS_TTL_S', 7 * 24 * 3600, 1, 2 ** 31),
    redisMaxEntryBytes: int(env, 'APERTURE_REDIS_MAX_ENTRY_BYTES', 5 * 1024 * 1024, 1, 2 ** 31),
    redisTimeoutMs: int(env, 'APERTURE_REDIS_TIMEOUT_MS', 100, 1, 60_000),
    redisLockMs: int(env, 'APERTURE_REDIS_LOCK_MS', 5_000, 100, 600_000),
    avifEffort: int(env, 'APERTURE_AVIF_EFFORT', 1, 0, 9),
    avifRefineEffort: int(env, 'APERTURE_AVIF_REFINE_EFFORT', 3, 0, 9),
    provisionalMaxAgeSeconds: int(env, 'APERTURE_PROVISIONAL_MAX_AGE_S', 60, 1, 86_400),
    webpEffort: int(env, 'APERTURE_WEBP_EFFORT', 4, 0, 6),
    logLevel: env.APERTURE_LOG_LEVEL || 'info',
    shutdownTimeoutMs: int(env, 'APERTURE_SHUTDOWN_MS', 10_000, 0, 600_000),
    facesIdleMs: int(env, 'APERTURE_FACES_IDLE_MS', DEFAULT_FACES_IDLE_MS, 0, 86_400_000),
    ...overrides,
  };
  // Default of APERTURE_MAX_OUTPUT_BYTES: an eighth of the result cache (once its size is known).
  if (!cfg.maxOutputBytes) Object.assign(cfg, { maxOutputBytes: Math.max(1, Math.floor(cfg.cacheBytes / 8)) });
  if (cfg.strict && !cfg.secret) throw new ConfigError('APERTURE_STRICT=1 needs APERTURE_SECRET');
  checkRoots({ APERTURE_STORAGE_DIR: cfg.storageDir, APERTURE_PRIVATE_DIR: cfg.privateDir, APERTURE_AUTHENTICATED_DIR: cfg.authenticatedDir });
  return Object.freeze(cfg);
}

/** A config for tests: quiet logs, given storage, everything else default. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig({ APERTURE_LOG_LEVEL: 'silent' }, overrides);
}

export { ConfigError };
