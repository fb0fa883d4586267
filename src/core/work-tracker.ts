import { withTimeout } from './with-timeout.js';

/**
 * Keeps track of work that continues after Slack has been acknowledged, so that shutdown can wait for it and
 * nothing is cut off silently.
 */
export class WorkTracker {
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  /** False once shutdown has begun: new work is refused. */
  get accepting(): boolean {
    return !this.closed;
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const done = () => this.running.delete(work);
    work.then(done, done);
    return work;
  }

  get size(): number {
    return this.running.size;
  }

  /** Stops accepting work and waits for what runs, up to graceMs. Returns how many were still running. */
  async drain(graceMs: number): Promise<number> {
    this.closed = true;
    await withTimeout(Promise.allSettled([...this.running]), graceMs);
    return this.running.size;
  }
}
