/**
 * ward's HTTP port faces whoever can reach it (issue #12). These tests play an attacker against ward started as a
 * process (`node src/main.ts`), with a fake Slack and a real Redis, over raw sockets where fetch cannot express the
 * request: ward must answer every request with a proper status, never die, never log a header a sender sent, and
 * never let unauthenticated senders cost it memory.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { sendSlashCommand } from '../helpers/slack-requests.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

const SECRET = 'test-signing-secret-hostile-0123';
const TOKEN = 'xoxb-1111-2222-hostile';
const ALERT_TOKEN = 'alert-token-generic-0123456789';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:MyTopic';
const BODY_TIMEOUT_MS = 1500;

/** Values a request carries that must never show up in ward's output. */
const canary = `canary-${randomBytes(8).toString('hex')}`;
const secretHeaders = [
  `Authorization: Bearer ${canary}-auth`,
  `Cookie: session=${canary}-cookie`,
  `X-Slack-Signature: v0=${canary}-sig`,
];

let slack: FakeSlack;
let redis: RedisProcess;
let ward: WardProcess;

beforeAll(async () => {
  slack = await startFakeSlack({ botToken: TOKEN });
  redis = await startRedis();
  ward = await startWardProcess({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
    WARD_ALERT_TOKEN_GENERIC: ALERT_TOKEN,
    WARD_ALERT_HMAC_SECRET_GENERIC: 'hmac-secret-generic-0123456789',
    WARD_ALERT_SNS_TOPICS: TOPIC,
    WARD_HTTP_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
  });
}, 60_000);

afterAll(async () => {
  await ward?.stop();
  await slack?.close();
  await redis?.stop();
});

interface RawResult {
  /** The status of the first response, or undefined when the connection closed without one. */
  status: number | undefined;
  head: string;
  /** The server closed the connection (or reset it) before `waitMs` ran out. */
  closed: boolean;
}

/**
 * Sends `request` as raw bytes (then `trailer`, if any, and holds the connection open) and collects what comes
 * back until the server closes the connection or `waitMs` passes.
 */
function raw(request: string | Buffer, opts: { waitMs?: number; trailer?: Buffer } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect(ward.port, '127.0.0.1');
    let received = '';
    let settled = false;
    const done = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve({ status: m ? Number(m[1]) : undefined, head: received.split('\r\n\r\n')[0] ?? '', closed });
    };
    const timer = setTimeout(() => done(false), opts.waitMs ?? 5000);
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
    });
    socket.on('close', () => done(true));
    socket.on('error', () => done(true));
    socket.write(request, () => {
      if (opts.trailer) socket.write(opts.trailer, () => {});
    });
  });
}

function request(method: string, path: string, extra: string[] = [], body = ''): string {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${ward.port}`,
    'Connection: close',
    ...secretHeaders,
    ...extra,
  ];
  if (body !== '' || method === 'POST' || method === 'PUT' || method === 'PATCH') {
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

function allowOf(head: string): string | undefined {
  return /\r\nallow: ([^\r]*)/i.exec(head)?.[1];
}

function expectAlive(): void {
  expect(ward.child.exitCode, `ward exited. Output:\n${ward.output().slice(-3000)}`).toBeNull();
  expect(ward.child.signalCode).toBeNull();
}

/** Answers `/ward help` (a correctly signed slash command) on Slack's endpoint. */
async function helpStillAnswered(): Promise<void> {
  const responseUrl = slack.newResponseUrl();
  const res = await sendSlashCommand(`${ward.url}/slack/events`, SECRET, {
    text: 'help',
    user_id: 'U0RESP1',
    response_url: responseUrl,
  });
  expect(res.status).toBe(200);
  const reply = await slack.waitForCall('response_url', (c) => c.args['response_url'] === responseUrl);
  expect(String(reply.args['text'])).toContain('help');
}

function rssKb(): number {
  const status = readFileSync(`/proc/${ward.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
}

const PATHS = [
  '/slack/events',
  '/healthz',
  '/readyz',
  '/metrics',
  '/alerts/generic',
  '/alerts/sns',
  '/alerts/nonexistent',
  '/',
  '/nope',
];
const METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'POST', 'FOO', 'PROPFIND'];

