import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  approvalMessage,
  auditEvents,
  click,
  codeAt,
  countAudit,
  enrollMfa,
  GROUP_MEMBERS,
  HOST_KEY_B,
  hasButtons,
  metricValue,
  newChannel,
  responses,
  runningMessages,
  type Shared,
  slash,
  startShared,
  startTestWard,
  storedRequest,
  submitCode,
  textOf,
  USERS,
  type Ward,
  waitFor,
  waitForApproval,
  waitForResponse,
  waitForStatus,
  writeInventory,
} from '../helpers/approval-harness.js';
import { newTriggerId } from '../helpers/slack-requests.js';

const FINAL_RUN = ['succeeded', 'failed', 'partial'];

/** ward_approvals_total for forensics with this outcome. */
function approvals(w: Ward, outcome: string): Promise<number> {
  return metricValue(w.handle.url, 'ward_approvals_total', { command: 'forensics', outcome });
}
const REQUEST = 'forensics web1 --reason "INC-7: scanner"';

/**
 * The fake Slack is shared by every test of this file (each has its own ward and an emptied Redis), and a user's DM
 * channel is the same in every test: a test looks only at the messages and files that appeared since `shownBefore`.
 */
function shownBefore(): { messages: Set<string>; files: Set<string> } {
  return {
    messages: new Set(shared.slack.messages().map((m) => `${m.channel}/${m.ts}`)),
    files: new Set(shared.slack.files().map((f) => f.id)),
  };
}
function shownSince(earlier: { messages: Set<string> }, channel: string) {
  return shared.slack.messages(channel).filter((m) => !earlier.messages.has(`${m.channel}/${m.ts}`));
}
function qrCodesSince(earlier: { files: Set<string> }) {
  return shared.slack.files().filter((f) => f.name === 'ward-mfa.png' && !earlier.files.has(f.id));
}

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

async function start(policy: Record<string, unknown>, env: Record<string, string> = {}): Promise<Ward> {
  ward = await startTestWard(shared, { forensics: policy }, env);
  return ward;
}

