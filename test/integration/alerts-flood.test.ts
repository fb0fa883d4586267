import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { alertQueueKey, alertUrgentQueueKey } from '../../src/alerts/queue.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * Alert floods (issue #12, item 3), as an attacker holding one alert token would cause them: ward started as a
 * process, a real redis-server, the fake Slack. Each ward here has its own Redis database and its own limits.
 */

const SECRET = 'test-signing-secret-0123456789';
const TOKEN = 'xoxb-1111-2222-flood';
const TOKENS = {
  WARD_ALERT_TOKEN_ALERTMANAGER: 'am-token-0123',
  WARD_ALERT_TOKEN_FALCO: 'falco-token-0123',
  WARD_ALERT_TOKEN_GENERIC: 'generic-token-0123',
};
const KEY = `SHA256:${'A'.repeat(43)}`;

const RULES = `defaults: { dedupeWindow: 30m, storm: { perMinute: 20 } }
rules:
  - name: flood
    match: { source: generic }
    route: { channel: C0FLOOD }
    suggest: [forensics, lockdown]
  - name: falco
    match: { source: falco }
    route: { channel: C0SECOPS }
  - name: prometheus
    match: { source: alertmanager }
    route: { channel: C0PROM }
`;

const INVENTORY = `management: { cidrs: [198.51.100.0/24] }
hosts:
  web1: { address: 198.51.100.11, hostKey: "${KEY}" }
`;

const POLICY = `roles:
  responder: [U0RESP1]
  admin: [U0ADMIN1]
`;

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

let dir: string;
let redis: RedisProcess;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ward-alerts-flood-'));
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  writeFileSync(join(dir, 'inventory.yaml'), INVENTORY);
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fake Slack and a ward on Redis database `db`, with `limits` on top of the test defaults. */
async function startWard(
  db: number,
  limits: Record<string, string>,
): Promise<{ ward: WardProcess; slack: FakeSlack; store: RedisStore }> {
  const slack = await startFakeSlack({ botToken: TOKEN });
  cleanups.push(() => slack.close());
  const ward = await startWardProcess(
    {
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: `${redis.url}/${db}`,
      WARD_RULES: join(dir, 'rules.yaml'),
      WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
      WARD_INVENTORY: join(dir, 'inventory.yaml'),
      WARD_POLICY: join(dir, 'policy.yaml'),
      LOG_LEVEL: 'info',
      ...TOKENS,
      ...limits,
    },
    { timeoutMs: 60_000 },
  );
  cleanups.push(() => ward.stop());
  await ward.waitForLog((l) => l['msg'] === 'alert relay on', 30_000);
  const store = new RedisStore(`${redis.url}/${db}`);
  await store.connect();
  cleanups.push(() => store.close());
  return { ward, slack, store };
}

