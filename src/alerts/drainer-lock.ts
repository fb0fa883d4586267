import { randomUUID } from 'node:crypto';
import type { Store } from '../ports/store.js';

/** Held by the one replica that delivers queued alerts. */
export const drainerLockKey = 'ward:lock:alert-drainer';

/**
 * One queue drainer at a time across replicas: several ward processes share one Redis queue, and two drainers
 * would post the same alert twice and race on the dedupe records. The holder renews the lease every third of its
 * ttl; a replica that dies stops renewing and another takes over after at most `ttlMs`.
 */
export class DrainerLock {
  readonly owner = randomUUID();
  private heldUntil = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
    /** Other one-replica jobs (the containment checker) hold a lease of their own the same way. */
    private readonly key = drainerLockKey,
  ) {}

  /** True when this replica holds the lock (acquiring or renewing it as needed). */
  async hold(): Promise<boolean> {
    if (this.heldUntil - this.now() > (this.ttlMs * 2) / 3) return true;
    const ok =
      (await this.store.compareAndSet(this.key, this.owner, this.owner, this.ttlMs)) ||
      (await this.store.setIfAbsent(this.key, this.owner, this.ttlMs));
    this.heldUntil = ok ? this.now() + this.ttlMs : 0;
    if (ok && this.timer === undefined) {
      // Renew in the background so that a long paced batch does not outlive the lease.
      this.timer = setInterval(() => {
        void this.hold().catch(() => {
          this.heldUntil = 0;
        });
      }, this.ttlMs / 3);
      this.timer.unref();
    }
    if (!ok) this.stopRenewing();
    return ok;
  }

  /** Gives the lock up (on stop), so that another replica takes over at once. */
  async release(): Promise<void> {
    this.stopRenewing();
    this.heldUntil = 0;
    await this.store.compareAndSet(this.key, this.owner, null).catch(() => false);
  }

  private stopRenewing(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
