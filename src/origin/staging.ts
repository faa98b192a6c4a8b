/**
 * Staged uploads: bytes held in memory for the length of one Upload API call, served as
 * `upload` sources under a random 128-bit id, so that an incoming `transformation` or `format`
 * (upload-api.md) is rendered by the delivery route itself (same parser, renderer, limits) and
 * the result is what gets stored. Nothing is kept here: the caller owns the buffer and removes
 * the id when the call ends (`release`), after which the id names nothing and falls through to
 * the storage backends (404).
 *
 * The id is unguessable (crypto random, 32 hex digits) and lives only while the upload runs.
 * One registry per process: ids are unique across every server in it.
 */
import crypto from 'node:crypto';
import { Errors } from '../errors.ts';
import type { Origin, OriginFactory, Source } from './types.ts';

const staged = new Map<string, Source>();

export interface StagedSource {
  /** The public id to deliver it under (`/image/upload/<transformation>/<id>.<ext>`). */
  readonly id: string;
  /** Forget it; later requests for the id are answered by the other backends (404). */
  release(): void;
}

/** Serve `buffer` as the `upload` source `<id>` until `release()`. */
export function stageSource(buffer: Buffer, name = 'upload'): StagedSource {
  const id = crypto.randomBytes(16).toString('hex');
  staged.set(id, { buffer, identity: `staging:${id}`, name: `${name} (staged upload)` });
  return { id, release: () => { staged.delete(id); } };
}

/** Sources staged now (tests check that every upload releases its own). */
export function stagedCount(): number {
  return staged.size;
}

export const stagingOrigins: OriginFactory = () => {
  const origin: Origin = {
    name: 'staging',
    matches: (ref) => ref.type === 'upload' && staged.has(ref.publicId),
    peek: (ref) => staged.get(ref.publicId),
    async load(ref) {
      const s = staged.get(ref.publicId);
      // Released between matches() and load(): as if it had never been there.
      if (!s) throw new Errors.NOT_FOUND(ref.publicId);
      return s;
    },
    close() {},
  };
  return [origin];
};
