/**
 * What the cloud tests share: a real redis-server, the fake Slack, the fake EC2, a policy and an inventory on disk,
 * and ward started as a process pointed at all of them (AWS_ENDPOINT_URL → the fake EC2, static test credentials
 * in the environment so the SDK signs with SigV4 as it would in production).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/ports/audit.js';
import { FAKE_EC2_CREDENTIALS, type FakeEc2, startFakeEc2 } from '../fakes/fake-ec2.js';
import type { FakeSlack, RecordedCall } from '../fakes/fake-slack.js';
import { startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from './redis-server.js';
import { sendSlashCommand } from './slack-requests.js';
import { startWardProcess, type WardProcess } from './ward-process.js';

export const SIGNING_SECRET = 'cloud-test-signing-secret';
export const BOT_USER = 'U0WARDBOT';
export const RESPONDER = 'U0RESPONDER';
export const CHANNEL = 'C0INCIDENT';
export const MANAGEMENT_CIDRS = ['198.51.100.0/28', '2001:db8:100::/48'];
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;

export interface CloudEnv {
  redis: RedisProcess;
  redisClient: Redis;
  slack: FakeSlack;
  ec2: FakeEc2;
  ward: WardProcess;
  dir: string;
  evidenceDir: string;
  close(): Promise<void>;
}

export async function startCloudEnv(opts: {
  seed: (ec2: FakeEc2) => void;
  inventoryHosts: Record<string, { address: string; instanceId: string; region?: string }>;
  policyCommands: string;
  env?: Record<string, string>;
}): Promise<CloudEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'ward-cloud-'));
  const evidenceDir = join(dir, 'evidence');
  const hosts = Object.entries(opts.inventoryHosts)
    .map(
      ([name, h]) =>
        `  ${name}:\n    address: ${h.address}\n    hostKey: "${HOST_KEY}"\n    cloud: { provider: aws, region: ${h.region ?? 'eu-west-1'}, instanceId: ${h.instanceId} }`,
    )
    .join('\n');
  writeFileSync(
    join(dir, 'inventory.yaml'),
    `management:\n  cidrs: [${MANAGEMENT_CIDRS.map((c) => `"${c}"`).join(', ')}]\nhosts:\n${hosts}\n`,
  );
  writeFileSync(
    join(dir, 'policy.yaml'),
    `roles:\n  responder: [${RESPONDER}]\n  admin: [U0ADMIN]\n  approver: [U0APPROVER]\ncommands:\n${opts.policyCommands}\n`,
  );
  const redis = await startRedis();
  const slack = await startFakeSlack({ botUserId: BOT_USER });
  const ec2 = await startFakeEc2();
  opts.seed(ec2);
  const ward = await startWardProcess({
    SLACK_BOT_TOKEN: 'xoxb-cloud-test',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_POLICY: join(dir, 'policy.yaml'),
    WARD_INVENTORY: join(dir, 'inventory.yaml'),
    WARD_EVIDENCE_DIR: evidenceDir,
    AWS_ENDPOINT_URL: ec2.url,
    AWS_ACCESS_KEY_ID: FAKE_EC2_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_EC2_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'eu-west-1',
    // Only the environment provides credentials: never probe an instance metadata service.
    AWS_EC2_METADATA_DISABLED: 'true',
    ...opts.env,
  });
  const redisClient = new Redis(redis.url);
  return {
    redis,
    redisClient,
    slack,
    ec2,
    ward,
    dir,
    evidenceDir,
    async close() {
      await ward.stop();
      redisClient.disconnect();
      await ec2.close();
      await slack.close();
      await redis.stop();
    },
  };
}

/** Runs `/ward <text>` as `user` through ward's real, signed HTTP endpoint; returns the response_url it gave. */
export async function slash(env: CloudEnv, text: string, user = RESPONDER): Promise<string> {
  const responseUrl = env.slack.newResponseUrl({ channel: CHANNEL, user });
  const res = await sendSlashCommand(`${env.ward.url}/slack/events`, SIGNING_SECRET, {
    text,
    user_id: user,
    channel_id: CHANNEL,
    response_url: responseUrl,
  });
  if (res.status !== 200) throw new Error(`ward answered ${res.status}: ${res.text}`);
  return responseUrl;
}

/** The ephemeral reply ward sent through one response_url. */
export function replyTo(env: CloudEnv, responseUrl: string): Promise<RecordedCall> {
  return env.slack.waitForCall('response_url', (c) => c.args['response_url'] === responseUrl, 20_000);
}

/** Everything a message says, text and blocks, as one string to search. */
export function said(call: RecordedCall): string {
  return `${String(call.args['text'] ?? '')}\n${JSON.stringify(call.args['blocks'] ?? [])}`;
}

/** Audit entries from Redis (the ward:audit stream), oldest first, decoded by ward's own chain decoder. */
export async function auditEntries(env: CloudEnv): Promise<AuditRecord[]> {
  const store = new RedisStore(env.redis.url);
  await store.connect();
  try {
    return await readAuditEvents(store);
  } finally {
    await store.close();
  }
}
