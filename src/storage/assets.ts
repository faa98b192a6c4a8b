/**
 * Assets (an original and what is kept with it) over a blob store, written once for every
 * backend. Layout, the same in a folder and in a bucket:
 * - `<public_id>.<ext>`: the original's bytes, where delivery reads them;
 * - `.meta/<public_id>.json`: its metadata (version, tags, context, size, original name).
 *
 * Bytes are written before metadata, and removed after it, so metadata never names bytes that
 * are not there. An original placed by hand (no metadata) is still an asset: its metadata is
 * read from the image header.
 */
import sharp from 'sharp';
import crypto from 'node:crypto';
import { EXTENSIONS, FORMAT_BY_EXTENSION, formatRow } from '../formats.ts';
import type { BlobStore } from './blob.ts';
import type { AssetMeta, AssetPage, AssetStore, ListOptions } from './types.ts';
import type { AssetMetadata } from '../../transforms/types.ts';

const META = '.meta/';
const IMAGE_EXT = new Set(EXTENSIONS);
const metaKey = (publicId: string) => `${META}${publicId}.json`;
const bodyKey = (m: Pick<AssetMeta, 'publicId' | 'format'>) => `${m.publicId}.${m.format}`;
/** Metadata reads a listing keeps in flight (the Admin API's resources list). */
const LIST_READS = 8;

/** `shoes/red.jpg` → `shoes/red` and `jpg`, when the extension is an image one. */
function splitKey(key: string): { publicId: string; format: string } | undefined {
  const dot = key.lastIndexOf('.');
  if (dot <= 0 || key.lastIndexOf('/') > dot) return undefined;
  const format = key.slice(dot + 1).toLowerCase();
  if (!IMAGE_EXT.has(format) || key.split('/').some((s) => s.startsWith('.'))) return undefined;
  return { publicId: key.slice(0, dot), format };
}

function contentType(format: string): string {
  const f = FORMAT_BY_EXTENSION.get(format);
  return (f && formatRow(f).mime) || 'application/octet-stream';
}

const encodeCursor = (key: string) => Buffer.from(key).toString('base64url');
function decodeCursor(c: string): string {
  const key = Buffer.from(c, 'base64url').toString();
  if (encodeCursor(key) !== c) throw new RangeError('invalid next_cursor');
  return key;
}

export function createAssetStore(blobs: BlobStore): AssetStore {
  /** Metadata of a body found without a metadata object, from its bytes. */
  async function fromBody(key: string): Promise<AssetMeta | undefined> {
    const parts = splitKey(key);
    const blob = parts && (await blobs.get(key));
    if (!parts || !blob) return undefined;
    const m = await sharp(blob.body).metadata().catch(() => undefined);
    return {
      publicId: parts.publicId, format: parts.format, version: 1, width: m?.width ?? 0, height: m?.height ?? 0,
      bytes: blob.body.length, tags: [], context: {}, createdAt: new Date(0).toISOString(), etag: blob.etag,
    };
  }

  /** The body keys that hold `publicId` (normally one). */
  async function bodiesOf(publicId: string): Promise<string[]> {
    const { keys } = await blobs.list(`${publicId}.`, undefined, 64);
    return keys.filter((k) => splitKey(k)?.publicId === publicId);
  }

  async function head(publicId: string): Promise<AssetMeta | undefined> {
    const m = await blobs.get(metaKey(publicId));
    if (m) return JSON.parse(m.body.toString()) as AssetMeta;
    const [first] = await bodiesOf(publicId);
    return first ? fromBody(first) : undefined;
  }

  return {
    kind: blobs.kind,
    head,
    async sidecar(publicId) {
      const m = await blobs.get(metaKey(publicId));
      return m ? (JSON.parse(m.body.toString()) as AssetMeta) : undefined;
    },
    async get(publicId) {
      const meta = await head(publicId);
      const blob = meta && (await blobs.get(bodyKey(meta)));
      return meta && blob ? { meta, body: blob.body } : undefined;
    },
    async put(meta, body) {
      const { etag } = await blobs.put(bodyKey(meta), body, contentType(meta.format));
      await blobs.put(metaKey(meta.publicId), Buffer.from(JSON.stringify({ ...meta, etag })), 'application/json');
      for (const k of await bodiesOf(meta.publicId)) if (k !== bodyKey(meta)) await blobs.delete(k);
    },
    async putMeta(meta) {
      await blobs.put(metaKey(meta.publicId), Buffer.from(JSON.stringify(meta)), 'application/json');
    },
    async delete(publicId) {
      const bodies = await bodiesOf(publicId);
      const hadMeta = await blobs.delete(metaKey(publicId));
      for (const k of bodies) await blobs.delete(k);
      return hadMeta || bodies.length > 0;
    },
    async list(o: ListOptions): Promise<AssetPage> {
      const assets: AssetMeta[] = [];
      let after = o.cursor ? decodeCursor(o.cursor) : undefined;
      for (;;) {
        const page = await blobs.list(o.prefix ?? '', after, Math.max(o.max, 50));
        // Each key's metadata is one read (a GET on S3): LIST_READS of them at a time, taken
        // in key order, so the cursor stays the last key looked at.
        for (let i = 0; i < page.keys.length; i += LIST_READS) {
          const keys = page.keys.slice(i, i + LIST_READS);
          const metas = await Promise.all(keys.map((key) => {
            const parts = splitKey(key);
            return parts ? head(parts.publicId) : undefined;
          }));
          for (let j = 0; j < keys.length; j++) {
            const key = keys[j];
            const meta = metas[j];
            after = key;
            if (!meta || bodyKey(meta) !== key) continue;
            if (o.tag && !meta.tags.includes(o.tag)) continue;
            assets.push(meta);
            if (assets.length === o.max) return { assets, nextCursor: encodeCursor(key) };
          }
        }
        if (!page.more) return { assets };
      }
    },
    close: () => blobs.close(),
  };
}

/**
 * What conditions read of an asset (`tags`, `ctx`, `md`; transforms/types.ts AssetMetadata):
 * from its metadata object, read without the bytes; undefined when it has none.
 */
export async function assetMetadata(store: AssetStore, publicId: string): Promise<AssetMetadata | undefined> {
  const m = await store.sidecar(publicId);
  return m && { tags: m.tags ?? [], context: m.context ?? {}, metadata: {} };
}

/** Cloudinary's `etag`/`version_id` style random id. */
export const randomId = () => crypto.randomBytes(16).toString('hex');
