import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { freePort } from '../helpers/free-port.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { messageText, waitUntil } from '../helpers/remediation-harness.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * A rule's `auto` commands, as an operator sets them up: ward started as a process with a rules file, an inventory
 * and a policy; a real redis-server; the fake Slack, whose auth.test names ward's bot user. The inventory host is a
 * loopback port nothing listens on, so forensics fails at SSH at once without touching any machine: these tests
 * look at the request ward opens, not at evidence.
 */

const SECRET = 'auto-run-signing-secret-0123456789';
const TOKEN = 'xoxb-3333-4444-autorun';
const BOT_USER = 'U0WARDBOT1';
const GENERIC_TOKEN = 'generic-token-0123';
const FALCO_TOKEN = 'falco-token-0123';
const KEY = `SHA256:${'A'.repeat(43)}`;

const RULES = `defaults: { dedupeWindow: 30m }
rules:
  - name: generic-auto-forensics-interval
    match: { source: generic, labels.case: interval }
    route: { channel: C0AUTO2 }
    suggest: [forensics]
    auto: [forensics]
  - name: generic-auto-forensics
    match: { source: generic }
    route: { channel: C0AUTO }
    suggest: [forensics]
    auto: [forensics]
  - name: falco-auto-lockdown
    match: { source: falco }
    route: { channel: C0FALCO }
    auto: [lockdown]
`;

// forensics may run on its own (auto: true, no approval); lockdown keeps its declared policy, which has no `auto`.
const POLICY = `roles:
  responder: [U0RESP1]
  admin: [U0ADMIN1]
commands:
  forensics: { allow: [responder], approvals: 0, mfa: none, auto: true }
`;

let dir: string;
let slack: FakeSlack;
let redis: RedisProcess;
let ward: WardProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ward-auto-run-'));
  const keyPath = join(dir, 'ward_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ward-auto-run-test', '-f', keyPath]);
  const downPort = await freePort();
  const otherDownPort = await freePort();
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(
    join(dir, 'inventory.yaml'),
    [
      'management: { cidrs: [127.0.0.1/32] }',
      `defaults: { user: root, key: ${JSON.stringify(keyPath)} }`,
      'hosts:',
      `  test-host: { address: 127.0.0.1, port: ${downPort}, hostKey: "${KEY}" }`,
      // The interval test's own host and channel: which test runs first must not matter.
      `  other-host: { address: 127.0.0.1, port: ${otherDownPort}, hostKey: "${KEY}" }`,
      '',
    ].join('\n'),
  );
  slack = await startFakeSlack({ botToken: TOKEN, botUserId: BOT_USER });
  redis = await startRedis();
  ward = await startWardProcess({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_RULES: join(dir, 'rules.yaml'),
    WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
    WARD_INVENTORY: join(dir, 'inventory.yaml'),
    WARD_POLICY: join(dir, 'policy.yaml'),
    WARD_EVIDENCE_DIR: join(dir, 'evidence'),
    WARD_ALERT_TOKEN_GENERIC: GENERIC_TOKEN,
    WARD_ALERT_TOKEN_FALCO: FALCO_TOKEN,
    WARD_SSH_CONNECT_TIMEOUT_MS: '3000',
  });
  await ward.waitForLog((l) => l['msg'] === 'alert relay on');
}, 60_000);

