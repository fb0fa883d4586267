import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHmac } from '../../src/alerts/auth.js';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * What an attacker on the alert webhooks tried (issue #12 items 5 and 6), against ward started as a process with a
 * real redis-server and the fake Slack: replaying a signed request, post-dating one, a rule regex with
 * catastrophic backtracking fed a hostile title, and a 100 KB title.
 */

const SECRET = 'test-signing-secret-0123456789';
const TOKEN = 'xoxb-1111-2222-hostile';
const GENERIC_TOKEN = 'generic-token-0123';
const HMAC_SECRET = 'generic-hmac-secret-0123';

// Single quotes: YAML keeps the backslashes for the regex.
const RULES = `rules:
  - name: words
    match: { title: { regex: '^(\\w+\\s?)*$' } }
    route: { channel: C0WORDS }
  - name: generic
    match: { source: generic }
    route: { channel: C0GENERIC }
`;

let dir: string;
let slack: FakeSlack;
let redis: RedisProcess;
let ward: WardProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ward-alerts-hostile-'));
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  slack = await startFakeSlack({ botToken: TOKEN });
  redis = await startRedis();
  ward = await startWardProcess({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_RULES: join(dir, 'rules.yaml'),
    WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
    WARD_ALERT_TOKEN_GENERIC: GENERIC_TOKEN,
    WARD_ALERT_HMAC_SECRET_GENERIC: HMAC_SECRET,
  });
  await ward.waitForLog((l) => l['msg'] === 'alert relay on');
}, 60_000);

afterAll(async () => {
  // A ward whose event loop is stuck (the regression these tests catch) cannot handle SIGTERM: kill it instead.
  const stopped = await Promise.race([
    ward?.stop(),
    new Promise((r) => setTimeout(() => r('stuck'), 10_000)),
  ]);
  if (stopped === 'stuck') await ward.kill();
  await slack?.close();
  await redis?.stop();
});

function postGeneric(body: string, headers: Record<string, string>) {
  return fetch(`${ward.url}/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

async function until(what: string, check: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const shown = (channel: string) =>
  slack
    .messages(channel)
    .map((m) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`)
    .join('\n');

describe('a captured signed request cannot be replayed', () => {
  it('the same HMAC-signed request sent twice: the second is refused 401 "replayed signature"', async () => {
    const body = JSON.stringify({ title: 'replay: me', severity: 'error' });
    const headers = signHmac(body, HMAC_SECRET, nowSeconds());
    expect((await postGeneric(body, headers)).status).toBe(202);
    const second = await postGeneric(body, headers);
    expect(second.status).toBe(401);
    expect(((await second.json()) as { error: string }).error).toContain('replayed signature');
    await until('the one alert in #generic', () => shown('C0GENERIC').includes('replay: me'));
    expect(slack.messages('C0GENERIC').filter((m) => m.text?.includes('replay: me'))).toHaveLength(1);
  });

  it('the window is ±5 minutes: 4 minutes ahead is accepted (once), 6 minutes ahead or behind is refused', async () => {
    const body = JSON.stringify({ title: 'post-dated', severity: 'info' });
    const fourAhead = signHmac(body, HMAC_SECRET, nowSeconds() + 240);
    expect((await postGeneric(body, fourAhead)).status).toBe(202);
    expect((await postGeneric(body, fourAhead)).status).toBe(401);
    for (const offset of [360, -360]) {
      const res = await postGeneric(body, signHmac(body, HMAC_SECRET, nowSeconds() + offset));
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toContain("from ward's clock");
    }
  });
});

describe('hostile alert text', () => {
  it('a catastrophic-backtracking rule fed a hostile 32-character title does not stall ward', async () => {
    const hostile = `${'a'.repeat(31)}!`;
    const alerts = [0, 1, 2].map((i) => ({ title: hostile, fingerprint: `hostile-${i}` }));
    const posted = await postGeneric(JSON.stringify({ alerts }), {
      authorization: `Bearer ${GENERIC_TOKEN}`,
    });
    expect(posted.status).toBe(202);
    // A deadline on the wait, not a speed figure: a backtracking engine blocked ward's event loop for minutes here.
    const health = await fetch(`${ward.url}/healthz`, { signal: AbortSignal.timeout(2000) });
    expect(health.status).toBe(200);
    // The regex rejected the hostile title (it did not match "words"), so the alerts went on to the generic rule.
    await until(
      'the 3 hostile alerts in #generic',
      () => slack.messages('C0GENERIC').filter((m) => m.text?.includes(hostile)).length === 3,
    );
    const again = await fetch(`${ward.url}/healthz`, { signal: AbortSignal.timeout(2000) });
    expect(again.status).toBe(200);
    expect(shown('C0WORDS')).not.toContain(hostile);
    const body = JSON.stringify({ title: 'two words' });
    expect((await postGeneric(body, { authorization: `Bearer ${GENERIC_TOKEN}` })).status).toBe(202);
    await until('a matching title in #words', () => shown('C0WORDS').includes('two words'));
  });

  it('a 100 KB title is accepted and reaches Slack cut to 300 characters with a marker', async () => {
    const title = `huge: ${'x'.repeat(100_000)}`;
    const res = await postGeneric(JSON.stringify({ title }), { authorization: `Bearer ${GENERIC_TOKEN}` });
    expect(res.status).toBe(202);
    await until('the huge alert in #generic', () => shown('C0GENERIC').includes('huge: xxx'));
    const call = slack.callsTo('chat.postMessage').find((c) => JSON.stringify(c.args).includes('huge: xxx'));
    const sent = JSON.stringify(call?.args);
    expect(sent).toContain('…[truncated]');
    expect(sent).not.toContain('x'.repeat(301));
    expect(sent.length).toBeLessThan(10_000);
  });
});
