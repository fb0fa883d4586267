import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';

const started: RedisProcess[] = [];
const clients: Redis[] = [];

async function start(opts?: { appendonly?: boolean }): Promise<RedisProcess> {
  const redis = await startRedis(opts);
  started.push(redis);
  return redis;
}

/** A client that fails fast instead of queueing commands while the server is down. */
function connectTo(redis: RedisProcess): Redis {
  const client = new Redis(redis.url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  clients.push(client);
  return client;
}

/** The error code of a plain TCP connection attempt, or 'connected'. */
function connectionError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await Promise.all(started.splice(0).map((r) => r.stop()));
});

describe('startRedis', () => {
  it('starts a real redis-server on a loopback port that stores and returns values', async () => {
    const redis = await start();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const client = connectTo(redis);
    await client.connect();
    await client.set('ward:test:greeting', 'hello');
    expect(await client.get('ward:test:greeting')).toBe('hello');
    expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
  });

  it('gives each server its own port', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a?.port).not.toBe(b?.port);
  });

  it('keeps a key across stop and start with appendonly, on the same port and dir', async () => {
    const redis = await start({ appendonly: true });
    const before = connectTo(redis);
    await before.connect();
    await before.set('ward:approval:1', 'approved');
    before.disconnect();

    await redis.stop();
    await redis.start();

    const after = connectTo(redis);
    await after.connect();
    expect(await after.get('ward:approval:1')).toBe('approved');
  });

  it('loses nothing acknowledged when killed with appendonly, and refuses connections while down', async () => {
    const redis = await start({ appendonly: true });
    const client = connectTo(redis);
    await client.connect();
    await client.set('ward:approval:2', 'pending');
    client.disconnect();

    await redis.kill();
    expect(await connectionError(redis.port)).toBe('ECONNREFUSED');

    await redis.start();
    const after = connectTo(redis);
    await after.connect();
    expect(await after.get('ward:approval:2')).toBe('pending');
  });

  it('starts empty again after a restart without appendonly', async () => {
    const redis = await start();
    const client = connectTo(redis);
    await client.connect();
    await client.set('ward:test:volatile', '1');
    client.disconnect();
    await redis.kill();
    await redis.start();
    const after = connectTo(redis);
    await after.connect();
    expect(await after.get('ward:test:volatile')).toBeNull();
  });
});
