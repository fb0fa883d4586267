import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { Store, StreamEntry } from '../../ports/store.js';

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

  async incr(key: string, ttlMs?: number) {
    const current = this.str(key);
    const n = (current === null ? 0 : Number.parseInt(current, 10)) + 1;
    const e = this.live(key);
    this.data.set(key, { value: String(n), expiresAt: e ? e.expiresAt : this.expiry(ttlMs) });
    return n;
  }

  async ttlMs(key: string) {
    const e = this.live(key);
    if (e?.expiresAt === undefined) return null;
    return Math.max(0, e.expiresAt - this.clock.now());
  }

  async keys(prefix: string) {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix) && this.live(k) !== undefined);
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
