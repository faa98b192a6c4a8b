/**
 * The Upload and Admin API calls (upload-api.md), on the asset store. Each call validates
 * everything before it writes anything: a refused upload stores nothing. Uploads hold an
 * admission slot while they decode and store, and at most `concurrency - 1` uploads work at
 * once (Delivery.uploads), so a burst of uploads never holds every transform slot. Derived
 * results (eager, breakpoints) and an incoming `transformation`/`format` (on a staged copy of
 * the file, origin/staging.ts) are rendered by the delivery route itself, so they use the same
 * renderer, limits and caches as any URL.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import type { Config } from '../config.ts';
import type { Delivery } from '../delivery.ts';
import { Errors, sourceError, isHttpError } from '../errors.ts';
import { sourceFormatName, FORMATS, OUTPUT_BY_EXTENSION, type FormatName } from '../formats.ts';
import { maybeSvg } from '../security/svg.ts';
import { computeSignature } from '../security/signature.ts';
import { stageSource } from '../origin/staging.ts';
import type { AssetMeta, AssetStore, DerivedMeta } from '../storage/types.ts';
import { apiSignature, checkSignedParams, type Params } from './auth.ts';
import { bool, breakpointsOf, checkParamNames, checkPublicId, contextOf, eagerOf, incomingOf, tagsOf, type BreakpointRequest, type EagerSpec, type Incoming } from './params.ts';

export interface UploadedFile { readonly bytes: Buffer; readonly filename?: string }

/** A delivery URL path rendered through the server (status, body, headers). */
export type Deliver = (path: string) => Promise<{ status: number; body: Buffer; error?: string }>;

export interface ApiDeps {
  readonly config: Config;
  readonly store: AssetStore;
  readonly delivery: Delivery;
  readonly deliver: Deliver;
  /** Drop every cached copy of this public id, here and on the other instances. */
  readonly invalidate: (publicId: string) => Promise<void>;
  readonly log: (msg: string, err?: unknown) => void;
}

type Json = Record<string, unknown>;

/** What an unsigned call (through a preset marked unsigned) may send: the file and where it goes. */
const UNSIGNED_OPTIONS = new Set(['file', 'upload_preset', 'public_id', 'folder', 'tags', 'context', 'filename_override', 'timestamp', 'type', 'resource_type', 'cloud_name']);

/** A decoded upload: the bytes to store (SVG sanitized), their extension and size. */
interface Validated { readonly bytes: Buffer; readonly format: string; readonly width: number; readonly height: number }

/** `jpeg` and `jpg` (and the other aliases of one format) name one format. */
function sameFormat(ext: string | undefined, stored: string): boolean {
  return ext === undefined || ext === stored || (OUTPUT_BY_EXTENSION.get(ext) !== undefined && OUTPUT_BY_EXTENSION.get(ext) === OUTPUT_BY_EXTENSION.get(stored));
}

const bad = (m: string) => new Errors.BAD_API_PARAM(m);
const randomId = (n: number) => crypto.randomBytes(n).toString('base64url').replace(/[-_]/g, '').toLowerCase().slice(0, n);

/** The extension a decoded source is stored under (`jpeg` → `jpg`, as Cloudinary reports it). */
function extensionOf(format: FormatName): string {
  return (FORMATS[format] as { extensions: readonly string[] }).extensions[0];
}