function post(w: WardProcess, source: keyof typeof sourceTokens, body: unknown) {
  return fetch(`${w.url}/alerts/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sourceTokens[source]}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
const sourceTokens = {
  alertmanager: TOKENS.WARD_ALERT_TOKEN_ALERTMANAGER,
  falco: TOKENS.WARD_ALERT_TOKEN_FALCO,
  generic: TOKENS.WARD_ALERT_TOKEN_GENERIC,
};

const warning = (title: string) => ({ title, fingerprint: title, severity: 'warning', host: 'noisy-1' });

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function buttons(message: FakeMessage): string[] {
  const block = (message.blocks as Array<Record<string, unknown>> | undefined)?.find(
    (b) => b['type'] === 'actions',
  );
  // Suggested actions only (every firing alert also has an "Open incident" button).
  return ((block?.['elements'] as Array<Record<string, unknown>> | undefined) ?? [])
    .filter((e) => String(e['action_id']).startsWith('alert.suggest.'))
    .map((e) => (e['text'] as { text: string }).text);
}

const shown = (m: FakeMessage) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`;

/** Titles of the alerts waiting in both queue lanes. */
async function queuedTitles(store: RedisStore): Promise<string[]> {
  const entries = [
    ...(await store.listRange(alertUrgentQueueKey, 0, -1)),
    ...(await store.listRange(alertQueueKey, 0, -1)),
  ];
  return entries.map((e) => (JSON.parse(e) as { alert: { title: string } }).alert.title);
}

describe('one source floods ward with warnings (limits high enough to accept them all)', () => {
  let ward: WardProcess;
  let slack: FakeSlack;
  let store: RedisStore;

  beforeAll(async () => {
    ({ ward, slack, store } = await startWard(1, { WARD_ALERT_RATE_PER_SOURCE: '100000' }));
  }, 90_000);

  it('the audit log keeps a digest of an accepted alert (sha256 and size), not its payload', async () => {
    const text = fixture('falco_alert_write_below_binary_dir.json');
    expect((await post(ward, 'falco', text)).status).toBe(202);
    const payload = JSON.stringify(JSON.parse(text));
    let entry: Awaited<ReturnType<typeof readAuditEvents>>[number] | undefined;
    await until('the audit entry', async () => {
      entry = (await readAuditEvents(store)).find(
        (e) => e.type === 'alert.accepted' && e.details?.['source'] === 'falco',
      );
      return entry !== undefined;
    });
    expect(entry!.details).toMatchObject({
      source: 'falco',
      fingerprint: expect.any(String),
      payload: {
        sha256: createHash('sha256').update(payload).digest('hex'),
        bytes: Buffer.byteLength(payload),
      },
    });
    expect(entry!.details).not.toHaveProperty('raw');
    // Nothing of the payload itself: Falco's output line is not in the entry.
    const output = (JSON.parse(text) as { output: string }).output;
    expect(JSON.stringify(entry)).not.toContain(output.slice(0, 40));
  });

  it('5,000 warnings, then one critical: the critical is posted alone with its buttons within 5 s, and no warning is lost', async () => {
    const titles = Array.from({ length: 5000 }, (_, i) => `flood-w${String(i).padStart(4, '0')}`);
    const accepted: string[] = [];
    for (let i = 0; i < titles.length; i += 100) {
      const batch = titles.slice(i, i + 100);
      const res = await post(ward, 'generic', { alerts: batch.map(warning) });
      expect(res.status).toBe(202);
      accepted.push(...batch);
    }
    // The warnings are still being worked through when the critical arrives.
    expect((await queuedTitles(store)).length).toBeGreaterThan(1000);

    const sentAt = Date.now();
    const res = await post(ward, 'generic', {
      title: 'flood-CRITICAL root shell on web1',
      fingerprint: 'flood-critical',
      severity: 'critical',
      host: '198.51.100.11',
    });
    expect(res.status).toBe(202);
    let critical: FakeMessage | undefined;
    await until(
      'the critical alert in #flood',
      () => {
        critical = slack.messages('C0FLOOD').find((m) => shown(m).includes('flood-CRITICAL'));
        return critical !== undefined && buttons(critical).length > 0;
      },
      Math.max(0, sentAt + 5_000 - Date.now()),
    );
    // Alone: a message of its own with its buttons, not a line in a storm summary.
    expect(buttons(critical!)).toEqual(['forensics web1', 'lockdown web1']);
    expect(shown(critical!)).not.toContain('flood-w');
    expect(slack.messages('C0FLOOD').filter((m) => shown(m).includes('flood-CRITICAL'))).toHaveLength(1);

    // Nothing accepted is lost: every warning is in Slack or still queued (read the queue first: an entry leaves it
    // only once Slack shows it).
    const queued = new Set(await queuedTitles(store));
    const visible = slack.messages('C0FLOOD').map(shown).join('\n');
    const missing = accepted.filter((t) => !queued.has(t) && !visible.includes(t));
    expect(missing).toEqual([]);
  }, 240_000);
});

describe('one request with too many alerts', () => {
  it('a body with more alerts than WARD_ALERT_MAX_PER_REQUEST is refused with 413 naming the field and limit', async () => {
    // A ward of its own: the queue must be empty to show that nothing of the refused body was recorded.
    const { ward, store } = await startWard(5, { WARD_ALERT_RATE_PER_SOURCE: '100000' });
    const sample = JSON.parse(fixture('alertmanager_webhook_v4_firing_captured.json')) as {
      alerts: Array<{ labels: Record<string, string> }>;
    };
    const alerts = Array.from({ length: 501 }, (_, i) => ({
      ...sample.alerts[0]!,
      labels: { ...sample.alerts[0]!.labels, instance: `10.1.${Math.floor(i / 250)}.${i % 250}` },
    }));
    const res = await post(ward, 'alertmanager', { ...sample, alerts });
    expect(res.status).toBe(413);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ field: 'alerts', limit: 500 });
    expect(String(body['error'])).toContain('WARD_ALERT_MAX_PER_REQUEST');
    expect(await queuedTitles(store)).toEqual([]);
    // 500 is still fine.
    expect((await post(ward, 'alertmanager', { ...sample, alerts: alerts.slice(0, 500) })).status).toBe(202);
  }, 90_000);
});