describe('approval flow', () => {
  it('happy path: request → requester MFA modal → approval → runs exactly once', async () => {
    const w = await start({ approvals: 1, mfa: 'requester', expires: '15m' });
    const totp = await enrollMfa(shared, w, USERS.requester);
    const channel = newChannel();
    const { triggerId } = await slash(shared, w.url, USERS.requester, channel, REQUEST);

    // The requester's factor: a modal opened at once with the slash command's trigger_id.
    const view = await waitFor('the MFA modal', () =>
      shared.slack.views().find((v) => v.trigger_id === triggerId),
    );
    expect(JSON.stringify(view.view)).toContain('mfa.verify');
    const { message, id } = await waitForApproval(shared, channel);
    expect(textOf(message)).toContain('Approval needed: forensics on web1');
    expect(textOf(message)).toContain('Collect evidence on web1');
    expect(textOf(message)).toContain('INC-7: scanner');
    expect(textOf(message)).toContain('Waiting for <@U0REQUEST1> to confirm with MFA');

    const code = codeAt(totp, w);
    expect(await submitCode(shared, w.url, USERS.requester, id, 'requester', code)).toEqual({});
    await waitFor(
      'the MFA confirmation on the message',
      () => textOf(approvalMessage(shared, channel)!).includes('confirmed with MFA') || undefined,
    );
    expect((await storedRequest(shared, id)).status).toBe('pending');

    const approvedBefore = await approvals(w, 'approved');
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, FINAL_RUN);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    const granted = (await auditEvents(shared, id)).filter((e) => e.type === 'approval.granted');
    expect(granted.map((e) => e.details?.['approvers'])).toEqual([[USERS.approver1]]);
    expect(await approvals(w, 'approved')).toBe(approvedBefore + 1);
    expect(runningMessages(shared, message)).toHaveLength(1);
    const final = approvalMessage(shared, channel)!;
    expect(hasButtons(final)).toBe(false);
    expect(textOf(final)).toContain('<@U0APPROVE1> approved');

    const mfaAudit = (await auditEvents(shared, id)).filter((e) => e.type === 'mfa.attempt');
    expect(mfaAudit.map((e) => e.outcome)).toEqual(['success']);
    // Neither the code nor the TOTP secret reaches the log or the audit trail.
    expect(w.logs.join('')).not.toContain(code);
    expect(w.logs.join('')).not.toContain(totp.secret.base32);
    expect(JSON.stringify(await auditEvents(shared))).not.toContain(code);
  });

  it('refuses self-approval with an ephemeral answer and changes nothing', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const { responseUrl } = await click(shared, w.url, USERS.requester, message, 'approval.approve', id);
    expect(await waitForResponse(shared, responseUrl)).toContain('cannot approve it');
    expect((await storedRequest(shared, id)).status).toBe('pending');
    expect((await auditEvents(shared, id)).find((e) => e.type === 'approval.vote')?.outcome).toBe(
      'refused:self_approval',
    );
    expect(hasButtons(approvalMessage(shared, channel)!)).toBe(true);
    expect(await countAudit(shared, 'execution.started', id)).toBe(0);
  });

  it('refuses an approver who holds no approver role', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const { responseUrl } = await click(shared, w.url, USERS.outsider, message, 'approval.approve', id);
    expect(await waitForResponse(shared, responseUrl)).toContain('You may not approve');
    expect((await storedRequest(shared, id)).status).toBe('pending');
    expect(await countAudit(shared, 'execution.started', id)).toBe(0);
  });

  it('an eligible Deny ends the request; later approvals change nothing', async () => {
    const w = await start({ approvals: 2, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const deniedBefore = await approvals(w, 'denied');
    await click(shared, w.url, USERS.approver1, message, 'approval.deny', id);
    await waitForStatus(shared, id, ['denied']);
    // The audit entry is written just after the stored status changes: wait for it rather than race it.
    const denied = await waitFor('the approval.denied audit entry', async () =>
      (await auditEvents(shared, id)).find((e) => e.type === 'approval.denied'),
    );
    expect(denied.actor).toBe(USERS.approver1);
    expect(await approvals(w, 'denied')).toBe(deniedBefore + 1);
    await waitFor(
      'the denied message',
      () => textOf(approvalMessage(shared, channel)!).includes('Denied by <@U0APPROVE1>') || undefined,
    );
    expect(hasButtons(approvalMessage(shared, channel)!)).toBe(false);
    const { responseUrl } = await click(shared, w.url, USERS.approver2, message, 'approval.approve', id);
    expect(await waitForResponse(shared, responseUrl)).toContain('was denied');
    expect(await countAudit(shared, 'execution.started', id)).toBe(0);
  });

  it('expires with the injectable clock: a late click is refused and the message says expired', async () => {
    const w = await start({ approvals: 1, mfa: 'none', expires: '15m' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const expiredBefore = await approvals(w, 'expired');
    w.clock.advance(15 * 60_000 + 1000);
    const { responseUrl } = await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    expect(await waitForResponse(shared, responseUrl)).toContain('has expired');
    expect((await storedRequest(shared, id)).status).toBe('expired');
    expect(textOf(approvalMessage(shared, channel)!)).toContain('Expired');
    expect(hasButtons(approvalMessage(shared, channel)!)).toBe(false);
    expect(await countAudit(shared, 'approval.expired', id)).toBe(1);
    expect(await countAudit(shared, 'execution.started', id)).toBe(0);
    expect(await approvals(w, 'expired')).toBe(expiredBefore + 1);
  });

  it('the periodic sweep marks expired requests and redraws their message', async () => {
    const w = await start({ approvals: 1, mfa: 'none', expires: '5m' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { id } = await waitForApproval(shared, channel);
    expect(await w.handle.approvals.sweep()).toBe(0);
    w.clock.advance(5 * 60_000);
    expect(await w.handle.approvals.sweep()).toBe(1);
    expect((await storedRequest(shared, id)).status).toBe('expired');
    expect(textOf(approvalMessage(shared, channel)!)).toContain('⌛ Expired');
  });

  it('50 concurrent Approve clicks from distinct approvers on a 1-approval request → exactly one execution', async () => {
    const w = await start({ approvals: 1, mfa: 'none', approvers: ['approver'] });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const clickers = GROUP_MEMBERS.slice(0, 50);
    await Promise.all(clickers.map((u) => click(shared, w.url, u, message, 'approval.approve', id)));
    await waitForStatus(shared, id, FINAL_RUN);
    // Every click is answered and audited, exactly one of them as the approval that counted.
    await waitFor('all 50 votes audited', async () =>
      (await countAudit(shared, 'approval.vote', id)) === 50 ? true : undefined,
    );
    const votes = (await auditEvents(shared, id)).filter((e) => e.type === 'approval.vote');
    expect(votes.filter((v) => v.outcome === 'approved')).toHaveLength(1);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    expect(runningMessages(shared, message)).toHaveLength(1);
    expect((await storedRequest(shared, id)).approvals).toHaveLength(1);
  });

  it('a Slack retry of the same click (same trigger_id) is counted once', async () => {
    const w = await start({ approvals: 2, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const trigger = newTriggerId();
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id, trigger);
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id, trigger, 1);
    await waitFor('the vote', async () =>
      (await storedRequest(shared, id)).approvals.length === 1 ? true : undefined,
    );
    await waitFor(
      'the message to show 1 of 2',
      () => textOf(approvalMessage(shared, channel)!).includes('(1 so far)') || undefined,
    );
    expect(await countAudit(shared, 'approval.vote', id)).toBe(1);
    expect((await storedRequest(shared, id)).status).toBe('pending');
  });

  it('cancel: only the requester may cancel (button or /ward cancel)', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const other = await click(shared, w.url, USERS.approver1, message, 'approval.cancel', id);
    expect(await waitForResponse(shared, other.responseUrl)).toContain('Only the requester');
    expect((await storedRequest(shared, id)).status).toBe('pending');
    const cancelledBefore = await approvals(w, 'cancelled');
    const { responseUrl } = await slash(shared, w.url, USERS.requester, channel, `cancel ${id}`);
    expect(await waitForResponse(shared, responseUrl)).toContain('cancelled');
    expect((await storedRequest(shared, id)).status).toBe('cancelled');
    expect(textOf(approvalMessage(shared, channel)!)).toContain('Cancelled by the requester');
    expect(await countAudit(shared, 'approval.cancelled', id)).toBe(1);
    expect(await approvals(w, 'cancelled')).toBe(cancelledBefore + 1);
  });

  it('--dry-run shows the plan and runs nothing', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const channel = newChannel();
    const { responseUrl } = await slash(shared, w.url, USERS.requester, channel, `${REQUEST} --dry-run`);
    const reply = await waitForResponse(shared, responseUrl);
    expect(reply).toContain('Dry run');
    expect(approvalMessage(shared, channel)).toBeUndefined();
    const events = await auditEvents(shared);
    expect(events.filter((e) => e.type === 'command.dry_run')).toHaveLength(1);
    expect(
      events.filter((e) => e.type === 'approval.requested' || e.type === 'execution.started'),
    ).toHaveLength(0);
  });

  it('a plan changed between request and approval (host key edited, inventory reloaded) is refused', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    writeInventory(w.env['WARD_INVENTORY']!, HOST_KEY_B);
    w.handle.reloadInventory();
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, ['plan_changed']);
    // The audit entry is written just after the stored status changes: wait for it rather than race it.
    const refused = await waitFor('the execution.refused audit entry', async () =>
      (await auditEvents(shared, id)).find((e) => e.type === 'execution.refused'),
    );
    expect(refused.outcome).toBe('plan_changed');
    expect(await countAudit(shared, 'execution.started', id)).toBe(0);
    await waitFor(
      'the plan-changed message',
      () =>
        textOf(approvalMessage(shared, channel)!).includes('the inventory or a host key changed') ||
        undefined,
    );
    expect(runningMessages(shared, message)).toHaveLength(0);
  });

  it('a pending request survives a ward restart (state lives in Redis)', async () => {
    const first = await start({ approvals: 1, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, first.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    await first.stop();
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'none' } });
    await click(shared, ward.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, FINAL_RUN);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
  });
});

