import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import {
  ADMIN,
  messageText,
  type OpsHarness,
  RESPONDER,
  startOpsHarness,
  waitUntil,
} from '../helpers/ops-harness.js';

let h: OpsHarness;

beforeAll(async () => {
  h = await startOpsHarness();
});

afterAll(async () => {
  await h?.stop();
});

async function auditEntries(requestId?: string) {
  const store = new RedisStore(h.redis.url);
  await store.connect();
  try {
    return (await readAuditEvents(store)).filter((e) => requestId === undefined || e.requestId === requestId);
  } finally {
    await store.close();
  }
}

describe('shutdown and crash recovery', () => {
  it('SIGTERM: an execution that ends within the grace period finishes and is reported; ward exits 0', async () => {
    // The handshake to `stuck` times out after 3 s, well inside a 60 s grace period.
    const ward = await h.startWard({ WARD_SSH_CONNECT_TIMEOUT_MS: '3000', WARD_SHUTDOWN_GRACE_MS: '60000' });
    const before = h.stuckConnections();
    await h.slash(ward, 'forensics stuck --reason "sigterm drains"');
    const running = await h.waitForMessage((m) => !m.thread_ts && messageText(m).includes('sigterm drains'));
    // SIGTERM while the SSH handshake is under way.
    await waitUntil(() => h.stuckConnections() > before || undefined, 'the SSH connection attempt');
    expect(await ward.stop()).toBe(0);
    const thread = h.slack.messages().filter((m) => m.thread_ts === running.ts && m.ts !== running.ts);
    expect(thread.map(messageText).join('\n')).toMatch(/could not connect to stuck/);
    expect(thread.map(messageText).join('\n')).not.toMatch(/interrupted/);
  }, 90_000);

  it('SIGTERM: an execution still running when the grace period ends is reported interrupted; ward exits 0', async () => {
    const ward = await h.startWard({ WARD_SHUTDOWN_GRACE_MS: '1500' });
    const before = h.stuckConnections();
    await h.slash(ward, 'forensics stuck --reason "sigterm interrupts"');
    const running = await h.waitForMessage(
      (m) => !m.thread_ts && messageText(m).includes('sigterm interrupts'),
    );
    expect(messageText(running)).toContain(`Requested by* <@${RESPONDER}>`);
    await waitUntil(() => h.stuckConnections() > before || undefined, 'the SSH connection attempt');
    expect(await ward.stop()).toBe(0);
    const notice = h.slack
      .messages()
      .find((m) => m.thread_ts === running.ts && /interrupted/.test(m.text ?? ''));
    expect(notice, 'an interruption notice in the thread').toBeDefined();
    const text = messageText(notice!);
    expect(text).toMatch(/grace period/);
    expect(text).toMatch(/Collect evidence on stuck/);
    expect(JSON.stringify(notice!.blocks)).toContain('recovery.rerun');
    const entries = await auditEntries();
    expect(entries.some((e) => e.type === 'execution.interrupted' && e.command === 'forensics')).toBe(true);
    // The request message itself no longer says it is running.
    const request = messageText(h.slack.messages().find((m) => m.ts === running.ts)!);
    expect(request).toMatch(/^Interrupted: forensics on stuck/);
    expect(request).toMatch(/Interrupted .*grace period/);
    expect(request).not.toMatch(/running since/);
  });

  it('SIGKILL mid-execution: the next ward reports it interrupted, with what was done, and a re-run button that goes through the gate', async () => {
    const first = await h.startWard();
    const before = h.stuckConnections();
    await h.slash(first, 'forensics stuck --reason "killed mid-way"');
    const running = await h.waitForMessage((m) => !m.thread_ts && messageText(m).includes('killed mid-way'));
    // Wait until the SSH connection is being attempted (the step is in progress), then crash.
    await first.waitForLog((l) => l['msg'] === 'command accepted');
    const deadline = Date.now() + 20_000;
    while (h.stuckConnections() === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(h.stuckConnections()).toBeGreaterThan(before);
    await first.kill();

    const second = await h.startWard();
    const notice = await h.waitForMessage(
      (m) => m.thread_ts === running.ts && /interrupted/.test(m.text ?? ''),
    );
    const text = messageText(notice);
    expect(text).toMatch(/stopped without finishing/);
    expect(text).toMatch(/In progress when it stopped/);
    expect(text).toMatch(/Collect evidence on stuck/);
    expect(text).toMatch(/Nothing will be re-run automatically/);
    await second.waitForLog((l) => String(l['msg']).startsWith('found an execution left running'));
    // The request message ends as interrupted (it said "running"); the re-run button stays in the thread's notice.
    const request = await waitUntil(
      () => {
        const m = h.slack.messages().find((x) => x.ts === running.ts);
        return m && /^Interrupted: forensics on stuck/.test(messageText(m)) ? m : undefined;
      },
      'the request message redrawn as interrupted',
      20_000,
    );
    expect(messageText(request)).toMatch(/stopped without finishing it/);
    expect(messageText(request)).not.toMatch(/running since/);
    expect(JSON.stringify(request.blocks)).not.toContain('recovery.rerun');

    // Nothing re-ran by itself: the only top-level forensics message for this reason is the original one.
    const topLevel = () =>
      h.slack.messages().filter((m) => !m.thread_ts && messageText(m).includes('killed mid-way'));
    expect(topLevel()).toHaveLength(1);

    await h.click(second, notice, 'recovery.rerun', ADMIN);
    const rerun = await h.waitForMessage(
      (m) => !m.thread_ts && m.ts !== running.ts && messageText(m).includes('killed mid-way'),
    );
    // A new request, from the person who clicked, for the same command text, with its own request id.
    const idOf = (m: FakeMessage) => /\(request (r-[0-9a-f]+)\)/.exec(m.text ?? '')?.[1];
    expect(messageText(rerun)).toContain(`Requested by* <@${ADMIN}>: \`forensics\` on stuck`);
    expect(idOf(rerun)).toBeDefined();
    expect(idOf(rerun)).not.toBe(idOf(running));
    expect(
      h.slack
        .messages()
        .some(
          (m) =>
            m.thread_ts === notice.thread_ts &&
            m.text === `<@${ADMIN}> asked to run this again: it goes through approval as a new request.`,
        ),
    ).toBe(true);
    const entries = await auditEntries();
    expect(
      entries.some(
        (e) => e.type === 'execution.rerun_requested' && e.actor === ADMIN && e.requestId === idOf(running),
      ),
    ).toBe(true);
    expect(entries.filter((e) => e.type === 'execution.interrupted').length).toBeGreaterThanOrEqual(1);

    // /ward status tells the same story: interrupted, its step in progress. Asked last, because its ephemeral
    // answer quotes the command text that the message searches above look for.
    const originalId = idOf(running);
    expect(originalId).toBeDefined();
    const asked = await h.slash(second, `status ${originalId}`);
    const answer = await h.waitForReply(asked.responseUrl);
    expect(answer).toContain(`Request ${originalId} (forensics): interrupted (may have partly run).`);
    expect(answer).toMatch(/Execution interrupted: Collect evidence on stuck[^:]*: running\./);
  }, 90_000);
});
