import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { NotDurableError, StoreUnavailableError } from '../../src/errors.js';
import type { Store } from '../../src/ports/store.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';

let now = 1_700_000_000_000;
const clock = { now: () => now };

/** One contract, two stores: whatever ward relies on must hold for the in-process store and for Redis alike. */
function contract(name: string, make: () => Promise<Store>, advance: (ms: number) => Promise<void>) {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let n = 0;
    const key = (k: string) => `test:${name}:${++n}:${k}`;

    beforeAll(async () => {
      store = await make();
    });
    afterAll(async () => {
      await store.close();
    });

    it('setIfAbsent lets exactly one of many concurrent writers win', async () => {
      const k = key('once');
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.setIfAbsent(k, String(i))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('compareAndSet swaps only from the expected value, atomically under contention', async () => {
      const k = key('cas');
      expect(await store.compareAndSet(k, null, 'pending')).toBe(true);
      expect(await store.compareAndSet(k, null, 'other')).toBe(false);
      const wins = await Promise.all(
        Array.from({ length: 50 }, () => store.compareAndSet(k, 'pending', 'approved')),
      );
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(await store.get(k)).toBe('approved');
      expect(await store.compareAndSet(k, 'approved', null)).toBe(true);
      expect(await store.get(k)).toBeNull();
    });

    it('counts atomically', async () => {
      const k = key('n');
      await Promise.all(Array.from({ length: 40 }, () => store.incr(k)));
      expect(await store.get(k)).toBe('40');
    });

    it('counts by more than one, and takes from a window budget all or nothing under contention', async () => {
      const n = key('by');
      expect(await store.incr(n, 60_000, 5)).toBe(5);
      expect(await store.incr(n, 60_000, -2)).toBe(3);
      expect(await store.ttlMs(n)).toBeGreaterThan(0);
      const k = key('budget');
      const takes = await Promise.all(Array.from({ length: 10 }, () => store.takeWithin(k, 3, 20, 60_000)));
      expect(takes.filter((t) => t.taken)).toHaveLength(6);
      expect(await store.get(k)).toBe('18');
      const refused = takes.find((t) => !t.taken)!;
      expect(refused.resetMs).toBeGreaterThan(0);
      expect(refused.resetMs).toBeLessThanOrEqual(60_000);
      expect((await store.takeWithin(k, 2, 20, 60_000)).taken).toBe(true);
    });

    it('pushes to several lists within their bounds, all or nothing', async () => {
      const a = key('lane-a');
      const b = key('lane-b');
      const push = (na: number, nb: number) =>
        store.listPushBounded([
          { key: a, values: Array.from({ length: na }, (_, i) => `a${i}`), maxTotal: 4 },
          { key: b, values: Array.from({ length: nb }, (_, i) => `b${i}`), maxTotal: 5 },
        ]);
      expect(await push(3, 1)).toBe(true);
      // a would reach 4 + 1 = 5 > 4: nothing is pushed, not even to b.
      expect(await push(1, 0)).toBe(false);
      expect(await push(1, 1)).toBe(false);
      expect(await store.listRange(a, 0, -1)).toEqual(['a0', 'a1', 'a2']);
      // The room above a's bound is b's alone.
      expect(await push(0, 1)).toBe(true);
      expect(await push(0, 1)).toBe(false);
      expect(await store.listRange(b, 0, -1)).toEqual(['b0', 'b0']);
    });

    it('expires keys after their ttl', async () => {
      const k = key('ttl');
      await store.set(k, 'v', 200);
      expect(await store.ttlMs(k)).toBeGreaterThan(0);
      await advance(300);
      expect(await store.get(k)).toBeNull();
      expect(await store.setIfAbsent(k, 'again', 1000)).toBe(true);
    });

    it('keeps the expiry when compareAndSet is given none', async () => {
      const k = key('keepttl');
      await store.set(k, 'a', 60_000);
      await store.compareAndSet(k, 'a', 'b');
      expect(await store.ttlMs(k)).toBeGreaterThan(0);
    });

    it('lists keys by prefix', async () => {
      const p = key('prefix');
      await store.set(`${p}:a`, '1');
      await store.set(`${p}:b`, '2');
      expect((await store.keys(`${p}:`)).sort()).toEqual([`${p}:a`, `${p}:b`]);
    });

    it('keeps list order and removes by value', async () => {
      const k = key('list');
      for (const v of ['a', 'b', 'a', 'c']) await store.listPush(k, v);
      expect(await store.listRange(k, 0, -1)).toEqual(['a', 'b', 'a', 'c']);
      expect(await store.listRemove(k, 'a')).toBe(2);
      expect(await store.listRange(k, 0, -1)).toEqual(['b', 'c']);
    });

    it('appends to streams in order and reads them both ways', async () => {
      const k = key('stream');
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await store.streamAppend(k, { i: String(i) }));
      expect((await store.streamRange(k)).map((e) => e.fields['i'])).toEqual(['0', '1', '2', '3', '4']);
      expect((await store.streamRevRange(k, 2)).map((e) => e.fields['i'])).toEqual(['4', '3']);
      expect((await store.streamRange(k, ids[1], ids[2])).map((e) => e.id)).toEqual([ids[1], ids[2]]);
    });

    it('appends guarded entries only while the guard holds, one winner per head', async () => {
      const k = key('chain');
      const head = key('head');
      expect(
        await store.streamAppendGuarded(k, { n: '1' }, { key: head, expected: null, next: 'h1' }),
      ).not.toBeNull();
      const racers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.streamAppendGuarded(k, { n: `r${i}` }, { key: head, expected: 'h1', next: `h2-${i}` }),
        ),
      );
      expect(racers.filter((r) => r !== null)).toHaveLength(1);
      expect(await store.streamRange(k)).toHaveLength(2);
    });

    it('appends a batch of guarded entries in order, all or none', async () => {
      const k = key('chain-all');
      const head = key('head-all');
      const ids = await store.streamAppendGuardedAll(k, [{ n: '1', x: 'a' }, { n: '2' }, { n: '3' }], {
        key: head,
        expected: null,
        next: 'h3',
      });
      expect(ids).toHaveLength(3);
      expect(await store.get(head)).toBe('h3');
      const stale = await store.streamAppendGuardedAll(k, [{ n: '4' }, { n: '5' }], {
        key: head,
        expected: 'h1',
        next: 'h5',
      });
      expect(stale).toBeNull();
      expect((await store.streamRange(k)).map((e) => e.fields)).toEqual([
        { n: '1', x: 'a' },
        { n: '2' },
        { n: '3' },
      ]);
      expect(await store.get(head)).toBe('h3');
    });

    it('durable runs the write once and gives back its result (no replicas are asked for here)', async () => {
      const k = key('durable');
      expect(await store.durable(() => store.setIfAbsent(k, 'a'))).toBe(true);
      expect(await store.durable(() => store.setIfAbsent(k, 'b'))).toBe(false);
      expect(await store.get(k)).toBe('a');
    });

    it('lease lock: shared holders coexist and keep an exclusive attempt out, naming themselves', async () => {
      const k = key('rw');
      expect((await store.leaseAcquire(k, 'shared', 'read-a', 10_000)).acquired).toBe(true);
      expect((await store.leaseAcquire(k, 'shared', 'read-b', 10_000)).acquired).toBe(true);
      const change = await store.leaseAcquire(k, 'exclusive', 'change-1', 10_000);
      expect(change.acquired).toBe(false);
      expect(change.holders.exclusive).toBeNull();
      expect(change.holders.shared.sort()).toEqual(['read-a', 'read-b']);
      expect((await store.leaseHolders(k)).shared.sort()).toEqual(['read-a', 'read-b']);
    });

    it('lease lock: a waiting exclusive attempt keeps new shared holders out, then gets in', async () => {
      const k = key('rw-wait');
      expect((await store.leaseAcquire(k, 'shared', 'read-a', 10_000)).acquired).toBe(true);
      expect((await store.leaseAcquire(k, 'exclusive', 'change-1', 10_000, 5_000)).acquired).toBe(false);
      // A read arriving while the change waits is refused, naming the change it waits behind.
      const late = await store.leaseAcquire(k, 'shared', 'read-late', 10_000);
      expect(late).toEqual({
        acquired: false,
        holders: { exclusive: null, shared: ['read-a'], waiting: 'change-1' },
      });
      // A second change does not steal the mark.
      expect((await store.leaseAcquire(k, 'exclusive', 'change-2', 10_000, 5_000)).holders.waiting).toBe(
        'change-1',
      );
      expect(await store.leaseRelease(k, 'read-a')).toBe(true);
      expect((await store.leaseAcquire(k, 'exclusive', 'change-1', 10_000, 5_000)).acquired).toBe(true);
      expect(await store.leaseHolders(k)).toEqual({ exclusive: 'change-1', shared: [], waiting: null });
      // While it holds the key, reads and other changes are refused, and it is named.
      const read = await store.leaseAcquire(k, 'shared', 'read-b', 10_000);
      expect(read.acquired).toBe(false);
      expect(read.holders.exclusive).toBe('change-1');
      const other = await store.leaseAcquire(k, 'exclusive', 'change-2', 10_000, 5_000);
      expect(other.acquired).toBe(false);
      expect(other.holders.exclusive).toBe('change-1');
    });

    it('lease lock: only the holder releases its lease', async () => {
      const k = key('rw-release');
      expect((await store.leaseAcquire(k, 'exclusive', 'change-1', 10_000)).acquired).toBe(true);
      expect(await store.leaseRelease(k, 'change-2')).toBe(false);
      expect((await store.leaseHolders(k)).exclusive).toBe('change-1');
      expect(await store.leaseRelease(k, 'change-1')).toBe(true);
      expect((await store.leaseAcquire(k, 'shared', 'read-a', 10_000)).acquired).toBe(true);
    });

    it('lease lock: leases and wait marks end by themselves', async () => {
      const k = key('rw-ttl');
      expect((await store.leaseAcquire(k, 'exclusive', 'change-dead', 200)).acquired).toBe(true);
      await advance(300);
      expect((await store.leaseAcquire(k, 'shared', 'read-dead', 200)).acquired).toBe(true);
      expect((await store.leaseAcquire(k, 'exclusive', 'change-1', 10_000, 200)).acquired).toBe(false);
      await advance(300);
      // The read's lease ended (its ward died): the change gets in without anyone releasing anything.
      expect((await store.leaseAcquire(k, 'exclusive', 'change-1', 200)).acquired).toBe(true);
      await advance(300);
      // A change that stopped waiting (died) stops keeping reads out once its mark ends.
      const k2 = key('rw-mark');
      expect((await store.leaseAcquire(k2, 'shared', 'read-a', 10_000)).acquired).toBe(true);
      expect((await store.leaseAcquire(k2, 'exclusive', 'change-gone', 10_000, 200)).acquired).toBe(false);
      expect((await store.leaseAcquire(k2, 'shared', 'read-b', 10_000)).acquired).toBe(false);
      await advance(300);
      expect((await store.leaseAcquire(k2, 'shared', 'read-b', 10_000)).acquired).toBe(true);
      expect(await store.leaseHolders(k)).toEqual({ exclusive: null, shared: [], waiting: null });
    });

    it('lease lock: under contention, one change or any number of reads, never both', async () => {
      const k = key('rw-race');
      const attempts = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          store.leaseAcquire(k, i % 3 === 0 ? 'exclusive' : 'shared', `h${i}`, 10_000, 5_000),
        ),
      );
      const won = attempts.flatMap((a, i) => (a.acquired ? [i] : []));
      const changes = won.filter((i) => i % 3 === 0);
      expect(won.length).toBeGreaterThan(0);
      if (changes.length > 0) expect(won).toEqual(changes.slice(0, 1));
      const h = await store.leaseHolders(k);
      expect(h.exclusive === null ? h.shared.length : 1 + h.shared.length).toBe(won.length);
    });
  });
}