describe('enforcement levels', () => {
  it('advisory: runs at once and posts the policy warning', async () => {
    const w = await start({ approvals: 2, mfa: 'requester', enforcement: 'advisory' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const warning = await waitFor('the policy warning', () =>
      shared.slack.messages(channel).find((m) => (m.text ?? '').startsWith('Policy warning')),
    );
    expect(textOf(warning)).toContain('advisory');
    const { id } = await waitForApproval(shared, channel);
    await waitForStatus(shared, id, FINAL_RUN);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    expect(await countAudit(shared, 'policy.advisory', id)).toBe(1);
  });

  it('soft: a break-glass user with a reason overrides, loudly and audited', async () => {
    const w = await start({ approvals: 2, mfa: 'none', enforcement: 'soft', breakGlass: ['breakglass'] });
    const channel = newChannel();
    const overriddenBefore = await approvals(w, 'overridden');
    await slash(
      shared,
      w.url,
      USERS.breakGlass,
      channel,
      'forensics web1 --break-glass --reason "worm spreading now"',
    );
    const announcement = await waitFor('the break-glass announcement', () =>
      shared.slack.messages(channel).find((m) => (m.text ?? '').startsWith('BREAK-GLASS')),
    );
    expect(textOf(announcement)).toContain('<!here>');
    expect(textOf(announcement)).toContain('worm spreading now');
    const { id } = await waitForApproval(shared, channel);
    await waitForStatus(shared, id, FINAL_RUN);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    const override = (await auditEvents(shared, id)).find((e) => e.type === 'policy.override');
    expect(override?.actor).toBe(USERS.breakGlass);
    expect(override?.details?.['reason']).toBe('worm spreading now');
    expect(await approvals(w, 'overridden')).toBe(overriddenBefore + 1);
    expect(await countAudit(shared, 'approval.granted', id)).toBe(0);
  });

  it('soft: --break-glass by someone without the break-glass role is refused and nothing runs', async () => {
    const w = await start({ approvals: 1, mfa: 'none', enforcement: 'soft', breakGlass: ['breakglass'] });
    const channel = newChannel();
    const { responseUrl } = await slash(shared, w.url, USERS.requester, channel, `${REQUEST} --break-glass`);
    expect(await waitForResponse(shared, responseUrl)).toContain('break-glass role');
    expect(approvalMessage(shared, channel)).toBeUndefined();
    expect((await auditEvents(shared)).filter((e) => e.type === 'execution.started')).toHaveLength(0);
  });

  it('hard: --break-glass is refused', async () => {
    const w = await start({ approvals: 1, mfa: 'none', enforcement: 'hard', breakGlass: ['breakglass'] });
    const channel = newChannel();
    const { responseUrl } = await slash(shared, w.url, USERS.breakGlass, channel, `${REQUEST} --break-glass`);
    expect(await waitForResponse(shared, responseUrl)).toContain(
      'only applies to commands whose policy enforcement is `soft`',
    );
    expect(approvalMessage(shared, channel)).toBeUndefined();
  });
});

describe('MFA', () => {
  it('a replayed TOTP code is refused; the next code is accepted', async () => {
    const w = await start({ approvals: 1, mfa: 'requester' });
    const totp = await enrollMfa(shared, w, USERS.requester);
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { id } = await waitForApproval(shared, channel);
    const code = codeAt(totp, w);
    expect(await submitCode(shared, w.url, USERS.requester, id, 'requester', code)).toEqual({});
    // A second request, same code, same 30-second step: refused as a replay.
    const channel2 = newChannel();
    await slash(shared, w.url, USERS.requester, channel2, REQUEST);
    const second = await waitForApproval(shared, channel2);
    const replay = await submitCode(shared, w.url, USERS.requester, second.id, 'requester', code);
    expect(replay.errors?.['mfa_code']).toContain('already used');
    expect(
      (await auditEvents(shared, second.id)).filter((e) => e.type === 'mfa.attempt').map((e) => e.outcome),
    ).toEqual(['replayed']);
    w.clock.advance(30_000);
    expect(await submitCode(shared, w.url, USERS.requester, second.id, 'requester', codeAt(totp, w))).toEqual(
      {},
    );
  });

  it('five wrong codes lock the user for 15 minutes, even against a right code', async () => {
    const w = await start({ approvals: 1, mfa: 'requester', expires: '1h' });
    const totp = await enrollMfa(shared, w, USERS.requester);
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { id } = await waitForApproval(shared, channel);
    const right = codeAt(totp, w);
    const wrong = right === '000000' ? '111111' : '000000';
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      answers.push(
        (await submitCode(shared, w.url, USERS.requester, id, 'requester', wrong)).errors?.['mfa_code'] ?? '',
      );
    }
    expect(answers[0]).toContain('4 attempts left');
    expect(answers[4]).toContain('locked');
    const locked = await submitCode(shared, w.url, USERS.requester, id, 'requester', right);
    expect(locked.errors?.['mfa_code']).toContain('locked');
    expect((await storedRequest(shared, id)).status).toBe('pending');
    const outcomes = (await auditEvents(shared, id))
      .filter((e) => e.type === 'mfa.attempt')
      .map((e) => e.outcome);
    expect(outcomes).toEqual(['invalid', 'invalid', 'invalid', 'invalid', 'locked', 'locked']);
    w.clock.advance(15 * 60_000);
    expect(await submitCode(shared, w.url, USERS.requester, id, 'requester', codeAt(totp, w))).toEqual({});
  });

  it('100 concurrent wrong codes then the right one: at most 5 are checked, the right one is refused', async () => {
    const w = await start({ approvals: 1, mfa: 'requester', expires: '1h' });
    const totp = await enrollMfa(shared, w, USERS.requester);
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { id } = await waitForApproval(shared, channel);
    const right = codeAt(totp, w);
    const wrong = right === '000000' ? '111111' : '000000';
    const checks = (outcome: string) => metricValue(w.handle.url, 'ward_mfa_code_checks_total', { outcome });
    const before = {
      invalid: await checks('invalid'),
      valid: await checks('valid'),
      locked: await checks('locked'),
    };
    // Signed view submissions to ward's real endpoint, all in flight at once, as a script guessing codes would send.
    const guesses = await Promise.all(
      Array.from({ length: 100 }, () => submitCode(shared, w.url, USERS.requester, id, 'requester', wrong)),
    );
    const afterRight = await submitCode(shared, w.url, USERS.requester, id, 'requester', right);
    expect(guesses.every((g) => g.errors?.['mfa_code'] !== undefined)).toBe(true);
    expect(afterRight.errors?.['mfa_code']).toContain('locked');
    const invalid = (await checks('invalid')) - before.invalid;
    expect(invalid).toBeGreaterThan(0);
    expect(invalid).toBeLessThanOrEqual(5);
    expect((await checks('valid')) - before.valid).toBe(0);
    expect((await checks('locked')) - before.locked).toBe(101 - invalid);
    const outcomes = (await auditEvents(shared, id))
      .filter((e) => e.type === 'mfa.attempt')
      .map((e) => e.outcome);
    expect(outcomes.filter((o) => o === 'invalid').length).toBeLessThanOrEqual(4);
    expect(outcomes).not.toContain('success');
    expect((await storedRequest(shared, id)).status).toBe('pending');
  });

  it('`mfa confirm` by someone already enrolled says so and audits nothing as a success', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    await enrollMfa(shared, w, USERS.approver1);
    const attemptsBefore = (await auditEvents(shared)).filter((e) => e.type === 'mfa.attempt').length;
    const channel = newChannel();
    const { responseUrl } = await slash(shared, w.url, USERS.approver1, channel, 'mfa confirm 000000');
    const answer = await waitForResponse(shared, responseUrl);
    expect(answer).toContain('already enrolled');
    expect(answer).not.toContain('MFA enrolled.');
    expect((await auditEvents(shared)).filter((e) => e.type === 'mfa.attempt')).toHaveLength(attemptsBefore);
  });

  it('the enrolment DM and QR code are deleted once enrolment is confirmed', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const deletesBefore = shared.slack.callsTo('files.delete').length;
    const earlier = shownBefore();
    await enrollMfa(shared, w, USERS.approver2);
    const dm = shared.slack.dmChannelFor(USERS.approver2);
    await waitFor('the enrolment DM to be deleted', () =>
      shownSince(earlier, dm).some((m) => JSON.stringify(m).includes('otpauth://')) ? undefined : true,
    );
    expect(qrCodesSince(earlier)).toEqual([]);
    expect(shared.slack.callsTo('files.delete').length - deletesBefore).toBe(1);
  });

  it('an enrolment DM never confirmed is deleted after 15 minutes, not before', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const earlier = shownBefore();
    const channel = newChannel();
    const { responseUrl } = await slash(shared, w.url, USERS.approver2, channel, 'mfa enroll');
    await waitForResponse(shared, responseUrl);
    const dm = shared.slack.dmChannelFor(USERS.approver2);
    const secretShown = () => shownSince(earlier, dm).some((m) => JSON.stringify(m).includes('otpauth://'));
    expect(secretShown()).toBe(true);
    w.clock.advance(14 * 60_000);
    expect(await w.handle.sweepEnrolmentMessages()).toBe(0);
    expect(secretShown()).toBe(true);
    w.clock.advance(60_000);
    expect(await w.handle.sweepEnrolmentMessages()).toBe(1);
    expect(secretShown()).toBe(false);
    expect(qrCodesSince(earlier)).toEqual([]);
  });

  it('approver MFA: the vote counts only after a valid code in the modal', async () => {
    const w = await start({ approvals: 1, mfa: 'approvers' });
    const totp = await enrollMfa(shared, w, USERS.approver1);
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const trigger = newTriggerId();
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id, trigger);
    await waitFor('the approver MFA modal', () => shared.slack.views().find((v) => v.trigger_id === trigger));
    expect((await storedRequest(shared, id)).approvals).toHaveLength(0);
    const bad = await submitCode(shared, w.url, USERS.approver1, id, 'approver', '12345x');
    expect(bad.errors?.['mfa_code']).toContain('not valid');
    expect((await storedRequest(shared, id)).approvals).toHaveLength(0);
    expect(await submitCode(shared, w.url, USERS.approver1, id, 'approver', codeAt(totp, w))).toEqual({});
    await waitForStatus(shared, id, FINAL_RUN);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
  });

  it('a command that needs MFA is refused with a clear message when WARD_ENCRYPTION_KEY is unset', async () => {
    const w = await start({ approvals: 1, mfa: 'requester' }, { WARD_ENCRYPTION_KEY: '' });
    const channel = newChannel();
    const { responseUrl } = await slash(shared, w.url, USERS.requester, channel, REQUEST);
    expect(await waitForResponse(shared, responseUrl)).toContain('WARD_ENCRYPTION_KEY is not set');
    expect(approvalMessage(shared, channel)).toBeUndefined();
    const enroll = await slash(shared, w.url, USERS.requester, channel, 'mfa enroll');
    expect(await waitForResponse(shared, enroll.responseUrl)).toContain('WARD_ENCRYPTION_KEY is not set');
  });

  it('enrolment sends the QR code as a PNG in the DM; status and admin reset work', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const earlier = shownBefore();
    const channel = newChannel();
    const enroll = await slash(shared, w.url, USERS.approver2, channel, 'mfa enroll');
    // Looked at before confirming: ward deletes the QR code once the enrolment is confirmed.
    const png = await waitFor('the QR code', () => qrCodesSince(earlier)[0]);
    // This enrolment is done (its reply is its last step) before the next one starts.
    await waitForResponse(shared, enroll.responseUrl);
    expect(png.bytes.subarray(1, 4).toString()).toBe('PNG');
    await enrollMfa(shared, w, USERS.approver2);
    const st = await slash(shared, w.url, USERS.approver2, channel, 'mfa status');
    expect(await waitForResponse(shared, st.responseUrl)).toContain('enrolled');
    const denied = await slash(
      shared,
      w.url,
      USERS.approver1,
      channel,
      `mfa reset <@${USERS.approver2}|bob>`,
    );
    expect(await waitForResponse(shared, denied.responseUrl)).toContain('Only an *admin*');
    const reset = await slash(shared, w.url, USERS.admin, channel, `mfa reset <@${USERS.approver2}|bob>`);
    expect(await waitForResponse(shared, reset.responseUrl)).toContain('is reset');
    const after = await slash(shared, w.url, USERS.approver2, channel, 'mfa status');
    expect(await waitForResponse(shared, after.responseUrl)).toContain('not enrolled');
    expect(responses(shared, after.responseUrl)).toHaveLength(1);
  });

  it('the requester sees a clear refusal when they have no MFA enrolled', async () => {
    const w = await start({ approvals: 1, mfa: 'requester' });
    const channel = newChannel();
    const { responseUrl } = await slash(shared, w.url, USERS.requester, channel, REQUEST);
    expect(await waitForResponse(shared, responseUrl)).toContain('/ward mfa enroll');
    expect(approvalMessage(shared, channel)).toBeUndefined();
  });
});

