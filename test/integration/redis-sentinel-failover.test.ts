import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/adapters/redis/redis-store.js';
import type { RedisConfig } from '../../src/config/env.js';
import { startFakeSlack } from '../../src/fake-slack/fake-slack.js';
import {
  APPROVER_GROUP,
  approvalMessage,
  click,
  countAudit,
  GROUP_MEMBERS,
  metricValue,
  requestIdOf,
  responses,
  type Shared,
  SIGNING_SECRET,
  slash,
  storedRequest,
  USERS,
  waitFor,
  waitForStatus,
  writeInventory,
  writePolicy,
} from '../helpers/approval-harness.js';
import { SENTINEL_GROUP, type SentinelGroup, startSentinelGroup } from '../helpers/redis-sentinel.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * Issue 19: ward on Redis Sentinel, with real processes: a primary, a replica and three sentinels, two ward replicas
 * configured through REDIS_SENTINELS, the fake Slack. The primary is killed (SIGKILL) with approval requests in
 * flight; the sentinels promote the replica; the old primary comes back as a replica. What ward told people was done
 * must still be true afterwards, and every approved request must run exactly once.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FINAL = ['succeeded', 'failed', 'partial'];

let group: SentinelGroup;
let shared: Shared;
const wards: WardProcess[] = [];

/** Reads through the sentinels, tolerating the moments when the test's own connection is being re-established. */
async function settled<T>(read: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function auditCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await once(child, 'exit');
  return { code: child.exitCode, stdout, stderr };
}

beforeAll(async () => {
  group = await startSentinelGroup();
  const slack = await startFakeSlack();
  slack.setUsergroup(APPROVER_GROUP, GROUP_MEMBERS);
  const dir = mkdtempSync(join(tmpdir(), 'ward-sentinel-'));
  const redisConfig: RedisConfig = {
    mode: 'sentinel',
    sentinels: group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    name: SENTINEL_GROUP,
    sentinelPassword: undefined,
    tls: false,
    password: undefined,
    // The test reads; it promises nothing.
    minReplicas: 0,
    durableTimeoutMs: 1000,
  };
  const store = createRedisStore(redisConfig);
  await store.connect();
  const client = new Redis({ sentinels: redisConfig.sentinels.map((s) => ({ ...s })), name: SENTINEL_GROUP });
  client.on('error', () => {});
  shared = {
    redis: group.primary,
    slack,
    dir,
    client,
    store,
    async close() {
      client.disconnect();
      await store.close();
      await slack.close();
    },
  };
  const policy = join(dir, 'policy.yaml');
  const inventory = join(dir, 'inventory.yaml');
  writePolicy(policy, { forensics: { approvals: 1, mfa: 'none', approvers: ['approver'] } });
  writeInventory(inventory);
  const env = {
    SLACK_BOT_TOKEN: 'xoxb-test-sentinel',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_SENTINELS: group.sentinelList,
    REDIS_SENTINEL_NAME: SENTINEL_GROUP,
    WARD_POLICY: policy,
    WARD_INVENTORY: inventory,
    WARD_EVIDENCE_DIR: join(dir, 'evidence'),
  };
  wards.push(
    ...(await Promise.all([
      startWardProcess(env, { timeoutMs: 90_000 }),
      startWardProcess(env, { timeoutMs: 90_000 }),
    ])),
  );
}, 240_000);

afterAll(async () => {
  await Promise.all(wards.map((w) => w.stop()));
  await shared?.close();
  await group?.close();
});

