import { describe, expect, it } from 'vitest';
import {
  approve,
  cancel,
  deny,
  expireIfDue,
  finish,
  initialState,
  interrupt,
  requesterVerified,
} from '../../src/core/approvals/request.js';
import { sampleRequest } from '../helpers/sample-request.js';

const T = 1_760_000_100_000;

describe('approval request transitions', () => {
  it('the requester cannot approve their own request', () => {
    expect(approve(sampleRequest(), 'U0REQUEST1', T)).toEqual({ next: null, result: 'self_approval' });
  });

  it('approvals come from distinct users', () => {
    const once = approve(sampleRequest(), 'U0APPROVE1', T).next!;
    expect(approve(once, 'U0APPROVE1', T + 1)).toEqual({ next: null, result: 'already_voted' });
  });

  it('becomes approved only with enough approvals and the requester factor', () => {
    let r = approve(sampleRequest(), 'U0APPROVE1', T).next!;
    r = approve(r, 'U0APPROVE2', T).next!;
    expect(r.status).toBe('pending');
    r = requesterVerified(r, 'U0REQUEST1', T).next!;
    expect(r.status).toBe('approved');
  });

  it('a click after expiry expires the request and counts nothing', () => {
    const t = approve(sampleRequest(), 'U0APPROVE1', 1_760_000_900_000);
    expect(t.result).toBe('expired');
    expect(t.next?.status).toBe('expired');
    expect(t.next?.approvals).toEqual([]);
  });

  it('nothing changes a final request', () => {
    const denied = deny(sampleRequest(), 'U0APPROVE1', T).next!;
    expect(denied.status).toBe('denied');
    expect(approve(denied, 'U0APPROVE2', T).result).toBe('not_pending');
    expect(cancel(denied, 'U0REQUEST1', T).result).toBe('not_pending');
    expect(expireIfDue(denied, T + 10_000_000).next).toBeNull();
  });

  it('only the requester cancels', () => {
    expect(cancel(sampleRequest(), 'U0APPROVE1', T).result).toBe('not_requester');
    expect(cancel(sampleRequest(), 'U0REQUEST1', T).next?.status).toBe('cancelled');
  });

  it('an interruption ends a running request for good; a late report does not overwrite it', () => {
    const running = sampleRequest({ status: 'running', startedAt: T });
    const t = interrupt(running, 'ward was shut down', T + 5);
    expect(t.next).toMatchObject({
      status: 'interrupted',
      interruption: 'ward was shut down',
      finishedAt: T + 5,
    });
    const late = { outcome: 'succeeded' as const, summary: 'done', steps: [] };
    expect(finish(t.next!, late, T + 6)).toEqual({ next: null, result: 'not_pending' });
    // A request that had finished keeps its outcome; one not yet running is not touched.
    expect(interrupt(finish(running, late, T + 1).next!, 'x', T + 2).next).toBeNull();
    expect(interrupt(sampleRequest(), 'x', T).next).toBeNull();
  });

  it("a dry run's report is kept as one, so the message can say nothing changed", () => {
    const running = sampleRequest({ status: 'running', startedAt: T });
    const dry = { outcome: 'succeeded' as const, dryRun: true, summary: 'Dry run', steps: [] };
    expect(finish(running, dry, T + 1).next?.result).toEqual({
      outcome: 'succeeded',
      summary: 'Dry run',
      dryRun: true,
    });
    const real = { outcome: 'succeeded' as const, summary: 'done', steps: [] };
    expect(finish(running, real, T + 1).next?.result).toEqual({ outcome: 'succeeded', summary: 'done' });
  });

  it('a request needing nothing is approved from the start', () => {
    expect(initialState(sampleRequest({ approvalsNeeded: 0, requesterMfa: 'not_required' })).status).toBe(
      'approved',
    );
  });
});
