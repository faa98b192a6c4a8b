/**
 * `fl_<flag>[.<flag>…]` — flags (Cloudinary `flags`). Implemented: `progressive` (JPEG
 * progressive / PNG interlaced), `lossy` (PNG/GIF → palette-quantized, WebP lossy), `png8`,
 * `strip_profile` (drop the ICC profile and all metadata even with keep_iptc), `keep_iptc`
 * (keep EXIF/IPTC/XMP), `attachment[:name]` (Content-Disposition), `immutable_cache`,
 * `getinfo` (JSON description instead of the image), `animated`/`awebp` (keep/force animation),
 * `lossless` (WebP/AVIF lossless), `preserve_transparency` (f_auto keeps PNG for images with
 * transparency), `any_format` (PNG output may switch to PNG8: pixel-identical, or within the
 * q_auto level's budget; src/render/auto-encode.ts). Read by the encoder; getinfo, attachment
 * and immutable_cache shape the answer through the `respond` hook, getinfo's objects come
 * from its `inspect` hook. Layer flags — `layer_apply` (closes a layer),
 * `relative`, `region_relative`, `no_overflow`, `tiled`, `cutter`, `text_no_trim` — are consumed by the plan's layer grouping
 * (src/plan/parse.ts) and are refused outside a layer.
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { own } from './args.ts';
import { listObjects } from '../src/analyze/subject.ts';
import type { Region } from '../src/render/affine.ts';

export interface Flags {
  progressive?: boolean;
  lossy?: boolean;
  lossless?: boolean;
  png8?: boolean;
  stripProfile?: boolean;
  keepIptc?: boolean;
  attachment?: string | true;
  immutableCache?: boolean;
  getinfo?: boolean;
  animated?: boolean;
  awebp?: boolean;
  preserveTransparency?: boolean;
  anyFormat?: boolean;
  /** `fl_ignore_aspect_ratio`: a width or height given alone leaves the other side as it is (read by the geometry owner). */
  ignoreAspectRatio?: boolean;
  layerApply?: boolean;
  relative?: boolean;
  noOverflow?: boolean;
  tiled?: boolean;
  cutter?: boolean;
  regionRelative?: boolean;
  textNoTrim?: boolean;
}

/** The flags that say how a layer is placed (the gallery shows each: transforms/layer.ts LAYER_EXAMPLES). */
export const LAYER_FLAGS = ['relative', 'region_relative', 'no_overflow', 'tiled', 'cutter', 'text_no_trim'] as const;

const SIMPLE: Record<string, keyof Flags> = {
  progressive: 'progressive', lossy: 'lossy', lossless: 'lossless', png8: 'png8', strip_profile: 'stripProfile',
  keep_iptc: 'keepIptc', keep_attribution: 'keepIptc', immutable_cache: 'immutableCache', getinfo: 'getinfo',
  animated: 'animated', awebp: 'awebp', preserve_transparency: 'preserveTransparency', any_format: 'anyFormat', ignore_aspect_ratio: 'ignoreAspectRatio',
  layer_apply: 'layerApply', relative: 'relative', no_overflow: 'noOverflow', tiled: 'tiled',
  cutter: 'cutter', region_relative: 'regionRelative', text_no_trim: 'textNoTrim',
};
/** Cloudinary's name of each flag (the first spelling SIMPLE lists), for the canonical text. */
const URL_NAME: Readonly<Record<string, string>> = Object.fromEntries(
  [...Object.entries(SIMPLE).reverse().map(([name, key]) => [key, name]), ['attachment', 'attachment']],
);
const UNSUPPORTED: Record<string, string> = {
  text_disallow_overflow: 'text overflow checks are not supported',
  clip: 'clipping paths are not supported', clip_evenodd: 'clipping paths are not supported', rasterize: 'not supported (vector sources are always rasterized here; f_svg asks for SVG output)',
  force_strip: 'not supported', force_icc: 'not supported', alternate: 'not supported',
  apng: 'animated PNG output is not supported', mono: 'audio is not supported', splice: 'video is not supported',
  streaming_attachment: 'video is not supported', truncate_ts: 'video is not supported', waveform: 'video is not supported',
  hlsv3: 'video is not supported', keyframe_interval: 'video is not supported', sanitize: 'not supported (SVG sources are always sanitized; SVG output holds only traced paths or an embedded PNG)',
  lowres: 'not supported', replace_image: 'PDF image replacement is not supported', animated_png: 'animated PNG output is not supported',
  animated_webp: 'not supported', getinfo_extended: 'not supported', expand_heif: 'not supported', c2pa: 'not supported',
  draco: '3D is not supported', attachment_expanded: 'not supported',
};

