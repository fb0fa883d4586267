import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { sendBlockAction, sendSlashCommand } from '../helpers/slack-requests.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * The alert relay as a user runs it: ward started as a process (tsx src/main.ts) with a rules file, an inventory
 * and a policy; a real redis-server; the fake Slack played through ward's real Slack client. Alerts are the real
 * samples in test/fixtures posted to ward's own /alerts/<source> with their tokens.
 *
 * SNS is not posted here: ward verifies SNS signatures against certificates it fetches from sns.<region>.amazonaws.com
 * and this machine has no network. test/integration/alerts-relay.test.ts covers SNS through the same routes with the
 * certificate fetch injected.
 */

const SECRET = 'test-signing-secret-0123456789';
const TOKEN = 'xoxb-1111-2222-alerts';
const TOKENS = {
  WARD_ALERT_TOKEN_ALERTMANAGER: 'am-token-0123',
  WARD_ALERT_TOKEN_GRAFANA: 'grafana-token-0123',
  WARD_ALERT_TOKEN_FALCO: 'falco-token-0123',
  WARD_ALERT_TOKEN_GENERIC: 'generic-token-0123',
};
const KEY = `SHA256:${'A'.repeat(43)}`;

const RULES = `defaults: { dedupeWindow: 30m, storm: { perMinute: 20 } }
rules:
  - name: falco
    match: { source: falco }
    route: { channel: C0SECOPS, mention: S0ONCALL }
    suggest: [forensics, lockdown]
  - name: prometheus
    match: { source: alertmanager }
    route: { channel: C0PROM }
    suggest: [forensics]
  - name: grafana
    match: { source: grafana }
    route: { channel: C0GRAFANA }
  - name: storm
    match: { labels.team: noisy }
    route: { channel: C0STORM }
    storm: { perMinute: 3 }
  - name: generic
    match: { source: generic }
    route: { channel: C0GENERIC }
    suggest: [forensics, lockdown]
`;

const INVENTORY = `management: { cidrs: [198.51.100.0/24] }
hosts:
  test-host: { address: 198.51.100.21, hostKey: "${KEY}" }
  web1:
    address: 198.51.100.11
    hostKey: "${KEY}"
    cloud: { provider: aws, region: us-east-1, instanceId: i-0abc12345def67890 }
`;

const POLICY = `roles:
  responder: [U0RESP1]
  admin: [U0ADMIN1]
`;

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

let dir: string;
let slack: FakeSlack;
let redis: RedisProcess;
let ward: WardProcess;

function wardEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_RULES: join(dir, 'rules.yaml'),
    WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
    WARD_INVENTORY: join(dir, 'inventory.yaml'),
    WARD_POLICY: join(dir, 'policy.yaml'),
    ...TOKENS,
    ...extra,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ward-alerts-e2e-'));
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  writeFileSync(join(dir, 'inventory.yaml'), INVENTORY);
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  slack = await startFakeSlack({ botToken: TOKEN });
  slack.addChannel({ id: 'C0SECOPS', name: 'secops' });
  slack.addChannel({ id: 'C0FALLBACK', name: 'alerts-fallback' });
  redis = await startRedis();
  ward = await startWardProcess(wardEnv());
  await ward.waitForLog((l) => l['msg'] === 'alert relay on');
}, 60_000);

afterAll(async () => {
  await ward?.stop();
  await slack?.close();
  await redis?.stop();
});

