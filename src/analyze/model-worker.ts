/**
 * The main-thread side of a model worker (faces.ts, objects.ts): one worker thread that runs
 * a tfjs model, started on first use, stopped after `idleMs` without a job (which gives its
 * wasm heap back) and started again by the next job. One job is in the worker at a time (FIFO
 * here), each bounded by a timeout. A worker that cannot start or dies makes the model
 * "unavailable": every job resolves to null and one warning is logged.
 *
 * `ModelWorkerHost` holds the process-wide state of one model (status, the current worker,
 * settings); `WorkerModel` is the base class of the detector that owns one worker. A detector
 * object obtained before its worker was stopped for idleness keeps working: it hands its jobs
 * to the host's current detector.
 */
import type { Worker } from 'node:worker_threads';
import { ANALYSIS_WORKER_LIMITS, spawnModuleWorker } from './spawn-worker.ts';

/** Calls `fire` once after `ms` unless the returned cancel function is called first. */
export type IdleTimer = (ms: number, fire: () => void) => () => void;

const realTimer: IdleTimer = (ms, fire) => {
  const t = setTimeout(fire, ms);
  t.unref(); // an idle worker's countdown must not keep the process alive
  return () => clearTimeout(t);
};

/** 'idle': no worker (not needed yet, or stopped after idleMs without a job). */
export type ModelStatus = 'idle' | 'loading' | 'ready' | 'unavailable';

/** What every model worker's protocol has besides its own detection request and reply. */
export type ModelRequest = { id: number; op: string };
export type ModelReply = { type: 'ready' } | { type: 'failed'; message: string } | { id: number };

interface Job<Req, Reply> {
  readonly request: Req;
  readonly transfer: ArrayBuffer[];
  readonly done: (reply: Reply | null) => void;
}

export interface ModelWorkerSpec<D> {
  /** `import.meta.url` of the module next to the worker. */
  readonly callerUrl: string;
  /** The worker module's name without extension ('faces-worker'). */
  readonly module: string;
  readonly workerData: unknown;
  readonly idleMs: number;
  readonly initTimeoutMs: number;
  readonly jobTimeoutMs: number;
  readonly log: (message: string) => void;
  /** The one warning's text for `reason`. */
  readonly warning: (reason: string) => string;
  /** The detector that owns a freshly started (and ready) worker. */
  readonly create: (worker: Worker) => D;
  /** The detector handed out when the worker could not start. */
  readonly unavailable: D;
}

/** The detector handed out when a model's worker could not start: it finds nothing. */
export const unavailableDetector = Object.freeze({
  available: false as const,
  async detect(): Promise<never[]> { return []; },
  async tensorCount(): Promise<number> { return -1; },
});

export class ModelWorkerHost<D> {
  status: ModelStatus = 'idle';
  /** How many times a worker was started. */
  starts = 0;
  idleMs: number;
  idleTimer: IdleTimer = realTimer;
  log: (message: string) => void;
  /** Termination of the last worker stopped for idleness, for stop() to await. */
  stopped: Promise<void> = Promise.resolve();
  private detector: Promise<D> | null = null;
  private warned = false;

  constructor(readonly spec: ModelWorkerSpec<D>) {
    this.idleMs = spec.idleMs;
    this.log = spec.log;
  }

  configure(opts: { idleMs?: number; log?: (message: string) => void; idleTimer?: IdleTimer }): void {
    if (opts.idleMs !== undefined) this.idleMs = opts.idleMs;
    if (opts.log) this.log = opts.log;
    if (opts.idleTimer) this.idleTimer = opts.idleTimer;
  }

  warnOnce(message: string): void {
    if (this.warned) return;
    this.warned = true;
    try { this.log(this.spec.warning(message)); } catch { /* logging must not break serving */ }
  }

  /** The process-wide detector; the first call starts it and concurrent callers share that start. */
  get(): Promise<D> {
    this.detector ??= this.start();
    return this.detector;
  }

  /**
   * Stop the worker now if it has no job (as the idle countdown would), and resolve once the
   * last worker stopped for idleness has exited. A busy worker is left running.
   */
  async stop(): Promise<void> {
    const detector = await this.detector;
    if (detector instanceof WorkerModel) await detector.retire();
    await this.stopped;
  }

  /** A detector's worker was stopped for idleness: the next get() starts a new one. */
  retired(exit: Promise<void>): Promise<void> {
    this.detector = null;
    this.status = 'idle';
    this.stopped = exit;
    return exit;
  }