describe('ward on Redis Sentinel through a failover', () => {
  it('requests reported created survive the primary being killed, and each approved one runs exactly once', async () => {
    const [a, b] = wards.map((w) => `${w.url}/slack/events`) as [string, string];
    const oldPrimaryPort = group.primary.port;
    const newPrimaryPort = group.replica.port;
    expect(await group.primaryPort()).toBe(oldPrimaryPort);

    // 20 requests, split between the replicas: 10 sent, the primary killed once the first is in, 10 more sent
    // while the sentinels have not yet noticed or are promoting the replica.
    const sent: Array<{ channel: string; responseUrl: string }> = [];
    const send = (i: number) => {
      const channel = `C0SENT${String(i).padStart(3, '0')}`;
      return slash(
        shared,
        i % 2 === 0 ? a : b,
        USERS.requester,
        channel,
        `forensics web1 --reason "failover ${i}"`,
      ).then(({ responseUrl }) => sent.push({ channel, responseUrl }));
    };
    const first = Array.from({ length: 10 }, (_, i) => send(i));
    await waitFor('a first approval message', () =>
      Array.from({ length: 10 }, (_, i) =>
        approvalMessage(shared, `C0SENT${String(i).padStart(3, '0')}`),
      ).find((m) => m !== undefined),
    );
    await group.primary.kill();
    const second = Array.from({ length: 10 }, (_, i) => send(10 + i));
    await Promise.allSettled([...first, ...second]);

    await group.waitForPrimary(newPrimaryPort, 60_000);
    // (c) The old primary comes back (with its append-only file) and the sentinels make it a replica of the new one.
    await group.primary.start();
    await group.waitForReplica(oldPrimaryPort, newPrimaryPort, 60_000);

    // Every slash command got an answer: an approval message (created) or an ephemeral error (not created).
    const created: Array<{ channel: string; id: string }> = [];
    for (const s of sent) {
      const outcome = await waitFor<{ created: string } | { refused: string }>(
        `an outcome in ${s.channel}`,
        () => {
          const m = approvalMessage(shared, s.channel);
          if (m) return { created: requestIdOf(m) };
          const r = responses(shared, s.responseUrl)[0];
          return r === undefined ? undefined : { refused: r };
        },
        60_000,
      );
      if ('created' in outcome) created.push({ channel: s.channel, id: outcome.created });
      else expect(outcome.refused).toMatch(/Retry|Try again|unavailable|not done/i);
    }
    expect(sent).toHaveLength(20);
    expect(created.length).toBeGreaterThan(0);

    // Everything ward reported created is still there on the new primary.
    for (const { id } of created) {
      expect((await settled(() => storedRequest(shared, id))).status).toBe('pending');
    }

    // Approve each, alternating replicas; a person told "not done yet, retry" clicks again.
    for (const [i, { channel, id }] of created.entries()) {
      const message = approvalMessage(shared, channel)!;
      for (let attempt = 0; attempt < 5; attempt++) {
        const { responseUrl } = await click(
          shared,
          i % 2 === 0 ? a : b,
          USERS.approver1,
          message,
          'approval.approve',
          id,
        );
        const done = await waitFor<string>(
          `request ${id} to leave pending or an answer`,
          async () => {
            if ((await settled(() => storedRequest(shared, id))).status !== 'pending') return 'moved';
            return responses(shared, responseUrl)[0];
          },
          30_000,
        );
        if (done === 'moved') break;
      }
    }
    for (const { id } of created) {
      await settled(() => waitForStatus(shared, id, FINAL), 60_000).catch(async (err: unknown) => {
        const lines = wards.flatMap((w) => w.logs.filter((l) => JSON.stringify(l).includes(id)));
        throw new Error(
          `${String(err)}; stored status ${(await storedRequest(shared, id)).status}; logs:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`,
        );
      });
    }

    for (const { channel, id } of created) {
      expect(await settled(() => countAudit(shared, 'execution.started', id))).toBe(1);
      // Counted over the whole channel: a request whose message pointer was not durable gets its approval message
      // posted again at execution, and the run is announced in that thread.
      const announced = shared.slack
        .messages(channel)
        .filter((m) => m.thread_ts !== undefined && (m.text ?? '').startsWith(`Running forensics (${id})`));
      expect(announced).toHaveLength(1);
    }

    // The audit chain verifies end to end, read through the sentinels.
    const verify = await auditCli(['verify'], {
      REDIS_SENTINELS: group.sentinelList,
      REDIS_SENTINEL_NAME: SENTINEL_GROUP,
    });
    expect(verify.stderr).toBe('');
    expect(verify.stdout).toMatch(/audit chain OK/);
    expect(verify.code).toBe(0);

    // (c) The old primary, now a replica, holds the same requests and nothing twice.
    const oldNode = new Redis({ port: oldPrimaryPort, host: '127.0.0.1' });
    try {
      expect(await oldNode.info('replication')).toContain('role:slave');
      await waitFor(
        'the old primary to catch up',
        async () =>
          (await oldNode.xlen('ward:audit')) === (await settled(() => shared.client.xlen('ward:audit')))
            ? true
            : undefined,
        30_000,
      );
      for (const { id } of created) {
        expect(JSON.parse((await oldNode.get(`ward:request:${id}`)) ?? '{}').status).toBe(
          (await settled(() => storedRequest(shared, id))).status,
        );
      }
    } finally {
      oldNode.disconnect();
    }

    // Operations: each ward saw the primary change, says so, and is ready again.
    for (const w of wards) {
      const changes = w.logs.filter((l) => String(l['msg']).startsWith('Redis primary changed'));
      console.info(`ward ${w.port}: ${changes.map((l) => l['msg']).join('; ')}`);
      await w.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('Redis primary changed'));
      expect(await metricValue(w.url, 'ward_redis_failovers_total', {})).toBeGreaterThanOrEqual(1);
      expect(await metricValue(w.url, 'ward_redis_primary', { address: `127.0.0.1:${newPrimaryPort}` })).toBe(
        1,
      );
      expect((await fetch(`${w.url}/readyz`)).status).toBe(200);
    }
  }, 300_000);
});