function post(w: WardProcess, source: string, body: string, token?: string) {
  return fetch(`${w.url}/alerts/${source}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body,
  });
}

/**
 * Waits until `count` messages (not ephemeral, not threaded) are in the channel; returns them. `besides`: messages
 * already there (tsIn) that are not counted nor returned.
 */
async function messagesIn(
  s: FakeSlack,
  channel: string,
  count: number,
  { besides = new Set<string>(), timeoutMs = 30_000 } = {},
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = s
      .messages(channel)
      .filter((m) => m.ephemeralFor === undefined && m.thread_ts === undefined && !besides.has(m.ts));
    if (found.length >= count) return found;
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} message(s) in ${channel}, found ${found.length}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until a top-level message in the channel shows `text`; returns it. Tests share one ward and one fake Slack,
 * so they find their own alert's message by what it says, never by position or count.
 */
async function messageShowing(s: FakeSlack, channel: string, text: string, timeoutMs = 30_000) {
  let found: FakeMessage | undefined;
  await until(
    `a message in ${channel} showing ${JSON.stringify(text)}`,
    () => {
      found = s
        .messages(channel)
        .find((m) => m.ephemeralFor === undefined && m.thread_ts === undefined && shown(m).includes(text));
      return found !== undefined;
    },
    timeoutMs,
  );
  return found!;
}

/** The messages in the channel now, by ts: a test's own new messages are those not in this set. */
function tsIn(s: FakeSlack, channel: string): Set<string> {
  return new Set(s.messages(channel).map((m) => m.ts));
}

/** The value of one ward_alerts_total series on /metrics (0 while absent). */
async function alertsTotal(source: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${ward.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`ward_alerts_total{source="${source}",outcome="${outcome}",app="ward"} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * The Falco sample (falcosidekick's test event, host test-host) posted and shown in #secops with its buttons.
 * Posting it again within the dedupe window counts a repeat on the same message, so any test may call this.
 */
async function falcoTestAlert(): Promise<FakeMessage> {
  const res = await post(
    ward,
    'falco',
    fixture('falco_alert_falcosidekick_test_input.json'),
    TOKENS.WARD_ALERT_TOKEN_FALCO,
  );
  expect(res.status).toBe(202);
  let message: FakeMessage | undefined;
  await until('the falcosidekick test alert with its buttons', () => {
    message = slack
      .messages('C0SECOPS')
      .find(
        (m) =>
          m.thread_ts === undefined &&
          shown(m).includes('This is a test from falcosidekick') &&
          buttons(m).length > 0,
      );
    return message !== undefined;
  });
  return message!;
}

/** Waits until the predicate holds for a channel's messages. */
async function until(what: string, check: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The suggested-action buttons (every firing alert also has an "Open incident" button: test/integration/incidents.test.ts). */
function buttons(message: FakeMessage): Array<{ action_id: string; value: string; text: string }> {
  const block = (message.blocks as Array<Record<string, unknown>> | undefined)?.find(
    (b) => b['type'] === 'actions',
  );
  return ((block?.['elements'] as Array<Record<string, unknown>> | undefined) ?? [])
    .filter((e) => String(e['action_id']).startsWith('alert.suggest.'))
    .map((e) => ({
      action_id: e['action_id'] as string,
      value: e['value'] as string,
      text: (e['text'] as { text: string }).text,
    }));
}

/** Signals ward's node process (startWardProcess runs `node --import tsx src/main.ts`: the child is ward). */
function signalWard(w: WardProcess, signal: NodeJS.Signals): void {
  w.child.kill(signal);
}

/** The audit log as ward wrote it, oldest first. */
async function auditLog() {
  const store = new RedisStore(redis.url);
  await store.connect();
  return readAuditEvents(store).finally(() => store.close());
}

const shown = (m: FakeMessage) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`;

describe('real samples posted to ward reach the right channel as one message each', () => {
  it('Falco (falcosidekick sample) reaches #secops with a mention and buttons for the inventory host', async () => {
    const res = await post(
      ward,
      'falco',
      fixture('falco_alert_falcosidekick_test_input.json'),
      TOKENS.WARD_ALERT_TOKEN_FALCO,
    );
    expect(res.status).toBe(202);
    const message = await messageShowing(slack, 'C0SECOPS', 'This is a test from falcosidekick');
    expect(message.text).toContain('<!subteam^S0ONCALL>');
    expect(buttons(message).map((b) => [b.action_id, b.text, JSON.parse(b.value).host])).toEqual([
      ['alert.suggest.forensics', 'forensics test-host', 'test-host'],
      ['alert.suggest.lockdown', 'lockdown test-host', 'test-host'],
    ]);
  });

  it('Falco for a host not in the inventory gets no buttons, and the message says why', async () => {
    expect(
      (
        await post(
          ward,
          'falco',
          fixture('falco_alert_write_below_binary_dir.json'),
          TOKENS.WARD_ALERT_TOKEN_FALCO,
        )
      ).status,
    ).toBe(202);
    const message = await messageShowing(slack, 'C0SECOPS', 'Write below binary dir');
    expect(buttons(message)).toEqual([]);
    expect(shown(message)).toContain("host `localhost` is not in ward's inventory");
  });

  it('Alertmanager (captured v4 sample, 3 alerts) makes 3 messages in #prom, only with the right token', async () => {
    const body = fixture('alertmanager_webhook_v4_firing_captured.json');
    // Other tests post to the same ward and #prom: this one looks at what changed from here on.
    const earlier = tsIn(slack, 'C0PROM');
    const counted = {
      rejected: await alertsTotal('alertmanager', 'rejected'),
      accepted: await alertsTotal('alertmanager', 'accepted'),
    };
    const auditedBefore = (await auditLog()).length;
    expect((await post(ward, 'alertmanager', body)).status).toBe(401);
    expect((await post(ward, 'alertmanager', body, TOKENS.WARD_ALERT_TOKEN_FALCO)).status).toBe(401);
    const res = await post(ward, 'alertmanager', body, TOKENS.WARD_ALERT_TOKEN_ALERTMANAGER);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 3 });
    const messages = await messagesIn(slack, 'C0PROM', 3, { besides: earlier });
    expect(messages).toHaveLength(3);
    for (const ip of ['172.29.254.30', '172.29.254.50', '172.29.254.66']) {
      expect(messages.filter((m) => shown(m).includes(ip))).toHaveLength(1);
    }
    // Counted for operators: the two refused posts and the three accepted alerts; each accepted alert audited.
    expect((await alertsTotal('alertmanager', 'rejected')) - counted.rejected).toBe(2);
    expect((await alertsTotal('alertmanager', 'accepted')) - counted.accepted).toBe(3);
    const accepted = (await auditLog())
      .slice(auditedBefore)
      .filter((e) => e.type === 'alert.accepted' && e.details?.['source'] === 'alertmanager');
    expect(accepted).toHaveLength(3);
    expect(new Set(accepted.map((e) => e.details?.['fingerprint'])).size).toBe(3);
  });

  it('Grafana (docs sample, 2 alerts) makes 2 messages in #grafana', async () => {
    const res = await post(
      ward,
      'grafana',
      fixture('grafana_alerting_webhook_docs_example.json'),
      TOKENS.WARD_ALERT_TOKEN_GRAFANA,
    );
    expect(res.status).toBe(202);
    const messages = await messagesIn(slack, 'C0GRAFANA', 2);
    expect(messages.map((m) => m.text).sort()).toEqual([
      expect.stringContaining('High CPU usage'),
      expect.stringContaining('High memory usage'),
    ]);
  });

  it('generic alerts naming an EC2 instance id or an address get buttons for the inventory host', async () => {
    const body = JSON.stringify({
      alerts: [
        { title: 'GuardDuty-style finding', host: 'i-0abc12345def67890', severity: 'critical' },
        { title: 'Outbound scan from address', host: '198.51.100.11', severity: 'error' },
      ],
    });
    expect((await post(ward, 'generic', body, TOKENS.WARD_ALERT_TOKEN_GENERIC)).status).toBe(202);
    // #generic also holds other tests' alerts: these two are found by their titles.
    for (const title of ['GuardDuty-style finding', 'Outbound scan from address']) {
      const m = await messageShowing(slack, 'C0GENERIC', title);
      expect(buttons(m).map((b) => b.text)).toEqual(['forensics web1', 'lockdown web1']);
    }
  });
});

describe('suggested buttons open a ward request as the person who clicked', () => {
  it('a responder clicking "forensics test-host" dispatches forensics for test-host as that user', async () => {
    const message = await falcoTestAlert();
    const button = buttons(message).find((b) => b.action_id === 'alert.suggest.forensics')!;
    const responseUrl = slack.newResponseUrl({
      channel: 'C0SECOPS',
      user: 'U0RESP1',
      messageTs: message.ts,
    });
    const clickedAt = Date.now();
    const res = await sendBlockAction(`${ward.url}/slack/events`, SECRET, {
      user_id: 'U0RESP1',
      action_id: button.action_id,
      value: button.value,
      channel_id: 'C0SECOPS',
      message_ts: message.ts,
      response_url: responseUrl,
    });
    expect(res.status).toBe(200);
    // Logged after this click (another test clicks a forensics button as the same user).
    const opened = await ward.waitForLog(
      (l) =>
        l['msg'] === 'alert button: opening a request' &&
        l['user'] === 'U0RESP1' &&
        Number(l['time']) >= clickedAt,
    );
    expect(opened).toMatchObject({ command: 'forensics', host: 'test-host' });
    // The normal path: the dispatcher accepted `forensics` for this user (roles checked), then the gate answered.
    await ward.waitForLog(
      (l) =>
        l['msg'] === 'command accepted' &&
        l['command'] === 'forensics' &&
        l['user'] === 'U0RESP1' &&
        Number(l['time']) >= clickedAt,
    );
    // The gate takes it from there like a typed command: forensics needs no approval, so its request message is
    // posted in the alert's thread (the run itself fails at SSH: test-host is not a real server).
    const started = await slack.waitForCall(
      'chat.postMessage',
      (c) =>
        c.at >= clickedAt &&
        c.args['channel'] === 'C0SECOPS' &&
        JSON.stringify(c.args).includes('test-host') &&
        /forensics/i.test(String(c.args['text'])),
    );
    expect(JSON.stringify(started.args)).toContain('U0RESP1');
    expect(started.args['thread_ts']).toBe(message!.ts);
    // Nothing the request produced went top-level in the channel after the click.
    expect(
      slack.calls.filter(
        (c) =>
          c.method === 'chat.postMessage' &&
          c.at >= clickedAt &&
          c.args['channel'] === 'C0SECOPS' &&
          c.args['thread_ts'] === undefined,
      ),
    ).toEqual([]);
    // The alert itself says what was asked of it.
    await until('the alert notes the request', () =>
      shown(slack.messages('C0SECOPS').find((m) => m.ts === message!.ts)!).includes(
        '→ forensics requested by <@U0RESP1>',
      ),
    );
  });

  it('someone without the role is refused exactly as if they had typed the command', async () => {
    const message = await falcoTestAlert();
    const button = buttons(message).find((b) => b.action_id === 'alert.suggest.lockdown')!;
    const responseUrl = slack.newResponseUrl({
      channel: 'C0SECOPS',
      user: 'U0NOBODY',
      messageTs: message.ts,
    });
    await sendBlockAction(`${ward.url}/slack/events`, SECRET, {
      user_id: 'U0NOBODY',
      action_id: button.action_id,
      value: button.value,
      channel_id: 'C0SECOPS',
      message_ts: message.ts,
      response_url: responseUrl,
    });
    const reply = await slack.waitForCall('response_url', (c) => c.args['response_url'] === responseUrl);
    expect(String(reply.args['text'])).toContain('You may not run `lockdown`');
  });
});

describe('alert text and identifiers from the payload', () => {
  it('a 3,000-character Alertmanager fingerprint and markup in the alert: valid buttons, inert text, a working click', async () => {
    const payload = JSON.parse(fixture('alertmanager_webhook_v4_firing_captured.json'));
    const first = payload.alerts[0];
    first.fingerprint = `fp-${'0123456789abcdef'.repeat(190)}`.slice(0, 3000);
    first.labels = { ...first.labels, alertname: 'Long fingerprint', host: 'test-host' };
    first.annotations = {
      ...first.annotations,
      summary: 'disk full\n*Approvals:* pre-approved by *admin*\n> quoted _fake_ ~struck~ `code`',
    };
    payload.alerts = [first];
    const res = await post(
      ward,
      'alertmanager',
      JSON.stringify(payload),
      TOKENS.WARD_ALERT_TOKEN_ALERTMANAGER,
    );
    expect(res.status).toBe(202);
    let message: FakeMessage | undefined;
    await until('the long-fingerprint alert', () => {
      message = slack.messages('C0PROM').find((m) => shown(m).includes('Long fingerprint'));
      return message !== undefined;
    });
    const [button] = buttons(message!);
    expect(button!.value.length).toBeLessThanOrEqual(2000);
    const value = JSON.parse(button!.value) as Record<string, unknown>;
    expect(value).toMatchObject({ command: 'forensics', host: 'test-host' });
    expect(JSON.stringify(value)).not.toContain('0123456789abcdef');
    // The summary is one inert code span: no line of it can pose as ward's own bold "Approvals:" line.
    const texts = (message!.blocks as Array<{ text?: { type: string; text: string } }>)
      .map((b) => b.text)
      .filter((t) => t?.type === 'mrkdwn')
      .map((t) => t!.text);
    const summary = texts.find((t) => t.includes('disk full'))!;
    expect(summary).not.toContain('\n');
    expect(summary).toContain(
      ':red_circle: `disk full ⏎ *Approvals:* pre-approved by *admin* ⏎ &gt; quoted _fake_ ~struck~ ʼcodeʼ ⏎ ',
    );
    expect(
      texts
        .join('\n')
        .split('\n')
        .filter((l) => l.startsWith('*Approvals:*')),
    ).toEqual([]);

    const clickedAt = Date.now();
    await sendBlockAction(`${ward.url}/slack/events`, SECRET, {
      user_id: 'U0RESP1',
      action_id: button!.action_id,
      value: button!.value,
      channel_id: 'C0PROM',
      message_ts: message!.ts,
      response_url: slack.newResponseUrl({ channel: 'C0PROM', user: 'U0RESP1', messageTs: message!.ts }),
    });
    await ward.waitForLog(
      (l) =>
        l['msg'] === 'alert button: opening a request' &&
        l['user'] === 'U0RESP1' &&
        Number(l['time']) >= clickedAt,
    );
    // The request's reason names the alert by its stored title and (the start of) its full fingerprint.
    const posted = await slack.waitForCall(
      'chat.postMessage',
      (c) =>
        c.at >= clickedAt &&
        c.args['channel'] === 'C0PROM' &&
        JSON.stringify(c.args).includes('Long fingerprint'),
    );
    expect(JSON.stringify(posted.args)).toContain('fp-0123456789abcdef0123456789abcdef');
  });
});

