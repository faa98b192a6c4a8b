/**
 * The one table of image formats: what each one is called (extensions, MIME type, sharp's
 * name), what it can hold (alpha, animation), whether its files are lossy, whether this build
 * of libvips reads it, and, for the formats we deliver, the encoder with its default quality
 * and q_auto tuning. Every other module derives what it needs from here; adding a format is
 * one row (plus its `encode` when it may be an output).
 *
 * Row order is the preference order of the local origin when several files share a public id
 * (`red.jpg` beats `red.png`), so new rows go after the existing ones.
 *
 * Encoder settings are tuned for delivery (measured in BENCHMARKS.md):
 * - JPEG: mozjpeg (trellis quantisation, optimised scans), q80 default, 4:2:0 unless asked.
 * - WebP: q80, effort from config (default 4).
 * - AVIF: q60, effort from config: 1 for the first response (an 800 px AVIF near a WebP's
 *   time), then 3 in the background (`refine`: ~10 % fewer bytes at the same quality,
 *   3-5x the time; effort 2 gains a third of that, 4 little more at 4x the time; QUALITY.md).
 * - PNG: zlib level 6 with adaptive filtering; palette (libimagequant) for fl_png8/fl_lossy.
 * - GIF: libimagequant palette; animation kept.
 */
import sharp, { type FormatEnum, type Sharp } from 'sharp';
import type { Config } from './config.ts';
import type { Flags } from '../transforms/flags.ts';
import type { QualityLevel } from '../transforms/quality.ts';

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
  /** The plan's encode hooks (TransformDef.encode), run on the pipeline before the encoder. */
  finish?: readonly ((img: Sharp, format: OutputFormat) => Sharp)[];
}

/**
 * q_auto's search space for a format (src/analyze/quality.ts; numbers from bench/quality.ts,
 * QUALITY.md).
 */
export interface QAutoTuning {
  /** Qualities searched: below the floor every codec falls apart on some image, above the
   *  ceiling bytes grow much faster than any visible gain. */
  readonly range: readonly [number, number];
  /** Highest quality each level may spend, whatever the metric says: a texture the metric finds
   *  hard (star fields, foliage) would otherwise climb to the range ceiling and cost more than
   *  the fixed quality it replaces (good at JPEG 95 is 1.6x the bytes of q90 on hubble.jpg). */
  readonly ceiling: Readonly<Record<QualityLevel, number>>;
  /** Lowest quality each level may pick (AVIF: a band around `firstGuess`, see its row). */
  readonly floor: Readonly<Record<QualityLevel, number>>;
  /** First trial per level: the median answer on the photo corpus (bench/quality.ts). A
   *  modelled format starts from the model's prediction instead; this is only where its search
   *  begins. */
  readonly firstGuess: Readonly<Record<QualityLevel, number>>;
  /** -d ln(distance) / d quality, median over the corpus; steers the search of formats without
   *  a model (a modelled one reads the local slope off its model). */
  readonly logSlope: number;
  /** A quantisation model predicts its distances (JPEG: metric-worker.ts `predictJpeg`). */
  readonly modelled: boolean;
  /** The encoder takes a chroma subsampling choice (WebP's lossy mode is always 4:2:0). */
  readonly chroma: boolean;
}

export interface Encoder {
  /** Quality when the URL sets none. */
  readonly quality: number;
  /** Configures sharp to write this format; `quality` is the settings' or the default. */
  encode(img: Sharp, s: EncodeSettings, quality: number, config: Config): Sharp;
  /** Present when q_auto searches this format's quality (a lossy 8-bit encoder). */
  readonly qAuto?: QAutoTuning;
  /** Has a palette mode (PNG8): fl_png8, fl_lossy and f_auto's graphics alternatives use it. */
  readonly palette?: boolean;
  /** f_auto tries its lossless mode on graphics when Accept names it. */
  readonly losslessForGraphics?: boolean;
  /** What of the configuration changes its encodings (part of the q_auto memo key). */
  signature?(config: Config): string;
  /** The configuration of a better but slower encoding, when the server is set to refine it
   *  in the background; undefined otherwise. */
  refine?(config: Config): Config | undefined;
  /** A tighter output bound than APERTURE_MAX_OUTPUT_PIXELS for an encoder whose cost per
   *  pixel is high: the limit (frames summed) and the setting that holds it. */
  maxPixels?(config: Config): { readonly limit: number; readonly setting: string };
  /** The format's own largest width or height, when below what the configuration allows. */
  readonly maxSide?: number;
  /** Turns the bytes `encode` wrote into the delivered document (SVG: a PNG inside <image>). */
  wrap?(body: Buffer, width: number, height: number): Buffer;
  /** Delivers the canvas's vector rendition (e_vectorize) as it is, when there is one. */
  readonly vector?: boolean;
}