contract(
  'memory',
  async () => new MemoryStore(clock),
  async (ms) => {
    now += ms;
  },
);

let redis: RedisProcess;
contract(
  'redis',
  async () => {
    redis = await startRedis();
    const s = new RedisStore(redis.url);
    await s.connect();
    return s;
  },
  (ms) => new Promise((r) => setTimeout(r, ms)),
);

describe('RedisStore when Redis goes away', () => {
  it('fails fast with StoreUnavailableError and recovers by itself when Redis is back', async () => {
    const r = await startRedis();
    const s = new RedisStore(r.url);
    await s.connect();
    await s.set('k', 'v');
    await r.stop();
    await expect(s.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await r.start();
    let value: string | null = null;
    for (let i = 0; i < 50 && value === null; i++) {
      value = await s.set('k2', 'back').then(
        () => s.get('k2'),
        () => null,
      );
      if (value === null) await new Promise((res) => setTimeout(res, 100));
    }
    expect(value).toBe('back');
    await s.close();
    await r.stop();
  });

  it('a write no replica acknowledges in time is reported not durable, though the primary has it', async () => {
    const r = await startRedis();
    const s = new RedisStore({
      mode: 'url',
      url: r.url,
      password: undefined,
      minReplicas: 1,
      durableTimeoutMs: 50,
    });
    await s.connect();
    const err = await s.durable(() => s.set('d', 'v')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotDurableError);
    expect((err as NotDurableError).code).toBe('ward_store_not_durable');
    expect(await s.get('d')).toBe('v');
    await s.close();
    await r.stop();
  });

  it('refuses to start against a Redis that is not there', async () => {
    const s = new RedisStore('redis://127.0.0.1:9');
    await expect(s.connect()).rejects.toBeInstanceOf(StoreUnavailableError);
    await s.close();
  });
});

afterAll(async () => {
  await redis?.stop();
});