describe('rules reload', () => {
  async function ask(text: string, user = 'U0ADMIN1') {
    const responseUrl = slack.newResponseUrl();
    await sendSlashCommand(`${ward.url}/slack/events`, SECRET, {
      text,
      user_id: user,
      response_url: responseUrl,
    });
    const reply = await slack.waitForCall('response_url', (c) => c.args['response_url'] === responseUrl);
    return reply.args as { text: string };
  }

  it('/ward rules shows the rules in use (admins only), channels by name where Slack knows them', async () => {
    const reply = await ask('rules');
    expect(reply.text).toContain('falco: source equals "falco"');
    // C0SECOPS is a channel of the workspace (conversations.info names it); C0PROM is unknown to Slack: its id stays.
    expect(reply.text).toContain('→ #secops (mention S0ONCALL)');
    expect(reply.text).toContain('→ C0PROM;');
    const blocks = JSON.stringify((reply as { blocks?: unknown }).blocks);
    expect(blocks).toContain('<#C0SECOPS|secops>');
    expect(blocks).toContain('<#C0FALLBACK|alerts-fallback>');
    expect(blocks).toContain('`C0PROM`');
    expect(slack.callsTo('conversations.info').some((c) => c.args['channel'] === 'C0SECOPS')).toBe(true);
    expect((await ask('rules', 'U0RESP1')).text).toContain('You may not run `rules`');
  });

  it('keeps the old rules on invalid input, says why with line numbers; SIGHUP applies a valid file', async () => {
    let restored: { text: string } | undefined;
    try {
      await badReloadThenSighup();
    } finally {
      // The other tests use the rules file of beforeAll: put it back even when this test failed half-way.
      writeFileSync(join(dir, 'rules.yaml'), RULES);
      restored = await ask('rules reload');
    }
    expect(restored.text).toContain('Reloaded 5 alert rule(s)');
  });

  async function badReloadThenSighup() {
    writeFileSync(
      join(dir, 'rules.yaml'),
      `rules:\n  - name: broken\n    match: {}\n    route: { channel: "#general" }\n`,
    );
    const reply = await ask('rules reload');
    expect(reply.text).toContain('Rules not reloaded');
    expect(reply.text).toMatch(/line 4: rules\.0\.route\.channel/);
    // Still the old rules: a generic alert still goes to #generic.
    const body = JSON.stringify({ title: 'after a bad reload', severity: 'info' });
    expect((await post(ward, 'generic', body, TOKENS.WARD_ALERT_TOKEN_GENERIC)).status).toBe(202);
    await until('the alert in #generic', () =>
      slack.messages('C0GENERIC').some((m) => shown(m).includes('after a bad reload')),
    );

    const sighupRules = `rules:\n  - name: all\n    match: {}\n    route: { channel: C0NEWRULES }\n`;
    writeFileSync(join(dir, 'rules.yaml'), sighupRules);
    signalWard(ward, 'SIGHUP');
    await ward.waitForLog((l) => l['msg'] === 'alert rules reloaded');
    await ward.waitForLog((l) => l['msg'] === 'inventory reloaded');
    // SIGHUP reloads both files; each reload is audited with the sha256 of what is now in force.
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const reloadOf = async (what: string) =>
      (await auditLog()).find(
        (e) =>
          e.type === 'config.reload' &&
          e.details?.['what'] === what &&
          (what === 'inventory' || e.details?.['trigger'] === 'SIGHUP'),
      );
    let rulesReload = await reloadOf('alert rules');
    let inventoryReload = await reloadOf('inventory');
    for (let i = 0; i < 200 && !(rulesReload && inventoryReload); i++) {
      await new Promise((r) => setTimeout(r, 50));
      rulesReload = await reloadOf('alert rules');
      inventoryReload = await reloadOf('inventory');
    }
    expect(rulesReload?.details?.['sha256']).toBe(sha(sighupRules));
    expect(inventoryReload?.outcome).toBe('reloaded');
    expect(inventoryReload?.details?.['sha256']).toBe(sha(INVENTORY));
    const next = JSON.stringify({ title: 'after SIGHUP', severity: 'info' });
    expect((await post(ward, 'generic', next, TOKENS.WARD_ALERT_TOKEN_GENERIC)).status).toBe(202);
    await messagesIn(slack, 'C0NEWRULES', 1);
  }
});