export interface FormatRow {
  /** File extensions, the usual one first (it names downloads). */
  readonly extensions: readonly string[];
  readonly mime: string;
  /** sharp's name for it (`sharp.format`, `metadata().format`); absent when sharp reads it
   *  only through ImageMagick or not at all, which we do not accept. */
  readonly sharp?: string;
  /** Holds transparency; an output without it gets alpha flattened over the background. */
  readonly alpha: boolean;
  /** Holds several frames, read and written as an animation (f_auto, fixed outputs). */
  readonly animation: boolean;
  /** Its files are lossy: decoded pixels carry the codec's noise, not exact fills. */
  readonly lossy: boolean;
  /** Output format of a source in this format when the URL asks for none (default: the
   *  format itself when it is an output, else PNG with alpha, JPEG without); checked at load. */
  readonly deliveredAs?: string;
  /** Present when it may be an output. */
  readonly output?: Encoder;
  /**
   * The URL's extension of this format names the stored file and asks for no output format
   * (`logo.svg` of an SVG source is delivered as PNG); `f_` still asks for the format.
   */
  readonly extensionNamesSource?: boolean;
  /** Holds CMYK pixels: `cs_keep_cmyk` and `cs_cmyk` write CMYK in it (sRGB in the others). */
  readonly cmyk?: boolean;
  /** Its files may carry scripts and outside references: they reach libvips only through the
   *  sanitizer (security/svg.ts), and an unsanitized one is refused at load (render/source-meta.ts). */
  readonly sanitized?: boolean;
}

const animationOf = (s: EncodeSettings) =>
  s.animated ? { ...(s.loop !== undefined ? { loop: s.loop } : {}), ...(s.delay ? { delay: s.delay } : {}) } : {};
const losslessOf = (s: EncodeSettings) => s.lossless ?? s.flags.lossless ?? false;
const LEVELS = (best: number, good: number, eco: number, low: number) => ({ best, good, eco, low });

