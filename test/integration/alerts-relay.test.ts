import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { SlackChat } from '../../src/adapters/slack/slack-chat.js';
import { signHmac } from '../../src/alerts/auth.js';
import { registerAlertRoutes } from '../../src/alerts/http.js';
import { ChannelPacer } from '../../src/alerts/pacer.js';
import { AlertRelay } from '../../src/alerts/relay.js';
import { loadRules } from '../../src/alerts/rules.js';
import { parseSnsEnvelope, snsStringToSign } from '../../src/alerts/sources/sns.js';
import { HttpRoutes, listen } from '../../src/http/server.js';

/*
 * The relay end to end on loopback: a real redis-server started here, ward's HTTP routes on a free port, the real
 * @slack/web-api client talking to a fake Slack that records every call. Nothing inside ward is mocked.
 */

const log = pino({ level: 'silent' });
const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- redis-server ----------------------------------------------------------------------------------------------
let redis: ChildProcess;
let redisUrl: string;
let redisDir: string;

// ---- fake Slack ------------------------------------------------------------------------------------------------
interface SlackCall {
  method: 'chat.postMessage' | 'chat.update';
  channel: string;
  ts: string;
  text: string;
  blocks: Array<Record<string, unknown>>;
}
let slack: Server;
let slackUrl: string;
let slackCalls: SlackCall[] = [];
let rateLimitNext = 0;
/** Channels whose next call fails once with a transient Slack error. */
const failOnceIn = new Set<string>();
let rateLimited = 0;
let nextTs = 1;

function startFakeSlack(): Promise<void> {
  slack = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] as SlackCall['method'];
      const params =
        req.headers['content-type']?.includes('json') === true
          ? (JSON.parse(body) as Record<string, string>)
          : Object.fromEntries(new URLSearchParams(body));
      if (failOnceIn.delete(params['channel'] ?? '')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'internal_error' }));
        return;
      }
      // A channel Slack no longer knows: a permanent error, answered the way Slack does (HTTP 200, ok false).
      if (params['channel'] === 'C0GONE') {
        slackCalls.push({ method, channel: 'C0GONE', ts: '', text: params['text'] ?? '', blocks: [] });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'channel_not_found' }));
        return;
      }
      if (rateLimitNext > 0) {
        rateLimitNext--;
        rateLimited++;
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
        return;
      }
      const ts =
        method === 'chat.postMessage' ? `1714564800.${String(nextTs++).padStart(6, '0')}` : params['ts'];
      const blocks =
        typeof params['blocks'] === 'string' ? JSON.parse(params['blocks']) : (params['blocks'] ?? []);
      slackCalls.push({
        method,
        channel: params['channel'] ?? '',
        ts: ts ?? '',
        text: params['text'] ?? '',
        blocks,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, channel: params['channel'], ts }));
    });
  });
  return new Promise((r) =>
    slack.listen(0, '127.0.0.1', () => {
      slackUrl = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/api/`;
      r();
    }),
  );
}

// ---- SNS signing material --------------------------------------------------------------------------------------
let snsKey: string;
let snsCert: string;
const certUrl = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem';
const topic = 'arn:aws:sns:us-east-1:123456789012:MyTopic';

beforeAll(async () => {
  redisDir = mkdtempSync(join(tmpdir(), 'ward-alerts-'));
  const port = await freePort();
  redisUrl = `redis://127.0.0.1:${port}`;
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', redisDir],
    {
      stdio: 'ignore',
    },
  );
  await waitFor('redis-server', async () => {
    const probe = new RedisStore(redisUrl);
    try {
      await probe.connect();
      await probe.close();
      return true;
    } catch {
      return false;
    }
  });
  await startFakeSlack();
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=sns-test',
      '-keyout',
      join(redisDir, 'sns.key'),
      '-out',
      join(redisDir, 'sns.pem'),
    ],
    { stdio: 'ignore' },
  );
  snsKey = readFileSync(join(redisDir, 'sns.key'), 'utf8');
  snsCert = readFileSync(join(redisDir, 'sns.pem'), 'utf8');
});

afterAll(async () => {
  await new Promise<void>((r) => slack.close(() => r()));
  redis.kill('SIGTERM');
  rmSync(redisDir, { recursive: true, force: true });
});

