/**
 * Request headers that automatic values read (url-api.md §4): client hints (`Sec-CH-DPR`,
 * `Sec-CH-Width`, `Sec-CH-Viewport-Width` and the legacy `DPR`, `Width`, `Viewport-Width`),
 * `Save-Data` and `Accept`. Parsing is strict: a malformed hint is ignored, never an error.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHints } from '../render/context.ts';

function num(v: string | string[] | undefined, max: number): number | undefined {
  if (typeof v !== 'string' || v.length > 12) return undefined;
  const n = Number(v.trim());
  return Number.isFinite(n) && n > 0 && n <= max ? n : undefined;
}

/** Header names as they go into Vary, by hint (the one actually sent is the one named). */
export const HINT_HEADERS = {
  dpr: ['sec-ch-dpr', 'dpr'],
  width: ['sec-ch-width', 'width'],
  viewportWidth: ['sec-ch-viewport-width', 'viewport-width'],
} as const;

export function parseHints(h: IncomingHttpHeaders): RequestHints {
  const dpr = num(h['sec-ch-dpr'], 20) ?? num(h['dpr'], 20);
  const width = num(h['sec-ch-width'], 100_000) ?? num(h['width'], 100_000);
  const viewportWidth = num(h['sec-ch-viewport-width'], 100_000) ?? num(h['viewport-width'], 100_000);
  const sd = h['save-data'];
  return {
    accept: typeof h.accept === 'string' ? h.accept : undefined,
    ...(dpr !== undefined ? { dpr } : {}),
    ...(width !== undefined ? { width } : {}),
    ...(viewportWidth !== undefined ? { viewportWidth } : {}),
    saveData: typeof sd === 'string' && sd.trim().toLowerCase() === 'on',
  };
}

/** The `Accept-CH` value image responses carry so browsers keep sending hints. */
export const ACCEPT_CH = 'Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width, DPR, Width, Viewport-Width';
