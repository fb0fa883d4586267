import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  approvalMessage,
  auditEvents,
  click,
  metricValue,
  newChannel,
  type Shared,
  slash,
  startShared,
  startTestWard,
  textOf,
  USERS,
  type Ward,
  waitFor,
  waitForApproval,
  waitForStatus,
} from '../helpers/approval-harness.js';

/**
 * A dry run (WARD_DRY_RUN=1) driven end to end, then read back from every surface ward can say it on: the request
 * message, its thread, `/ward status`, `/ward audit`, `/ward hosts` and the metrics label. None may call it
 * "succeeded"; each must say "dry run: nothing changed". (A dry run sends no email: the admins' email goes out from
 * the steps that ran, and none did.)
 */
let shared: Shared;
let ward: Ward | undefined;

beforeAll(async () => {
  shared = await startShared();
});
afterAll(async () => {
  await shared?.close();
});
afterEach(async () => {
  await ward?.stop();
  ward = undefined;
});

/** A slash command's ephemeral answer as the person sees it: its text and its blocks. */
async function ask(w: Ward, user: string, channel: string, text: string): Promise<string> {
  const { responseUrl } = await slash(shared, w.url, user, channel, text);
  return waitFor(`the answer to ${text}`, () => {
    const c = shared.slack.callsTo('response_url').find((x) => x.args['response_url'] === responseUrl);
    return c ? `${String(c.args['text'] ?? '')}\n${JSON.stringify(c.args['blocks'] ?? [])}` : undefined;
  });
}

describe('a dry run is labelled a dry run everywhere', () => {
  it('request message, thread, status, audit, hosts, metrics: "dry run: nothing changed", never "succeeded"', async () => {
    ward = await startTestWard(
      shared,
      { lockdown: { approvals: 1, mfa: 'none', approvers: ['approver'] } },
      { WARD_DRY_RUN: '1' },
    );
    const w = ward;
    const channel = newChannel();
    await slash(shared, w.url, USERS.requester, channel, 'lockdown web1 --reason "INC-9: drill"');
    const { message, id } = await waitForApproval(shared, channel);
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    expect(await waitForStatus(shared, id, ['dry_run', 'succeeded', 'failed', 'partial'])).toBe('dry_run');

    const surfaces: Record<string, string> = {};
    await waitFor('the request message to show the dry run', async () => {
      const m = approvalMessage(shared, channel);
      return m && textOf(m).includes('Dry run') ? true : undefined;
    });
    surfaces['request message'] = textOf(approvalMessage(shared, channel)!);
    const thread = shared.slack.messages(channel).filter((m) => m.thread_ts === message.ts);
    await waitFor('the thread result', async () =>
      shared.slack.messages(channel).some((m) => m.thread_ts === message.ts && textOf(m).includes('Outcome:'))
        ? true
        : undefined,
    );
    surfaces['thread'] = shared.slack
      .messages(channel)
      .filter((m) => m.thread_ts === message.ts)
      .map(textOf)
      .join('\n');
    surfaces['status'] = await ask(w, USERS.requester, channel, `status ${id}`);
    surfaces['audit'] = await ask(w, USERS.admin, channel, `audit ${id}`);
    surfaces['hosts'] = await ask(w, USERS.requester, channel, 'hosts');

    for (const [where, text] of Object.entries(surfaces)) {
      expect(text, where).not.toMatch(/succeeded|Succeeded|Done:/);
      expect(text.toLowerCase(), where).toContain('dry run');
    }
    for (const where of ['request message', 'thread', 'status', 'audit', 'hosts'])
      expect(surfaces[where]?.toLowerCase(), where).toContain('dry run: nothing changed');
    // No "Running" line for what did not run.
    expect(surfaces['thread']).not.toContain('Running');
    expect(thread.every((m) => !textOf(m).includes('⚙️'))).toBe(true);
    // The audit entry and the metrics label carry the machine word.
    const finished = (await auditEvents(shared, id)).find((e) => e.type === 'execution.finished');
    expect(finished?.outcome).toBe('dry_run');
    expect(
      await metricValue(w.handle.url, 'ward_executions_total', { command: 'lockdown', outcome: 'dry_run' }),
    ).toBe(1);
  });
});
