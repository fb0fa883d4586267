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

    it('durable runs the write once and gives back its result (no replicas are asked for here)', async () => {
      const k = key('durable');
      expect(await store.durable(() => store.setIfAbsent(k, 'a'))).toBe(true);
      expect(await store.durable(() => store.setIfAbsent(k, 'b'))).toBe(false);
      expect(await store.get(k)).toBe('a');
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
