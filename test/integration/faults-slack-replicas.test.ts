import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import {
  AUDIT_HEAD_KEY,
  AUDIT_STREAM,
  ChainVerifier,
  deriveAuditKey,
  parseHead,
} from '../../src/audit/chain.js';
import {
  ADMIN,
  CHANNEL,
  messageText,
  OPS_ENCRYPTION_KEY,
  type OpsHarness,
  RESPONDER,
  SECRET,
  startOpsHarness,
  TOKEN,
  waitUntil,
} from '../helpers/ops-harness.js';
import { newTriggerId } from '../helpers/slack-requests.js';
import type { WardProcess } from '../helpers/ward-process.js';

let h: OpsHarness;
let a: WardProcess;
let b: WardProcess;

beforeAll(async () => {
  h = await startOpsHarness();
  [a, b] = await Promise.all([h.startWard(), h.startWard()]);
});

afterAll(async () => {
  await h?.stop();
});

async function metrics(ward: WardProcess): Promise<string> {
  const res = await fetch(`${ward.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/**
 * A forensics run against `down` (connection refused). Its policy needs no approval, so the approval gate posts the
 * request message and runs it at once: "Running …" in the request's thread, then the result (with its outcome).
 */
async function forensicsDown(ward: WardProcess, reason: string) {
  await h.slash(ward, `forensics down --reason "${reason}"`);
  const top = await h.waitForMessage((m) => !m.thread_ts && messageText(m).includes(reason));
  const result = await h.waitForMessage((m) => m.thread_ts === top.ts && messageText(m).includes('Outcome:'));
  const thread = h.slack.messages(CHANNEL).filter((m) => m.thread_ts === top.ts && m.ts !== top.ts);
  return { top, result, thread };
}

/** What a responder sees of one run: the request message says who asked, the thread says it ran and how it ended. */
function expectFailedRunOnDown(run: Awaited<ReturnType<typeof forensicsDown>>): void {
  expect(messageText(run.top)).toContain(`Requested by* <@${RESPONDER}>`);
  expect(run.thread.map((m) => m.text ?? '')).toContainEqual(
    expect.stringMatching(/^Running forensics \(r-[0-9a-f]+\) on down$/),
  );
  expect(run.result.text).toMatch(/could not connect to down/);
  expect(messageText(run.result)).toContain('Outcome: ❌ *failed*');
}

describe('Slack answering 429 and 5xx', () => {
  it('429 then success: the message still arrives, after Retry-After, and the 429s are counted', async () => {
    // Counted from here: other tests in this file (any order) talk to the same fake Slack and the same ward.
    const limitedBefore = h.slack.callsTo('chat.postMessage').filter((c) => c.rateLimited).length;
    const counted = /ward_slack_rate_limited_total\{method="chat.postMessage",app="ward"\} (\d+)/;
    const countedBefore = Number(counted.exec(await metrics(a))?.[1] ?? 0);
    h.slack.rateLimit('chat.postMessage', 2, 1);
    expectFailedRunOnDown(await forensicsDown(a, 'rate limited run'));
    const limited = h.slack.callsTo('chat.postMessage').filter((c) => c.rateLimited);
    expect(limited.length - limitedBefore).toBe(2);
    expect(Number(counted.exec(await metrics(a))?.[1] ?? 0) - countedBefore).toBe(2);
  }, 90_000);

  it('5xx then success: the message still arrives', async () => {
    const failedBefore = h.slack.callsTo('chat.postMessage').filter((c) => c.status === 503).length;
    const counted =
      /ward_slack_http_requests_total\{method="chat.postMessage",status="503",app="ward"\} (\d+)/;
    const countedBefore = Number(counted.exec(await metrics(a))?.[1] ?? 0);
    h.slack.failNext('chat.postMessage', 503, 2);
    expectFailedRunOnDown(await forensicsDown(a, 'five hundred run'));
    expect(h.slack.callsTo('chat.postMessage').filter((c) => c.status === 503).length - failedBefore).toBe(2);
    expect(Number(counted.exec(await metrics(a))?.[1] ?? 0) - countedBefore).toBe(2);
  }, 90_000);

  it('an ephemeral answer through response_url survives a 503 and a 429', async () => {
    h.slack.failNext('response_url', 503, 1);
    h.slack.rateLimit('response_url', 1, 1);
    const asked = await h.slash(a, 'audit down', { user: ADMIN });
    expect(await h.waitForReply(asked.responseUrl)).toMatch(/audit entries for host down/);
  });
});

describe('two replicas on one Redis (HTTP mode behind a load balancer)', () => {
  it('the same slash command delivered to both replicas is handled once', async () => {
    const triggerId = newTriggerId();
    const responseUrl = h.slack.newResponseUrl({ channel: 'C0INCIDENT', user: 'U0RESPOND1' });
    const reason = 'delivered twice';
    const [ra, rb] = await Promise.all([
      h.slash(a, `forensics down --reason "${reason}"`, { triggerId, responseUrl }),
      h.slash(b, `forensics down --reason "${reason}"`, { triggerId, responseUrl }),
    ]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const top = await h.waitForMessage((m) => !m.thread_ts && messageText(m).includes(reason));
    await h.waitForMessage((m) => m.thread_ts === top.ts && messageText(m).includes('Outcome:'));
    // Both have logged how they handled it: one ran it, the other recognised the duplicate.
    await waitUntil(
      () => [a, b].some((w) => w.logs.some((l) => /duplicate delivery/.test(String(l['msg'])))) || undefined,
      'a replica to drop the duplicate',
    );
    expect(h.slack.messages().filter((m) => !m.thread_ts && messageText(m).includes(reason))).toHaveLength(1);
  });

  it('audit entries written by both replicas form one unbroken chain', async () => {
    await Promise.all([forensicsDown(a, 'chain from a'), forensicsDown(b, 'chain from b')]);
    const store = new RedisStore(h.redis.url);
    await store.connect();
    const verifier = new ChainVerifier(parseHead(await store.get(AUDIT_HEAD_KEY)), {
      key: deriveAuditKey(OPS_ENCRYPTION_KEY),
    });
    for (const e of await store.streamRange(AUDIT_STREAM)) verifier.add(e.id, e.fields);
    await store.close();
    const verdict = verifier.finish();
    expect(verdict.ok).toBe(true);
    const asked = await h.slash(b, 'audit down', { user: ADMIN });
    const answer = await h.waitForReply(asked.responseUrl);
    expect(answer).toMatch(/audit entries for host down/);
  });
});

describe('metrics and logs', () => {
  it('/metrics lists every series operators alert on', async () => {
    // A run of its own, so that the series below have a count whichever test ran before.
    expectFailedRunOnDown(await forensicsDown(a, 'metered run'));
    const text = await metrics(a);
    for (const name of [
      'ward_commands_total',
      'ward_approvals_total',
      'ward_executions_total',
      'ward_execution_duration_seconds',
      'ward_ssh_connection_failures_total',
      'ward_alerts_total',
      'ward_slack_api_calls_total',
      'ward_slack_rate_limited_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toMatch(/ward_commands_total\{command="forensics",outcome="ok",app="ward"\} [1-9]/);
    expect(text).toMatch(/ward_executions_total\{command="forensics",outcome="failed",app="ward"\} [1-9]/);
    expect(text).toMatch(
      /ward_ssh_connection_failures_total\{host="down",reason="refused",app="ward"\} [1-9]/,
    );
    expect(text).toMatch(
      /ward_slack_api_calls_total\{method="chat.postMessage",outcome="ok",app="ward"\} [1-9]/,
    );
  });

  it('every log line of one request carries its request id', async () => {
    const { top } = await forensicsDown(a, 'traced run');
    const accepted = a.logs
      .filter((l) => l['msg'] === 'command accepted' && l['command'] === 'forensics')
      .at(-1);
    expect(accepted).toBeDefined();
    const id = String(accepted!['requestId']);
    const messages = new Set(a.logs.filter((l) => l['requestId'] === id).map((l) => String(l['msg'])));
    // From the listener through the approval gate's execution into the remediation code that failed to connect.
    expect(messages).toContain('command accepted');
    expect(messages).toContain('host failed');
    // The ward request it ran for is named on that line too, as approvalRequestId.
    const approvalId = /request (r-[0-9a-f]+)/.exec(top.text ?? '')?.[1];
    expect(approvalId).toBeDefined();
    expect(
      a.logs.some(
        (l) => l['msg'] === 'host failed' && l['requestId'] === id && l['approvalRequestId'] === approvalId,
      ),
    ).toBe(true);
    expect(top.ts).toBeTruthy();
  });

  it('no token or secret ever reaches the output of either replica', async () => {
    // Each replica has just used the token (Slack calls) and the secret (signed requests), whatever ran before.
    await Promise.all([forensicsDown(a, 'secret-free run on a'), forensicsDown(b, 'secret-free run on b')]);
    for (const w of [a, b]) {
      expect(w.output()).not.toContain(TOKEN);
      expect(w.output()).not.toContain(SECRET);
    }
  });
});
