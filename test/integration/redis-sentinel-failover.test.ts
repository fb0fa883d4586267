import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/adapters/redis/redis-store.js';
import type { RedisConfig } from '../../src/config/env.js';
import { startFakeSlack } from '../fakes/fake-slack.js';
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
import { messageText } from '../helpers/remediation-harness.js';
import { blockActionPayload, newTriggerId, slashCommandBody } from '../helpers/slack-requests.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * Issue 19: ward on Redis Sentinel, with real processes: a primary, a replica and three sentinels, two ward replicas
 * configured through REDIS_SENTINELS, the fake Slack. The primary is killed (SIGKILL) with approval requests in
 * flight; the sentinels promote the replica; the old primary comes back as a replica. What ward told people was done
 * must still be true afterwards, and every approved request must run exactly once.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FINAL = ['succeeded', 'failed', 'partial'];
// The audit chain is keyed (HMAC) with a key derived from this; `verify` needs the same key.
const ENCRYPTION_KEY = 'ab'.repeat(32);

/** Alerts go to this many channels (rules on a label): Slack's pace is about one message per second per channel. */
const ALERT_CHANNELS = 25;
const ALERT_TOKEN = 'generic-token-sentinel-0123';

let group: SentinelGroup;
/** ward's environment, shared by the HTTP replicas and the Socket Mode ones. */
let wardEnv: Record<string, string>;
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

/** The node the sentinels name primary now (the one a failover kills) and the one they would promote. */
async function currentRoles() {
  const oldPrimaryPort = await group.primaryPort();
  const killed = oldPrimaryPort === group.primary.port ? group.primary : group.replica;
  const newPrimaryPort = killed === group.primary ? group.replica.port : group.primary.port;
  return { killed, oldPrimaryPort, newPrimaryPort };
}

