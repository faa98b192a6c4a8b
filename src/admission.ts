/**
 * Admission control for transforms: at most `concurrency` run at once, at most `queueSize`
 * wait, and none waits longer than `queueTimeoutMs`; overflow is a 503 with Retry-After.
 * Cache hits never pass through here, so they are never queued behind transforms.
 */
import { Errors } from './errors.ts';

export class Admission {
  private running = 0;
  private readonly waiting: Array<{ grant: () => void; timer: NodeJS.Timeout }> = [];

  constructor(
    private readonly concurrency: number,
    private readonly queueSize: number,
    private readonly queueTimeoutMs: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once a slot is free; throws Errors.OVERLOADED when shed.
   * `resume`: the work held a slot before and gave it up while it waited on something outside
   * this process (admitted's `outside`); it goes to the head of the queue and is never refused
   * for a full queue (it still waits at most queueTimeoutMs).
   */
  acquire(resume = false): Promise<() => void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (!resume && this.waiting.length >= this.queueSize) {
      return Promise.reject(new Errors.OVERLOADED('too many transforms queued'));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(entry.timer);
          this.running++;
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new Errors.OVERLOADED('waited too long for a transform slot'));
        }, this.queueTimeoutMs),
      };
      if (resume) this.waiting.unshift(entry); else this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      const next = this.waiting.shift();
      if (next) next.grant();
    };
  }
}
