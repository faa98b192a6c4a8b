/**
 * `e_vectorize[:colors[:detail[:despeckle[:paths[:corners]]]]]` (also named:
 * `e_vectorize:colors:5:detail:0.5`) — the image traced into vector shapes (imagetracerjs, in
 * a worker thread, within the request's deadline). The canvas keeps the traced SVG as its
 * vector rendition, which an SVG output delivers as it is; its pixels become the SVG's
 * rasterization, so raster outputs show the effect too. An automatic or unstated output
 * format becomes SVG (`e_vectorize/q_auto/f_auto`); an `f_` or extension naming a raster
 * format keeps it.
 *
 * | arg | range (default) | tracer setting |
 * |---|---|---|
 * | colors | 2-30 (10) | palette size |
 * | detail | px 0-1000 or fraction 0.0-1.0 of the longest side (300) | traced at that longest side (16 px at least, never upscaled) |
 * | despeckle | px 0-100 or fraction 0.0-1.0 (2) | shapes with outlines shorter than 4x that are dropped |
 * | paths | 0-100 (100) | curve fitting error 0.5 (100) to 5 px (0) |
 * | corners | 0-100 (25) | 0 smooth curves … 100 polygon corners |
 */
import sharp from 'sharp';
import type { Worker } from 'node:worker_threads';
import { Errors } from '../../src/errors.ts';
import { VECTOR_OUTPUT } from '../../src/formats.ts';
import { translate } from '../../src/render/affine.ts';
import { spawnModuleWorker } from '../../src/analyze/spawn-worker.ts';
import { parseNumberIn } from '../args.ts';
import type { EffectArg, EffectFamily } from './types.ts';
import { stillPixels } from './raw-frames.ts';
import type { TraceJob } from './vectorize-worker.ts';

const NAMES = ['colors', 'detail', 'despeckle', 'paths', 'corners'] as const;
type Name = (typeof NAMES)[number];
const DEFAULTS: Record<Name, EffectArg> = { colors: 10, detail: 300, despeckle: 2, paths: 100, corners: 25 };
/** Largest side traced: Cloudinary's detail range ends at 1000 px. */
const MAX_TRACE_SIDE = 1000;

/** A px value (integer range) or a fraction (a decimal point, 0.0-1.0), kept as text when a fraction. */
function pxOrFraction(raw: string, whole: string, maxPx: number): EffectArg {
  const bad = () => new Errors.INVALID_PARAM('effect', `${whole} (px 0-${maxPx} or a fraction 0.0-1.0)`);
  let v: number;
  try {
    v = parseNumberIn('effect', raw, 0, maxPx);
  } catch {
    throw bad();
  }
  if (raw.includes('.')) {
    if (v > 1) throw bad();
    return Number.isInteger(v) ? v.toFixed(1) : String(v);
  }
  if (!Number.isInteger(v)) throw bad();
  return v;
}

function parseValue(name: Name, raw: string, whole: string): EffectArg {
  const int = (lo: number, hi: number) => {
    if (!/^\d+$/.test(raw) || Number(raw) < lo || Number(raw) > hi) throw new Errors.INVALID_PARAM('effect', `${whole} (${name} ${lo}-${hi})`);
    return Number(raw);
  };
  switch (name) {
    case 'colors': return int(2, 30);
    case 'detail': return pxOrFraction(raw, whole, 1000);
    case 'despeckle': return pxOrFraction(raw, whole, 100);
    case 'paths': return int(0, 100);
    case 'corners': return int(0, 100);
  }
}

/** A px-or-fraction argument in pixels of a side of `side` px. */
function pixels(arg: EffectArg, side: number): number {
  return typeof arg === 'string' ? Number(arg) * side : arg;
}

/** Run the tracer in a worker; ended at the deadline. */
function trace(job: TraceJob, race: <T>(p: Promise<T>) => Promise<T>): Promise<string> {
  const worker: Worker = spawnModuleWorker(import.meta.url, 'vectorize-worker', job);
  const done = new Promise<string>((resolve, reject) => {
    worker.once('message', (svg: string) => resolve(svg));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`vectorize worker exited (${code})`)));
  });
  return race(done).finally(() => void worker.terminate());
}

export const VECTORIZE_EFFECTS: EffectFamily = {
  vectorize: {
    doc: 'Traced into vector shapes; SVG output unless a raster format is named.',
    examples: ['', '3:0.5', { transformation: 'e_vectorize:colors:6/f_svg' }],
    parse(args, raw) {
      const v: Record<Name, EffectArg> = { ...DEFAULTS };
      if (args.length && (NAMES as readonly string[]).includes(args[0])) {
        if (args.length % 2) throw new Errors.INVALID_PARAM('effect', `${raw} (name:value pairs)`);
        for (let i = 0; i < args.length; i += 2) {
          const name = args[i] as Name;
          if (!(NAMES as readonly string[]).includes(name)) throw new Errors.INVALID_PARAM('effect', `${raw} (unknown option ${name}; one of ${NAMES.join(', ')})`);
          v[name] = parseValue(name, args[i + 1], raw);
        }
      } else {
        if (args.length > NAMES.length) throw new Errors.INVALID_PARAM('effect', raw);
        args.forEach((a, i) => { v[NAMES[i]] = parseValue(NAMES[i], a, raw); });
      }
      return NAMES.map((n) => v[n]);
    },
    output: (_v, out) => (!out.format || out.format.kind === 'auto' ? { ...out, format: { kind: 'fixed', format: VECTOR_OUTPUT } } : out),
    async apply(c, v, ctx) {
      await c.ensureDims();
      const img = await stillPixels(c, 'vectorize', { rgb: true, alpha: true });
      const [colors, detail, despeckle, paths, corners] = v.args as [number, EffectArg, EffectArg, number, number];
      const { width: W, height: H } = img;
      const longest = Math.max(W, H);
      const target = Math.min(MAX_TRACE_SIDE, longest, Math.max(16, Math.round(pixels(detail, longest))));
      const k = target / longest;
      const tw = Math.max(1, Math.round(W * k)), th = Math.max(1, Math.round(H * k));
      const small = await sharp(img.data, { raw: { width: W, height: H, channels: 4 }, limitInputPixels: false })
        .resize(tw, th, { fit: 'fill' }).raw().timeout({ seconds: ctx.deadline.seconds('e_vectorize') }).toBuffer();
      const err = 0.5 + ((100 - paths) / 100) * 4.5;
      const options = {
        numberofcolors: colors, colorsampling: 2, colorquantcycles: 3, mincolorratio: 0,
        pathomit: Math.round(4 * pixels(despeckle, target)),
        ltres: err * 0.2 * Math.pow(25, corners / 100), qtres: err,
        rightangleenhance: corners >= 50, roundcoords: 1, viewbox: true, strokewidth: 1, linefilter: despeckle !== 0,
      };
      const traced = await trace({ data: small, width: tw, height: th, options }, (p) => ctx.deadline.race(p, 'e_vectorize'));
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${tw} ${th}" preserveAspectRatio="none">`
        + traced.slice(traced.indexOf('>') + 1);
      const { data, info } = await sharp(Buffer.from(svg), { limitInputPixels: false }).resize(W, H, { fit: 'fill' }).ensureAlpha()
        .raw().timeout({ seconds: ctx.deadline.seconds('e_vectorize') }).toBuffer({ resolveWithObject: true });
      c.replace({ data, width: info.width, height: info.height, channels: info.channels as 4 }, translate(0, 0));
      c.vector = svg;
    },
  },
};
