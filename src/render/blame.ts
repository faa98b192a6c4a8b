/**
 * Whose fault a failed render is. libvips reports a source that does not decode and a pipeline
 * the renderer built wrong the same way, an Error with a message, and the same messages come
 * from both ("out of order read", "bad extract area"): a keyword in the message cannot tell a
 * corrupt upload from a bug. So a render that fails with anything but one of the error table's
 * errors or the budget running out decodes each source it opened again, alone, with the options
 * it was opened with (page, frames, pixel limit), to a sink that keeps no pixels. A
 * source that fails alone is at fault: a 4xx from that decode's own message (errors.ts
 * sourceError). If every source decodes, the renderer is: a 500, logged with the request.
 *
 * This costs a second decode on the failure path only. A source whose broken part the render
 * never reached but the whole decode does is still named at fault, which is true of its bytes.
 */
import sharp, { type SharpOptions } from 'sharp';
import { isHttpError, processingError, sourceError, type HttpError } from '../errors.ts';
import type { Deadline } from './deadline.ts';

/** A source as a render opened it: its bytes and the options libvips decoded them with. */
export interface SourceDecode {
  readonly buffer: Buffer;
  readonly options: SharpOptions;
}

/** The error a failed render answers: the table's own, a 504, the source's 4xx, or a 500. */
export async function blame(e: unknown, decodes: readonly SourceDecode[], deadline: Deadline): Promise<HttpError> {
  const err = processingError(e);
  if (isHttpError(e) || err.statusCode !== 500) return err;
  const seen = new Set<Buffer>();
  for (const d of decodes) {
    if (seen.has(d.buffer)) continue;
    seen.add(d.buffer);
    try {
      // Every pixel decoded at full size (no shrink-on-load) and averaged into one: little
      // memory. (`stats()` would not do: it ignores the loader's failOn warnings.)
      await sharp(d.buffer, { ...d.options, sequentialRead: true })
        .resize(1, 1, { fit: 'fill', fastShrinkOnLoad: false })
        .raw()
        .timeout({ seconds: deadline.seconds('checking the source') })
        .toBuffer();
    } catch (fault) {
      return sourceError(fault, 'corrupt');
    }
  }
  return err;
}