afterAll(async () => {
  await ward?.stop();
  await slack?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function post(source: string, body: string, token: string) {
  return fetch(`${ward.url}/alerts/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
}

async function auditLog() {
  const store = new RedisStore(redis.url);
  await store.connect();
  return readAuditEvents(store).finally(() => store.close());
}

const topLevel = (channel: string): FakeMessage[] =>
  slack.messages(channel).filter((m) => m.thread_ts === undefined && m.ephemeralFor === undefined);

describe('alert rules with auto commands', () => {
  it('a generic alert for an inventory host opens the forensics request as ward itself, in the alert channel', async () => {
    const body = JSON.stringify({
      alerts: [{ title: 'Beaconing to a known C2', fingerprint: 'auto-c2-beacon', host: 'test-host' }],
    });
    expect((await post('generic', body, GENERIC_TOKEN)).status).toBe(202);

    const alert = await waitUntil(
      () => topLevel('C0AUTO').find((m) => messageText(m).includes('Beaconing to a known C2')),
      'the alert message',
    );
    // The request lives in the alert's thread, like everything that follows from the alert.
    const request = await waitUntil(
      () =>
        slack
          .messages('C0AUTO')
          .find(
            (m) =>
              m.thread_ts === alert.ts && /\*Requested by\* <@\w+>: `forensics` on /.test(messageText(m)),
          ),
      'the forensics request message in the alert thread',
    );
    expect(request.ts).not.toBe(alert.ts);
    const text = messageText(request);
    // Requested by ward's bot user (auth.test), for the alert's host, with the alert as the reason.
    expect(text).toContain(`*Requested by* <@${BOT_USER}>`);
    expect(text).toContain(`*Requested by* <@${BOT_USER}>: \`forensics\` on test-host`);
    expect(text).toContain('Beaconing to a known C2');
    expect(text).toContain('*Approvals:* none needed');

    // It ran through the gate: the execution is reported in the request's thread (the host refuses SSH here).
    const report = await waitUntil(
      () =>
        slack
          .messages('C0AUTO')
          .find((m) => m.thread_ts === alert.ts && m.text?.startsWith('forensics: ') === true),
      'the execution report in the alert thread',
    );
    expect(report.text).toMatch(/^forensics: ✗ test-host: could not connect to test-host/);

    const entries = await auditLog();
    const auto = entries.filter(
      (e) =>
        e.type === 'alert.auto_run' &&
        e.command === 'forensics' &&
        e.details?.['fingerprint'] === 'auto-c2-beacon',
    );
    expect(auto).toHaveLength(1);
    expect(auto[0]).toMatchObject({ actor: BOT_USER, outcome: 'submitted', hosts: ['test-host'] });
    expect(
      entries.some(
        (e) =>
          e.type === 'execution.started' &&
          e.command === 'forensics' &&
          e.actor === BOT_USER &&
          e.hosts?.includes('test-host') === true,
      ),
    ).toBe(true);
  });

  it('runs a command on a host at most once per interval, saying so on the later alerts and auditing it', async () => {
    // Its own host and channel (labels.case: interval): the first alert's run on other-host is this test's own.
    const alertOn = (title: string, fingerprint: string) =>
      JSON.stringify({ alerts: [{ title, fingerprint, host: 'other-host', labels: { case: 'interval' } }] });
    expect((await post('generic', alertOn('First beacon', 'interval-1'), GENERIC_TOKEN)).status).toBe(202);
    const requestsIn = (channel: string) =>
      slack
        .messages(channel)
        .filter(
          (m) =>
            m.ephemeralFor === undefined && /\*Requested by\* <@\w+>: `forensics` on /.test(messageText(m)),
        );
    await waitUntil(() => requestsIn('C0AUTO2')[0], 'the forensics request of the first alert');
    const first = await waitUntil(
      async () =>
        (await auditLog()).find(
          (e) =>
            e.type === 'alert.auto_run' &&
            e.command === 'forensics' &&
            e.outcome === 'submitted' &&
            e.details?.['fingerprint'] === 'interval-1',
        ),
      'the first auto-run in the audit log',
    );
    expect(first).toMatchObject({ hosts: ['other-host'] });

    // A different alert (a new fingerprint, so a new message) for the same host, right after the first one's run.
    const body = alertOn('Second beacon from the same host', 'interval-2');
    expect((await post('generic', body, GENERIC_TOKEN)).status).toBe(202);
    const alert = await waitUntil(
      () => topLevel('C0AUTO2').find((m) => messageText(m).includes('Second beacon from the same host')),
      'the second alert message',
    );
    const note = await waitUntil(
      () =>
        slack
          .messages('C0AUTO2')
          .find((m) => m.thread_ts === alert.ts && m.text?.includes('Not run') === true),
      'the note in the second alert thread',
    );
    expect(note.text).toContain(`\`forensics\` already ran automatically on other-host at `);
    expect(note.text).toContain(`(request ${first.requestId})`);
    expect(note.text).toContain('at most once every 600 s (WARD_AUTO_RUN_INTERVAL_SECONDS)');

    const suppressed = await waitUntil(
      async () =>
        (await auditLog()).find(
          (e) =>
            e.type === 'alert.auto_run' &&
            e.command === 'forensics' &&
            e.outcome === 'suppressed' &&
            e.details?.['fingerprint'] === 'interval-2',
        ),
      'the suppression in the audit log',
    );
    expect(suppressed).toMatchObject({ hosts: ['other-host'] });
    expect(suppressed.details?.['earlierRequestId']).toBe(first.requestId);
    // No second forensics request was opened.
    expect(requestsIn('C0AUTO2')).toHaveLength(1);
  });

  it('a command whose policy lacks `auto: true` is not run: audited as refused, no request opened', async () => {
    const body = JSON.stringify({
      output: 'Shell spawned in a container',
      priority: 'Critical',
      rule: 'Terminal shell in container',
      time: '2025-01-01T00:00:00Z',
      hostname: 'test-host',
      output_fields: {},
    });
    expect((await post('falco', body, FALCO_TOKEN)).status).toBe(202);
    const alert = await waitUntil(
      () => topLevel('C0FALCO').find((m) => messageText(m).includes('Terminal shell in container')),
      'the falco alert message',
    );
    const refused = await waitUntil(async () => {
      const e = (await auditLog()).find((x) => x.type === 'alert.auto_run' && x.command === 'lockdown');
      return e;
    }, 'the refusal in the audit log');
    expect(refused).toMatchObject({ outcome: 'refused', hosts: ['test-host'] });
    expect(String(refused.details?.['why'])).toContain('not marked `auto: true`');

    // The alert's thread says why it did not run; no request message, no request stored, nothing executed.
    const note = await waitUntil(
      () => slack.messages('C0FALCO').find((m) => m.thread_ts === alert.ts),
      'the note in the alert thread',
    );
    expect(note.text).toContain('Not run automatically');
    expect(topLevel('C0FALCO').map((m) => m.ts)).toEqual([alert.ts]);
    expect(slack.messages().some((m) => /\*Requested by\* <@\w+>: `lockdown` on /.test(messageText(m)))).toBe(
      false,
    );
    const entries = await auditLog();
    expect(entries.some((e) => e.command === 'lockdown' && e.type.startsWith('approval.'))).toBe(false);
    expect(entries.some((e) => e.command === 'lockdown' && e.type.startsWith('execution.'))).toBe(false);
  });
});