  private async start(): Promise<D> {
    const { spec } = this;
    this.status = 'loading';
    this.starts++;
    let worker: Worker;
    try {
      worker = spawnModuleWorker(spec.callerUrl, spec.module, spec.workerData, ANALYSIS_WORKER_LIMITS);
    } catch (err) {
      this.status = 'unavailable';
      this.warnOnce(err instanceof Error ? err.message : String(err));
      return spec.unavailable;
    }
    const ready = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => settle(`model did not load within ${spec.initTimeoutMs} ms`), spec.initTimeoutMs);
      const onMessage = (m: ModelReply): void => {
        if ('type' in m) settle(m.type === 'ready' ? null : m.message);
      };
      const onError = (err: Error): void => settle(err.message);
      const onExit = (code: number): void => settle(`worker exited with code ${code} while loading`);
      function settle(result: string | null): void {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        resolve(result);
      }
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    if (ready !== null) {
      this.status = 'unavailable';
      this.warnOnce(ready);
      void worker.terminate();
      return spec.unavailable;
    }
    this.status = 'ready';
    return spec.create(worker);
  }
}

/** A detector that owns one worker: its job queue, idle countdown, retirement and failure. */
export class WorkerModel<Req extends ModelRequest, Reply extends ModelReply> {
  available = true;
  /** Stopped for idleness (not a failure): jobs go to the current worker instead. */
  private retired = false;
  private readonly queue: Job<Req, Reply>[] = [];
  private current: { job: Job<Req, Reply>; timer: NodeJS.Timeout } | null = null;
  protected nextId = 1;
  private cancelIdle: (() => void) | null = null;

  constructor(private readonly worker: Worker, protected readonly host: ModelWorkerHost<unknown>) {
    worker.on('message', (reply: Reply) => this.finish(reply));
    worker.on('error', (err) => this.fail(`worker error: ${err.message}`));
    worker.on('exit', (code) => { if (!this.retired) this.fail(`worker exited with code ${code}`); });
    this.pump(); // idle from the start: arm the countdown
  }

  /** Live tensors in the worker's tfjs engine; flat across detections when nothing leaks. */
  async tensorCount(): Promise<number> {
    const reply = await this.run({ id: this.nextId++, op: 'memory' } as Req, []);
    return reply && 'numTensors' in reply ? (reply as { numTensors: number }).numTensors : -1;
  }

  protected async run(request: Req, transfer: ArrayBuffer[]): Promise<Reply | null> {
    if (this.retired) {
      const next = await this.host.get();
      return next instanceof WorkerModel ? (next as WorkerModel<Req, Reply>).run(request, transfer) : null;
    }
    return new Promise((done) => {
      if (!this.available) return done(null);
      this.queue.push({ request, transfer, done });
      this.pump();
    });
  }

  private pump(): void {
    this.cancelIdle?.();
    this.cancelIdle = null;
    if (this.current || !this.available) return;
    const job = this.queue.shift();
    if (!job) {
      this.worker.unref(); // idle: do not keep the process alive
      const { idleMs } = this.host;
      if (idleMs > 0) this.cancelIdle = this.host.idleTimer(idleMs, () => void this.retire());
      return;
    }
    this.worker.ref(); // a caller awaits this reply
    const { jobTimeoutMs } = this.host.spec;
    const timer = setTimeout(() => this.fail(`detection took over ${jobTimeoutMs} ms`), jobTimeoutMs);
    this.current = { job, timer };
    this.worker.postMessage(job.request, job.transfer);
  }

  private finish(reply: Reply): void {
    const current = this.current;
    if (!current || !('id' in reply) || reply.id !== current.job.request.id) return;
    clearTimeout(current.timer);
    this.current = null;
    current.job.done(reply);
    this.pump();
  }

  /** Idle: terminate the worker and let the next detection start a new one. */
  retire(): Promise<void> {
    if (this.retired || !this.available || this.current || this.queue.length) return this.host.stopped;
    this.retired = true;
    this.cancelIdle?.();
    this.cancelIdle = null;
    return this.host.retired(this.worker.terminate().then(() => undefined, () => undefined));
  }

  /** Stop for good: every waiting caller gets "no answer" (null). */
  fail(reason: string): void {
    if (!this.available || this.retired) return; // a retired worker's late events concern no one
    this.available = false;
    this.host.status = 'unavailable';
    this.host.warnOnce(reason);
    if (this.current) {
      clearTimeout(this.current.timer);
      this.current.job.done(null);
      this.current = null;
    }
    for (const job of this.queue.splice(0)) job.done(null);
    void this.worker.terminate();
  }
}
