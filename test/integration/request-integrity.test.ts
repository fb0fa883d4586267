import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestKey } from '../../src/core/approvals/request.js';
import type { FakeMessage } from '../../src/fake-slack/fake-slack.js';
import {
  auditEvents,
  click,
  countAudit,
  metricValue,
  newChannel,
  runningMessages,
  type Shared,
  slash,
  startShared,
  startTestWard,
  storedRequest,
  textOf,
  USERS,
  type Ward,
  waitFor,
  waitForApproval,
  waitForResponse,
  waitForStatus,
} from '../helpers/approval-harness.js';

/*
 * Issue 14, item 1: stored requests are sealed with a key Redis never sees. Someone who can write Redis, but does
 * not hold WARD_ENCRYPTION_KEY, edits a request the way the issue describes (an approved status, an extra vote):
 * ward runs nothing, says so in the request's thread once, audits it and answers the click privately. Everything goes
 * through ward's signed Slack endpoint and a real redis-server; the expiry sweep is the real one, run on demand.
 */

const FINAL_RUN = ['succeeded', 'failed', 'partial'];
const MODIFIED = 'was modified outside ward; nothing was run';

let shared: Shared;
let ward: Ward | undefined;

beforeAll(async () => {
  shared = await startShared();
});
afterAll(async () => {
  await shared?.close();
});
beforeEach(async () => {
  await shared.client.flushall();
});
afterEach(async () => {
  await ward?.stop();
  ward = undefined;
});

async function start(policy: Record<string, unknown>): Promise<Ward> {
  ward = await startTestWard(shared, { forensics: policy });
  return ward;
}

/** A request asked through the slash command, once ward has stored where its message is. */
async function ask(w: Ward, reason: string): Promise<{ message: FakeMessage; id: string; channel: string }> {
  const channel = newChannel();
  await slash(shared, w.url, USERS.requester, channel, `forensics web1 --reason "${reason}"`);
  const { message, id } = await waitForApproval(shared, channel);
  await waitFor('the stored message pointer', async () => {
    const raw = await shared.client.get(requestKey(id));
    return raw !== null && 'message' in (JSON.parse(raw) as object) ? true : undefined;
  });
  return { message, id, channel };
}

/** What a Redis writer without the key does: edits the stored JSON, keeping its seal and its expiry. */
async function editInRedis(id: string, edit: (record: Record<string, unknown>) => void): Promise<void> {
  const record = JSON.parse((await shared.client.get(requestKey(id))) ?? '{}') as Record<string, unknown>;
  edit(record);
  await shared.client.set(requestKey(id), JSON.stringify(record), 'KEEPTTL');
}

function threadReplies(message: FakeMessage): FakeMessage[] {
  return shared.slack.messages(message.channel).filter((m) => m.thread_ts === message.ts && !m.ephemeralFor);
}

function tamperReports(message: FakeMessage, id: string): FakeMessage[] {
  return threadReplies(message).filter((m) => textOf(m).includes(`${id} ${MODIFIED}`));
}

function tamperedMetric(w: Ward, problem: string): Promise<number> {
  return metricValue(w.handle.url, 'ward_requests_tampered_total', { problem });
}

/** Nothing ran: no execution audited, no execution record, no "Running" line in the thread. */
async function expectNothingRan(id: string, message: FakeMessage): Promise<void> {
  expect(await countAudit(shared, 'execution.started', id)).toBe(0);
  expect(await shared.client.exists(`ward:execution:${id}`)).toBe(0);
  expect(runningMessages(shared, message)).toHaveLength(0);
}