describe('storms, rate limits and restarts', () => {
  it('a storm makes few messages that together show every alert', async () => {
    const fingerprints = Array.from({ length: 30 }, (_, i) => `storm-${i}`);
    // Every fingerprint twice, in two requests.
    for (let round = 0; round < 2; round++) {
      const alerts = fingerprints.map((fp) => ({
        title: `noisy ${fp}`,
        fingerprint: fp,
        labels: { team: 'noisy' },
      }));
      expect(
        (await post(ward, 'generic', JSON.stringify({ alerts }), TOKENS.WARD_ALERT_TOKEN_GENERIC)).status,
      ).toBe(202);
    }
    await until('every storm alert visible in #storm', () => {
      const text = slack.messages('C0STORM').map(shown).join('\n');
      return fingerprints.every((fp) => text.includes(fp));
    });
    const messages = slack.messages('C0STORM');
    // 3 alone, then the rest rolled up (40 per summary); a minute boundary during the test can add a few more.
    expect(messages.length).toBeLessThanOrEqual(10);
    expect(messages.length).toBeGreaterThanOrEqual(4);
    // Repeats were counted on the messages, not posted again.
    expect(slack.callsTo('chat.postMessage').filter((c) => c.args['channel'] === 'C0STORM').length).toBe(
      messages.length,
    );
  });

  it('honours a 429 from Slack and still delivers the alert once', async () => {
    slack.rateLimit('chat.postMessage', 2, 1);
    const body = fixture('alertmanager_webhook_v4_prometheus_msteams_fixture.json');
    expect((await post(ward, 'alertmanager', body, TOKENS.WARD_ALERT_TOKEN_ALERTMANAGER)).status).toBe(202);
    await until('the high_memory_load message', () =>
      slack.messages('C0PROM').some((m) => shown(m).includes('high_memory_load')),
    );
    expect(slack.calls.filter((c) => c.rateLimited).length).toBeGreaterThanOrEqual(2);
    expect(slack.messages('C0PROM').filter((m) => shown(m).includes('high_memory_load'))).toHaveLength(1);
  });

  it('loses no alert when ward is killed while Slack is failing, and restarts', async () => {
    // Its own Redis database and Slack: the queue and the drainer lock are not shared with the ward above.
    const failing = await startFakeSlack({ botToken: TOKEN });
    const port = Number(new URL(failing.url).port);
    failing.failNext('chat.postMessage', 500, 100_000);
    const env = wardEnv({ SLACK_API_URL: failing.apiUrl, REDIS_URL: `${redis.url}/3` });
    const first = await startWardProcess(env);
    const titles = ['restart-a', 'restart-b', 'restart-c', 'restart-d'];
    for (const title of titles) {
      const res = await post(
        first,
        'generic',
        JSON.stringify({ title, severity: 'error' }),
        TOKENS.WARD_ALERT_TOKEN_GENERIC,
      );
      expect(res.status).toBe(202);
    }
    // ward tried and Slack failed…
    await failing.waitForCall('chat.postMessage', (c) => c.error === 'http_500');
    // …then ward crashes, and Slack comes back.
    signalWard(first, 'SIGKILL');
    await first.kill();
    await failing.close();
    const healthy = await startFakeSlack({ botToken: TOKEN, port });
    try {
      const second = await startWardProcess(env);
      try {
        await until(
          'every alert after the restart',
          () => titles.every((t) => healthy.messages('C0GENERIC').some((m) => shown(m).includes(t))),
          60_000,
        );
        for (const t of titles) {
          expect(healthy.messages('C0GENERIC').filter((m) => shown(m).includes(t))).toHaveLength(1);
        }
      } finally {
        await second.stop();
      }
    } finally {
      await healthy.close();
    }
  }, 90_000);
});
