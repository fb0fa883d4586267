/**
 * What the approval tests share: a real redis-server, the fake Slack, ward started in-process with a clock the test
 * moves (never sleeps), policy and inventory files, and helpers that drive ward's real HTTP endpoint with signed
 * requests the way Slack does.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { Secret, TOTP } from 'otpauth';
import { pino } from 'pino';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import type { ApprovalRequest } from '../../src/core/approvals/request.js';
import { deriveRequestKey, sealRecord } from '../../src/core/approvals/request-seal.js';
import { startWard, type WardHandle } from '../../src/main.js';
import type { AuditRecord } from '../../src/ports/audit.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from './redis-server.js';
import {
  type EndpointResponse,
  newTriggerId,
  sendBlockAction,
  sendSlashCommand,
  sendViewSubmission,
} from './slack-requests.js';

export const SIGNING_SECRET = 'test-signing-secret-approvals';
export const ENCRYPTION_KEY = 'a1'.repeat(32);
export const HOST_KEY_A = `SHA256:${'A'.repeat(43)}`;
export const HOST_KEY_B = `SHA256:${'B'.repeat(43)}`;

export const USERS = {
  requester: 'U0REQUEST1',
  approver1: 'U0APPROVE1',
  approver2: 'U0APPROVE2',
  admin: 'U0ADMIN001',
  outsider: 'U0OUTSIDE1',
  breakGlass: 'U0BREAKGL1',
} as const;

/** A user group of approvers (for the 50-click test): U0GROUP000 … */
export const APPROVER_GROUP = 'S0APPROVERS';
export const GROUP_MEMBERS = Array.from({ length: 60 }, (_, i) => `U0GROUP${String(i).padStart(3, '0')}`);

export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => (offset += ms) };
}

export interface Shared {
  redis: RedisProcess;
  slack: FakeSlack;
  dir: string;
  client: Redis;
  /** ward's own store adapter on the same Redis, to read what ward wrote the way ward reads it. */
  store: RedisStore;
  close(): Promise<void>;
}

export async function startShared(options: { appendonly?: boolean } = {}): Promise<Shared> {
  const redis = await startRedis(options);
  const slack = await startFakeSlack();
  slack.setUsergroup(APPROVER_GROUP, GROUP_MEMBERS);
  const dir = mkdtempSync(join(tmpdir(), 'ward-approvals-'));
  const client = new Redis(redis.url);
  const store = new RedisStore(redis.url);
  await store.connect();
  return {
    redis,
    slack,
    dir,
    client,
    store,
    async close() {
      client.disconnect();
      await store.close();
      await slack.close();
      await redis.stop();
    },
  };
}

export function writeInventory(path: string, hostKey = HOST_KEY_A): void {
  // 127.0.0.1 port 9 (discard, nothing listens): an execution that gets as far as connecting fails at once, locally.
  writeFileSync(
    path,
    `management:\n  cidrs: [198.51.100.0/24]\nhosts:\n  web1:\n    address: 127.0.0.1\n    port: 9\n    hostKey: ${hostKey}\n    tags: [web]\n`,
  );
}