export function createApi(deps: ApiDeps) {
  const { config, store, delivery } = deps;
  const creds = { apiKey: config.apiKey, secret: config.secret };

  /** Bytes of `file`: the multipart part, a `data:` URI, or an http(s) URL through the SSRF guard. */
  async function fileBytes(params: Params, part: UploadedFile | undefined): Promise<UploadedFile> {
    if (part) return part;
    const f = params.file;
    if (!f) throw bad('Missing required parameter - file');
    const data = /^data:([a-z0-9.+/-]*)(;base64)?,/i.exec(f.slice(0, 200));
    if (data) {
      const body = f.slice(data[0].length);
      const bytes = data[2] ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body));
      if (bytes.length > config.maxUploadBytes) throw new Errors.TOO_LARGE(`the file is ${bytes.length} bytes, the upload limit is ${config.maxUploadBytes} (APERTURE_MAX_UPLOAD_BYTES)`);
      return { bytes };
    }
    if (/^https?:\/\//i.test(f)) {
      const src = await delivery.origins.load({ type: 'fetch', publicId: f });
      if (src.buffer.length > config.maxUploadBytes) throw new Errors.TOO_LARGE(`the file is ${src.buffer.length} bytes, the upload limit is ${config.maxUploadBytes} (APERTURE_MAX_UPLOAD_BYTES)`);
      return { bytes: src.buffer, filename: path.posix.basename(new URL(f).pathname) || undefined };
    }
    throw bad('Invalid file: expected a file part, a data: URI or an http(s) URL');
  }

  async function inSlot<T>(work: () => Promise<T>): Promise<T> {
    const release = await delivery.admission.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Decodes the whole image within the source limits; returns what is stored about it. */
  async function validate(bytes: Buffer): Promise<Validated> {
    if (bytes.length === 0) throw bad('Invalid image file: the file is empty');
    let body = bytes;
    try {
      if (maybeSvg(bytes)) body = await delivery.svg.sanitize(bytes);
      const img = sharp(body, { limitInputPixels: config.maxSourcePixels, failOn: 'error', animated: true });
      const m = await img.metadata();
      const format = m.format && sourceFormatName(m.format);
      if (!format || !m.width || !m.height) throw bad(`Invalid image file: ` + `format ${m.format ?? 'unknown'} is not supported`);
      const pixels = m.width * (m.height ?? 0);
      if (pixels > config.maxSourcePixels) throw new Errors.TOO_LARGE(`${m.width}x${m.height} is over ${config.maxSourcePixels} pixels (APERTURE_MAX_SOURCE_PIXELS)`);
      // Every pixel decoded once (shrunk as it streams), so a truncated or corrupt file is refused here.
      await img.resize(64, 64, { fit: 'inside' }).raw().toBuffer();
      const height = m.pages && m.pages > 1 && m.pageHeight ? m.pageHeight : m.height;
      return { bytes: body, format: extensionOf(format), width: m.width, height };
    } catch (e) {
      const err = sourceError(e, 'corrupt');
      // The Upload API answers a bad file with 400 (upload-api.md); too large stays 413.
      if (err.statusCode === 413) throw err;
      if (err.statusCode === 415 || err.statusCode === 422 || err.statusCode >= 500) throw bad(`Invalid image file: ${err.statusCode >= 500 ? 'not a recognised image' : err.message}`);
      throw err;
    }
  }

  function urlsOf(origin: string, rel: string): { url: string; secure_url: string } {
    const base = (config.publicUrl || origin).replace(/\/+$/, '');
    return { url: `${base}${rel}`, secure_url: `${base.replace(/^http:/, 'https:')}${rel}` };
  }

  /**
   * `/image/upload/[s--sig--/]<transformation>/[v<version>/]<id>[.<ext>]`; signed when strict
   * mode would refuse it unsigned (the API's own renders are trusted like signed URLs).
   */
  function signedPath(transformation: string, id: string, ext: string | undefined, version?: number): string {
    const t = transformation ? `${transformation}/` : '';
    const idPart = `${id.split('/').map(encodeURIComponent).join('/')}${ext ? `.${ext}` : ''}`;
    const sig = config.strict && config.secret ? `s--${computeSignature(t + idPart, config.secret, false)}--/` : '';
    return `/image/upload/${sig}${t}${version !== undefined ? `v${version}/` : ''}${idPart}`;
  }

  function deliveryPath(meta: AssetMeta, transformation: string, format = meta.format): string {
    return signedPath(transformation, meta.publicId, format, meta.version);
  }

  /** A delivery path rendered through the server; its error mapped onto the API's (`what` names the step). */
  async function deliverOk(p: string, what: string): Promise<Buffer> {
    const r = await deps.deliver(p);
    if (r.status === 200) return r.body;
    const why = r.error ?? `status ${r.status}`;
    if (r.status === 413) throw new Errors.TOO_LARGE(`${what}: ${why}`);
    if (r.status === 503) throw new Errors.OVERLOADED(`${what}: ${why}`);
    if (r.status === 504) throw new Errors.TIMEOUT(`${what}: ${why}`);
    if (r.status >= 500) {
      deps.log(`${what} failed with ${r.status}: ${why}`);
      throw new Errors.INTERNAL();
    }
    throw bad(`${what} failed: ${why}`);
  }

  /**
   * An incoming `transformation` and/or `format` applied to validated bytes: they are staged
   * under a random id and delivered by the image route, and the rendered bytes are what gets
   * stored (validated again by the caller). Without `format`, the URL has no extension and the
   * renderer keeps the source's format where it can encode it (as delivery does).
   */
  async function renderIncoming(bytes: Buffer, name: string, transformation: string, format: string | undefined): Promise<Buffer> {
    const staged = stageSource(bytes, name);
    try {
      const what = transformation ? `incoming transformation ${transformation.slice(0, 100)}` : `format=${format}`;
      return await deliverOk(signedPath(transformation, staged.id, format), what);
    } finally {
      staged.release();
    }
  }

  async function derive(meta: AssetMeta, transformation: string, format: string | undefined): Promise<DerivedMeta & { path: string }> {
    const p = deliveryPath(meta, transformation, format);
    const body = await deliverOk(p, `eager transformation ${transformation.slice(0, 100)}`);
    const m = await sharp(body, { limitInputPixels: false }).metadata();
    return { transformation, format: format ?? meta.format, bytes: body.length, width: m.width ?? 0, height: m.pageHeight ?? m.height ?? 0, path: p };
  }

  async function eager(meta: AssetMeta, specs: readonly EagerSpec[], origin: string): Promise<{ answer: Json[]; derived: DerivedMeta[] }> {
    const answer: Json[] = [], derived: DerivedMeta[] = [];
    for (const s of specs) {
      const d = await derive(meta, s.transformation, s.format);
      derived.push({ transformation: d.transformation, format: d.format, bytes: d.bytes, width: d.width, height: d.height });
      answer.push({ transformation: d.transformation, width: d.width, height: d.height, bytes: d.bytes, format: d.format, ...urlsOf(origin, d.path) });
    }
    return { answer, derived };
  }

  /** Same algorithm as `w_auto:breakpoints…:json`, asked of the delivery route. */
  async function breakpoints(meta: AssetMeta, reqs: readonly BreakpointRequest[], origin: string): Promise<Json[]> {
    const out: Json[] = [];
    for (const r of reqs) {
      const kb = Math.max(1, Math.round(r.bytesStep / 1000));
      const prefix = r.transformation ? `${r.transformation}/` : '';
      const probe = await deliverOk(deliveryPath(meta, `${prefix}c_scale,w_auto:breakpoints_${r.minWidth}_${r.maxWidth}_${kb}_${r.maxImages}:json`, r.format), 'responsive_breakpoints');
      const widths = (JSON.parse(probe.toString()) as { breakpoints: number[] }).breakpoints;
      const list: Json[] = [];
      for (const w of [...widths].sort((a, b) => b - a)) {
        if (r.createDerived) {
          const d = await derive(meta, `${prefix}c_scale,w_${w}`, r.format);
          list.push({ width: d.width, height: d.height, bytes: d.bytes, ...urlsOf(origin, d.path) });
        } else {
          list.push({ width: w, height: Math.round((w * meta.height) / meta.width), ...urlsOf(origin, deliveryPath(meta, `${prefix}c_scale,w_${w}`, r.format)) });
        }
      }
      out.push({ transformation: r.transformation, breakpoints: list });
    }
    return out;
  }

  function answer(meta: AssetMeta, origin: string, extra: Json = {}): Json {
    const rel = `/image/upload/v${meta.version}/${meta.publicId.split('/').map(encodeURIComponent).join('/')}.${meta.format}`;
    return {
      asset_id: crypto.createHash('md5').update(`${meta.publicId}\n${meta.createdAt}`).digest('hex'),
      public_id: meta.publicId, version: meta.version, version_id: crypto.createHash('md5').update(`${meta.publicId}\n${meta.version}\n${meta.etag}`).digest('hex'),
      signature: config.secret ? apiSignature({ public_id: meta.publicId, version: String(meta.version) }, config.secret) : '',
      width: meta.width, height: meta.height, format: meta.format, resource_type: 'image', created_at: meta.createdAt,
      tags: meta.tags, context: { custom: meta.context }, bytes: meta.bytes, type: 'upload', etag: meta.etag, placeholder: false,
      ...urlsOf(origin, rel), original_filename: meta.originalFilename ?? path.posix.basename(meta.publicId), ...extra,
    };
  }

  /**
   * Signed, or unsigned through a preset marked unsigned. A signed call's parameters override its
   * preset's; an unsigned call may only name the file and where it goes (UNSIGNED_OPTIONS, as
   * Cloudinary's unsigned uploads), cannot overwrite unless its preset says so, and the preset
   * wins over what it sends (the preset is the operator's rule for anonymous callers).
   */
  function authorize(params: Params, call: 'upload' | 'other' = 'other'): Params {
    const presetName = params.upload_preset;
    const preset = presetName !== undefined ? config.uploadPresets[presetName] : undefined;
    if (presetName !== undefined && !preset) throw bad(`Upload preset not found: ${presetName.slice(0, 64)}`);
    const fromPreset: Record<string, string> = {};
    for (const [k, v] of Object.entries(preset ?? {})) if (k !== 'unsigned') fromPreset[k] = String(v);
    const signed = params.signature !== undefined || params.api_key !== undefined;
    if (signed) {
      checkSignedParams(params, creds, Date.now());
      return { ...fromPreset, ...params };
    }
    // Only an upload may be unsigned (Cloudinary: explicit, rename and destroy are always signed).
    if (!preset || call !== 'upload') checkSignedParams(params, creds, Date.now());
    if (!preset?.unsigned) throw new Errors.UNAUTHORIZED(`Upload preset ${presetName!.slice(0, 64)} is not marked unsigned: sign the call (api_key, timestamp, signature)`);
    for (const k of Object.keys(params)) {
      if (!UNSIGNED_OPTIONS.has(k)) throw bad(`${k.slice(0, 64)} parameter is not allowed when using unsigned upload`);
    }
    return { overwrite: 'false', ...params, ...fromPreset };
  }

  async function runDerived(meta: AssetMeta, p: Params, origin: string): Promise<{ meta: AssetMeta; extra: Json }> {
    const specs = eagerOf(p.eager), bps = breakpointsOf(p.responsive_breakpoints);
    if (bool(p, 'eager_async', false)) {
      if (specs.length) {
        setImmediate(() => {
          eager(meta, specs, origin).then(({ derived }) => store.putMeta({ ...meta, derived }))
            .catch((e) => deps.log(`eager_async for ${meta.publicId} failed`, e));
        });
      }
      return { meta, extra: { status: 'pending', ...(bps.length ? { responsive_breakpoints: await breakpoints(meta, bps, origin) } : {}) } };
    }
    const extra: Json = {};
    let m = meta;
    if (specs.length) {
      const e = await eager(meta, specs, origin);
      extra.eager = e.answer;
      m = { ...meta, derived: e.derived };
      await store.putMeta(m);
    }
    if (bps.length) extra.responsive_breakpoints = await breakpoints(meta, bps, origin);
    return { meta: m, extra };
  }

  /** Validates `file` (and renders the incoming transformation), then writes it; the stored metadata. */
  async function storeUpload(p: Params, file: UploadedFile, tags: string[], context: Record<string, string>, incoming: Incoming | undefined): Promise<AssetMeta> {
    let bytes = file.bytes;
    let v: Validated | undefined;
    if (incoming) {
      // The file is validated before the renderer sees it; the render takes its own slot.
      const src = await inSlot(() => validate(bytes));
      if (incoming.transformation || !sameFormat(incoming.format, src.format)) {
        bytes = await renderIncoming(src.bytes, file.filename ?? 'upload', incoming.transformation, incoming.format);
      } else {
        v = src;
      }
    }
    const release = await delivery.admission.acquire();
    let meta: AssetMeta;
    try {
      v ??= await validate(bytes);
      const original = (p.filename_override || file.filename || '').replace(/\.[^./]*$/, '');
      const folder = p.folder ? p.folder.replace(/^\/+|\/+$/g, '') : '';
      let id = p.public_id;
      if (!id) {
        const stem = bool(p, 'use_filename', false) && original ? original.replace(/[^\p{L}\p{N}_-]+/gu, '_').slice(0, 100) : '';
        id = stem ? (bool(p, 'unique_filename', true) ? `${stem}_${randomId(6)}` : stem) : randomId(20);
      }
      const publicId = checkPublicId(folder ? `${folder}/${id}` : id);
      const prev = await store.head(publicId);
      if (prev && !bool(p, 'overwrite', true)) throw new Errors.CONFLICT(`Resource already exists - ${publicId}`);
      const now = new Date();
      meta = {
        publicId, format: v.format, version: Math.max(Math.floor(now.getTime() / 1000), (prev?.version ?? 0) + 1),
        width: v.width, height: v.height, bytes: v.bytes.length, tags, context,
        ...(original ? { originalFilename: original } : {}), createdAt: prev?.createdAt ?? now.toISOString(), etag: '',
      };
      await store.put(meta, v.bytes);
      meta = (await store.head(publicId)) ?? meta;
    } finally {
      release();
    }
    return meta;
  }

  return {
    async upload(raw: Params, part: UploadedFile | undefined, origin: string): Promise<Json> {
      const p = authorize(raw, 'upload');
      checkParamNames('upload', p);
      // Everything that can be refused is checked before the first byte is written.
      const incoming = incomingOf(p.transformation, p.format);
      eagerOf(p.eager); breakpointsOf(p.responsive_breakpoints);
      const tags = tagsOf(p.tags), context = contextOf(p.context);
      const file = await fileBytes(p, part);
      // The upload's own work (validation, incoming render, write) within the uploads' budget.
      const releaseUpload = await delivery.uploads.acquire();
      let meta: AssetMeta;
      try {
        meta = await storeUpload(p, file, tags, context, incoming);
      } finally {
        releaseUpload();
      }
      await deps.invalidate(meta.publicId);
      const d = await runDerived(meta, p, origin);
      return answer(d.meta, origin, d.extra);
    },

    async explicit(raw: Params, origin: string): Promise<Json> {
      const p = authorize(raw);
      checkParamNames('explicit', p);
      const id = checkPublicId(p.public_id ?? '');
      let meta = await store.head(id);
      if (!meta) throw new Errors.NOT_FOUND(id);
      if (p.tags !== undefined || p.context !== undefined) {
        meta = { ...meta, ...(p.tags !== undefined ? { tags: tagsOf(p.tags) } : {}), ...(p.context !== undefined ? { context: contextOf(p.context) } : {}) };
        await store.putMeta(meta);
      }
      const d = await runDerived(meta, p, origin);
      return answer(d.meta, origin, d.extra);
    },

    async rename(raw: Params, origin: string): Promise<Json> {
      const p = authorize(raw);
      checkParamNames('rename', p);
      const from = checkPublicId(p.from_public_id ?? '', 'from_public_id'), to = checkPublicId(p.to_public_id ?? '', 'to_public_id');
      const src = await store.get(from);
      if (!src) throw new Errors.NOT_FOUND(from);
      if (from === to) return answer(src.meta, origin);
      const existing = await store.head(to);
      if (existing && !bool(p, 'overwrite', false)) throw new Errors.CONFLICT(`to_public_id ${to} already exists`);
      const meta: AssetMeta = { ...src.meta, publicId: to, version: Math.max(Math.floor(Date.now() / 1000), (existing?.version ?? 0) + 1, src.meta.version), derived: [] };
      await store.put(meta, src.body);
      await store.delete(from);
      await deps.invalidate(from);
      await deps.invalidate(to);
      return answer((await store.head(to)) ?? meta, origin);
    },

    async destroy(raw: Params): Promise<Json> {
      const p = authorize(raw);
      checkParamNames('destroy', p);
      const id = checkPublicId(p.public_id ?? '');
      const gone = await store.delete(id);
      if (gone) await deps.invalidate(id);
      return { result: gone ? 'ok' : 'not found' };
    },

    async list(q: { prefix?: string; max_results?: string; next_cursor?: string; tags?: string; context?: string; tag?: string }, origin: string): Promise<Json> {
      const max = q.max_results === undefined ? 10 : Number(q.max_results);
      if (!Number.isInteger(max) || max < 1 || max > 500) throw bad(`Invalid max_results: ${String(q.max_results).slice(0, 16)} (1-500)`);
      let page;
      try {
        page = await store.list({ max, ...(q.prefix ? { prefix: q.prefix } : {}), ...(q.next_cursor ? { cursor: q.next_cursor } : {}), ...(q.tag ? { tag: q.tag } : {}) });
      } catch (e) {
        if (e instanceof RangeError) throw bad(e.message);
        throw e;
      }
      const withTags = q.tags === 'true', withContext = q.context === 'true';
      return {
        resources: page.assets.map((m) => {
          const { tags, context, ...a } = answer(m, origin);
          return { ...a, ...(withTags ? { tags } : {}), ...(withContext ? { context } : {}) };
        }),
        ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}),
      };
    },

    async resource(publicId: string, origin: string): Promise<Json> {
      const meta = await store.head(checkPublicId(publicId));
      if (!meta) throw new Errors.NOT_FOUND(publicId);
      return answer(meta, origin, {
        derived: (meta.derived ?? []).map((d) => ({ transformation: d.transformation, format: d.format, bytes: d.bytes, id: crypto.createHash('md5').update(`${d.transformation}/${d.format}`).digest('hex'), ...urlsOf(origin, deliveryPath(meta, d.transformation, d.format)) })),
      });
    },

    async deleteResources(ids: readonly string[], prefix: string | undefined): Promise<Json> {
      const targets = [...ids];
      if (prefix !== undefined) {
        if (!prefix) throw bad('prefix must not be empty');
        let cursor: string | undefined;
        do {
          const page = await store.list({ prefix, max: 500, ...(cursor ? { cursor } : {}) });
          targets.push(...page.assets.map((a) => a.publicId));
          cursor = page.nextCursor;
        } while (cursor && targets.length < 10_000);
      }
      if (!targets.length) throw bad('Missing required parameter - public_ids or prefix');
      const deleted: Record<string, string> = {};
      for (const id of targets) {
        checkPublicId(id);
        const gone = await store.delete(id);
        if (gone) await deps.invalidate(id);
        deleted[id] = gone ? 'deleted' : 'not_found';
      }
      return { deleted, partial: false };
    },
  };
}

export type Api = ReturnType<typeof createApi>;
export { isHttpError };