// ---- ward's alert relay under test -----------------------------------------------------------------------------
const rulesYaml = `defaults: { dedupeWindow: 30m, storm: { perMinute: 50 } }
rules:
  - name: ssh-bruteforce
    match: { source: falco, title: { icontains: "ssh" }, severity: { gte: warning } }
    route: { channel: C0SECOPS, mention: S0ONCALL }
    suggest: [forensics, lockdown]
  - name: noisy
    match: { labels.team: noisy }
    route: { channel: C0NOISY }
    storm: { perMinute: 3 }
  - name: gone
    match: { labels.team: gone }
    route: { channel: C0GONE }
  - name: both
    match: { labels.team: both }
    route: { channel: [C0ALERTS, C0GONE] }
  - name: everything-else
    match: {}
    route: { channel: C0ALERTS }
`;
const tokens = {
  WARD_ALERT_TOKEN_ALERTMANAGER: 'am-token',
  WARD_ALERT_TOKEN_GRAFANA: undefined,
  WARD_ALERT_TOKEN_FALCO: 'falco-token',
  WARD_ALERT_TOKEN_GENERIC: 'generic-token',
  WARD_ALERT_HMAC_SECRET_GENERIC: 'generic-hmac',
  WARD_ALERT_SNS_TOPICS: topic,
  WARD_ALERT_MAX_BODY_BYTES: 64 * 1024,
  WARD_ALERT_SNS_MAX_AGE_SECONDS: 3600,
  WARD_ALERT_HMAC_WINDOW_SECONDS: 300,
};
// A fixed clock: the storm minute and "last seen" do not depend on when the test runs.
const clock = { now: () => Date.parse('2024-05-01T12:00:30Z') };

interface Ward {
  url: string;
  store: RedisStore;
  relay: AlertRelay;
  confirmed: string[];
  certFetches: string[];
  close(): Promise<void>;
}

async function startRelay(options: { lockTtlMs?: number } = {}): Promise<Ward> {
  const store = new RedisStore(redisUrl);
  await store.connect();
  const chat = new SlackChat('xoxb-test-token', { slackApiUrl: slackUrl });
  const relay = new AlertRelay({
    store,
    chat,
    clock,
    log,
    pacer: new ChannelPacer({ clock, minIntervalMs: 1 }),
    rules: () => loadRules(rulesYaml, 'test rules'),
    fallbackChannel: 'C0FALLBACK',
    // The inventory knows web1 only: buttons are offered for inventory hosts.
    resolveHost: (hint) => (hint === 'web1' ? 'web1' : undefined),
    pollIntervalMs: 50,
    ...options,
  });
  const routes = new HttpRoutes();
  const confirmed: string[] = [];
  const certFetches: string[] = [];
  registerAlertRoutes(routes, {
    config: tokens,
    relay,
    store,
    log,
    clock,
    fetchCert: async (url) => {
      certFetches.push(url);
      return snsCert;
    },
    confirmSubscription: async (url) => {
      confirmed.push(url);
    },
  });
  const { server, port } = await listen(routes, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    relay,
    confirmed,
    certFetches,
    async close() {
      await relay.stop();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await store.close();
    },
  };
}

let ward: Ward;

beforeEach(async () => {
  slackCalls = [];
  rateLimitNext = 0;
  rateLimited = 0;
  ward = await startRelay();
  await ward.store.client.flushdb();
});

