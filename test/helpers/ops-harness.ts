/**
 * What the operations and fault tests need, started for real: a redis-server (with an append-only file, so it can
 * be restarted with its data), the fake Slack, and ward processes configured as an operator would (policy,
 * inventory, env). Two SSH "hosts" live on loopback without a lab:
 *   - `stuck`: a TCP server that accepts connections and never says a word, so an SSH handshake to it hangs until
 *     WARD_SSH_CONNECT_TIMEOUT_MS: a long-running execution that changes nothing anywhere;
 *   - `down`: a loopback port nothing listens on, so a connection is refused at once.
 * Forensics (read-only, no approval needed under this policy) against them gives executions that hang or fail
 * without touching any real machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { freePort } from './free-port.js';
import { type RedisProcess, startRedis } from './redis-server.js';
import { messageText, waitUntil } from './remediation-harness.js';
import { newTriggerId, sendBlockAction, sendSlashCommand } from './slack-requests.js';
import { startWardProcess, type WardProcess } from './ward-process.js';

export { messageText, waitUntil };

export const SECRET = 'ops-test-signing-secret-0123456789';
export const TOKEN = 'xoxb-ops-test-token-0123456789';
export const RESPONDER = 'U0RESPOND1';
export const ADMIN = 'U0ADMIN01';
export const CHANNEL = 'C0INCIDENT';
/** WARD_ENCRYPTION_KEY of the wards this harness starts: their audit chain is keyed with it. */
export const OPS_ENCRYPTION_KEY = 'c3'.repeat(32);
/** A well-formed fingerprint that no host presents: the `stuck` host never gets as far as showing its key. */
const SOME_HOST_KEY = `SHA256:${'A'.repeat(43)}`;

export interface OpsHarness {
  redis: RedisProcess;
  slack: FakeSlack;
  dir: string;
  /** The ward processes started so far (the last one is the current one). */
  wards: WardProcess[];
  /** Starts another ward process on the same Redis, Slack and files. */
  startWard(extraEnv?: Record<string, string>): Promise<WardProcess>;
  /** `/ward <text>` to the given ward; resolves with the response_url its ephemeral answers go to. */
  slash(
    ward: WardProcess,
    text: string,
    opts?: { user?: string; triggerId?: string; responseUrl?: string },
  ): Promise<{ status: number; responseUrl: string; triggerId: string }>;
  /** Ephemeral answers that went to a response_url. */
  replies(responseUrl: string): string[];
  waitForReply(
    responseUrl: string,
    predicate?: (text: string) => boolean,
    timeoutMs?: number,
  ): Promise<string>;
  /** A channel message (top level or in a thread) whose visible text matches. */
  waitForMessage(predicate: (m: FakeMessage) => boolean, timeoutMs?: number): Promise<FakeMessage>;
  /** Clicks a button of a message as `user`. */
  click(ward: WardProcess, message: FakeMessage, actionId: string, user?: string): Promise<void>;
  /** How many TCP connections the `stuck` host has accepted. */
  stuckConnections(): number;
  stop(): Promise<void>;
}

export async function startOpsHarness(
  opts: { env?: Record<string, string>; appendonly?: boolean } = {},
): Promise<OpsHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'ward-ops-'));
  const redis = await startRedis({ appendonly: opts.appendonly ?? true });
  const slack = await startFakeSlack({ botToken: TOKEN });

  const sockets = new Set<Socket>();
  let accepted = 0;
  const stuck: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
  const stuckPort = (stuck.address() as { port: number }).port;
  const downPort = await freePort();

  const keyPath = join(dir, 'ward_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ward-ops-test', '-f', keyPath]);
  const inventoryPath = join(dir, 'inventory.yaml');
  writeFileSync(
    inventoryPath,
    [
      'management: { cidrs: [127.0.0.1/32] }',
      `defaults: { user: root, key: ${keyPath} }`,
      'hosts:',
      `  stuck: { address: 127.0.0.1, port: ${stuckPort}, hostKey: "${SOME_HOST_KEY}", tags: [test] }`,
      `  down: { address: 127.0.0.1, port: ${downPort}, hostKey: "${SOME_HOST_KEY}", tags: [test] }`,
      '',
    ].join('\n'),
  );
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(
    policyPath,
    [
      'roles:',
      `  responder: [${RESPONDER}]`,
      `  approver: [${ADMIN}]`,
      `  admin: [${ADMIN}]`,
      'commands:',
      '  forensics: { allow: [responder, admin], approvals: 0, mfa: none }',
      '',
    ].join('\n'),
  );

  const wards: WardProcess[] = [];
  const replies = (url: string): string[] =>
    slack
      .callsTo('response_url')
      .filter((c) => c.args['response_url'] === url && c.status === 200)
      .map((c) => String(c.args['text'] ?? ''));

  const harness: OpsHarness = {
    redis,
    slack,
    dir,
    wards,
    async startWard(extraEnv = {}) {
      const ward = await startWardProcess({
        SLACK_BOT_TOKEN: TOKEN,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        REDIS_URL: redis.url,
        WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY,
        WARD_INVENTORY: inventoryPath,
        WARD_POLICY: policyPath,
        WARD_EVIDENCE_DIR: join(dir, 'evidence'),
        WARD_SSH_CONNECT_TIMEOUT_MS: '600000',
        WARD_EXECUTION_LEASE_MS: '2000',
        WARD_SHUTDOWN_GRACE_MS: '2000',
        ...opts.env,
        ...extraEnv,
      });
      wards.push(ward);
      return ward;
    },
    async slash(ward, text, o = {}) {
      const responseUrl =
        o.responseUrl ?? slack.newResponseUrl({ channel: CHANNEL, user: o.user ?? RESPONDER });
      const triggerId = o.triggerId ?? newTriggerId();
      const res = await sendSlashCommand(`${ward.url}/slack/events`, SECRET, {
        text,
        user_id: o.user ?? RESPONDER,
        channel_id: CHANNEL,
        response_url: responseUrl,
        trigger_id: triggerId,
      });
      return { status: res.status, responseUrl, triggerId };
    },
    replies,
    waitForReply(url, predicate = () => true, timeoutMs = 20_000) {
      return waitUntil(() => replies(url).find(predicate), `an ephemeral reply on ${url}`, timeoutMs);
    },
    waitForMessage(predicate, timeoutMs = 30_000) {
      return waitUntil(() => slack.messages(CHANNEL).find(predicate), 'a Slack message', timeoutMs);
    },
    async click(ward, message, actionId, user = RESPONDER) {
      const value = findButtonValue(message, actionId);
      if (value === undefined) throw new Error(`no ${actionId} button in that message`);
      const res = await sendBlockAction(`${ward.url}/slack/events`, SECRET, {
        user_id: user,
        action_id: actionId,
        value,
        channel_id: CHANNEL,
        message_ts: message.ts,
        message: message as unknown as Record<string, unknown>,
        response_url: slack.newResponseUrl({ channel: CHANNEL, user, messageTs: message.ts }),
        trigger_id: newTriggerId(),
      });
      if (res.status !== 200) throw new Error(`the click was answered ${res.status}`);
    },
    stuckConnections: () => accepted,
    async stop() {
      await Promise.allSettled(wards.map((w) => w.kill()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => stuck.close(() => r()));
      await Promise.allSettled([slack.close(), redis.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

function findButtonValue(message: FakeMessage, actionId: string): string | undefined {
  for (const block of (message.blocks ?? []) as Array<{ elements?: Array<Record<string, unknown>> }>) {
    for (const e of block.elements ?? []) if (e['action_id'] === actionId) return String(e['value']);
  }
  return undefined;
}
