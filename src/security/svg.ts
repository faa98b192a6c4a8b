/**
 * SVG sources are rasterized, never served as SVG, and librsvg only ever sees a sanitized
 * document (svg-worker.ts says what survives).
 *
 * Which sources are SVG: whatever libvips would load as SVG. libvips tries its SVG loader
 * last (priority -5), after the raster loaders, and takes any buffer in which `<svg` appears
 * (any case; libvips 8.18 searches the whole buffer, older versions the first 1000 bytes)
 * and any gzip stream whose inflated start has it (`.svgz`). So a source is sent to the
 * sanitizer unless it starts with the signature of a raster format we decode, or has no `<svg`
 * anywhere and is not gzip: comments, processing instructions, a DOCTYPE or any amount of
 * text before the root element no longer hide an SVG (a regex over the first 512 bytes did).
 * As a second line, readSourceMeta refuses a source libvips calls SVG whose bytes did not come
 * out of the sanitizer (isSanitizedSvg).
 *
 * Sanitizing runs in one worker thread, one document at a time, so the event loop never
 * waits for it; documents over the byte limit (APERTURE_MAX_SVG_BYTES) are refused with 413
 * before they are copied to the worker.
 */
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../analyze/spawn-worker.ts';
import { Errors, type HttpError } from '../errors.ts';
import type { SvgErrorCode, SvgReply, SvgRequest, SvgWorkerData } from './svg-worker.ts';

/**
 * Leading bytes of the raster formats libvips decodes before it tries SVG. Plain comparisons,
 * no allocation: this runs on every cache hit.
 */
function rasterSignature(b: Buffer): boolean {
  const b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
  if (b0 === 0xff) return (b1 === 0xd8 && b2 === 0xff) || b1 === 0x0a || (b1 === 0x4f && b2 === 0xff && b3 === 0x51); // JPEG, JPEG XL, J2K
  if (b0 === 0x89) return b1 === 0x50 && b2 === 0x4e && b3 === 0x47; // PNG
  if (b0 === 0x47) return b1 === 0x49 && b2 === 0x46 && b3 === 0x38; // GIF8
  if (b0 === 0x52) return b1 === 0x49 && b2 === 0x46 && b3 === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50; // RIFF....WEBP
  if (b0 === 0x49) return b1 === 0x49 && (b2 === 0x2a || b2 === 0x2b) && b3 === 0x00; // TIFF, BigTIFF (little-endian)
  if (b0 === 0x4d) return b1 === 0x4d && b2 === 0x00 && (b3 === 0x2a || b3 === 0x2b); // TIFF, BigTIFF (big-endian)
  if (b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70) return true; // ISO BMFF "ftyp": HEIF, AVIF
  // JP2 and JPEG XL containers: a 12-byte signature box.
  return b0 === 0x00 && b1 === 0x00 && b2 === 0x00 && b3 === 0x0c
    && ((b[4] === 0x6a && b[5] === 0x50 && b[6] === 0x20 && b[7] === 0x20) || (b[4] === 0x4a && b[5] === 0x58 && b[6] === 0x4c && b[7] === 0x20));
}

/** `<svg` in any case, anywhere in the buffer (memchr for `<`, then three bytes). */
function containsSvgTag(b: Buffer): boolean {
  for (let i = b.indexOf(0x3c); i !== -1 && i + 3 < b.length; i = b.indexOf(0x3c, i + 1)) {
    if ((b[i + 1] | 0x20) === 0x73 && (b[i + 2] | 0x20) === 0x76 && (b[i + 3] | 0x20) === 0x67) return true;
  }
  return false;
}

/** Whether libvips could load these bytes as SVG (gzip counts: it may be `.svgz`). */
export function maybeSvg(buf: Buffer): boolean {
  if (buf.length < 5) return false;
  if (buf[0] === 0x1f && buf[1] === 0x8b) return true;
  return !rasterSignature(buf) && containsSvgTag(buf);
}

/** Buffers the sanitizer produced: the only SVG bytes allowed to reach libvips. */
const sanitized = new WeakSet<Buffer>();

export function isSanitizedSvg(buf: Buffer): boolean {
  return sanitized.has(buf);
}

export interface SvgSanitizerOptions {
  /** Largest SVG document in bytes (inflated size for gzip); above it: 413. */
  maxBytes: number;
  /** For tests: holds each job in the worker (see SvgWorkerData.latch). */
  latch?: Int32Array;
}

export interface SvgSanitizer {
  /** The sanitized document. Throws Errors.TOO_LARGE / UNSUPPORTED_SOURCE / CORRUPT_SOURCE. */
  sanitize(buf: Buffer): Promise<Buffer>;
  /** Stop the worker (pending jobs fail). */
  close(): Promise<void>;
}

const ERRORS: Readonly<Record<SvgErrorCode, (message: string) => HttpError>> = {
  too_large: (m) => new Errors.TOO_LARGE(m),
  not_svg: (m) => new Errors.UNSUPPORTED_SOURCE(m),
  corrupt: (m) => new Errors.CORRUPT_SOURCE(m),
};

/** A sanitizer with its own worker, started on first use and restarted if it dies. */
export function createSvgSanitizer(opts: SvgSanitizerOptions): SvgSanitizer {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();

  function failAll(reason: string): void {
    worker = undefined;
    for (const p of pending.values()) p.reject(Object.assign(new Errors.INTERNAL(), { cause: new Error(reason) }));
    pending.clear();
  }

  function start(): Worker {
    const data: SvgWorkerData = { role: 'aperture-svg', maxBytes: opts.maxBytes, ...(opts.latch ? { latch: opts.latch } : {}) };
    const w = spawnModuleWorker(import.meta.url, 'svg-worker', data);
    w.on('message', (r: SvgReply) => {
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      if (!pending.size) w.unref();
      if ('error' in r) p.reject(ERRORS[r.error.code](r.error.message));
      else {
        const out = Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.length);
        sanitized.add(out);
        p.resolve(out);
      }
    });
    w.on('error', (e) => { if (worker === w) failAll(`SVG worker error: ${e.message}`); });
    w.on('exit', (code) => { if (worker === w) failAll(`SVG worker exited with code ${code}`); });
    return w;
  }

  return {
    sanitize(buf) {
      if (buf.length > opts.maxBytes) {
        return Promise.reject(new Errors.TOO_LARGE(`SVG source is ${buf.length} bytes, limit ${opts.maxBytes} (APERTURE_MAX_SVG_BYTES)`));
      }
      worker ??= start();
      const w = worker;
      w.ref(); // a job is pending: keep the process alive until it answers
      const id = nextId++;
      return new Promise<Buffer>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const request: SvgRequest = { id, bytes: new Uint8Array(buf) };
        w.postMessage(request, [request.bytes.buffer as ArrayBuffer]);
      });
    },
    async close() {
      const w = worker;
      failAll('SVG sanitizer closed');
      if (w) await w.terminate();
    },
  };
}