afterEach(async () => {
  await ward.close();
});

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${ward.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

/** Delivers everything queued (what the background worker does), then checks nothing is left. */
async function deliverAll() {
  while ((await ward.relay.queue.depth()) > 0) await ward.relay.drain();
}

function signSns(fields: Record<string, unknown>): string {
  const unsigned = parseSnsEnvelope({
    ...fields,
    SignatureVersion: '2',
    Signature: 'x',
    SigningCertURL: certUrl,
  });
  const Signature = createSign('RSA-SHA256').update(snsStringToSign(unsigned)).sign(snsKey, 'base64');
  return JSON.stringify({ ...unsigned, Signature });
}

describe('alert webhooks', () => {
  it('delivers the Alertmanager sample as one message per alert, only with the right token', async () => {
    const body = fixture('alertmanager_webhook_v4_firing_captured.json');
    expect((await post('/alerts/alertmanager', body)).status).toBe(401);
    expect((await post('/alerts/alertmanager', body, { authorization: 'Bearer falco-token' })).status).toBe(
      401,
    );
    expect(await ward.relay.queue.depth()).toBe(0);

    const res = await post('/alerts/alertmanager', body, { authorization: 'Bearer am-token' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 3 });
    // Recorded durably before the answer: the queue holds all three before any delivery ran.
    expect(await ward.relay.queue.depth()).toBe(3);
    await deliverAll();
    expect(slackCalls.map((c) => [c.method, c.channel])).toEqual([
      ['chat.postMessage', 'C0ALERTS'],
      ['chat.postMessage', 'C0ALERTS'],
      ['chat.postMessage', 'C0ALERTS'],
    ]);
    expect(slackCalls[0]?.text).toContain('ICMP ping failed');
  });

  it('routes a Falco SSH alert to secops with a mention and buttons; a repeat updates the same message', async () => {
    const event = JSON.parse(fixture('falco_alert_write_below_binary_dir.json')) as Record<string, unknown>;
    const ssh = JSON.stringify({ ...event, rule: 'Disallowed SSH Connection', hostname: 'web1' });
    const auth = { authorization: 'Bearer falco-token' };
    expect((await post('/alerts/falco', ssh, auth)).status).toBe(202);
    await deliverAll();
    expect((await post('/alerts/falco', ssh, auth)).status).toBe(202);
    await deliverAll();

    expect(slackCalls.map((c) => c.method)).toEqual(['chat.postMessage', 'chat.update']);
    const [posted, updated] = slackCalls;
    expect(posted?.channel).toBe('C0SECOPS');
    expect(posted?.text).toContain('<!subteam^S0ONCALL>');
    const buttons = posted?.blocks.find((b) => b['type'] === 'actions')?.['elements'] as Array<
      Record<string, unknown>
    >;
    expect(buttons.map((b) => [b['action_id'], JSON.parse(b['value'] as string).host])).toEqual([
      ['alert.suggest.forensics', 'web1'],
      ['alert.suggest.lockdown', 'web1'],
      // Every firing alert can also become an incident (the button carries only the stored alert's reference).
      ['incident.open_alert', undefined],
    ]);
    expect(updated?.ts).toBe(posted?.ts);
    expect(JSON.stringify(updated?.blocks)).toContain('2 times');
  });

  it('marks the one message resolved when the alert resolves (generic, HMAC-signed)', async () => {
    // Each request signed anew (its own timestamp): a signature is accepted once.
    let sent = 0;
    const send = async (status: string) => {
      const body = JSON.stringify({ title: 'Disk full', host: 'web2', status, severity: 'error' });
      const headers = signHmac(body, 'generic-hmac', clock.now() / 1000 - sent++);
      expect((await post('/alerts/generic', body, headers)).status).toBe(202);
      await deliverAll();
    };
    await send('firing');
    await send('firing');
    await send('resolved');
    expect(slackCalls.map((c) => c.method)).toEqual(['chat.postMessage', 'chat.update', 'chat.update']);
    expect(new Set(slackCalls.map((c) => c.ts)).size).toBe(1);
    expect(slackCalls[2]?.text).toContain('Resolved: Disk full');
    // After the resolve the next firing is a new problem, a new message.
    await send('firing');
    expect(slackCalls.at(-1)?.method).toBe('chat.postMessage');
  });

  it('refuses bad payloads naming the field, oversized bodies, and disabled sources; queues nothing', async () => {
    const auth = { authorization: 'Bearer generic-token' };
    const bad = await post('/alerts/generic', JSON.stringify({ title: 'x', severity: 'urgent' }), auth);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'severity' });
    const notJson = await post('/alerts/generic', '{title', auth);
    expect(notJson.status).toBe(400);
    const huge = await post(
      '/alerts/generic',
      JSON.stringify({ title: 'x', summary: 'a'.repeat(70_000) }),
      auth,
    );
    expect(huge.status).toBe(413);
    expect(
      (await post('/alerts/grafana', fixture('grafana_alerting_webhook_docs_example.json'))).status,
    ).toBe(404);
    expect((await post('/alerts/nagios', '{}')).status).toBe(404);
    expect(await ward.relay.queue.depth()).toBe(0);
  });

  it('verifies SNS: a signed CloudWatch alarm is delivered, a tampered one refused, the handshake confirmed', async () => {
    const lambda = JSON.parse(fixture('aws_sns_lambda_event_cloudwatch_alarm_single_metric.json')) as {
      Records: { Sns: { Message: string; Subject: string } }[];
    };
    const base = JSON.parse(fixture('aws_sns_http_notification_body.json')) as Record<string, unknown>;
    const signed = signSns({
      ...base,
      Message: lambda.Records[0]!.Sns.Message,
      Subject: 'ALARM: EXAMPLE',
      Timestamp: '2024-05-01T12:00:00.000Z',
    });
    expect((await post('/alerts/sns', signed)).status).toBe(202);
    const tampered = signed.replace('NetworkOut', 'NetworkIn');
    expect((await post('/alerts/sns', tampered)).status).toBe(401);
    const otherTopic = signSns({ ...base, TopicArn: 'arn:aws:sns:us-east-1:999999999999:Other' });
    expect((await post('/alerts/sns', otherTopic)).status).toBe(403);
    const subscribeUrl = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${topic}&Token=t0k`;
    const handshake = signSns({
      Type: 'SubscriptionConfirmation',
      MessageId: 'm-1',
      Token: 't0k',
      TopicArn: topic,
      Message: 'You have chosen to subscribe to the topic.',
      SubscribeURL: subscribeUrl,
      Timestamp: '2024-05-01T12:00:00.000Z',
    });
    expect((await post('/alerts/sns', handshake)).status).toBe(200);
    expect(ward.confirmed).toEqual([subscribeUrl]);

    await deliverAll();
    expect(slackCalls.map((c) => [c.method, c.channel])).toEqual([['chat.postMessage', 'C0ALERTS']]);
    expect(JSON.stringify(slackCalls[0]?.blocks)).toContain('TestInstance');
  });
});

describe('replays', () => {
  const base = () => JSON.parse(fixture('aws_sns_http_notification_body.json')) as Record<string, unknown>;

  it('SNS: a redelivered MessageId is answered 200 and not processed again; a stale or future one is refused', async () => {
    const fresh = signSns({ ...base(), MessageId: 'm-fresh', Timestamp: '2024-05-01T12:00:00.000Z' });
    expect((await post('/alerts/sns', fresh)).status).toBe(202);
    const again = await post('/alerts/sns', fresh);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ duplicate: true });
    expect(await ward.relay.queue.depth()).toBe(1);

    // The docs example as signed in 2012: genuine, and far too old.
    const old = await post('/alerts/sns', signSns({ ...base(), MessageId: 'm-old' }));
    expect(old.status).toBe(401);
    expect((await old.json()) as { error: string }).toMatchObject({
      error: expect.stringMatching(
        /Timestamp 2012-05-02T00:54:06.655Z is \d+ s old \(at most 3600 s accepted\)/,
      ),
    });
    const ahead = signSns({ ...base(), MessageId: 'm-ahead', Timestamp: '2024-05-01T12:06:00.000Z' });
    const refused = await post('/alerts/sns', ahead);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: string }).error).toContain("ahead of ward's clock");
    expect(await ward.relay.queue.depth()).toBe(1);
    await deliverAll();
    expect(slackCalls).toHaveLength(1);
  });

  it('generic HMAC: the same signed request a second time is refused 401 "replayed signature"', async () => {
    const body = JSON.stringify({ title: 'Disk full', host: 'web1', severity: 'error' });
    const headers = signHmac(body, 'generic-hmac', clock.now() / 1000);
    expect((await post('/alerts/generic', body, headers)).status).toBe(202);
    const replay = await post('/alerts/generic', body, headers);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toContain('replayed signature');
    // Six minutes ahead is outside the ±5 minute window.
    const ahead = signHmac(body, 'generic-hmac', clock.now() / 1000 + 360);
    expect((await post('/alerts/generic', body, ahead)).status).toBe(401);
    expect(await ward.relay.queue.depth()).toBe(1);
  });
});

describe('storms, rate limits and restarts', () => {
  it('rolls a storm beyond the rule limit into one summary updated in place, losing none', async () => {
    const alerts = Array.from({ length: 8 }, (_, i) => ({ title: `noisy ${i}`, labels: { team: 'noisy' } }));
    const res = await post('/alerts/generic', JSON.stringify({ alerts }), {
      authorization: 'Bearer generic-token',
    });
    expect(res.status).toBe(202);
    await deliverAll();
    const inChannel = slackCalls.filter((c) => c.channel === 'C0NOISY');
    expect(inChannel.filter((c) => c.method === 'chat.postMessage')).toHaveLength(4); // 3 alone + 1 summary
    const summaryTs = inChannel[3]?.ts;
    expect(inChannel.slice(4).every((c) => c.method === 'chat.update' && c.ts === summaryTs)).toBe(true);
    expect(inChannel.at(-1)?.text).toContain('5 more alerts');
  });

  it('honours a 429 from Slack and still delivers every alert', async () => {
    rateLimitNext = 1;
    const body = fixture('alertmanager_webhook_v4_prometheus_msteams_fixture.json');
    expect((await post('/alerts/alertmanager', body, { authorization: 'Bearer am-token' })).status).toBe(202);
    await deliverAll();
    expect(rateLimited).toBe(1);
    expect(slackCalls.map((c) => c.method)).toEqual(['chat.postMessage']);
    expect(await ward.relay.queue.depth()).toBe(0);
  });

  it('loses no queued alert across a restart', async () => {
    const body = fixture('alertmanager_webhook_v4_firing_captured.json');
    expect((await post('/alerts/alertmanager', body, { authorization: 'Bearer am-token' })).status).toBe(202);
    expect(slackCalls).toHaveLength(0);
    // ward stops before delivering anything (its worker never started), then a new ward starts on the same Redis.
    await ward.close();
    ward = await startRelay();
    ward.relay.start();
    await waitFor('three messages', () => slackCalls.length === 3);
    await waitFor('an empty queue', async () => (await ward.relay.queue.depth()) === 0);
    expect(new Set(slackCalls.map((c) => c.text)).size).toBe(1);
  });
});

describe('permanent Slack errors and replicas', () => {
  it('posts an alert whose channel Slack refuses to the fallback channel with a note, once', async () => {
    const body = JSON.stringify({ title: 'Channel archived', labels: { team: 'gone' } });
    expect((await post('/alerts/generic', body, { authorization: 'Bearer generic-token' })).status).toBe(202);
    await deliverAll();
    expect(slackCalls.map((c) => [c.method, c.channel])).toEqual([
      ['chat.postMessage', 'C0GONE'],
      ['chat.postMessage', 'C0FALLBACK'],
    ]);
    expect(JSON.stringify(slackCalls[1]?.blocks)).toContain(
      'Slack refused channel C0GONE (channel_not_found)',
    );
    // A repeat updates the fallback message; the refusing channel is not tried again.
    expect((await post('/alerts/generic', body, { authorization: 'Bearer generic-token' })).status).toBe(202);
    await deliverAll();
    expect(slackCalls.slice(2).map((c) => [c.method, c.channel])).toEqual([['chat.update', 'C0FALLBACK']]);
  });

  it('a route that fails does not make the route that worked count the alert again', async () => {
    // C0ALERTS's first attempt fails with an error worth retrying (Slack's internal_error), not a refusal.
    failOnceIn.add('C0ALERTS');
    const body = JSON.stringify({ title: 'Two routes', labels: { team: 'both' } });
    expect((await post('/alerts/generic', body, { authorization: 'Bearer generic-token' })).status).toBe(202);
    expect(await ward.relay.drain()).toBe(0); // C0ALERTS failed: the entry stays queued
    expect(await ward.relay.queue.depth()).toBe(1);
    // The replay, by a restarted ward (this test's clock stands still, so the in-process retry delay never ends).
    await ward.close();
    ward = await startRelay();
    await deliverAll();
    const fallback = slackCalls.filter((c) => c.channel === 'C0FALLBACK');
    expect(fallback.map((c) => c.method)).toEqual(['chat.postMessage']);
    expect(JSON.stringify(fallback[0]?.blocks)).toContain('once');
    expect(slackCalls.filter((c) => c.channel === 'C0ALERTS').map((c) => c.method)).toEqual([
      'chat.postMessage',
    ]);
  });

  it('two replicas on one Redis deliver each alert once', async () => {
    const second = await startRelay();
    try {
      ward.relay.start();
      second.relay.start();
      const alerts = Array.from({ length: 10 }, (_, i) => ({ title: `replica ${i}` }));
      expect(
        (await post('/alerts/generic', JSON.stringify({ alerts }), { authorization: 'Bearer generic-token' }))
          .status,
      ).toBe(202);
      await waitFor(
        'ten messages',
        () => slackCalls.filter((c) => c.method === 'chat.postMessage').length >= 10,
      );
      await waitFor('an empty queue', async () => (await ward.relay.queue.depth()) === 0);
      // Stopping waits for every delivery in flight on both replicas: after it, no late duplicate can still come.
      await Promise.all([ward.relay.stop(), second.relay.stop()]);
      const posted = slackCalls.filter((c) => c.method === 'chat.postMessage').map((c) => c.text);
      expect(posted).toHaveLength(10);
      expect(new Set(posted).size).toBe(10);
    } finally {
      await second.close();
    }
  });
});
