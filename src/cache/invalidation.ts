/**
 * Invalidation across instances (upload-api.md "Storage, versions, invalidation"). When the
 * Upload or Admin API of one instance overwrites, renames or deletes an original, that instance
 * forgets its source at once and publishes the public id on a Redis channel; every other
 * instance forgets its own copy when the message arrives (milliseconds, well within the 1 s of
 * the contract). Results need no message: their keys hold the source's identity (ETag), so a
 * reloaded source never meets an old result, in L1 or in Redis.
 *
 * Redis down: the message is lost and the origin's revalidation (APERTURE_STORAGE_REVALIDATE_MS)
 * is the fallback: another instance sees the change when it next reads the metadata.
 */
import { randomUUID } from 'node:crypto';
import type { Origins } from '../origin/index.ts';
import type { SourceRef } from '../origin/types.ts';
import type { SharedTier } from './redis-tier.ts';

export const INVALIDATION_CHANNEL = 'aperture:invalidate';

export interface Invalidations {
  /** Forget `ref` here now, and tell the other instances to. */
  announce(ref: SourceRef): Promise<void>;
  /** Messages from other instances acted on (diagnostics; tests wait for it instead of sleeping). */
  readonly received: number;
}

interface Message { readonly from: string; readonly type: string; readonly publicId: string }

function parse(raw: string): Message | undefined {
  try {
    const m = JSON.parse(raw) as Partial<Message>;
    return typeof m.from === 'string' && typeof m.type === 'string' && typeof m.publicId === 'string' ? m as Message : undefined;
  } catch {
    return undefined;
  }
}

export function createInvalidations(tier: SharedTier, origins: Pick<Origins, 'invalidate'>): Invalidations {
  const self = randomUUID();
  let received = 0;
  tier.subscribe(INVALIDATION_CHANNEL, (raw) => {
    const m = parse(raw);
    // The API writes `upload` originals only; anything else on the channel is not ours.
    if (!m || m.from === self || m.type !== 'upload') return;
    try {
      origins.invalidate({ type: 'upload', publicId: m.publicId });
    } catch { /* an id no origin serves: nothing kept about it */ }
    received++;
  });
  return {
    async announce(ref) {
      origins.invalidate(ref);
      await tier.publish(INVALIDATION_CHANNEL, JSON.stringify({ from: self, type: ref.type, publicId: ref.publicId }));
    },
    get received() {
      return received;
    },
  };
}
