/**
 * A real Redis Sentinel group on loopback: one primary, one replica (both append-only) and three sentinels (quorum
 * 2), each a redis-server process from test/helpers/redis-server.ts, with a short down-after so that a failover takes
 * seconds. Every wait has a deadline.
 */
import { Redis } from 'ioredis';
import { type RedisProcess, startRedis } from './redis-server.js';

export const SENTINEL_GROUP = 'ward';

export interface SentinelGroup {
  primary: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as REDIS_SENTINELS. */
  sentinelList: string;
  /** The port the sentinels currently name as primary. */
  primaryPort(): Promise<number>;
  /** Waits until the sentinels agree that `port` is the primary. */
  waitForPrimary(port: number, timeoutMs?: number): Promise<void>;
  /** Waits until the node on `port` is a replica of `primaryPort` with its link up and in sync. */
  waitForReplica(port: number, primaryPort: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSentinelGroup(
  options: { downAfterMs?: number; failoverTimeoutMs?: number } = {},
): Promise<SentinelGroup> {
  const primary = await startRedis({ appendonly: true });
  const replica = await startRedis({ appendonly: true, replicaOf: primary.port });
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    sentinels.push(
      await startRedis({
        sentinel: {
          name: SENTINEL_GROUP,
          primaryPort: primary.port,
          quorum: 2,
          downAfterMs: options.downAfterMs ?? 1000,
          failoverTimeoutMs: options.failoverTimeoutMs ?? 3000,
        },
      }),
    );
  }

  const ask = async <T>(port: number, run: (c: Redis) => Promise<T>): Promise<T | undefined> => {
    const c = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => {});
    try {
      await c.connect();
      return await run(c);
    } catch {
      return undefined;
    } finally {
      c.disconnect();
    }
  };
  const until = async (what: string, probe: () => Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) {
        throw new Error(`sentinel group: timed out waiting for ${what}\n${await describe()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** What each node and sentinel says, for a failure message. */
  const describe = async (): Promise<string> => {
    const lines: string[] = [];
    for (const node of [primary, replica]) {
      const info = (await ask(node.port, (c) => c.info('replication'))) ?? 'unreachable';
      const pick = info
        .split('\r\n')
        .filter((l) => /^(role|master_port|master_link_status|connected_slaves)/.test(l));
      lines.push(`node ${node.port}: ${pick.join(' ') || info}`);
    }
    for (const s of sentinels) lines.push(`sentinel ${s.port} names primary ${await namedBy(s)}`);
    return lines.join('\n');
  };
  const namedBy = async (sentinel: RedisProcess): Promise<number | undefined> => {
    const addr = await ask(sentinel.port, (c) =>
      c.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_GROUP),
    );
    return Array.isArray(addr) ? Number(addr[1]) : undefined;
  };

  const group: SentinelGroup = {
    primary,
    replica,
    sentinels,
    sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    async primaryPort() {
      for (const s of sentinels) {
        const port = await namedBy(s);
        if (port !== undefined) return port;
      }
      throw new Error('no sentinel answered');
    },
    async waitForPrimary(port, timeoutMs = 30_000) {
      await until(
        `the sentinels to name port ${port} primary`,
        async () => (await Promise.all(sentinels.map(namedBy))).every((p) => p === port),
        timeoutMs,
      );
    },
    async waitForReplica(port, primaryPort, timeoutMs = 30_000) {
      await until(
        `port ${port} to replicate ${primaryPort}`,
        async () => {
          const info = (await ask(port, (c) => c.info('replication'))) ?? '';
          return (
            info.includes('role:slave') &&
            info.includes(`master_port:${primaryPort}`) &&
            info.includes('master_link_status:up') &&
            info.includes('master_sync_in_progress:0')
          );
        },
        timeoutMs,
      );
    },
    async close() {
      await Promise.all(sentinels.map((s) => s.stop()));
      await Promise.all([primary.stop(), replica.stop()]);
    },
  };

  // Ready when the replica is in sync and every sentinel knows the replica and the two other sentinels (a failover
  // needs a quorum and an elected leader).
  await group.waitForReplica(replica.port, primary.port);
  await until(
    'the sentinels to discover the replica and each other',
    async () =>
      (
        await Promise.all(
          sentinels.map((s) =>
            ask(s.port, async (c) => {
              const replicas = (await c.call('SENTINEL', 'replicas', SENTINEL_GROUP)) as unknown[];
              const peers = (await c.call('SENTINEL', 'sentinels', SENTINEL_GROUP)) as unknown[];
              return replicas.length === 1 && peers.length === 2;
            }),
          ),
        )
      ).every((ok) => ok === true),
    30_000,
  );
  return group;
}