describe('hostile requests to the HTTP port', () => {
  it('every route × method gets a 4xx or 2xx (405 with Allow), and ward stays up', async () => {
    for (const path of PATHS) {
      for (const method of METHODS) {
        const body = method === 'GET' || method === 'HEAD' ? '' : '{"x":1}';
        const r = await raw(request(method, path, ['Content-Type: application/json'], body));
        const what = `${method} ${path}`;
        expect(r.status, what).toBeDefined();
        expect(r.status!, what).toBeLessThan(500);
        if (r.status === 405) expect(allowOf(r.head), what).toBeTruthy();
      }
    }
    // The cases that used to crash ward through Bolt's listener.
    for (const method of ['GET', 'HEAD', 'PUT', 'OPTIONS']) {
      const r = await raw(request(method, '/slack/events'));
      expect(r.status, method).toBe(405);
      expect(allowOf(r.head)).toBe('POST');
    }
    expect(allowOf((await raw(request('POST', '/healthz'))).head)).toBe('GET, HEAD');
    expect((await raw(request('HEAD', '/healthz'))).status).toBe(200);
    expect((await raw(request('GET', '/nope'))).status).toBe(404);
    expectAlive();
  }, 120_000);

  it('malformed percent-encoding, absurd paths and absurd headers are answered 4xx', async () => {
    const pathCases: Array<[string, number?]> = [
      ['/alerts/%', 400],
      ['/alerts/%ff', 400],
      ['/alerts/%zz', 400],
      ['/%zz'],
      ['/%'],
      [`/${'a'.repeat(8000)}`],
      [`/alerts/${'b'.repeat(8000)}`],
      [`/${'c'.repeat(20_000)}`],
      ['//'],
      ['//slack/events'],
      ['/..'],
      ['/../../../etc/passwd'],
      ['/slack/events/..'],
      ['/alerts/..%2f..%2fhealthz'],
      ['/%00'],
      ['/alerts/%00'],
      ['/alerts/%c0%ae%c0%ae'],
      ['/slack/events%00'],
      ['*'],
      ['http://127.0.0.1/slack/events'],
      ['slack/events'],
    ];
    for (const [path, expected] of pathCases) {
      for (const method of ['GET', 'POST', 'OPTIONS']) {
        const r = await raw(request(method, path, [], method === 'POST' ? '{}' : ''));
        const what = `${method} ${path.slice(0, 60)}`;
        expect(r.status, what).toBeDefined();
        expect(r.status!, what).toBeLessThan(500);
        if (expected !== undefined && method === 'POST') expect(r.status, what).toBe(expected);
      }
    }

    const base = `POST /alerts/generic HTTP/1.1\r\nHost: x\r\n${secretHeaders.join('\r\n')}\r\n`;
    const headerCases: string[] = [
      `${base}X-Big: ${'h'.repeat(40_000)}\r\nContent-Length: 2\r\n\r\n{}`,
      `${base}${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
      `${base}Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}`,
      `${base}Content-Length: -1\r\n\r\n`,
      `${base}Content-Length: abc\r\n\r\n`,
      `${base}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `${base}Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n`,
      `${base}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      `${base}Transfer-Encoding: gzip, chunked, identity\r\n\r\n`,
      `${base}Bad Header Name: x\r\n\r\n`,
      `${base}X-Ctl: a\u0001b\r\n\r\n`,
      `${base}\u00ff\u00fe: \u00ff\r\n\r\n`,
      'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /healthz\r\n\r\n',
      'GARBAGE\r\n\r\n',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${canary}-split\r\n folded: continuation\r\n\r\n`,
    ];
    for (const text of headerCases) {
      const r = await raw(Buffer.from(text, 'latin1'));
      const what = JSON.stringify(text.slice(0, 80));
      // Either a 4xx, or (for what node cannot even call a request) the connection closed without an answer.
      if (r.status !== undefined) expect(r.status, what).toBeLessThan(500);
      else expect(r.closed, what).toBe(true);
    }

    // HTTP/1.0, with and without Host.
    for (const text of [
      'GET /healthz HTTP/1.0\r\n\r\n',
      'GET /slack/events HTTP/1.0\r\n\r\n',
      `POST /alerts/generic HTTP/1.0\r\n${secretHeaders.join('\r\n')}\r\nContent-Length: 2\r\n\r\n{}`,
      'POST /slack/events HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}',
    ]) {
      const r = await raw(text);
      expect(r.status, text.slice(0, 40)).toBeDefined();
      expect(r.status!).toBeLessThan(500);
    }
    expectAlive();
  }, 120_000);

  it('still answers a signed /ward help, and never printed a header value a sender sent', async () => {
    expectAlive();
    await helpStillAnswered();
    const health = await fetch(`${ward.url}/healthz`);
    expect(health.status).toBe(200);
    expect(ward.output()).not.toContain(canary);
  });
});