describe('sealed request records', () => {
  it('status "approved" written straight into Redis: the sweep runs nothing, reports it once and audits it', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const { message, id } = await ask(w, 'INC-14: seal a');
    const reportedBefore = await tamperedMetric(w, 'tampered');
    await editInRedis(id, (r) => {
      r['status'] = 'approved';
    });

    // Before keyed records, this sweep ran the request. Twice: the second sweep must not report it again.
    await w.handle.approvals.sweep();
    await w.handle.approvals.sweep();

    const report = await waitFor('the tampering report in the thread', () => tamperReports(message, id)[0]);
    expect(textOf(report)).toContain('ward will not run it');
    expect(tamperReports(message, id)).toHaveLength(1);
    const audited = (await auditEvents(shared, id)).filter((e) => e.type === 'request.tampered');
    expect(audited.map((e) => [e.outcome, e.details?.['claimedStatus']])).toEqual([['tampered', 'approved']]);
    expect(await tamperedMetric(w, 'tampered')).toBe(reportedBefore + 1);
    await expectNothingRan(id, message);

    // An approver who clicks now is told, privately, and still nothing runs.
    const { responseUrl } = await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    expect(await waitForResponse(shared, responseUrl)).toContain(`Request \`${id}\` ${MODIFIED}`);
    await expectNothingRan(id, message);
    expect(tamperReports(message, id)).toHaveLength(1);
    // The record is left as the writer left it, for whoever investigates; ward wrote nothing over it.
    expect((await storedRequest(shared, id)).status).toBe('approved');
  });

  it('an extra vote added in Redis: the next Approve click runs nothing and the tampering is reported', async () => {
    const w = await start({ approvals: 2, mfa: 'none' });
    const { message, id } = await ask(w, 'INC-14: seal b');
    await editInRedis(id, (r) => {
      r['approvals'] = [{ user: USERS.approver2, at: Date.now() }];
    });

    // approver1's click would be the second approval of two: enough to run, were the forged vote counted.
    const { responseUrl } = await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    expect(await waitForResponse(shared, responseUrl)).toContain(`Request \`${id}\` ${MODIFIED}`);
    await waitFor('the tampering report in the thread', () => tamperReports(message, id)[0]);
    expect(await countAudit(shared, 'request.tampered', id)).toBe(1);
    // Neither the click nor the forged vote was counted as a vote.
    expect((await auditEvents(shared, id)).filter((e) => e.type === 'approval.vote')).toHaveLength(0);
    expect((await storedRequest(shared, id)).approvals).toEqual([
      { user: USERS.approver2, at: expect.any(Number) },
    ]);
    await w.handle.approvals.sweep();
    await expectNothingRan(id, message);
    expect(tamperReports(message, id)).toHaveLength(1);
  });

  it('an untouched request runs end to end, its record sealed with a keyed MAC at every step', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const { message, id } = await ask(w, 'INC-14: seal c');
    const sealOf = async () =>
      String((JSON.parse((await shared.client.get(requestKey(id))) ?? '{}') as { seal?: unknown }).seal);
    expect(await sealOf()).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    const pendingSeal = await sealOf();

    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, FINAL_RUN);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    expect(runningMessages(shared, message)).toHaveLength(1);
    expect(await sealOf()).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(await sealOf()).not.toBe(pendingSeal);
    await w.handle.approvals.sweep();
    expect(await countAudit(shared, 'request.tampered', id)).toBe(0);
    expect(tamperReports(message, id)).toHaveLength(0);
  });

  it('a record without a seal (as a ward before sealing stored it) is not acted on, and the click says why', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const { message, id } = await ask(w, 'INC-14: unsealed');
    await editInRedis(id, (r) => {
      delete r['seal'];
    });
    const { responseUrl } = await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    expect(await waitForResponse(shared, responseUrl)).toContain(
      `Request \`${id}\` has no seal from this ward`,
    );
    await waitFor('the report in the thread', () =>
      threadReplies(message).find((m) => textOf(m).includes(`${id} has no valid seal from this ward`)),
    );
    expect((await auditEvents(shared, id)).find((e) => e.type === 'request.tampered')?.outcome).toBe(
      'unsealed',
    );
    await w.handle.approvals.sweep();
    await expectNothingRan(id, message);
  });

  it('a forged record under a fresh id, with a recomputed unkeyed digest, is refused by /ward status and the sweep', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const { id: realId } = await ask(w, 'INC-14: template');
    // A writer who read the source recomputes the unkeyed sha256 form of the seal: a ward with a key refuses it.
    const { createHash } = await import('node:crypto');
    const { canonicalJson } = await import('../../src/core/canonical-json.js');
    const forgedId = 'r-0badc0de';
    const record = JSON.parse((await shared.client.get(requestKey(realId))) ?? '{}') as Record<
      string,
      unknown
    >;
    delete record['seal'];
    Object.assign(record, {
      id: forgedId,
      status: 'approved',
      approvals: [{ user: USERS.approver1, at: 1 }],
    });
    const digest = createHash('sha256')
      .update(`ward request record v1\n${forgedId}\n${canonicalJson(record)}`)
      .digest('hex');
    await shared.client.set(requestKey(forgedId), JSON.stringify({ ...record, seal: `sha256:${digest}` }));

    await w.handle.approvals.sweep();
    expect(await countAudit(shared, 'execution.started', forgedId)).toBe(0);
    expect(await shared.client.exists(`ward:execution:${forgedId}`)).toBe(0);
    expect(await countAudit(shared, 'request.tampered', forgedId)).toBe(1);

    const { responseUrl } = await slash(shared, w.url, USERS.requester, newChannel(), `status ${forgedId}`);
    const answer = await waitForResponse(shared, responseUrl);
    expect(answer).toContain(`Request \`${forgedId}\` has no seal from this ward`);
    expect(answer).not.toContain('Approved');
  });

  it('"Show exact plan" of an edited request shows no plan as approved: the click is told it was modified', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const { message, id } = await ask(w, 'INC-14: show plan');
    await editInRedis(id, (r) => {
      r['plan'] = { ...(r['plan'] as object), steps: [] };
    });
    const viewsBefore = shared.slack.views().length;
    const { responseUrl } = await click(shared, w.url, USERS.approver1, message, 'plan.show', id);
    expect(await waitForResponse(shared, responseUrl)).toContain(`Request \`${id}\` ${MODIFIED}`);
    expect(shared.slack.views()).toHaveLength(viewsBefore);
    expect(await countAudit(shared, 'request.tampered', id)).toBe(1);
  });

  it('"Re-run through approval" whose execution record names other text than the sealed request asks for nothing', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const { message, id, channel } = await ask(w, 'INC-14: rerun');
    // An interrupted execution record for this request, its text swapped by a Redis writer.
    await shared.client.set(
      `ward:execution:${id}`,
      JSON.stringify({
        requestId: id,
        command: 'forensics',
        text: 'forensics web1 --reason "swapped in Redis"',
        requester: USERS.requester,
        thread: { channel, ts: message.ts },
        hosts: ['web1'],
        steps: [],
        state: 'interrupted',
        owner: 'elsewhere:1:x',
        startedAt: new Date().toISOString(),
        interruption: 'ward stopped',
      }),
    );
    const { responseUrl } = await click(shared, w.url, USERS.approver1, message, 'recovery.rerun', id);
    expect(await waitForResponse(shared, responseUrl)).toContain('no longer matches its approved request');
    expect(await countAudit(shared, 'execution.rerun_requested', id)).toBe(0);
    const requests = shared.slack
      .messages(channel)
      .filter((m) => !m.thread_ts && /\(request r-[0-9a-f]+\)/.test(m.text ?? ''));
    expect(requests).toHaveLength(1);
  });

  it('a finished request stored before sealing: /ward status shows its execution record under a warning, and nothing is posted', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const { message, id, channel } = await ask(w, 'INC-14: history');
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, FINAL_RUN);
    await waitFor('the execution record to end', async () => {
      const raw = await shared.client.get(`ward:execution:${id}`);
      return raw !== null && (JSON.parse(raw) as { state: string }).state === 'finished' ? true : undefined;
    });
    await editInRedis(id, (r) => {
      delete r['seal'];
    });
    await w.handle.approvals.sweep();

    const { responseUrl } = await slash(shared, w.url, USERS.requester, channel, `status ${id}`);
    const answer = await waitForResponse(shared, responseUrl);
    expect(answer).toContain(`The stored request \`${id}\` fails its seal check (unsealed)`);
    expect(answer).toContain('Collect evidence on web1');
    expect(threadReplies(message).filter((m) => /seal|outside ward/.test(textOf(m)))).toEqual([]);
    expect(await countAudit(shared, 'request.tampered', id)).toBe(0);
  });
});
