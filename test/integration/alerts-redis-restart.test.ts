import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertQueueKey } from '../../src/alerts/queue.js';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { messageText, waitUntil } from '../helpers/remediation-harness.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * Issue 6: "pending approvals and queued alerts survive" a Redis restart when Redis persists (appendonly). ward runs
 * as a process; the fake Slack fails every chat.postMessage so accepted alerts stay in ward's queue after their 202;
 * Redis is killed (SIGKILL: only what its append-only file holds survives) and started again; then Slack recovers.
 */

const SECRET = 'alerts-restart-signing-secret-0123';
const TOKEN = 'xoxb-5555-6666-restart';
const GENERIC_TOKEN = 'generic-token-restart-0123';

let dir: string;
let slack: FakeSlack;
let redis: RedisProcess;
let ward: WardProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ward-alerts-restart-'));
  writeFileSync(
    join(dir, 'rules.yaml'),
    'rules:\n  - name: generic\n    match: { source: generic }\n    route: { channel: C0GENERIC }\n',
  );
  writeFileSync(join(dir, 'inventory.yaml'), 'management: { cidrs: [198.51.100.0/24] }\nhosts: {}\n');
  writeFileSync(join(dir, 'policy.yaml'), 'roles:\n  responder: [U0RESP1]\n');
  slack = await startFakeSlack({ botToken: TOKEN });
  redis = await startRedis({ appendonly: true });
  ward = await startWardProcess({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_RULES: join(dir, 'rules.yaml'),
    WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
    WARD_INVENTORY: join(dir, 'inventory.yaml'),
    WARD_POLICY: join(dir, 'policy.yaml'),
    WARD_ALERT_TOKEN_GENERIC: GENERIC_TOKEN,
  });
  await ward.waitForLog((l) => l['msg'] === 'alert relay on');
}, 60_000);

afterAll(async () => {
  await ward?.stop();
  await slack?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function queueDepth(): Promise<number> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    return await client.llen(alertQueueKey);
  } finally {
    client.disconnect();
  }
}

describe('queued alerts and a Redis restart (appendonly)', () => {
  it('every alert accepted while Slack was failing arrives once after Redis is killed and restarted', async () => {
    slack.failNext('chat.postMessage', 500, 1_000_000);
    const titles = ['queued-a', 'queued-b', 'queued-c', 'queued-d'];
    for (const title of titles) {
      const res = await fetch(`${ward.url}/alerts/generic`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${GENERIC_TOKEN}` },
        body: JSON.stringify({ title, severity: 'error' }),
      });
      expect(res.status).toBe(202);
    }
    // ward tried and Slack failed: the alerts are still queued, none delivered.
    await slack.waitForCall('chat.postMessage', (c) => c.error === 'http_500');
    expect(await queueDepth()).toBe(titles.length);
    expect(slack.messages('C0GENERIC')).toEqual([]);

    await redis.kill();
    await redis.start();
    // The queue came back from the append-only file.
    expect(await queueDepth()).toBe(titles.length);
    await waitUntil(async () => {
      const res = await fetch(`${ward.url}/readyz`);
      return ((await res.json()) as { store: string }).store === 'ok' || undefined;
    }, 'ward to reconnect to Redis');

    slack.clearFaults('chat.postMessage');
    await waitUntil(
      () =>
        titles.every((t) => slack.messages('C0GENERIC').some((m) => messageText(m).includes(t))) || undefined,
      'every queued alert in #generic',
      60_000,
    );
    // Each exactly once: one message, one successful post.
    for (const t of titles) {
      expect(slack.messages('C0GENERIC').filter((m) => messageText(m).includes(t))).toHaveLength(1);
      expect(
        slack
          .callsTo('chat.postMessage')
          .filter((c) => c.status === 200 && c.error === undefined && JSON.stringify(c.args).includes(t)),
      ).toHaveLength(1);
    }
    await waitUntil(async () => (await queueDepth()) === 0 || undefined, 'an empty queue');
    expect(ward.child.exitCode).toBeNull();
  }, 90_000);
});
