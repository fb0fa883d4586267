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
  waitForResponse,
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
    // The metrics registry is the process's: another test in this file (any order) may have counted a dry run.
    const dryRunsBefore = await metricValue(w.handle.url, 'ward_executions_total', {
      command: 'lockdown',
      outcome: 'dry_run',
    });
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
    ).toBe(dryRunsBefore + 1);
  });

  it('inside an incident: the card, the timeline, its export and the post-incident report say "dry run: nothing changed"', async () => {
    ward = await startTestWard(
      shared,
      { lockdown: { approvals: 1, mfa: 'none', approvers: ['approver'] } },
      { WARD_DRY_RUN: '1' },
    );
    const w = ward;
    const before = new Set(shared.slack.channels().map((c) => c.id));
    const opened = await slash(
      shared,
      w.url,
      USERS.requester,
      newChannel(),
      'incident open "Dry-run drill on web1"',
    );
    await waitForResponse(shared, opened.responseUrl);
    const channel = await waitFor('the incident channel', () =>
      shared.slack.channels().find((c) => !before.has(c.id) && c.name.includes('dry-run-drill')),
    );
    const incidentId = /^inc-(\d+)-/.exec(channel.name)?.[1];
    expect(incidentId).toBeDefined();

    await slash(shared, w.url, USERS.requester, channel.id, 'lockdown web1 --reason "drill"');
    const { message, id } = await waitForApproval(shared, channel.id);
    await click(shared, w.url, USERS.approver1, message, 'approval.approve', id);
    expect(await waitForStatus(shared, id, ['dry_run', 'succeeded', 'failed', 'partial'])).toBe('dry_run');

    const surfaces: Record<string, string> = {};
    surfaces['incident card'] = await ask(w, USERS.requester, channel.id, 'incident');
    surfaces['incident timeline'] = await waitFor('the execution in the timeline', async () => {
      const t = await ask(w, USERS.requester, channel.id, 'incident timeline');
      return t.includes('lockdown') && t.toLowerCase().includes('dry run') ? t : undefined;
    });
    await slash(shared, w.url, USERS.requester, channel.id, 'incident export');
    const file = (suffix: string) =>
      waitFor(`the ${suffix}`, () =>
        shared.slack.files().find((f) => f.channel === channel.id && f.name.endsWith(suffix)),
      );
    surfaces['timeline export'] = (await file('-timeline.md')).bytes.toString();
    await slash(shared, w.url, USERS.admin, channel.id, 'incident close --summary "drill over"');
    surfaces['post-incident report'] = (await file('-report-draft.md')).bytes.toString();

    for (const [where, text] of Object.entries(surfaces))
      expect(text, where).not.toMatch(/succeeded|Succeeded/);
    for (const where of ['incident timeline', 'timeline export', 'post-incident report'])
      expect(surfaces[where]?.toLowerCase(), where).toContain('dry run: nothing changed');
    // Nothing was contained: the card has no contained host, the report no containment left in place.
    expect(surfaces['incident card']).not.toMatch(/Hosts contained[^\n]*web1/);
    expect(surfaces['post-incident report']).toContain('No containment is left in place.');
  });
});
