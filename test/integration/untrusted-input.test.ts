/**
 * What a hostile or careless user can type or click, sent to ward's real Bolt endpoint as Slack sends it (signed),
 * and what ward then posts to the fake Slack: text that must stay text, containment targets that must be refused,
 * votes that must come from the request's own message.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  approvalMessage,
  auditEvents,
  click,
  codeAt,
  enrollMfa,
  newChannel,
  type Shared,
  slash,
  startShared,
  startTestWard,
  storedRequest,
  submitCode,
  submitMfaView,
  USERS,
  type Ward,
  waitFor,
  waitForApproval,
  waitForResponse,
  waitForStatus,
} from '../helpers/approval-harness.js';
import { newTriggerId } from '../helpers/slack-requests.js';

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

describe('block-ip refuses targets that would hurt the host rather than the attacker', () => {
  // The harness inventory: web1, management 198.51.100.0/24.
  const cases: Array<[string, RegExp]> = [
    ['::/0', /::\/0 is too wide: ward blocks IPv6 ranges of \/48 or narrower/],
    ['0.0.0.0/1', /0\.0\.0\.0\/1 is too wide: ward blocks IPv4 ranges of \/16 or narrower/],
    ['10.0.0.0/8', /10\.0\.0\.0\/8 is too wide/],
    ['2001:db8::/32', /2001:db8::\/32 is too wide/],
    ['127.0.0.0/8', /127\.0\.0\.0\/8 is loopback/],
    ['127.0.0.1', /127\.0\.0\.1 is loopback/],
    ['::1', /::1 is loopback/],
    ['169.254.169.254', /169\.254\.169\.254 is link-local/],
    ['fe80::1', /fe80::1 is link-local/],
    ['224.0.0.251', /224\.0\.0\.251 is multicast/],
    ['ff02::1', /ff02::1 is multicast/],
    ['0.0.0.0', /0\.0\.0\.0 is the unspecified address/],
    ['::', /:: is the unspecified address/],
    ['::ffff:203.0.113.9', /is IPv4-mapped IPv6/],
  ];

  it.each(cases)('block-ip web1 %s → a specific refusal, no request, nothing run', async (target, why) => {
    ward = await startTestWard(shared, { 'block-ip': { approvals: 1, mfa: 'none' } });
    const channel = newChannel();
    const { responseUrl } = await slash(
      shared,
      ward.url,
      USERS.requester,
      channel,
      `block-ip web1 ${target} --reason "INC-9"`,
    );
    const reply = await waitForResponse(shared, responseUrl);
    expect(reply).toMatch(why);
    expect(reply).toContain('Nothing was run');
    expect(approvalMessage(shared, channel)).toBeUndefined();
    expect((await auditEvents(shared)).filter((e) => e.type === 'approval.requested')).toEqual([]);
  });

  it('the minimum prefix is configurable, and a target within it gets a plan', async () => {
    ward = await startTestWard(
      shared,
      { 'block-ip': { approvals: 1, mfa: 'none' } },
      { WARD_BLOCK_MIN_PREFIX_V4: '24' },
    );
    const channel = newChannel();
    const wide = await slash(shared, ward.url, USERS.requester, channel, 'block-ip web1 203.0.112.0/23');
    expect(await waitForResponse(shared, wide.responseUrl)).toMatch(
      /ranges of \/24 or narrower \(WARD_BLOCK_MIN_PREFIX_V4\)/,
    );
    await slash(shared, ward.url, USERS.requester, channel, 'block-ip web1 203.0.113.0/24');
    const message = await waitFor('the approval message', () => approvalMessage(shared, channel));
    expect(JSON.stringify(message.blocks)).toContain('Drop inbound traffic from 203.0.113.0/24');
  });
});

describe("votes count only from the request's own message", () => {
  const REQUEST = 'forensics web1 --reason "INC-7"';

  it('an Approve or Deny click naming another channel, or another message, changes nothing and is refused', async () => {
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'none' } });
    const channel = newChannel();
    await slash(shared, ward.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    // Correctly signed clicks on a button with the request's id, but not on its message.
    const elsewhere = { ...message, channel: newChannel() };
    const otherTs = { ...message, ts: '1111111111.000100' };
    for (const [where, action] of [
      [elsewhere, 'approval.approve'],
      [otherTs, 'approval.approve'],
      [elsewhere, 'approval.deny'],
    ] as const) {
      const { responseUrl } = await click(shared, ward.url, USERS.approver1, where, action, id);
      expect(await waitForResponse(shared, responseUrl)).toContain(
        `That button is not on request \`${id}\`'s own message`,
      );
    }
    const stored = await storedRequest(shared, id);
    expect(stored.status).toBe('pending');
    expect(stored.approvals).toEqual([]);
    expect(
      (await auditEvents(shared, id)).filter((e) => e.type === 'approval.vote').map((e) => e.outcome),
    ).toEqual(['refused:other_message', 'refused:other_message', 'refused:other_message']);
    // The same click on the request's own message counts.
    await click(shared, ward.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, ['succeeded', 'failed', 'partial']);
  });

  it("an MFA code submitted from a window that names another message is not the request's factor", async () => {
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'approvers' } });
    const w = ward;
    const totp = await enrollMfa(shared, w, USERS.approver1);
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, REQUEST);
    const { message, id } = await waitForApproval(shared, channel);
    const trigger = newTriggerId();
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id, trigger);
    const opened = await waitFor('the approver MFA modal', () =>
      shared.slack.views().find((v) => v.trigger_id === trigger),
    );
    const meta = JSON.parse((opened.view as { private_metadata: string }).private_metadata) as Record<
      string,
      string
    >;
    expect(meta).toEqual({ requestId: id, factor: 'approver', channel, ts: message.ts });
    const forged = [
      JSON.stringify({ requestId: id, factor: 'approver' }),
      JSON.stringify({ ...meta, channel: newChannel() }),
      JSON.stringify({ ...meta, ts: '1111111111.000100' }),
    ];
    for (const m of forged) {
      const answer = await submitMfaView(w.url, USERS.approver1, m, codeAt(totp, w));
      expect(answer.errors?.['mfa_code']).toContain('does not belong to the request message');
    }
    expect((await storedRequest(shared, id)).approvals).toEqual([]);
    expect(
      (await auditEvents(shared, id)).filter((e) => e.type === 'mfa.attempt').map((e) => e.outcome),
    ).toEqual([]);
    expect(await submitCode(shared, w.url, USERS.approver1, id, 'approver', codeAt(totp, w))).toEqual({});
    await waitForStatus(shared, id, ['succeeded', 'failed', 'partial']);
  });
});

describe('user text stays text in the approval message', () => {
  it('a reason with newlines and markup shows as one inert line; ward keeps the only Plan and Approvals lines', async () => {
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'none' } });
    const channel = newChannel();
    const reason = 'INC-7\n*Plan*\n1. nothing (read-only check)\n*Approvals:* pre-approved by *admin*';
    // Slack passes the newlines of a multi-line slash command through as they are.
    await slash(shared, ward.url, USERS.requester, channel, `forensics web1 --reason "${reason}"`);
    const { message } = await waitForApproval(shared, channel);
    const mrkdwn = (message.blocks as Array<{ text?: { type: string; text: string } }>)
      .map((b) => b.text)
      .filter((t) => t?.type === 'mrkdwn')
      .map((t) => t!.text);
    const lines = mrkdwn.join('\n').split('\n');
    expect(lines.filter((l) => l.startsWith('*Plan*'))).toHaveLength(1);
    // ward's own requirement line ("*Needs* 1 of …") is the only one; the reason's fake "*Approvals:*" is not a line.
    expect(lines.filter((l) => l.startsWith('*Needs*') || l.startsWith('*Approvals:*'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('*Needs* 1 of'))).toHaveLength(1);
    expect(lines.filter((l) => /^\d+\. nothing/.test(l))).toEqual([]);
    expect(lines).toContain(
      '*Why:* `INC-7 ⏎ *Plan* ⏎ 1. nothing (read-only check) ⏎ *Approvals:* pre-approved by *admin*`',
    );
  });
});