describe('unauthenticated senders cannot spend ward memory', () => {
  it('200 held connections sending 500 KB without credentials are refused and do not grow RSS', async () => {
    const before = rssKb();
    const head = [
      'POST /alerts/generic HTTP/1.1',
      'Host: x',
      'Content-Type: application/json',
      `Cookie: session=${canary}-cookie`,
      `Content-Length: ${1_000_000}`,
      '',
      '',
    ].join('\r\n');
    const chunk = Buffer.alloc(500_000, 0x20);
    let peakKb = before;
    const sampler = setInterval(() => {
      peakKb = Math.max(peakKb, rssKb());
    }, 50);
    const results = await Promise.all(
      Array.from({ length: 200 }, () => raw(head, { trailer: chunk, waitMs: 15_000 })),
    );
    clearInterval(sampler);
    peakKb = Math.max(peakKb, rssKb());
    // Refused: a 401 answer, or the connection closed on a sender that kept writing.
    for (const r of results) expect(r.status === 401 || r.closed).toBe(true);
    expect(results.filter((r) => r.status === 401).length).toBeGreaterThan(0);
    expect((peakKb - before) / 1024, 'RSS growth in MB').toBeLessThan(60);
    expectAlive();
  }, 60_000);

  it('senders that could authenticate only with the body (HMAC) are capped per address: 429 with Retry-After', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const head = [
      'POST /alerts/generic HTTP/1.1',
      'Host: x',
      `X-Ward-Timestamp: ${ts}`,
      `X-Ward-Signature: sha256=${'0'.repeat(64)}`,
      'Content-Length: 1000000',
      '',
      '',
    ].join('\r\n');
    const results = await Promise.all(
      Array.from({ length: 12 }, () => raw(head, { trailer: Buffer.alloc(100_000, 0x20), waitMs: 8000 })),
    );
    const limited = results.filter((r) => r.status === 429);
    // The default share of one address is 4 bodies at once.
    expect(limited.length).toBeGreaterThanOrEqual(8);
    for (const r of limited) expect(r.head).toMatch(/\r\nretry-after: \d+/i);
    expectAlive();
  }, 30_000);

  it('a sender that trickles its body is cut off after WARD_HTTP_BODY_TIMEOUT_MS', async () => {
    const started = Date.now();
    const r = await raw(
      [
        'POST /alerts/generic HTTP/1.1',
        'Host: x',
        `Authorization: Bearer ${ALERT_TOKEN}`,
        'Content-Type: application/json',
        'Content-Length: 1000',
        '',
        '{"title":',
      ].join('\r\n'),
      { waitMs: 15_000 },
    );
    expect(r.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(BODY_TIMEOUT_MS + 5000);
    // The same on Slack's endpoint (a fresh timestamp and a well-formed signature are enough to be read).
    const slackStarted = Date.now();
    const s = await raw(
      [
        'POST /slack/events HTTP/1.1',
        'Host: x',
        `X-Slack-Request-Timestamp: ${Math.floor(Date.now() / 1000)}`,
        `X-Slack-Signature: v0=${'0'.repeat(64)}`,
        'Content-Type: application/x-www-form-urlencoded',
        'Content-Length: 1000',
        '',
        'command=',
      ].join('\r\n'),
      { waitMs: 15_000 },
    );
    expect(s.closed).toBe(true);
    expect(Date.now() - slackStarted).toBeLessThan(BODY_TIMEOUT_MS + 5000);
    expectAlive();
  }, 40_000);

  it('a 200 KB SigningCertURL grows the log by a few KB, not by megabytes', async () => {
    const sns = JSON.parse(
      readFileSync(new URL('../fixtures/aws_sns_http_notification_body.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    sns['SigningCertURL'] = `https://evil.example/${'a'.repeat(200_000)}`;
    const before = ward.output().length;
    const res = await fetch(`${ward.url}/alerts/sns`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
      body: JSON.stringify(sns),
    });
    expect(res.status).toBe(401);
    await ward.waitForLog((l) => l['msg'] === 'SNS message refused');
    await new Promise((r) => setTimeout(r, 200));
    const grown = ward.output().length - before;
    expect(grown).toBeLessThan(20_000);
    expectAlive();
  });

  it('after all of this, a signed /ward help is still answered and no sent secret was printed', async () => {
    await helpStillAnswered();
    expect(ward.output()).not.toContain(canary);
  });
});
