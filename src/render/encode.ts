/**
 * Encoder settings tuned for delivery (measured in BENCHMARKS.md):
 * - JPEG: mozjpeg (trellis quantisation, optimised scans), q80 default, 4:2:0 unless asked.
 * - WebP: q80, effort from config (default 4).
 * - AVIF: q60, effort from config: 1 for the first response (an 800 px AVIF near a WebP's
 *   time), then 3 in the background (`refinedConfig`: ~10 % fewer bytes at the same quality,
 *   3-5x the time; effort 2 gains a third of that, 4 little more at 4x the time; QUALITY.md).
 * - PNG: zlib level 6 with adaptive filtering; palette (libimagequant) for fl_png8/fl_lossy.
 * - GIF: libimagequant palette; animation kept.
 */
import type { Sharp } from 'sharp';
import type { OutputFormat } from '../../transforms/format.ts';
import type { Flags } from '../../transforms/flags.ts';
import type { Config } from '../config.ts';

export interface EncodeSettings {
  format: OutputFormat;
  /** Encoder quality; undefined = the format's default. */
  quality?: number;
  chroma?: '4:2:0' | '4:4:4';
  flags: Flags;
  /** Force a palette PNG (f_auto's choice for flat graphics). */
  palette?: boolean;
  /** Force lossless WebP/AVIF (f_auto's choice for flat graphics). */
  lossless?: boolean;
  /** Output keeps multiple frames. */
  animated: boolean;
  loop?: number;
  delay?: number[];
}

export const DEFAULT_QUALITY: Readonly<Record<OutputFormat, number>> = { jpeg: 80, webp: 80, avif: 60, png: 100, gif: 100, tiff: 80 };

/**
 * The configuration of a better but slower encoding of `format`, when the server is set to
 * refine that format in the background (APERTURE_AVIF_REFINE_EFFORT); undefined otherwise.
 * The route answers with the fast encoding and re-renders with this configuration when idle.
 */
export function refinedConfig(format: OutputFormat, config: Config): Config | undefined {
  if (format === 'avif' && config.avifRefineEffort > config.avifEffort) return { ...config, avifEffort: config.avifRefineEffort };
  return undefined;
}

/** What of the configuration changes `format`'s encodings (part of the q_auto memo key). */
export function encoderSignature(format: OutputFormat, config: Config): string {
  return format === 'avif' ? `effort ${config.avifEffort}` : format === 'webp' ? `effort ${config.webpEffort}` : '';
}

export function applyEncoder(img: Sharp, s: EncodeSettings, config: Config): Sharp {
  const q = s.quality ?? DEFAULT_QUALITY[s.format];
  const chroma = s.chroma;
  const anim = s.animated ? { ...(s.loop !== undefined ? { loop: s.loop } : {}), ...(s.delay ? { delay: s.delay } : {}) } : {};
  const lossless = s.lossless ?? s.flags.lossless ?? false;
  if (s.flags.keepIptc && !s.flags.stripProfile) img = img.keepMetadata();
  switch (s.format) {
    case 'jpeg':
      return img.jpeg({ quality: q, mozjpeg: true, progressive: s.flags.progressive ?? false, chromaSubsampling: chroma ?? '4:2:0' });
    case 'webp':
      return img.webp({ quality: q, effort: config.webpEffort, lossless, smartSubsample: chroma === '4:4:4', ...anim });
    case 'avif':
      return img.avif({ quality: q, effort: config.avifEffort, lossless, chromaSubsampling: chroma ?? '4:2:0' });
    case 'png': {
      const palette = s.palette || s.flags.png8 || s.flags.lossy;
      return img.png({ compressionLevel: 6, adaptiveFiltering: true, progressive: s.flags.progressive ?? false, palette: !!palette, ...(palette ? { quality: s.quality ?? 90 } : {}) });
    }
    case 'gif':
      return img.gif({ effort: 7, ...(s.flags.lossy ? { interFrameMaxError: 8, interPaletteMaxError: 8 } : {}), ...anim });
    case 'tiff':
      return img.tiff({ quality: q, compression: 'jpeg' });
  }
}
