/**
 * The processing budget of one request (APERTURE_TIMEOUT_MS), shared by everything the request
 * renders: its components, layers, breakpoint samples and encodes. Work checks it between steps
 * (`check`), every libvips pipeline gets the remaining budget as sharp's `timeout`
 * (`seconds`), and the pipeline answers at the deadline even when a single libvips call cannot be
 * interrupted (`race`). Running out is a 504 (Errors.TIMEOUT), never a 500.
 */
import { Errors } from '../errors.ts';

export type Clock = () => number;
const monotonic: Clock = () => performance.now();

export class Deadline {
  /** Clock reading (ms) at which the budget is spent. */
  readonly at: number;

  constructor(readonly budgetMs: number, private readonly now: Clock = monotonic) {
    this.at = now() + budgetMs;
  }

  remainingMs(): number {
    return this.at - this.now();
  }

  private error(what: string) {
    return new Errors.TIMEOUT(`${what} ran past the ${this.budgetMs} ms processing budget`);
  }

  /** Throws Errors.TIMEOUT once the budget is spent. */
  check(what: string): void {
    if (this.remainingMs() <= 0) throw this.error(what);
  }

  /** sharp's `timeout({ seconds })` for the next pipeline: the remaining budget, at least 1 s (0 would mean none). */
  seconds(what: string): number {
    this.check(what);
    return Math.max(1, Math.ceil(this.remainingMs() / 1000));
  }

  /** `p`, or Errors.TIMEOUT at the deadline, whichever comes first. */
  race<T>(p: Promise<T>, what: string): Promise<T> {
    const left = this.remainingMs();
    if (left <= 0) {
      p.catch(() => undefined);
      return Promise.reject(this.error(what));
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.error(what)), left);
    });
    p.catch(() => undefined);
    return Promise.race([p, expired]).finally(() => clearTimeout(timer));
  }
}