declare module './types.ts' {
  interface PlanValues { flags: Flags }
  interface Findings {
    /** `fl_getinfo` with object detection on: objects of the (oriented) input, in its pixels. */
    objects?: readonly { class: string; score: number; box: Region }[];
  }
}

export const flags = defineTransform({
  key: 'fl', planKey: 'flags', name: 'flags', phase: 'output',
  parse(raw): Flags {
    const out: Flags = {};
    for (const token of raw.split('.')) {
      const [name, ...args] = token.split(':');
      if (name === 'attachment') {
        const fname = args.join(':');
        if (fname && !/^[\w\- ]{1,100}$/.test(fname)) throw new Errors.INVALID_PARAM('flags', raw);
        out.attachment = fname || true;
        continue;
      }
      if (name === 'progressive') {
        if (args.length && !['semi', 'steep', 'none'].includes(args[0])) throw new Errors.INVALID_PARAM('flags', raw);
        out.progressive = args[0] !== 'none';
        continue;
      }
      const key = own(SIMPLE, name);
      if (key) {
        if (args.length) throw new Errors.INVALID_PARAM('flags', raw);
        (out as Record<string, boolean>)[key] = true;
        continue;
      }
      const why = own(UNSUPPORTED, name);
      if (why) throw new Errors.UNSUPPORTED(`fl_${name}`, why);
      throw new Errors.INVALID_PARAM('flags', raw);
    }
    return out;
  },
  // `fl_a,fl_b` in one component: both flags (the later one's argument wins, `fl_attachment:x`).
  merge: (a, b) => ({ ...a, ...b }),
  // Cloudinary's snake_case names, so the canonical text parses back (`fl_ignore_aspect_ratio`).
  canonical: (f) => Object.entries(f).filter(([, v]) => v).map(([k, v]) => {
    const name = URL_NAME[k] ?? k;
    return v === true ? name : `${name}:${v}`;
  }).sort().join('.'),
  // getinfo lists the objects of the input (its pixels, before any component) when object
  // detection is on; without getinfo no detector starts.
  async inspect(f, canvas, ctx) {
    if (!f.getinfo || !ctx.config.objects) return undefined;
    return { objects: await listObjects(canvas, { ...ctx, prefix: '' }, 'geometry') };
  },
  // getinfo answers a JSON description, which is never an attachment; attachment names the
  // download after the public id unless it names it; immutable_cache marks the result immutable.
  respond(f, rc) {
    if (f.immutableCache) rc.immutable = true;
    if (f.getinfo) {
      const { input, output } = rc;
      rc.json = {
        input: { width: input.width, height: input.height, format: input.format, bytes: input.bytes },
        output: { width: output.width, height: output.height, format: output.format, bytes: output.bytes },
        ...(output.crop ? { crop: output.crop } : {}),
        ...(rc.findings.objects ? { objects: rc.findings.objects } : {}),
      };
      delete rc.attachment;
    } else if (f.attachment && rc.json === undefined) {
      rc.attachment = `${typeof f.attachment === 'string' ? f.attachment : rc.name}.${rc.output.extension}`;
    }
  },
});
