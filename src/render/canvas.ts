/**
 * The image being worked on, as a sharp pipeline plus what we know about it. sharp runs the
 * operations of one pipeline in its own fixed order (trim, extract, resize, extend, colour
 * ops, convolutions, composite) and keeps one slot per operation, so Canvas queues operations
 * on the current pipeline while that order is respected, and otherwise materializes the
 * pixels (raw, in memory) and starts a fresh pipeline. Transforms never see that.
 */
import sharp, { type Sharp, type OutputInfo } from 'sharp';
import { type Affine, IDENTITY, compose, visibleRegion, type Region } from './affine.ts';
import type { Rgba } from '../../transforms/args.ts';
import type { Deadline } from './deadline.ts';

/** sharp's internal order; an op ranked below one already queued needs a fresh pipeline. */
export const RANK = {
  trim: 0,
  extract: 1,
  resize: 2,
  extractPost: 3,
  extend: 4,
  flatten: 5,
  colour: 6,
  convolve: 7,
  composite: 8,
  /** rotate/flip: sharp places them early regardless of call order, so they stand alone. */
  barrier: 100,
} as const;
export type OpRank = keyof typeof RANK;

/** Pixels added on each side by padding. */
export interface PadExtend { top: number; left: number; bottom: number; right: number }

export class Canvas {
  private img: Sharp;
  private used = new Set<string>();
  private maxRank = -1;
  private dimsKnown = true;
  /** Width and height of one page (frame). */
  width: number;
  height: number;
  /** Frames of an animated image (1 for still images). */
  pages: number;
  channels: number;
  /**
   * Canvas pixel → input pixel, for fl_getinfo's crop. After a rotation by a non-right angle the
   * crop is the bounding box of the canvas corners in the input, clipped to it (visibleRegion).
   */
  map: Affine = IDENTITY;
  /** Size of the (EXIF-oriented) input that `map` maps into. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** The request's budget: checked before each pipeline runs, whose libvips timeout is what remains. */
  deadline: Deadline | undefined;
  /** Background for padding/flattening set by `b_` in the current component. */
  background: Rgba | undefined;
  /**
   * What fills padding in the current component when it is not one colour (b_blurred, gradient
   * b_auto): set by the background's `apply`, called by geometry instead of a colour extend.
   * It leaves the canvas grown by `x` (its mapping is geometry's business).
   */
  padWith: ((x: PadExtend) => Promise<void>) | undefined;
  /**
   * A vector document (SVG) showing the current pixels, set by e_vectorize; any later
   * operation drops it. An encoder that takes one (src/formats.ts `vector`) delivers it.
   */
  vector: string | undefined;

  constructor(img: Sharp, width: number, height: number, pages: number, channels: number) {
    this.img = img;
    this.width = width;
    this.height = height;
    this.pages = pages;
    this.channels = channels;
    this.inputWidth = width;
    this.inputHeight = height;
  }

  get hasAlpha(): boolean {
    return this.channels === 2 || this.channels === 4;
  }

  /** Materialize if the current pipeline cannot take an op of this rank/name, then return it. */
  async op(name: string, rank: OpRank, fn: (img: Sharp) => Sharp): Promise<void> {
    const r = RANK[rank];
    this.vector = undefined;
    if (this.used.has(name) || r < this.maxRank || (r === RANK.barrier && this.used.size > 0) || this.maxRank === RANK.barrier) {
      await this.materialize();
    }
    this.img = fn(this.img);
    this.used.add(name);
    this.maxRank = Math.max(this.maxRank, r);
  }

  /**
   * Continue from these raw 8-bit pixels (an effect that redraws the whole canvas, possibly at
   * another size; `pages` frames stacked top to bottom); `step` maps the new canvas onto the
   * current one (see affine.ts).
   */
  replace(raw: { data: Buffer; width: number; height: number; channels: 1 | 2 | 3 | 4 }, step: Affine, pages = 1): void {
    const pageHeight = Math.round(raw.height / pages);
    this.img = sharp(raw.data, {
      raw: { width: raw.width, height: raw.height, channels: raw.channels, ...(pages > 1 ? { pageHeight } : {}) },
      ...(pages > 1 ? { pages: -1 } : {}),
      limitInputPixels: false,
    });
    this.map = compose(this.map, step);
    this.width = raw.width;
    this.height = pageHeight;
    this.pages = pages;
    this.channels = raw.channels;
    this.used.clear();
    this.maxRank = -1;
    this.dimsKnown = true;
    this.vector = undefined;
  }

