/**
 * `fc` (faces) and `ils` (illustration score) for expressions (url-api.md §8), from the source as
 * stored (oriented, before any component): faces through the cached subject analysis (the same
 * entry a `g_auto` on the untouched source reads), the score from the content classifier that
 * f_auto uses (1 for a drawing, 0 for a photograph).
 */
import sharp from 'sharp';
import { LRUCache } from 'lru-cache';
import type { Source } from '../origin/types.ts';
import type { SourceMeta } from '../render/source-meta.ts';
import type { Config } from '../config.ts';
import type { Deadline } from '../render/deadline.ts';
import type { RenderContext } from '../render/context.ts';
import { openSource, outputSettings } from '../render/render.ts';
import { facesOn } from '../analyze/subject.ts';
import { classifyContent } from '../analyze/content-class.ts';

const EMPTY = { components: [], canonical: '' };

export interface SourceFacts { faces: number; illustration: number }

/** Answers per source identity (a few numbers each), so a repeated URL decodes nothing. */
const facts = new LRUCache<string, Promise<SourceFacts>>({ max: 5_000 });

/** `compute` once per source identity (concurrent requests share it; a failure is not kept). */
export function cachedSourceAnalysis(identity: string, compute: () => Promise<SourceFacts>): Promise<SourceFacts> {
  let p = facts.get(identity);
  if (!p) {
    p = compute();
    facts.set(identity, p);
    p.catch(() => facts.delete(identity));
  }
  return p;
}

export async function sourceAnalysis(src: Source, meta: SourceMeta, config: Config, deadline: Deadline): Promise<SourceFacts> {
  const ctx: RenderContext = { config, hints: {}, vary: new Set(), sourceIdentity: src.identity, prefix: '', timing: {}, deadline };
  const { canvas } = openSource(src, meta, EMPTY, { ...outputSettings(EMPTY, undefined, meta), format: { kind: 'auto', still: true } }, ctx);
  const faces = (await facesOn(canvas, ctx, 'geometry')).length;
  const { data, info } = await sharp(src.buffer, { limitInputPixels: config.maxSourcePixels })
    .rotate().resize(400, 400, { fit: 'inside', withoutEnlargement: true }).toColourspace('srgb').raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const kind = classifyContent({ data, width: info.width, height: info.height, channels: info.channels as 3 }).kind;
  return { faces, illustration: kind === 'graphic' ? 1 : 0 };
}
