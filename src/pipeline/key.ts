/**
 * Keys and stored forms of results. The L1 key names everything a result depends on; the shared
 * tier (Redis) stores a digest of it, since L1 keys hold paths and long canonical plans.
 */
import crypto from 'node:crypto';
import type { CachedResult } from '../cache/result-cache.ts';
import type { StoredResult } from '../cache/redis-tier.ts';
import type { Source } from '../origin/types.ts';
import type { Parsed } from './resolve.ts';
import type { Plan } from '../plan/parse.ts';

/**
 * Result cache key: source bytes, the resolved plan (concrete values only: two URLs that compute
 * the same plan share one result), URL extension, resolved variant, layer files.
 */
export function resultKey(src: Source, parsed: Parsed, plan: Plan, variant: string, layers: string): string {
  return `${src.identity}\n${plan.canonical}\n${parsed.url.extFormat ?? ''}\n${variant}\n${layers}`;
}

/** The key of a simple plan (Parsed.simple) depends on the source only: the last one built is reused. */
export function simpleKey(parsed: Parsed, src: Source): string {
  let key = parsed.lastKey;
  if (key?.identity !== src.identity) parsed.lastKey = key = { identity: src.identity, key: resultKey(src, parsed, parsed.plan, '', '') };
  return key.key;
}

/** The shared tier's key for an L1 key. */
export function sharedKey(key: string): string {
  return crypto.createHash('sha1').update(key).digest('base64url');
}

export function toStored(r: CachedResult): StoredResult {
  return { body: r.body, contentType: r.contentType, etag: r.etag, meta: { ...r.meta, vary: r.vary.join(', '), timing: JSON.stringify(r.timing) } };
}

export function fromStored(s: StoredResult): CachedResult {
  const { vary, timing, ...meta } = s.meta;
  let t: Record<string, number> = {};
  try { t = JSON.parse(String(timing ?? '{}')) as Record<string, number>; } catch { /* older entry */ }
  return { body: s.body, contentType: s.contentType, etag: s.etag, vary: vary ? String(vary).split(', ').filter(Boolean) : [], meta, timing: t };
}

/** Strong entity tag of a body. */
export function etagOf(body: Buffer): string {
  return `"${crypto.createHash('sha1').update(body).digest('base64url')}"`;
}
