/**
 * ward's state store. Redis (src/adapters/redis/redis-store.ts) in production; an in-process store
 * (src/adapters/memory/memory-store.ts) when REDIS_URL is unset. Both pass test/integration/store-contract.test.ts.
 *
 * Every operation that decides something (first writer wins, a state transition, a lock) is atomic in the store
 * itself: callers never read, decide in Node and then write unconditionally.
 */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** A lease lock's holders: who is in the way of an attempt, or who holds it now (opaque holder strings). */
export interface LeaseHolders {
  /** The exclusive holder, if any. */
  exclusive: string | null;
  /** Shared holders whose lease has not ended. */
  shared: string[];
  /** An exclusive attempt waiting for the shared holders (it keeps new shared holders out). */
  waiting: string | null;
}

/** The answer to a lease attempt: acquired, or the holders in the way. */
export interface LeaseAttempt {
  acquired: boolean;
  holders: LeaseHolders;
}

export interface Store {
  get(key: string): Promise<string | null>;
  /** Several values in one request (MGET), in the order of `keys`; null for each missing one. */
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  /** Sets a value, optionally expiring after ttlMs. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets the value only when the key does not exist. Returns true when this call set it (first writer wins). */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  /** Deletes a key; true when it existed. */
  del(key: string): Promise<boolean>;
  /**
   * Atomically replaces the value when it still equals `expected` (null: the key must not exist). `next` null
   * deletes the key. `ttlMs` sets a new expiry on the written value; without it an existing expiry is kept.
   * Returns true when the swap happened.
   */
  compareAndSet(key: string, expected: string | null, next: string | null, ttlMs?: number): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1) to an integer counter and returns the new value; ttlMs is set when the key is
   * created.
   */
  incr(key: string, ttlMs?: number, by?: number): Promise<number>;
  /**
   * A fixed-window budget: atomically adds `amount` to the counter only when the result stays within `limit`
   * (all or nothing). The counter expires `windowMs` after it was created. Returns whether the amount was taken
   * and the time left in the window (when the budget refills).
   */
  takeWithin(
    key: string,
    amount: number,
    limit: number,
    windowMs: number,
  ): Promise<{ taken: boolean; resetMs: number }>;
  /** Remaining time to live in ms: null when the key has no expiry or does not exist. */
  ttlMs(key: string): Promise<number | null>;
  /** Keys starting with `prefix` (a SCAN, not KEYS, in Redis). */
  keys(prefix: string): Promise<string[]>;

  /** Appends to the tail of a list; returns the new length. */
  listPush(key: string, value: string): Promise<number>;
  /** Elements from start to stop inclusive (negative indexes count from the end, as in LRANGE). */
  listRange(key: string, start: number, stop: number): Promise<string[]>;
  /** Removes every element equal to value; returns how many were removed. */
  listRemove(key: string, value: string): Promise<number>;
  /**
   * Appends to several lists in one atomic step, all or nothing. Checked in the order given: each push needs the
   * lengths of every listed key before the call, plus the values of this push and of those before it, to stay
   * within its `maxTotal`. Returns false (and changes nothing) when one of them would not.
   */
  listPushBounded(
    pushes: ReadonlyArray<{ key: string; values: readonly string[]; maxTotal: number }>,
  ): Promise<boolean>;

  /** Appends an entry to a stream (XADD *); returns its id. */
  streamAppend(key: string, fields: Record<string, string>): Promise<string>;
  /**
   * Appends only when `guardKey` still holds `expected` (null: absent), setting it to `next` in the same atomic step.
   * Returns the new entry id, or null when the guard did not match. Used by the hash-chained audit log.
   */
  streamAppendGuarded(
    key: string,
    fields: Record<string, string>,
    guard: { key: string; expected: string | null; next: string },
  ): Promise<string | null>;
  /**
   * streamAppendGuarded for several entries at once: all are appended, in order, only when `guardKey` still holds
   * `expected`, and it is set to `next` in the same atomic step. Returns their ids, or null when the guard did not
   * match (then nothing was appended). Lets the audit log write a burst of entries in one round trip.
   */
  streamAppendGuardedAll(
    key: string,
    entries: ReadonlyArray<Record<string, string>>,
    guard: { key: string; expected: string | null; next: string },
  ): Promise<string[] | null>;
  /** Entries with ids in [start, end] ('-' and '+' for the ends), at most count. */
  streamRange(key: string, start?: string, end?: string, count?: number): Promise<StreamEntry[]>;
  /** Newest entries first, at most count. */
  streamRevRange(key: string, count: number): Promise<StreamEntry[]>;

  /**
   * Runs `write` and then, when the store has replicas to wait for (Redis: WARD_REDIS_MIN_REPLICAS > 0), waits until
   * enough of them acknowledged it (Redis WAIT on the same connection), so that a failover cannot lose it. Used for
   * writes that carry a promise to someone: request creation and transitions, the execution claim and record,
   * audit appends, accepted alerts. Rejects with NotDurableError when too few replicas acknowledged in time (the
   * write did reach the primary: the caller must not report it done, and a retry must be safe). The in-process
   * store has nothing to wait for.
   */
  durable<T>(write: () => Promise<T>): Promise<T>;

  /**
   * A reader/writer lock with leases on `key` (also using `<key>:shared` and `<key>:waiting`), decided atomically in
   * the store so that it holds across ward replicas. `holder` is an opaque unique string naming the holder.
   * - `shared`: granted when there is no exclusive holder and no exclusive attempt waiting; shared holders coexist.
   * - `exclusive`: granted when there is no other holder at all. When refused, the attempt marks the key as waited
   *   for (for `waitMarkMs`, renewed by each retry; one mark at a time), and shared attempts are refused while the
   *   mark lasts: readers that keep arriving cannot starve a writer. The granted attempt clears its own mark.
   * Every grant is a lease of `ttlMs`: a holder that dies stops holding the key when its lease ends.
   */
  leaseAcquire(
    key: string,
    mode: 'shared' | 'exclusive',
    holder: string,
    ttlMs: number,
    waitMarkMs?: number,
  ): Promise<LeaseAttempt>;
  /** Ends `holder`'s lease on `key` (and its wait mark). True when it held the key or waited for it. */
  leaseRelease(key: string, holder: string): Promise<boolean>;
  /** Who holds `key` now (expired leases left out). */
  leaseHolders(key: string): Promise<LeaseHolders>;

  /** Resolves when the store answers; rejects with StoreUnavailableError when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** 'redis' or 'memory', for the start-up banner and readiness. */
  readonly kind: 'redis' | 'memory';
}
