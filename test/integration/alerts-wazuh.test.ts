import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/*
 * Wazuh as a user connects it: ward started as a process with WARD_ALERT_TOKEN_WAZUH and a rule on `source: wazuh`;
 * the real Wazuh alert in test/fixtures posted to /alerts/wazuh as the custom-ward integration script posts it
 * (README); the fake Slack played through ward's real Slack client.
 */

const SECRET = 'test-signing-secret-0123456789';
const TOKEN = 'xoxb-1111-2222-wazuh';
const WAZUH_TOKEN = 'wazuh-token-0123';
const RULES = `rules:
  - name: wazuh
    match: { source: wazuh, labels.rule_groups: { contains: sshd } }
    route: { channel: C0WAZUH }
`;
const body = readFileSync(
  new URL('../fixtures/wazuh_alert_sshd_multiple_authentication_failures.json', import.meta.url),
  'utf8',
);

let slack: FakeSlack;
let ward: WardProcess;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ward-alerts-wazuh-'));
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  slack = await startFakeSlack({ botToken: TOKEN });
  // A loaded machine can take a while to start ward under tsx; the behaviour under test starts after that.
  ward = await startWardProcess(
    {
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.apiUrl,
      WARD_RULES: join(dir, 'rules.yaml'),
      WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
      WARD_ALERT_TOKEN_WAZUH: WAZUH_TOKEN,
    },
    { timeoutMs: 60_000 },
  );
  await ward.waitForLog((l) => l['msg'] === 'alert relay on', 60_000);
}, 120_000);

afterAll(async () => {
  await ward?.stop();
  await slack?.close();
});

function post(token?: string) {
  return fetch(`${ward.url}/alerts/wazuh`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body,
  });
}

/** `ward_alerts_total{source="wazuh",outcome}` as ward reports it now (0 before the first count). */
async function counted(outcome: 'accepted' | 'rejected'): Promise<number> {
  const metrics = await (await fetch(`${ward.url}/metrics`)).text();
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith(`ward_alerts_total{source="wazuh",outcome="${outcome}",`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// Tests run in a random order (vitest.config.ts): each compares counts before and after its own posts.
describe('Wazuh alerts posted to ward', () => {
  it('without the Wazuh token, or with a wrong one, are refused 401 and none is accepted', async () => {
    const before = { accepted: await counted('accepted'), rejected: await counted('rejected') };
    expect((await post()).status).toBe(401);
    expect((await post('wrong-token')).status).toBe(401);
    expect(await counted('rejected')).toBe(before.rejected + 2);
    expect(await counted('accepted')).toBe(before.accepted);
  });

  it('with the token, the real sample reaches the channel its rule names as one message', async () => {
    const before = await counted('accepted');
    const res = await post(WAZUH_TOKEN);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1 });
    expect(await counted('accepted')).toBe(before + 1);
    const deadline = Date.now() + 30_000;
    while (slack.messages('C0WAZUH').length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const [message, ...others] = slack.messages('C0WAZUH');
    expect(others).toEqual([]);
    const shown = `${message?.text ?? ''} ${JSON.stringify(message?.blocks ?? [])}`;
    expect(shown).toContain('sshd: Multiple authentication failures.');
    expect(shown).toContain('Centos');
    expect(shown).toContain('Failed password for root from 49.88.112.76');
  });
});
