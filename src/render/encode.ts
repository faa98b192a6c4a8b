/**
 * The encoder step: the output format's row in src/formats.ts configures sharp (settings and
 * their measurements are there); this adds what every format shares (metadata kept or not,
 * the default quality) and the per-format configuration hooks.
 */
import type { Sharp } from 'sharp';
import { encoderOf, type EncodeSettings, type OutputFormat } from '../formats.ts';
import type { Config } from '../config.ts';

/**
 * The configuration of a better but slower encoding of `format`, when the server is set to
 * refine that format in the background (APERTURE_AVIF_REFINE_EFFORT); undefined otherwise.
 * The route answers with the fast encoding and re-renders with this configuration when idle.
 */
export function refinedConfig(format: OutputFormat, config: Config): Config | undefined {
  return encoderOf(format).refine?.(config);
}

/** What of the configuration changes `format`'s encodings (part of the q_auto memo key). */
export function encoderSignature(format: OutputFormat, config: Config): string {
  return encoderOf(format).signature?.(config) ?? '';
}

export function applyEncoder(img: Sharp, s: EncodeSettings, config: Config): Sharp {
  const encoder = encoderOf(s.format);
  if (s.flags.keepIptc && !s.flags.stripProfile) img = img.keepMetadata();
  for (const f of s.finish ?? []) img = f(img, s.format);
  return encoder.encode(img, s, s.quality ?? encoder.quality, config);
}