export const FORMATS = {
  jpeg: {
    extensions: ['jpg', 'jpeg', 'jpe'], mime: 'image/jpeg', sharp: 'jpeg', alpha: false, animation: false, lossy: true, cmyk: true,
    output: {
      quality: 80,
      encode: (img, s, q) => img.jpeg({ quality: q, mozjpeg: true, progressive: s.flags.progressive ?? false, chromaSubsampling: s.chroma ?? '4:2:0' }),
      qAuto: {
        range: [30, 95], ceiling: LEVELS(95, 90, 82, 72), floor: LEVELS(30, 30, 30, 30), firstGuess: LEVELS(90, 80, 70, 50),
        logSlope: 0.018, modelled: true, chroma: true,
      },
    },
  },
  png: {
    extensions: ['png'], mime: 'image/png', sharp: 'png', alpha: true, animation: false, lossy: false,
    output: {
      quality: 100, palette: true,
      encode(img, s) {
        const palette = s.palette || s.flags.png8 || s.flags.lossy;
        return img.png({ compressionLevel: 6, adaptiveFiltering: true, progressive: s.flags.progressive ?? false, palette: !!palette, ...(palette ? { quality: s.quality ?? 90 } : {}) });
      },
    },
  },
  // WebP files are often lossless (graphics), so their pixels are not treated as codec noise.
  webp: {
    extensions: ['webp'], mime: 'image/webp', sharp: 'webp', alpha: true, animation: true, lossy: false,
    output: {
      quality: 80, losslessForGraphics: true,
      // The WebP bitstream stores each side in 14 bits.
      maxSide: 16383,
      encode: (img, s, q, config) => img.webp({ quality: q, effort: config.webpEffort, lossless: losslessOf(s), smartSubsample: s.chroma === '4:4:4', ...animationOf(s) }),
      qAuto: {
        range: [30, 95], ceiling: LEVELS(95, 90, 82, 72), floor: LEVELS(30, 30, 30, 30), firstGuess: LEVELS(88, 80, 70, 55),
        logSlope: 0.02, modelled: false, chroma: false,
      },
      signature: (config) => `effort ${config.webpEffort}`,
    },
  },
  // sharp names AVIF and HEIC files both 'heif'; such a source reads as this row (its first).
  avif: {
    extensions: ['avif'], mime: 'image/avif', sharp: 'heif', alpha: true, animation: false, lossy: true,
    output: {
      quality: 60,
      encode: (img, s, q, config) => img.avif({ quality: q, effort: config.avifEffort, lossless: losslessOf(s), chromaSubsampling: s.chroma ?? '4:2:0' }),
      // AVIF searches only a band of ±3 steps around the level's typical answer (firstGuess):
      // aom's quality scale is already close to perceptually uniform (at a fixed q60, effort 3,
      // butteraugli stays within 2.2-2.9 on 15 of the 16 corpus photos), and our metric's
      // choices across images disagree with butteraugli more than that: searched over the
      // whole range they cost 0.43x the bytes of JPEG q90 at butteraugli parity with q80, a
      // constant q60 0.38x, the ±3 band 0.39x (QUALITY.md, "AVIF").
      qAuto: {
        range: [20, 90], ceiling: LEVELS(78, 65, 55, 45), floor: LEVELS(72, 59, 49, 39), firstGuess: LEVELS(75, 62, 52, 42),
        logSlope: 0.012, modelled: false, chroma: true,
      },
      signature: (config) => `effort ${config.avifEffort}`,
      refine: (config) => (config.avifRefineEffort > config.avifEffort ? { ...config, avifEffort: config.avifRefineEffort } : undefined),
    },
  },
  gif: {
    extensions: ['gif'], mime: 'image/gif', sharp: 'gif', alpha: true, animation: true, lossy: false,
    output: {
      quality: 100,
      // GIF quantizes every pixel (libimagequant): about 1 s per megapixel on 2 cores.
      maxPixels: (config) => ({ limit: config.maxGifPixels, setting: 'APERTURE_MAX_GIF_PIXELS' }),
      encode: (img, s) => img.gif({ effort: 7, ...(s.flags.lossy ? { interFrameMaxError: 8, interPaletteMaxError: 8 } : {}), ...animationOf(s) }),
    },
  },
  // TIFF holds alpha, but its JPEG compression drops the channel without flattening (hidden
  // colours show: black under full transparency). Kept as it was; `alpha: false` would flatten
  // over the background instead.
  tiff: {
    extensions: ['tif', 'tiff'], mime: 'image/tiff', sharp: 'tiff', alpha: true, animation: false, lossy: false, cmyk: true,
    output: { quality: 80, encode: (img, _s, q) => img.tiff({ quality: q, compression: 'jpeg' }) },
  },
  // SVG sources are rasterized without external fetches (security/svg.ts) and delivered as
  // PNG. As an output (`f_svg`, or e_vectorize's automatic format) SVG is the vector document
  // e_vectorize traced, or else the pixels as a PNG inside an <image> element.
  svg: {
    extensions: ['svg'], mime: 'image/svg+xml', sharp: 'svg', alpha: true, animation: false, lossy: false, deliveredAs: 'png',
    extensionNamesSource: true, sanitized: true,
    output: {
      quality: 100, vector: true,
      encode: (img) => img.png({ compressionLevel: 6, adaptiveFiltering: true }),
      wrap: (png, w, h) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`
        + `<image width="${w}" height="${h}" xlink:href="data:image/png;base64,${png.toString('base64')}"/></svg>`),
    },
  },
  heic: { extensions: ['heic', 'heif'], mime: 'image/heic', sharp: 'heif', alpha: true, animation: false, lossy: true },
  jp2: { extensions: ['jp2'], mime: 'image/jp2', sharp: 'jp2', alpha: true, animation: false, lossy: false },
  jxl: { extensions: ['jxl'], mime: 'image/jxl', sharp: 'jxl', alpha: true, animation: false, lossy: false },
  // Recognised by name only (URL extensions, f_ refused as unsupported): sharp reads these
  // through ImageMagick or not at all.
  bmp: { extensions: ['bmp'], mime: 'image/bmp', alpha: true, animation: false, lossy: false },
  ico: { extensions: ['ico'], mime: 'image/vnd.microsoft.icon', alpha: true, animation: false, lossy: false },
  pdf: { extensions: ['pdf'], mime: 'application/pdf', alpha: true, animation: false, lossy: false },
  tga: { extensions: ['tga'], mime: 'image/x-tga', alpha: true, animation: false, lossy: false },
  psd: { extensions: ['psd'], mime: 'image/vnd.adobe.photoshop', alpha: true, animation: false, lossy: false },
} as const satisfies Record<string, FormatRow>;

export type FormatName = keyof typeof FORMATS;
export type OutputFormat = { [K in FormatName]: (typeof FORMATS)[K] extends { output: Encoder } ? K : never }[FormatName];
export type QAutoFormat = { [K in OutputFormat]: (typeof FORMATS)[K]['output'] extends { qAuto: QAutoTuning } ? K : never }[OutputFormat];

const ROWS: readonly (readonly [FormatName, FormatRow])[] = Object.entries(FORMATS) as [FormatName, FormatRow][];

/** A row by name, typed as the common shape (the `as const` rows differ in their optional parts). */
export function formatRow(f: FormatName): FormatRow {
  return FORMATS[f];
}
/** Whether a format keeps several frames (read and written as an animation). */
export function animates(f: FormatName | undefined): boolean {
  return f !== undefined && formatRow(f).animation;
}
/** The encoder of an output format. */
export function encoderOf(f: OutputFormat): Encoder {
  return FORMATS[f].output;
}

/** Whether q_auto searches `f`'s quality (a lossy 8-bit encoder with a `qAuto` tuning). */
export function searchesQuality(f: OutputFormat): f is QAutoFormat {
  return encoderOf(f).qAuto !== undefined;
}

const OUTPUT_FORMATS: readonly OutputFormat[] = ROWS.filter(([, r]) => r.output).map(([f]) => f as OutputFormat);
const Q_AUTO_FORMATS: readonly QAutoFormat[] = OUTPUT_FORMATS.filter(searchesQuality);
/** The output format that delivers a canvas's vector rendition (Encoder.vector): e_vectorize's. */
export const VECTOR_OUTPUT: OutputFormat = OUTPUT_FORMATS.find((f) => encoderOf(f).vector)!;

/** Whether a format name (a row's key) holds CMYK pixels (FormatRow.cmyk). */
export function holdsCmyk(f: string): boolean {
  return f in FORMATS && formatRow(f as FormatName).cmyk === true;
}
/** Whether sources of sharp's format `sharpName` must have passed the sanitizer (FormatRow.sanitized). */
export function needsSanitizing(sharpName: string): boolean {
  const f = sourceFormatName(sharpName);
  return f !== undefined && formatRow(f).sanitized === true;
}

/** q_auto's tuning of `f`, per format as a record (src/analyze/quality.ts exports these). */
export function qAutoTable<T>(pick: (t: QAutoTuning) => T): Readonly<Record<QAutoFormat, T>> {
  return Object.freeze(Object.fromEntries(Q_AUTO_FORMATS.map((f) => [f, pick(encoderOf(f).qAuto!)]))) as Record<QAutoFormat, T>;
}

// `deliveredAs` cannot be typed by the table it is part of: a wrong name fails at load instead.
for (const [f, r] of ROWS) {
  if (r.deliveredAs !== undefined && !(r.deliveredAs in FORMATS && formatRow(r.deliveredAs as FormatName).output)) {
    throw new Error(`src/formats.ts: ${f} is delivered as ${r.deliveredAs}, which is no output format`);
  }
}

/** Every extension in the table, in row order (the local origin's preference). */
export const EXTENSIONS: readonly string[] = ROWS.flatMap(([, r]) => r.extensions);
/** Extension (or f_ token) → format. A Map: names like `constructor` must not match. */
export const FORMAT_BY_EXTENSION: ReadonlyMap<string, FormatName> = new Map(ROWS.flatMap(([f, r]) => r.extensions.map((e) => [e, f] as const)));
/** Extension (or f_ token) → output format, for the formats we deliver. */
export const OUTPUT_BY_EXTENSION: ReadonlyMap<string, OutputFormat> = new Map(
  [...FORMAT_BY_EXTENSION].filter(([, f]) => formatRow(f).output) as [string, OutputFormat][],
);
/** A URL's extension → the output format it asks for (FormatRow.extensionNamesSource aside). */
export const OUTPUT_BY_URL_EXTENSION: ReadonlyMap<string, OutputFormat> = new Map(
  [...OUTPUT_BY_EXTENSION].filter(([, f]) => !formatRow(f).extensionNamesSource),
);

/** Whether this build of libvips reads the row's files from a buffer (`sharp.format`). */
function decodes(r: FormatRow): boolean {
  return r.sharp !== undefined && r.sharp in sharp.format && sharp.format[r.sharp as keyof FormatEnum].input.buffer;
}
/** sharp's `metadata().format` → the row it names (the first, for 'heif'), for the formats
 *  this build reads: any other source is refused as unsupported. */
const BY_SHARP_NAME: ReadonlyMap<string, FormatName> = new Map(
  ROWS.filter(([, r]) => decodes(r)).reverse().map(([f, r]) => [r.sharp!, f] as const),
);
export function sourceFormatName(sharpName: string): FormatName | undefined {
  return BY_SHARP_NAME.get(sharpName);
}

/** Output format of a source when neither f_ nor an extension asks for one. */
export function deliveredFormat(sharpName: string, hasAlpha: boolean): OutputFormat {
  const f = BY_SHARP_NAME.get(sharpName);
  const r = f && formatRow(f);
  if (r?.deliveredAs) return r.deliveredAs as OutputFormat;
  if (r?.output) return f as OutputFormat;
  return hasAlpha ? UNIVERSAL.lossless : UNIVERSAL.photo;
}

/**
 * The formats every client reads, for f_auto and defaults (url-api.md §3): photographs;
 * exact pixels, graphics and transparency; animation.
 */
export const UNIVERSAL = { photo: 'jpeg', lossless: 'png', animation: 'gif' } as const satisfies Record<string, OutputFormat>;
/** Offered by f_auto only when Accept names them, most preferred first. */
export const NEGOTIATED = ['avif', 'webp'] as const satisfies readonly OutputFormat[];
export type NegotiatedFormat = (typeof NEGOTIATED)[number];
/** Which negotiated formats a request's Accept admits (f_auto's resolved value). */
export type AcceptedFormats = Readonly<Record<NegotiatedFormat, boolean>>;

/** The first negotiated format `acc` admits that passes `test`, most preferred first. */
export function firstAccepted(acc: AcceptedFormats, test: (f: NegotiatedFormat) => boolean = () => true): NegotiatedFormat | undefined {
  for (const f of NEGOTIATED) if (acc[f] && test(f)) return f;
  return undefined;
}

/** Names Cloudinary delivers that are no image format we know (video, audio, 3D, camera raw,
 *  vector documents): f_ refuses them as unsupported rather than invalid. */
export const OTHER_DELIVERY_FORMATS: ReadonlySet<string> = new Set([
  'wdp', 'jxr', 'eps', 'eps3', 'ai', 'djvu', 'arw', 'cr2', 'dng', 'glb', 'usdz', 'gltf',
  'mp4', 'webm', 'mov', 'ogv', 'flv', 'm3u8', 'mpd', 'avi', 'mkv', 'ts', 'h264', 'wmv', 'mp3', 'wav',
]);
