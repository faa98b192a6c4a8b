/** What a render needs besides the plan: config, the request's negotiated values, timings. */
import type { Config } from '../config.ts';
import type { Source } from '../origin/types.ts';
import type { Deadline } from './deadline.ts';

export interface RequestHints {
  /** Raw Accept header (format negotiation). */
  readonly accept?: string;
  /** Resolved DPR from client hints (undefined = no hint). */
  readonly dpr?: number;
  /** Width hint in device pixels. */
  readonly width?: number;
  /** Viewport width in CSS pixels. */
  readonly viewportWidth?: number;
  readonly saveData?: boolean;
}

export interface RenderContext {
  readonly config: Config;
  readonly hints: RequestHints;
  /** Request headers that changed the result; the route turns them into `Vary`. */
  readonly vary: Set<string>;
  /** Stable identity of the source, for per-source analysis caches. */
  readonly sourceIdentity: string;
  /** Canonical text of the components already applied (for per-step analysis caches). */
  prefix: string;
  /** The request's processing budget (APERTURE_TIMEOUT_MS), shared by all it renders. */
  readonly deadline: Deadline;
  /** Phase timings in ms, for Server-Timing and metrics. */
  readonly timing: Record<string, number>;
  /**
   * Loads an image layer (`l_`/`u_` public id, folders with `/`) through the delivery's
   * origins; absent where no origin is at hand (layers are then refused). `type: 'fetch'`
   * loads a remote URL (`l_fetch:`) through the fetch route's SSRF-guarded origin instead.
   */
  readonly loadLayer?: (publicId: string, ext?: string, type?: 'upload' | 'fetch') => Promise<Source>;
}
