import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';

/*
 * ioredis can give a connection up for good (status "end", every command then fails with "Connection is closed."):
 * its Sentinel failover detector does so when +switch-master arrives while it is still reconnecting after losing
 * the old primary. ward must not stay unavailable until restarted: the store connects again by itself.
 */

let redis: RedisProcess;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('RedisStore when ioredis gives its connection up', () => {
  it('answers again once the client ended, without a restart', async () => {
    const store = new RedisStore(redis.url);
    await store.connect();
    try {
      await store.set('ward:test:reconnect', 'before');
      // What the failover detector's disconnect leaves behind: a client that will not reconnect by itself.
      store.client.disconnect();
      await new Promise((r) => store.client.once('end', r));
      const deadline = Date.now() + 15_000;
      let value: string | null = null;
      while (Date.now() < deadline) {
        value = await store.get('ward:test:reconnect').catch(() => null);
        if (value !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(value).toBe('before');
    } finally {
      await store.close();
    }
  });

  it('stays closed after close()', async () => {
    const store = new RedisStore(redis.url);
    await store.connect();
    await store.close();
    await new Promise((r) => setTimeout(r, 1000));
    expect(store.client.status).toBe('end');
  });
});
