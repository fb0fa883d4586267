import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { LeaseHolders, Store, StreamEntry } from '../../ports/store.js';

interface Entry {
  value: string | string[] | StreamEntry[];
  expiresAt?: number | undefined;
}

/**
 * In-process store for a single ward process when REDIS_URL is unset. JavaScript runs one callback at a time, so
 * each method body is atomic by construction. State is lost on restart: ward says so at start-up.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly data = new Map<string, Entry>();
  private streamSeq = 0;
  private lastStreamMs = 0;

  constructor(private readonly clock: Clock = systemClock) {}

  private live(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= this.clock.now()) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }

  private str(key: string): string | null {
    const e = this.live(key);
    if (e === undefined) return null;
    if (typeof e.value !== 'string') throw new Error(`WRONGTYPE ${key} is not a string`);
    return e.value;
  }

  private expiry(ttlMs?: number): number | undefined {
    return ttlMs === undefined ? undefined : this.clock.now() + ttlMs;
  }

  async get(key: string) {
    return this.str(key);
  }

  async getMany(keys: readonly string[]) {
    return keys.map((key) => this.str(key));
  }

  async set(key: string, value: string, ttlMs?: number) {
    this.data.set(key, { value, expiresAt: this.expiry(ttlMs) });
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number) {
    if (this.live(key) !== undefined) return false;
    this.data.set(key, { value, expiresAt: this.expiry(ttlMs) });
    return true;
  }

  async del(key: string) {
    const existed = this.live(key) !== undefined;
    this.data.delete(key);
    return existed;
  }

  async compareAndSet(key: string, expected: string | null, next: string | null, ttlMs?: number) {
    const e = this.live(key);
    if (this.str(key) !== expected) return false;
    if (next === null) this.data.delete(key);
    else
      this.data.set(key, { value: next, expiresAt: ttlMs === undefined ? e?.expiresAt : this.expiry(ttlMs) });
    return true;
  }

  async incr(key: string, ttlMs?: number, by = 1) {
    const current = this.str(key);
    const n = (current === null ? 0 : Number.parseInt(current, 10)) + by;
    const e = this.live(key);
    this.data.set(key, { value: String(n), expiresAt: e ? e.expiresAt : this.expiry(ttlMs) });
    return n;
  }

  async takeWithin(key: string, amount: number, limit: number, windowMs: number) {
    const current = this.str(key);
    const used = current === null ? 0 : Number.parseInt(current, 10);
    const e = this.live(key);
    const expiresAt = e?.expiresAt ?? this.expiry(Math.max(1, windowMs));
    const resetMs = Math.max(0, (expiresAt ?? 0) - this.clock.now());
    if (used + amount > limit) return { taken: false, resetMs };
    this.data.set(key, { value: String(used + amount), expiresAt });
    return { taken: true, resetMs };
  }

  async ttlMs(key: string) {
    const e = this.live(key);
    if (e?.expiresAt === undefined) return null;
    return Math.max(0, e.expiresAt - this.clock.now());
  }

  async keys(prefix: string) {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix) && this.live(k) !== undefined);
  }

  /** The shared holders of a lease (`<key>:shared`, JSON holder → lease end), expired ones dropped. */
  private sharedLeases(key: string): Map<string, number> {
    const raw = this.str(`${key}:shared`);
    const now = this.clock.now();
    const all = raw === null ? [] : Object.entries(JSON.parse(raw) as Record<string, number>);
    return new Map(all.filter(([, end]) => end > now));
  }

  private storeSharedLeases(key: string, leases: Map<string, number>): void {
    if (leases.size === 0) {
      this.data.delete(`${key}:shared`);
      return;
    }
    this.data.set(`${key}:shared`, {
      value: JSON.stringify(Object.fromEntries(leases)),
      expiresAt: Math.max(...leases.values()),
    });
  }

  private holders(key: string, self?: string): LeaseHolders {
    const waiting = this.str(`${key}:waiting`);
    return {
      exclusive: this.str(key),
      shared: [...this.sharedLeases(key).keys()],
      waiting: waiting === self ? null : waiting,
    };
  }

  async leaseAcquire(
    key: string,
    mode: 'shared' | 'exclusive',
    holder: string,
    ttlMs: number,
    waitMarkMs?: number,
  ) {
    const holders = this.holders(key, holder);
    if (mode === 'shared') {
      if (holders.exclusive !== null || holders.waiting !== null) return { acquired: false, holders };
      const leases = this.sharedLeases(key);
      leases.set(holder, this.clock.now() + ttlMs);
      this.storeSharedLeases(key, leases);
      return { acquired: true, holders: { exclusive: null, shared: [], waiting: null } };
    }
    if (holders.exclusive !== null || holders.shared.length > 0) {
      if (waitMarkMs !== undefined && holders.waiting === null) {
        this.data.set(`${key}:waiting`, { value: holder, expiresAt: this.expiry(waitMarkMs) });
      }
      return { acquired: false, holders };
    }
    this.data.set(key, { value: holder, expiresAt: this.expiry(ttlMs) });
    if (this.str(`${key}:waiting`) === holder) this.data.delete(`${key}:waiting`);
    return { acquired: true, holders: { exclusive: null, shared: [], waiting: null } };
  }

  async leaseRelease(key: string, holder: string) {
    let released = false;
    if (this.str(key) === holder) {
      this.data.delete(key);
      released = true;
    }
    const leases = this.sharedLeases(key);
    if (leases.delete(holder)) released = true;
    this.storeSharedLeases(key, leases);
    if (this.str(`${key}:waiting`) === holder) {
      this.data.delete(`${key}:waiting`);
      released = true;
    }
    return released;
  }

  async leaseHolders(key: string) {
    return this.holders(key);
  }

  private list(key: string, create: boolean): string[] | undefined {
    const e = this.live(key);
    if (e === undefined) {
      if (!create) return undefined;
      const value: string[] = [];
      this.data.set(key, { value });
      return value;
    }
    if (!Array.isArray(e.value) || (e.value.length > 0 && typeof e.value[0] !== 'string')) {
      if (e.value.length === 0) return e.value as string[];
      throw new Error(`WRONGTYPE ${key} is not a list`);
    }
    return e.value as string[];
  }

  async listPush(key: string, value: string) {
    const l = this.list(key, true)!;
    l.push(value);
    return l.length;
  }

  async listPushBounded(pushes: ReadonlyArray<{ key: string; values: readonly string[]; maxTotal: number }>) {
    let total = pushes.reduce((n, p) => n + (this.list(p.key, false)?.length ?? 0), 0);
    for (const p of pushes) {
      total += p.values.length;
      if (p.values.length > 0 && total > p.maxTotal) return false;
    }
    for (const p of pushes) if (p.values.length > 0) this.list(p.key, true)!.push(...p.values);
    return true;
  }

  async listRange(key: string, start: number, stop: number) {
    const l = this.list(key, false) ?? [];
    const s = start < 0 ? Math.max(0, l.length + start) : start;
    const e = stop < 0 ? l.length + stop : Math.min(stop, l.length - 1);
    return e < s ? [] : l.slice(s, e + 1);
  }

  async listRemove(key: string, value: string) {
    const l = this.list(key, false);
    if (!l) return 0;
    let removed = 0;
    for (let i = l.length - 1; i >= 0; i--) {
      if (l[i] === value) {
        l.splice(i, 1);
        removed++;
      }
    }
    if (l.length === 0) this.data.delete(key);
    return removed;
  }

  private stream(key: string): StreamEntry[] {
    const e = this.live(key);
    if (e === undefined) {
      const value: StreamEntry[] = [];
      this.data.set(key, { value });
      return value;
    }
    return e.value as StreamEntry[];
  }

  private nextStreamId(): string {
    const ms = this.clock.now();
    if (ms > this.lastStreamMs) {
      this.lastStreamMs = ms;
      this.streamSeq = 0;
    } else {
      this.streamSeq++;
    }
    return `${this.lastStreamMs}-${this.streamSeq}`;
  }

  async streamAppend(key: string, fields: Record<string, string>) {
    const id = this.nextStreamId();
    this.stream(key).push({ id, fields: { ...fields } });
    return id;
  }

  async streamAppendGuarded(
    key: string,
    fields: Record<string, string>,
    guard: { key: string; expected: string | null; next: string },
  ) {
    if (this.str(guard.key) !== guard.expected) return null;
    this.data.set(guard.key, { value: guard.next });
    return this.streamAppend(key, fields);
  }

  async streamAppendGuardedAll(
    key: string,
    entries: ReadonlyArray<Record<string, string>>,
    guard: { key: string; expected: string | null; next: string },
  ) {
    if (this.str(guard.key) !== guard.expected) return null;
    this.data.set(guard.key, { value: guard.next });
    const ids: string[] = [];
    for (const fields of entries) ids.push(await this.streamAppend(key, fields));
    return ids;
  }

  async streamRange(key: string, start = '-', end = '+', count?: number) {
    const all = (this.live(key)?.value as StreamEntry[] | undefined) ?? [];
    const picked = all.filter(
      (e) => (start === '-' || cmpId(e.id, start) >= 0) && (end === '+' || cmpId(e.id, end) <= 0),
    );
    return (count === undefined ? picked : picked.slice(0, count)).map((e) => ({
      id: e.id,
      fields: { ...e.fields },
    }));
  }

  async streamRevRange(key: string, count: number) {
    const all = (this.live(key)?.value as StreamEntry[] | undefined) ?? [];
    return all
      .slice(-count)
      .reverse()
      .map((e) => ({ id: e.id, fields: { ...e.fields } }));
  }

  /** Nothing to replicate: a write is as durable as this process. */
  durable<T>(write: () => Promise<T>): Promise<T> {
    return write();
  }

  async ping() {}

  async close() {}
}

function cmpId(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}