/** A policy file: the roles above, and per-command policies given by the test. */
export function writePolicy(path: string, commands: Record<string, Record<string, unknown>>): void {
  const lines = [
    'roles:',
    `  responder: [${USERS.requester}, ${USERS.breakGlass}]`,
    `  approver: [${USERS.approver1}, ${USERS.approver2}, ${APPROVER_GROUP}]`,
    `  admin: [${USERS.admin}]`,
    `  breakglass: [${USERS.breakGlass}]`,
    'commands:',
  ];
  for (const [name, policy] of Object.entries(commands)) {
    lines.push(`  ${name}:`);
    for (const [k, v] of Object.entries(policy)) lines.push(`    ${k}: ${JSON.stringify(v)}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

export interface Ward {
  handle: WardHandle;
  url: string;
  clock: TestClock;
  logs: string[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

let wardCounter = 0;

/** ward in-process with a controllable clock, its log captured; policy and inventory files of its own. */
export async function startTestWard(
  shared: Shared,
  policy: Record<string, Record<string, unknown>>,
  extraEnv: Record<string, string> = {},
): Promise<Ward> {
  const n = ++wardCounter;
  const policyPath = join(shared.dir, `policy-${n}.yaml`);
  const inventoryPath = join(shared.dir, `inventory-${n}.yaml`);
  writePolicy(policyPath, policy);
  writeInventory(inventoryPath);
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: 'xoxb-test-approvals',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: shared.slack.apiUrl,
    REDIS_URL: shared.redis.url,
    WARD_POLICY: policyPath,
    WARD_INVENTORY: inventoryPath,
    WARD_ENCRYPTION_KEY: ENCRYPTION_KEY,
    PORT: '0',
    WARD_BIND: '127.0.0.1',
    LOG_LEVEL: 'debug',
    WARD_EVIDENCE_DIR: join(shared.dir, `evidence-${n}`),
    ...extraEnv,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const clock = testClock();
  const handle = await startWard({ env, clock, logger: pino({ level: 'debug' }, sink) });
  return { handle, url: `${handle.url}/slack/events`, clock, logs, env, stop: () => handle.stop() };
}

let channelCounter = 0;
/** A channel of its own per test, so that messages of different tests never mix. */
export function newChannel(): string {
  return `C0TEST${String(++channelCounter).padStart(4, '0')}${Math.floor(Math.random() * 1e4)}`;
}

export async function slash(
  shared: Shared,
  wardUrl: string,
  user: string,
  channel: string,
  text: string,
  triggerId = newTriggerId(),
): Promise<{ res: EndpointResponse; responseUrl: string; triggerId: string }> {
  const responseUrl = shared.slack.newResponseUrl({ channel, user });
  const res = await sendSlashCommand(wardUrl, SIGNING_SECRET, {
    text,
    user_id: user,
    channel_id: channel,
    response_url: responseUrl,
    trigger_id: triggerId,
  });
  return { res, responseUrl, triggerId };
}

export async function click(
  shared: Shared,
  wardUrl: string,
  user: string,
  message: FakeMessage,
  actionId: string,
  value: string,
  triggerId = newTriggerId(),
  retryNum?: number,
): Promise<{ res: EndpointResponse; responseUrl: string }> {
  const responseUrl = shared.slack.newResponseUrl({ channel: message.channel, user, messageTs: message.ts });
  const res = await sendBlockAction(
    wardUrl,
    SIGNING_SECRET,
    {
      user_id: user,
      action_id: actionId,
      value,
      channel_id: message.channel,
      message_ts: message.ts,
      response_url: responseUrl,
      trigger_id: triggerId,
    },
    retryNum === undefined ? {} : { retryNum, retryReason: 'http_timeout' },
  );
  return { res, responseUrl };
}

/**
 * Submits a code in the MFA modal ward opened for this request and factor: as Slack does, the submission carries
 * back the private_metadata ward wrote into that modal (the latest one opened).
 */
export async function submitCode(
  shared: Shared,
  wardUrl: string,
  user: string,
  requestId: string,
  factor: 'requester' | 'approver',
  code: string,
): Promise<{ errors?: Record<string, string> }> {
  const opened = await waitFor(`the ${factor} MFA modal of ${requestId}`, () =>
    shared.slack
      .views()
      .map((v) => (v.view as { private_metadata?: string }).private_metadata ?? '')
      .filter((m) => {
        const meta = JSON.parse(m || '{}') as { requestId?: string; factor?: string };
        return meta.requestId === requestId && meta.factor === factor;
      })
      .at(-1),
  );
  return submitMfaView(wardUrl, user, opened, code);
}

/** A view_submission of the MFA modal with the given private_metadata (a test may forge it). */
export async function submitMfaView(
  wardUrl: string,
  user: string,
  privateMetadata: string,
  code: string,
): Promise<{ errors?: Record<string, string> }> {
  const res = await sendViewSubmission(wardUrl, SIGNING_SECRET, {
    user_id: user,
    callback_id: 'mfa.verify',
    private_metadata: privateMetadata,
    values: { mfa_code: { code: { type: 'plain_text_input', value: code } } },
  });
  if (res.status !== 200) throw new Error(`view submission answered HTTP ${res.status}: ${res.text}`);
  const body = res.json as { response_action?: string; errors?: Record<string, string> } | undefined;
  return body?.response_action === 'errors' ? { errors: body.errors ?? {} } : {};
}

/** Waits (polling, generous timeout) for a condition that ward makes true asynchronously. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function blocksText(m: FakeMessage): string {
  return JSON.stringify(m.blocks ?? []) + (m.text ?? '');
}

/** The approval message in a channel (a top-level message with a request id), as it stands now. */
export function approvalMessage(shared: Shared, channel: string): FakeMessage | undefined {
  return shared.slack
    .messages(channel)
    .find((m) => !m.thread_ts && !m.ephemeralFor && /\(request r-[0-9a-f]+\)/.test(m.text ?? ''));
}

export function requestIdOf(m: FakeMessage): string {
  const id = /\(request (r-[0-9a-f]+)\)/.exec(m.text ?? '')?.[1];
  if (!id) throw new Error(`no request id in ${m.text}`);
  return id;
}

export function hasButtons(m: FakeMessage): boolean {
  return blocksText(m).includes('approval.approve');
}

export function textOf(m: FakeMessage): string {
  return blocksText(m);
}

export async function waitForApproval(
  shared: Shared,
  channel: string,
): Promise<{ message: FakeMessage; id: string }> {
  const message = await waitFor('the approval message', () => approvalMessage(shared, channel));
  return { message, id: requestIdOf(message) };
}

/** Ephemeral replies sent through response_url for one interaction. */
export function responses(shared: Shared, responseUrl: string): string[] {
  return shared.slack
    .callsTo('response_url')
    .filter((c) => c.args['response_url'] === responseUrl)
    .map((c) => String(c.args['text'] ?? ''));
}

export async function waitForResponse(shared: Shared, responseUrl: string): Promise<string> {
  return waitFor(`a reply on ${responseUrl}`, () => responses(shared, responseUrl)[0]);
}

/** Audit entries from Redis (the ward:audit stream), oldest first, decoded by ward's own chain decoder. */
export async function auditEvents(shared: Shared, requestId?: string): Promise<AuditRecord[]> {
  return (await readAuditEvents(shared.store)).filter(
    (e) => requestId === undefined || e.requestId === requestId,
  );
}

export async function countAudit(shared: Shared, type: string, requestId: string): Promise<number> {
  return (await auditEvents(shared, requestId)).filter((e) => e.type === type).length;
}

/** The stored request, as Redis holds it. */
export async function storedRequest(
  shared: Shared,
  id: string,
): Promise<{ status: string; approvals: unknown[] }> {
  const raw = await shared.client.get(`ward:request:${id}`);
  if (!raw) throw new Error(`no request ${id} in Redis`);
  return JSON.parse(raw) as { status: string; approvals: unknown[] };
}

/**
 * A request record sealed as ward itself seals it, with the harness's WARD_ENCRYPTION_KEY: for tests that leave
 * Redis as one of ward's own writes would (an unconfirmed write that survived a failover), not as an outsider would.
 */
export function sealedAsWard(record: Record<string, unknown>): string {
  const { seal: _seal, ...body } = record;
  return sealRecord(deriveRequestKey(ENCRYPTION_KEY), body as unknown as ApprovalRequest);
}

export async function waitForStatus(shared: Shared, id: string, statuses: string[]): Promise<string> {
  return waitFor(`request ${id} to reach ${statuses.join('/')}`, async () => {
    const r = await storedRequest(shared, id);
    return statuses.includes(r.status) ? r.status : undefined;
  });
}

/** Thread replies under the approval message that announce an execution. */
export function runningMessages(shared: Shared, message: FakeMessage): FakeMessage[] {
  return shared.slack
    .messages(message.channel)
    .filter((m) => m.thread_ts === message.ts && (m.text ?? '').startsWith('Running '));
}

/**
 * Enrols a user through the real commands: `/ward mfa enroll` (the DM carries the otpauth URI), then
 * `/ward mfa confirm <code>`. Returns the user's authenticator, as their phone would hold it.
 */
export async function enrollMfa(shared: Shared, ward: Ward, user: string): Promise<TOTP> {
  const channel = newChannel();
  const before = shared.slack.callsTo('chat.postMessage').length;
  const enroll = await slash(shared, ward.url, user, channel, 'mfa enroll');
  const dmPost = await waitFor('the enrolment DM', () =>
    shared.slack
      .callsTo('chat.postMessage')
      .slice(before)
      .find((c) => JSON.stringify(c.args).includes('otpauth://')),
  );
  const uri = /otpauth:\/\/[^\s`"\\]+/.exec(JSON.stringify(dmPost.args).replaceAll('&amp;', '&'))?.[0];
  if (!uri) throw new Error('no otpauth URI in the DM');
  const secret = new URL(uri).searchParams.get('secret')!;
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
  const { responseUrl } = await slash(
    shared,
    ward.url,
    user,
    channel,
    `mfa confirm ${totp.generate({ timestamp: ward.clock.now() })}`,
  );
  const answer = await waitForResponse(shared, responseUrl);
  if (!answer.includes('MFA enrolled')) throw new Error(`enrolment failed: ${answer}`);
  // The confirmation came as soon as the DM was posted, as fast as a script: `mfa enroll` may still be uploading the
  // QR code. Its reply is its last step; once it is there, nothing of this enrolment is still in flight in ward.
  await waitForResponse(shared, enroll.responseUrl);
  // The confirming code's time step is now used: move on to the next step for the codes that follow.
  ward.clock.advance(30_000);
  return totp;
}

export function codeAt(totp: TOTP, ward: Ward): string {
  return totp.generate({ timestamp: ward.clock.now() });
}

/**
 * The value of one series on ward's `GET /metrics` (0 when absent). The registry lives in the process, so tests that
 * start ward several times read it before and after and compare.
 */
export async function metricValue(
  baseUrl: string,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((w) => labelText.split(',').includes(w)))
      return Number(line.slice(line.indexOf('}') + 2));
  }
  return 0;
}