describe('/ward status <request-id>', () => {
  /** Asks `/ward status <id>` through ward's HTTP endpoint; returns everything the ephemeral answer shows. */
  async function status(w: Ward, user: string, id: string): Promise<string> {
    const { responseUrl } = await slash(shared, w.url, user, newChannel(), `status ${id}`);
    const call = await waitFor('the status answer', () =>
      shared.slack.callsTo('response_url').find((c) => c.args['response_url'] === responseUrl),
    );
    expect(call.args['response_type']).toBe('ephemeral');
    return `${String(call.args['text'] ?? '')}\n${JSON.stringify(call.args['blocks'] ?? [])}`;
  }

  it('a pending request: its state, votes so far, who still owes MFA, nothing run', async () => {
    const w = await start({ approvals: 2, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    await waitFor('the first vote', async () =>
      (await storedRequest(shared, id)).approvals.length === 1 ? true : undefined,
    );
    const shown = await status(w, USERS.outsider, id);
    expect(shown).toContain(`Request ${id} (forensics): waiting for approval.`);
    expect(shown).toContain('Approvals 1/2');
    expect(shown).toContain(`<@${USERS.approver1}> approved `);
    expect(shown).toContain('requester: not required');
    expect(shown).toContain('not started (waiting for approval)');
    expect(shown).toContain('/ward forensics web1 --reason \\"INC-7: scanner\\"');
  });

  it('a request that ran: approver and MFA with when, the outcome and every step of its execution', async () => {
    const w = await start({ approvals: 1, mfa: 'requester' });
    const totp = await enrollMfa(shared, w, USERS.requester);
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    expect(await submitCode(shared, w.url, USERS.requester, id, 'requester', codeAt(totp, w))).toEqual({});
    await waitFor('the requester factor', async () =>
      (await storedRequest(shared, id)).status === 'pending' &&
      textOf(approvalMessage(shared, channel)!).includes('confirmed with MFA')
        ? true
        : undefined,
    );
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    // This harness has no SSH host: the run fails to connect, which is what the status must report.
    expect(await waitForStatus(shared, id, FINAL_RUN)).toBe('failed');
    const shown = await status(w, USERS.requester, id);
    expect(shown).toContain(`Request ${id} (forensics): failed.`);
    expect(shown).toContain(`<@${USERS.approver1}> approved `);
    expect(shown).toContain(`confirmed by <@${USERS.requester}>`);
    expect(shown).toContain('Execution failed: Collect evidence on web1 (127.0.0.1), read-only: failed.');
    expect(shown).toContain(
      '❌ failed: Collect evidence on web1 (127.0.0.1), read-only (`could not connect to web1',
    );
  });

  it('a denied request says who denied it and that nothing ran', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    await click(shared, w.url, USERS.approver2, message, 'approval.deny', id);
    await waitForStatus(shared, id, ['denied']);
    const shown = await status(w, USERS.requester, id);
    expect(shown).toContain(`Request ${id} (forensics): denied: nothing was run.`);
    expect(shown).toContain(`denied by <@${USERS.approver2}>`);
    expect(shown).toContain('Denied. Nothing was run.');
    expect(shown).not.toContain('Execution ');
  });

  it('an unknown or malformed id gets a clear answer', async () => {
    const w = await start({ approvals: 1, mfa: 'none' });
    const unknown = await slash(shared, w.url, USERS.requester, newChannel(), 'status r-0000ff');
    expect(await waitForResponse(shared, unknown.responseUrl)).toContain('There is no request `r-0000ff`');
    const bad = await slash(shared, w.url, USERS.requester, newChannel(), 'status 42');
    expect(await waitForResponse(shared, bad.responseUrl)).toContain(
      '`id`: must be a request id such as r-7f3a9c',
    );
  });
});