describe('a full queue', () => {
  it('answers 429 with Retry-After and records nothing; the last places are kept for critical alerts', async () => {
    const { ward, slack, store } = await startWard(2, { WARD_ALERT_QUEUE_MAX: '10' });
    // Slack is down: nothing leaves the queue.
    slack.failNext('chat.postMessage', 500, 1_000_000);
    const nine = Array.from({ length: 9 }, (_, i) => warning(`full-w${i}`));
    expect((await post(ward, 'generic', { alerts: nine })).status).toBe(202);

    const refused = await post(ward, 'generic', warning('full-w9'));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ limit: 10 });

    // The tenth place is a critical alert's; after it, critical alerts are refused too.
    const critical = (title: string) => ({ title, severity: 'critical', host: 'web1' });
    expect((await post(ward, 'generic', critical('full-c0'))).status).toBe(202);
    const refusedCritical = await post(ward, 'generic', critical('full-c1'));
    expect(refusedCritical.status).toBe(429);
    expect(refusedCritical.headers.get('retry-after')).not.toBeNull();

    // Exactly what was answered 2xx is queued: nothing refused slipped in, nothing accepted was dropped.
    expect((await queuedTitles(store)).sort()).toEqual([...nine.map((a) => a.title), 'full-c0'].sort());
  }, 90_000);
});

describe('per-source rate limit', () => {
  it('a source over WARD_ALERT_RATE_PER_SOURCE gets 429 with Retry-After; its critical alerts and other sources still pass', async () => {
    const { ward, store } = await startWard(3, {
      WARD_ALERT_RATE_PER_SOURCE: '5',
      WARD_ALERT_MAX_PER_REQUEST: '5',
    });
    const five = Array.from({ length: 5 }, (_, i) => warning(`rate-w${i}`));
    expect((await post(ward, 'generic', { alerts: five })).status).toBe(202);

    const refused = await post(ward, 'generic', warning('rate-w5'));
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await refused.json()).toMatchObject({ limit: 5 });

    // Warnings used up the source's budget, not its critical alerts' budget; falco has its own.
    expect(
      (await post(ward, 'generic', { title: 'rate-critical', severity: 'critical', host: 'web1' })).status,
    ).toBe(202);
    expect((await post(ward, 'falco', fixture('falco_alert_write_below_binary_dir.json'))).status).toBe(202);
    const accepted = (await readAuditEvents(store)).filter((e) => e.type === 'alert.accepted');
    expect(accepted.map((e) => e.details?.['fingerprint'])).not.toContain('rate-w5');
    expect(accepted).toHaveLength(7);
  }, 90_000);
});

describe('per-host rate limit', () => {
  it("a host's warnings beyond WARD_ALERT_RATE_PER_HOST are accepted and listed in the storm summary; its critical alert is not", async () => {
    const { ward, slack } = await startWard(4, { WARD_ALERT_RATE_PER_HOST: '2' });
    const four = Array.from({ length: 4 }, (_, i) => ({ ...warning(`host-w${i}`), host: 'noisy-2' }));
    expect((await post(ward, 'generic', { alerts: four })).status).toBe(202);
    expect(
      (await post(ward, 'generic', { title: 'host-critical', severity: 'critical', host: 'noisy-2' })).status,
    ).toBe(202);
    const storm = () => slack.messages('C0FLOOD').filter((m) => shown(m).includes('Alert storm'));
    await until('both warnings over the limit in the summary', () =>
      storm().some((m) => shown(m).includes('host-w2') && shown(m).includes('host-w3')),
    );
    await until(
      'the first two warnings and the critical alone',
      () => slack.messages('C0FLOOD').length === 4,
    );
    const alone = slack.messages('C0FLOOD').filter((m) => !shown(m).includes('Alert storm'));
    expect(alone.map((m) => m.text).sort()).toEqual([
      expect.stringContaining('host-critical'),
      expect.stringContaining('host-w0'),
      expect.stringContaining('host-w1'),
    ]);
    expect(storm().map(shown).join('\n')).not.toContain('host-critical');
  }, 90_000);
});
