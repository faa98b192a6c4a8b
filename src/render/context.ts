/** What a render needs besides the plan: config, the request's negotiated values, timings. */
import type { Config } from '../config.ts';
import type { Source } from '../origin/types.ts';
import type { Deadline } from './deadline.ts';
import type { SourceDecode } from './blame.ts';

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
  /** Request headers that changed the result; pipeline/respond.ts turns them into `Vary`. */
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
  /**
   * Content decisions (g_auto/face crop positions, subject boxes, faces) of this request's
   * render, by where they were asked (analyze/subject.ts). A render that is handed the map of
   * an earlier render of the same source and resolved plan (the background refinement) replays
   * them instead of analysing again. Absent: every decision is made afresh.
   */
  readonly decisions?: Map<string, unknown>;
  /**
   * The sources opened so far for this render (base, layers), as openSource opened them: a
   * failure is blamed on one that does not decode alone (render/blame.ts). render() makes it.
   */
  readonly decodes?: SourceDecode[];
  /**
   * Gives up the render's admission slot while `wait` runs and takes one again after
   * (pipeline/produce.ts `admitted`): for waits on another process, such as the background
   * removal model's queue. Absent outside an admitted render: the wait then keeps the slot.
   */
  readonly outsideSlot?: <T>(wait: () => Promise<T>) => Promise<T>;
  /**
   * The shared tier's analysis records (Redis), where one is configured: detections (JSON) and
   * background removal masks (bytes) are read there before running a model and stored after, so
   * instances share them.
   */
  readonly shared?: {
    getJson<T>(ns: string, key: string): Promise<T | undefined>;
    setJson(ns: string, key: string, value: unknown): Promise<void>;
    getBytes(ns: string, key: string): Promise<Buffer | undefined>;
    setBytes(ns: string, key: string, value: Buffer): Promise<void>;
  };
}