/** After the primary was killed: the other node is promoted; the killed one restarts and rejoins as its replica. */
async function recover(killed: SentinelGroup['primary'], oldPrimaryPort: number, newPrimaryPort: number) {
  await group.waitForPrimary(newPrimaryPort, 90_000);
  await killed.start();
  await group.waitForReplica(oldPrimaryPort, newPrimaryPort, 90_000);
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
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    [
      // Storm summaries would roll alerts up; each alert must be its own message here.
      'defaults: { storm: { perMinute: 10000 } }',
      'rules:',
      ...Array.from({ length: ALERT_CHANNELS }, (_, i) =>
        [
          `  - name: lane-${i}`,
          `    match: { source: generic, labels.lane: "${i}" }`,
          `    route: { channel: C0ALERT${String(i).padStart(2, '0')} }`,
        ].join('\n'),
      ),
    ].join('\n'),
  );
  const env = {
    SLACK_BOT_TOKEN: 'xoxb-test-sentinel',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_SENTINELS: group.sentinelList,
    REDIS_SENTINEL_NAME: SENTINEL_GROUP,
    WARD_POLICY: policy,
    WARD_INVENTORY: inventory,
    WARD_EVIDENCE_DIR: join(dir, 'evidence'),
    WARD_ENCRYPTION_KEY: ENCRYPTION_KEY,
    WARD_RULES: rules,
    WARD_ALERT_TOKEN_GENERIC: ALERT_TOKEN,
    WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
  };
  wardEnv = env;
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
    const { killed, oldPrimaryPort, newPrimaryPort } = await currentRoles();

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
    await killed.kill();
    const second = Array.from({ length: 10 }, (_, i) => send(10 + i));
    await Promise.allSettled([...first, ...second]);

    // (c) The old primary comes back (with its append-only file) and the sentinels make it a replica of the new one.
    await recover(killed, oldPrimaryPort, newPrimaryPort);

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
      WARD_ENCRYPTION_KEY: ENCRYPTION_KEY,
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
  it('every alert answered 2xx across a failover is in Slack exactly once; alerts answered 503 are retried and arrive once', async () => {
    const { killed, oldPrimaryPort, newPrimaryPort } = await currentRoles();
    const total = 500;
    const titleOf = (i: number) => `sentinel-alert-${String(i).padStart(3, '0')}`;
    const answers = new Map<number, number[]>();
    const deadline = Date.now() + 180_000;
    /** As Alertmanager does: the same alert again, with a pause, until it is answered 2xx. */
    const deliver = async (i: number) => {
      const body = JSON.stringify({
        title: titleOf(i),
        severity: 'critical',
        fingerprint: `sentinel-fp-${i}`,
        labels: { lane: String(i % ALERT_CHANNELS) },
      });
      for (let attempt = 0; ; attempt++) {
        const w = wards[(i + attempt) % wards.length]!;
        let status = 0;
        try {
          const res = await fetch(`${w.url}/alerts/generic`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERT_TOKEN}` },
            body,
            signal: AbortSignal.timeout(15_000),
          });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = 0; // no answer (connection reset, timeout): the sender retries as it would after a 503
        }
        answers.set(i, [...(answers.get(i) ?? []), status]);
        if (status >= 200 && status < 300) return;
        expect([0, 429, 503]).toContain(status);
        if (Date.now() > deadline)
          throw new Error(`${titleOf(i)} never accepted: ${answers.get(i)?.join(',')}`);
        await new Promise((r) => setTimeout(r, 250 + attempt * 100));
      }
    };
    // Ten senders in parallel; the primary is killed once 100 alerts were sent.
    let next = 0;
    let killing: Promise<void> | undefined;
    const sender = async () => {
      while (next < total) {
        const i = next++;
        if (i === 100) killing = killed.kill();
        await deliver(i);
      }
    };
    const senders = Array.from({ length: 10 }, () => sender());
    await waitFor('the kill', () => (killing === undefined ? undefined : true), 120_000);
    await killing;
    await recover(killed, oldPrimaryPort, newPrimaryPort);
    await Promise.all(senders);

    const refusedFirst = [...answers.values()].filter((a) => a[0] !== 202).length;
    console.info(
      `alerts: ${total} sent, ${refusedFirst} not accepted at first (${[...new Set([...answers.values()].flat())].join(', ')})`,
    );
    const channels = Array.from({ length: ALERT_CHANNELS }, (_, c) => `C0ALERT${String(c).padStart(2, '0')}`);
    const posted = () => channels.flatMap((c) => shared.slack.messages(c)).map(messageText);
    await waitFor(
      'every alert in Slack',
      () => {
        const texts = posted();
        return Array.from({ length: total }, (_, i) => titleOf(i)).every((t) =>
          texts.some((x) => x.includes(t)),
        )
          ? true
          : undefined;
      },
      240_000,
    ).catch((err: unknown) => {
      const texts = posted();
      const missing = Array.from({ length: total }, (_, i) => i).filter(
        (i) => !texts.some((x) => x.includes(titleOf(i))),
      );
      throw new Error(
        `${String(err)}: ${missing.length} missing, e.g. ${missing
          .slice(0, 10)
          .map((i) => `${titleOf(i)} answered ${answers.get(i)?.join(',')}`)
          .join('; ')}`,
      );
    });
    const texts = posted();
    const twice = Array.from({ length: total }, (_, i) => titleOf(i)).filter(
      (t) => texts.filter((x) => x.includes(t)).length !== 1,
    );
    expect(twice).toEqual([]);
    expect(shared.slack.messages('C0FALLBACK')).toEqual([]);
  }, 600_000);
});

describe('ward in Socket Mode, two replicas on Redis Sentinel', () => {
  const socketWards: WardProcess[] = [];
  let socketShared: Shared;

  beforeAll(async () => {
    const slack = await startFakeSlack();
    slack.setUsergroup(APPROVER_GROUP, GROUP_MEMBERS);
    socketShared = { ...shared, slack };
    const env = { ...wardEnv, SLACK_API_URL: slack.apiUrl, SLACK_APP_TOKEN: 'xapp-1-A0FAKEAPP1-1-socket' };
    socketWards.push(
      ...(await Promise.all([
        startWardProcess(env, { timeoutMs: 90_000 }),
        startWardProcess(env, { timeoutMs: 90_000 }),
      ])),
    );
    // Slack hands each envelope to one of the app's open connections: both replicas must be connected.
    await slack.socketConnected(60_000, 2);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(socketWards.map((w) => w.stop()));
    await socketShared?.slack.close();
  });

  it('runs a command and its approval exactly once, each envelope delivered to one replica', async () => {
    const slack = socketShared.slack;
    const channel = 'C0SOCKMODE';
    const responseUrl = slack.newResponseUrl({ channel, user: USERS.requester });
    const command = Object.fromEntries(
      new URLSearchParams(
        slashCommandBody({
          text: 'forensics web1 --reason "socket mode"',
          user_id: USERS.requester,
          channel_id: channel,
          response_url: responseUrl,
          trigger_id: newTriggerId(),
        }),
      ),
    );
    // Envelopes go to the connections in turn: the command to one replica, the click to the other.
    expect(
      (await slack.sendEnvelope('slash_commands', command, { timeoutMs: 30_000 })).envelope_id,
    ).toBeTruthy();
    const message = await waitFor(
      'the approval message',
      () => approvalMessage(socketShared, channel),
      60_000,
    );
    const id = requestIdOf(message);
    const click = blockActionPayload({
      user_id: USERS.approver1,
      action_id: 'approval.approve',
      value: id,
      channel_id: channel,
      message_ts: message.ts,
      response_url: slack.newResponseUrl({ channel, user: USERS.approver1, messageTs: message.ts }),
    });
    await slack.sendEnvelope('interactive', click, { timeoutMs: 30_000 });
    await settled(() => waitForStatus(socketShared, id, FINAL), 90_000);

    const approvalMessages = slack
      .messages(channel)
      .filter((m) => !m.thread_ts && !m.ephemeralFor && (m.text ?? '').includes(`(request ${id})`));
    expect(approvalMessages).toHaveLength(1);
    expect(await settled(() => countAudit(socketShared, 'approval.requested', id))).toBe(1);
    expect(await settled(() => countAudit(socketShared, 'execution.started', id))).toBe(1);
    const announced = slack
      .messages(channel)
      .filter((m) => m.thread_ts !== undefined && (m.text ?? '').startsWith(`Running forensics (${id})`));
    expect(
      announced,
      `messages in ${channel}: ${JSON.stringify(slack.messages(channel).map((m) => [m.thread_ts, m.text]))}`,
    ).toHaveLength(1);
    // The fake Slack gave the command and the click to different connections (in turn), so the exactly-once above
    // held across replicas; the log lines naming the request show which replica did what.
    console.info(
      `socket mode: log lines naming ${id} per replica: ${socketWards.map((w) => w.logs.filter((l) => JSON.stringify(l).includes(id)).length).join(', ')}`,
    );
  }, 240_000);
});
