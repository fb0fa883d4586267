import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionClaimKey, requestKey } from '../../src/core/approvals/request.js';
import {
  click,
  countAudit,
  newChannel,
  responses,
  runningMessages,
  type Shared,
  sealedAsWard,
  slash,
  startShared,
  startTestWard,
  USERS,
  type Ward,
  waitFor,
  waitForApproval,
  waitForStatus,
} from '../helpers/approval-harness.js';

/*
 * Issue 19: a write that a Redis replica did not confirm (WAIT) may still have reached the primary and survived the
 * failover. These tests leave Redis as such a write leaves it, and check that the request still runs, once.
 */

const FINAL = ['succeeded', 'failed', 'partial'];

describe('approved requests whose start was not confirmed', () => {
  let shared: Shared;
  let ward: Ward;
  beforeAll(async () => {
    shared = await startShared();
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'none' } });
  });
  afterAll(async () => {
    await ward?.stop();
    await shared?.close();
  });

  /** Rewrites the stored request as an unconfirmed write of ward's that survived would have left it (sealed). */
  async function rewrite(id: string, change: Record<string, unknown>): Promise<void> {
    // The message appears in Slack a moment before ward stores where it is: rewriting before that would drop it.
    const raw = await waitFor('the stored message pointer', async () => {
      const text = await shared.client.get(requestKey(id));
      return text !== null && 'message' in (JSON.parse(text) as object) ? text : undefined;
    });
    const req = JSON.parse(raw ?? '{}') as Record<string, unknown>;
    await shared.client.set(
      requestKey(id),
      sealedAsWard({ ...req, ...change, version: Number(req['version']) + 1 }),
      'KEEPTTL',
    );
  }

  it('a vote kept although its click was told "retry": clicking again runs the request once', async () => {
    const channel = newChannel();
    await slash(shared, ward.url, USERS.requester, channel, 'forensics web1 --reason "vote kept"');
    const { message, id } = await waitForApproval(shared, channel);
    await rewrite(id, { status: 'approved', approvals: [{ user: USERS.approver1, at: Date.now() }] });

    const { responseUrl } = await click(shared, ward.url, USERS.approver1, message, 'approval.approve', id);
    expect(await waitFor('an answer', () => responses(shared, responseUrl)[0])).toMatch(/already approved/);
    await waitForStatus(shared, id, FINAL);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    expect(
      runningMessages(shared, message),
      JSON.stringify(shared.slack.messages(channel).map((m) => [m.ts, m.thread_ts, m.text])),
    ).toHaveLength(1);
  });

  it('a request left "running" with nothing running it (no execution record) is started by the sweep, once', async () => {
    const channel = newChannel();
    await slash(shared, ward.url, USERS.requester, channel, 'forensics web1 --reason "stuck running"');
    const { message, id } = await waitForApproval(shared, channel);
    // The claim and the running state reached Redis; the execution record never did (its WAIT failed).
    const longAgo = Date.now() - 10 * 60_000;
    await rewrite(id, {
      status: 'running',
      startedAt: longAgo,
      approvals: [{ user: USERS.approver1, at: longAgo }],
    });
    await shared.client.set(executionClaimKey(id), `another-ward:1234@${longAgo}`);

    await waitForStatus(shared, id, FINAL).catch(() => waitForStatus(shared, id, FINAL));
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    expect(
      runningMessages(shared, message),
      JSON.stringify(shared.slack.messages(channel).map((m) => [m.ts, m.thread_ts, m.text])),
    ).toHaveLength(1);
  }, 60_000);

  it('a recent claim without an execution record is left alone (its ward may be about to start it)', async () => {
    const channel = newChannel();
    await slash(shared, ward.url, USERS.requester, channel, 'forensics web1 --reason "fresh claim"');
    const { id } = await waitForApproval(shared, channel);
    await rewrite(id, { status: 'approved', approvals: [{ user: USERS.approver1, at: Date.now() }] });
    await shared.client.set(executionClaimKey(id), `another-ward:1234@${Date.now()}`);
    // Two sweeps (15 s apart) go by.
    await new Promise((r) => setTimeout(r, 32_000));
    expect(await countAudit(shared, 'execution.started', id)).toBe(0);
  }, 60_000);
});
