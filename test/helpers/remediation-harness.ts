/**
 * Everything a remediation integration test needs, started for real: a lab (sshd + nftables in namespaces), a
 * redis-server, the fake Slack and the fake Mailgun on loopback, and ward itself as a separate process configured
 * the way an operator would (inventory, policy, env). Tests talk to ward only through signed slash commands and
 * look at what a responder would see: Slack messages and files, emails, the hosts themselves.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeMailgun, startFakeMailgun } from '../fakes/fake-mailgun.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type Lab, labUp } from '../lab/lab.js';
import { type RedisProcess, startRedis } from './redis-server.js';
import { newTriggerId, sendSlashCommand } from './slack-requests.js';
import { startWardProcess, type WardProcess } from './ward-process.js';

export const SIGNING_SECRET = 'remediation-test-signing-secret';
export const BOT_TOKEN = 'xoxb-remediation-test';
export const MAILGUN_KEY = 'key-0123456789abcdef0123456789abcdef';
export const RESPONDER = 'U0RESPOND1';
export const CHANNEL = 'C0INCIDENT';

export interface Harness {
  lab: Lab;
  redis: RedisProcess;
  slack: FakeSlack;
  mailgun: FakeMailgun;
  ward: WardProcess;
  dir: string;
  evidenceDir: string;
  inventoryPath: string;
  /** Sends `/ward <text>` as RESPONDER in CHANNEL; resolves with the ephemeral replies' texts so far. */
  slash(text: string): Promise<{ status: number; responseUrl: string }>;
  /** Ephemeral replies that went to a response_url. */
  ephemeralReplies(responseUrl: string): string[];
  /** Waits for an ephemeral reply on that response_url matching the predicate. */
  waitForEphemeral(
    responseUrl: string,
    predicate: (text: string) => boolean,
    timeoutMs?: number,
  ): Promise<string>;
  /** Waits for a channel message (top-level or in a thread) matching the predicate. */
  waitForMessage(predicate: (m: FakeMessage) => boolean, timeoutMs?: number): Promise<FakeMessage>;
  /** Every message in the thread started by `parentTs`. */
  thread(parentTs: string): FakeMessage[];
  stop(): Promise<void>;
}

/** The whole visible text of a message: fallback text plus every text in its blocks. */
export function messageText(m: FakeMessage): string {
  const parts: string[] = [m.text ?? ''];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') parts.push(x);
        else walk(x);
      }
    }
  };
  walk(m.blocks ?? []);
  return parts.join('\n');
}

export async function waitUntil<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface HarnessOptions {
  hosts?: number;
  /** Policy overrides per command; every command under test gets approvals: 0, mfa: none by default. */
  env?: Record<string, string>;
  /** Rewrites the inventory text before ward reads it (e.g. a wrong key, a bad management CIDR). */
  inventory?: (yaml: string, lab: Lab) => string;
  /** Rewrites the policy text before ward reads it (e.g. `auto: true` for a command a rule auto-runs). */
  policy?: (yaml: string) => string;
}

const COMMANDS = ['forensics', 'lockdown', 'release', 'block-ip', 'kill-process', 'disable-user'];

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ward-remediation-'));
  const lab = await labUp({ hosts: opts.hosts ?? 1 });
  const redis = await startRedis();
  const slack = await startFakeSlack({ botToken: BOT_TOKEN });
  const mailgun = await startFakeMailgun({ apiKey: MAILGUN_KEY });
  const inventoryPath = join(dir, 'inventory.yaml');
  const yaml = lab.inventoryYaml();
  writeFileSync(inventoryPath, opts.inventory ? opts.inventory(yaml, lab) : yaml);
  const policyPath = join(dir, 'policy.yaml');
  // The approval gate runs a change command at once when its policy needs no approval and no MFA: that is what
  // this (legitimate) policy says for the commands under test; the approval flow has its own tests.
  const policy = [
    'roles:',
    `  responder: [${RESPONDER}]`,
    `  admin: [${RESPONDER}]`,
    'commands:',
    ...COMMANDS.map((c) => `  ${c}: { allow: [responder], approvals: 0, mfa: none }`),
    '',
  ].join('\n');
  writeFileSync(policyPath, opts.policy ? opts.policy(policy) : policy);
  const evidenceDir = join(dir, 'evidence');
  const ward = await startWardProcess({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_INVENTORY: inventoryPath,
    WARD_POLICY: policyPath,
    WARD_EVIDENCE_DIR: evidenceDir,
    WARD_ADMIN_EMAILS: 'soc@example.org,ciso@example.org',
    MAILGUN_API_KEY: MAILGUN_KEY,
    MAILGUN_DOMAIN: 'mg.example.org',
    MAILGUN_URL: mailgun.url,
    WARD_SSH_CONNECT_TIMEOUT_MS: '5000',
    WARD_SSH_COMMAND_TIMEOUT_MS: '30000',
    WARD_LOCKDOWN_CONFIRM_SECONDS: '10',
    ...opts.env,
  });

  const replies = (url: string): string[] =>
    slack
      .callsTo('response_url')
      .filter((c) => c.args['response_url'] === url)
      .map((c) => String(c.args['text'] ?? ''));

  return {
    lab,
    redis,
    slack,
    mailgun,
    ward,
    dir,
    evidenceDir,
    inventoryPath,
    async slash(text) {
      const responseUrl = slack.newResponseUrl({ channel: CHANNEL, user: RESPONDER });
      const res = await sendSlashCommand(`${ward.url}/slack/events`, SIGNING_SECRET, {
        text,
        user_id: RESPONDER,
        channel_id: CHANNEL,
        response_url: responseUrl,
        trigger_id: newTriggerId(),
      });
      return { status: res.status, responseUrl };
    },
    ephemeralReplies: replies,
    waitForEphemeral(url, predicate, timeoutMs = 20_000) {
      return waitUntil(() => replies(url).find(predicate), `an ephemeral reply on ${url}`, timeoutMs);
    },
    waitForMessage(predicate, timeoutMs = 60_000) {
      return waitUntil(() => slack.messages(CHANNEL).find(predicate), 'a Slack message', timeoutMs);
    },
    thread(parentTs) {
      return slack.messages(CHANNEL).filter((m) => m.thread_ts === parentTs && m.ts !== parentTs);
    },
    async stop() {
      await ward.stop().catch(() => {});
      await Promise.allSettled([slack.close(), mailgun.close(), redis.stop(), lab.down()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