  /** Record how the next canvas maps onto the current one (see affine.ts). */
  mapThrough(step: Affine, newWidth: number, newHeight: number): void {
    this.map = compose(this.map, step);
    this.width = newWidth;
    this.height = newHeight;
  }

  /** For ops whose output size is only known after running (trim, arbitrary rotation). */
  markDimsUnknown(): void {
    this.dimsKnown = false;
  }

  async ensureDims(): Promise<void> {
    if (!this.dimsKnown) await this.materialize();
  }

  markAlpha(): void {
    if (this.channels === 3) this.channels = 4;
    else if (this.channels === 1) this.channels = 2;
  }

  /** Run the queued operations into raw 8-bit pixels and continue from them. */
  async materialize(): Promise<OutputInfo & { data: Buffer }> {
    const { data, info } = await this.img.raw({ depth: 'uchar' }).timeout({ seconds: this.deadline?.seconds('a transform') ?? 0 }).toBuffer({ resolveWithObject: true });
    const pageHeight = this.pages > 1 ? Math.round(info.height / this.pages) : info.height;
    this.img = sharp(data, {
      raw: { width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4, ...(this.pages > 1 ? { pageHeight } : {}) },
      // Without `pages: -1` sharp treats raw input as one page and resizes the frame stack as a
      // whole (w_100/w_50 on an animated GIF gave one squashed frame).
      ...(this.pages > 1 ? { pages: -1 } : {}),
      limitInputPixels: false,
    });
    this.width = info.width;
    this.height = pageHeight;
    this.channels = info.channels;
    this.used.clear();
    this.maxRank = -1;
    this.dimsKnown = true;
    return { ...info, data };
  }

  /**
   * Run the queued operations into raw 8-bit pixels and hand them to `edit` (per-pixel work
   * sharp has no operation for). `edit` changes `data` in place, or returns new pixels of the
   * same size with `channels` channels (e.g. an alpha channel added); the canvas continues
   * from them.
   */
  async editPixels(edit: (data: Buffer, info: { width: number; height: number; channels: number }) => { data: Buffer; channels: number } | void): Promise<void> {
    const m = await this.materialize();
    const out = edit(m.data, { width: m.width, height: m.height, channels: m.channels });
    if (!out) return;
    this.fromRaw(out.data, m.width, m.height, out.channels);
  }

  /** Keep only these frames of an animation (zero-based, in this order). */
  async keepFrames(frames: readonly number[]): Promise<void> {
    const m = await this.materialize();
    const frame = m.width * this.height * m.channels;
    const out = Buffer.alloc(frame * frames.length);
    frames.forEach((f, i) => m.data.copy(out, i * frame, f * frame, (f + 1) * frame));
    this.pages = frames.length;
    this.fromRaw(out, m.width, this.height * frames.length, m.channels);
  }

  /** Continue from raw pixels `width`×`height` (all frames stacked), e.g. a new size built by hand. */
  replacePixels(data: Buffer, width: number, height: number, channels: number): void {
    this.fromRaw(data, width, height, channels);
  }

  /** Continue from raw pixels `width`×`height` (all frames stacked). */
  private fromRaw(data: Buffer, width: number, height: number, channels: number): void {
    const pageHeight = this.pages > 1 ? Math.round(height / this.pages) : height;
    this.img = sharp(data, {
      raw: { width, height, channels: channels as 1 | 2 | 3 | 4, ...(this.pages > 1 ? { pageHeight } : {}) },
      ...(this.pages > 1 ? { pages: -1 } : {}),
      limitInputPixels: false,
    });
    this.width = width;
    this.height = pageHeight;
    this.channels = channels;
    this.used.clear();
    this.maxRank = -1;
    this.dimsKnown = true;
  }

  /** The pipeline as it stands, for the encoder. */
  pipeline(): Sharp {
    return this.img;
  }

  /** The input region the canvas shows (undefined when it is the whole input). */
  visibleInputRegion(): Region | undefined {
    const r = visibleRegion(this.map, this.width, this.height, this.inputWidth, this.inputHeight);
    if (!r) return undefined;
    if (r.x === 0 && r.y === 0 && r.width === this.inputWidth && r.height === this.inputHeight) return undefined;
    return r;
  }
}
