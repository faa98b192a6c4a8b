/**
 * Background refinement. A result answered with a fast encoder setting (AVIF at a low effort, so
 * that a cold request stays near a WebP's time) is rendered again with the slower, smaller
 * setting once the server has no transform to run, and the refined result replaces the cached
 * one. Jobs run one at a time, only while `idle()` holds (checked before each job, polled while
 * busy), so refinement never delays a request beyond the one render already started; a key is
 * queued once; a full queue drops new jobs (their results stay as they are: valid, just larger).
 */
export class Refiner {
  private readonly queue = new Map<string, () => Promise<void>>();
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private waiters: Array<() => void> = [];
  /** Jobs finished and failed since start (metrics, tests). */
  done = 0;
  failed = 0;

  constructor(
    private readonly idle: () => boolean,
    private readonly maxQueued: number,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly pollMs = 100,
  ) {}

  /** Jobs waiting or running. */
  get pending(): number {
    return this.queue.size + (this.running ? 1 : 0);
  }

  /** Whether `key` is queued (not yet running). */
  has(key: string): boolean {
    return this.queue.has(key);
  }

  /** Queue `job` under `key`. False when the key is already queued, the queue is full or closed. */
  schedule(key: string, job: () => Promise<void>): boolean {
    if (this.closed || this.queue.has(key) || this.queue.size >= this.maxQueued) return false;
    this.queue.set(key, job);
    this.pump();
    return true;
  }

  /** Resolves once nothing is queued or running. */
  settled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drop what is queued and wait for the running job (graceful shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    this.wake();
  }

  private wake(): void {
    if (this.pending > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  private pump(): void {
    if (this.running || this.timer || this.closed) return;
    const next = this.queue.entries().next();
    if (next.done) { this.wake(); return; }
    if (!this.idle()) {
      this.timer = setTimeout(() => { this.timer = undefined; this.pump(); }, this.pollMs);
      this.timer.unref();
      return;
    }
    const [key, job] = next.value;
    this.queue.delete(key);
    this.running = (async () => {
      try {
        await job();
        this.done++;
      } catch (err) {
        this.failed++;
        this.onError(err);
      }
    })().finally(() => {
      this.running = undefined;
      this.pump();
      this.wake();
    });
  }
}
