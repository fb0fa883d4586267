import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FakeMessage } from '../fakes/fake-slack.js';
import {
  CHANNEL,
  type Harness,
  messageText,
  RESPONDER,
  SIGNING_SECRET,
  startHarness,
  waitUntil,
} from '../helpers/remediation-harness.js';
import { newTriggerId, sendBlockAction, sendViewSubmission } from '../helpers/slack-requests.js';
import { describeLab } from '../lab/lab.js';

const APPROVER = 'U0APPROVE1';
const IMPLANT = 'ward hunt follow-up implant: not a real binary\n';
const IMPLANT_SHA = createHash('sha256').update(IMPLANT).digest('hex');
const IMPLANT_PATH = '/tmp/.cache/kworker-upd';
// Long enough that edits made one per host (hosts finish within a few seconds of each other) could not pass for
// edits spaced by the interval, even with Slack's latency under load blurring when each edit arrives.
const PROGRESS_INTERVAL_MS = 8000;
const HOSTS = ['web1', 'web2', 'web3', 'web4', 'web5', 'web6', 'web7'];

/**
 * What a hunt's summary leads to, on seven real hosts (more than five, so a hunt over all of them shows live
 * progress): web2, web4 and web6 hold the implant, web7's sshd is stopped, web1, web3 and web5 are clean.
 */
describeLab('hunt follow-ups across seven real sshd hosts', () => {
  let h: Harness;
  const address = (name: string) => h.lab.hosts.find((x) => x.name === name)!.address;
  const open8080 = (name: string) => h.lab.canConnect(h.lab.mgmt.ns, address(name), 8080, 500);

  const plantImplant = async (name: string) => {
    const r = await h.lab.execOnHost(name, ['sh', '-c', `mkdir -p /tmp/.cache && cat > ${IMPLANT_PATH}`], {
      stdin: IMPLANT,
    });
    expect(r.code).toBe(0);
  };

  beforeAll(async () => {
    h = await startHarness({
      hosts: HOSTS.length,
      inventory: (yaml) => `${yaml}hunt:\n  paths: ["/tmp", "/usr/sbin"]\n`,
      env: {
        WARD_HUNT_PROGRESS_INTERVAL_MS: String(PROGRESS_INTERVAL_MS),
        // Seven connections at once through the lab's proxy processes on a busy two-core machine: the harness's
        // 5 s would turn slow hosts into failed ones.
        WARD_SSH_CONNECT_TIMEOUT_MS: '30000',
        WARD_SSH_COMMAND_TIMEOUT_MS: '60000',
      },
      policy: () =>
        [
          'roles:',
          `  responder: [${RESPONDER}]`,
          `  approver: [${APPROVER}]`,
          `  admin: [${RESPONDER}]`,
          'commands:',
          // One approval: the button's request waits for it, so the test reads the request without running it.
          '  forensics: { allow: [responder], approvals: 1, approvers: [approver], mfa: none }',
          '  block-port: { allow: [responder], approvals: 0, mfa: none }',
          '  unblock-port: { allow: [responder], approvals: 0, mfa: none }',
          '',
        ].join('\n'),
    });
    for (const name of ['web2', 'web4', 'web6']) await plantImplant(name);
    await h.lab.stopSshd('web7');
  }, 180_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  /** Sends `/ward <text>` and waits for the hunt's summary. */
  async function hunt(text: string): Promise<{ summary: FakeMessage; id: string; startedAt: number }> {
    const before = h.slack.messages(CHANNEL).length;
    const startedAt = Date.now();
    const { status } = await h.slash(text);
    expect(status).toBe(200);
    const summary = await waitUntil(
      () =>
        h.slack
          .messages(CHANNEL)
          .slice(before)
          .find((m) => /^:mag: Hunt \S+: \d+ hits? on/.test(m.text ?? '')),
      'the hunt summary',
      180_000,
    );
    const id = /^:mag: Hunt (\S+):/.exec(summary.text ?? '')![1]!;
    return { summary, id, startedAt };
  }

  /** Waits for ward's "Running <command> (…) on a, b" line after `after` messages; returns the hosts it names. */
  async function runningOn(command: string, after: number): Promise<string[]> {
    const running = await waitUntil(
      () =>
        h.slack
          .messages(CHANNEL)
          .slice(after)
          .find((m) => (m.text ?? '').startsWith(`Running ${command} (`)),
      `ward running ${command}`,
      60_000,
    );
    return (/ on (.+)$/.exec(running.text ?? '')?.[1] ?? '').split(', ');
  }

  /** Waits for the final report of a command (`<command>: ✓ host: …`) after `after` messages. */
  function reportOf(command: string, after: number): Promise<FakeMessage> {
    return waitUntil(
      () =>
        h.slack
          .messages(CHANNEL)
          .slice(after)
          .find((m) => (m.text ?? '').startsWith(`${command}: `)),
      `the ${command} report`,
      120_000,
    );
  }

  it('a hunt on seven hosts shows ONE progress message, edited at most once per interval, ending "7/7 hosts done"', async () => {
    const postsBefore = h.slack.callsTo('chat.postMessage').length;
    const { summary, id, startedAt } = await hunt(`hunt tag:lab sha256:${IMPLANT_SHA}`);
    const elapsed = Date.now() - startedAt;
    expect(summary.text).toMatch(/: 3 hits on 7 hosts/);

    // Exactly one progress message was posted for this hunt (not one per host), in the hunt's thread.
    const progressPosts = h.slack
      .callsTo('chat.postMessage')
      .slice(postsBefore)
      .filter((c) => /hosts done/.test(String(c.args['text'] ?? '')));
    expect(progressPosts).toHaveLength(1);
    expect(String(progressPosts[0]!.args['text'])).toContain(`Hunt ${id}: 0/7 hosts done`);
    const progress = h.slack
      .messages(CHANNEL)
      .find((m) => m.thread_ts === summary.thread_ts && /hosts done/.test(m.text ?? ''));
    expect(progress).toBeDefined();

    // It was edited in place, and not once per host: the edits are spaced by the interval (plus the final one).
    const edits = h.slack.callsTo('chat.update').filter((c) => c.args['ts'] === progress!.ts);
    expect(edits.length).toBeGreaterThanOrEqual(1);
    expect(edits.length).toBeLessThanOrEqual(Math.floor(elapsed / PROGRESS_INTERVAL_MS) + 1);
    // Measured where the fake Slack receives them, so each arrival carries its own latency: half the interval.
    for (let i = 1; i < edits.length; i++) {
      expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThanOrEqual(PROGRESS_INTERVAL_MS / 2);
    }
    // The last edit shows every host done, with the hits and the failed host counted.
    const last = String(edits.at(-1)!.args['text']);
    expect(last).toBe(`:mag: Hunt ${id}: 7/7 hosts done, 3 hits, 1 failed`);
    expect(progress!.text).toBe(last);
    // Sent before the summary: the summary is not held back by the progress.
    expect(edits.at(-1)!.at).toBeLessThanOrEqual(
      h.slack
        .callsTo('chat.postMessage')
        .find((c) => String(c.args['text']).startsWith(`:mag: Hunt ${id}: 3`))!.at,
    );
  }, 240_000);

  it('Collect forensics on hits opens one request naming exactly the three hit hosts', async () => {
    const { summary, id } = await hunt(`hunt tag:lab sha256:${IMPLANT_SHA}`);
    const before = h.slack.messages(CHANNEL).length;
    await sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: RESPONDER,
      action_id: 'hunt.forensics',
      value: JSON.stringify({ hunt: id }),
      channel_id: CHANNEL,
      message_ts: summary.ts,
      trigger_id: newTriggerId(),
      response_url: h.slack.newResponseUrl({ channel: CHANNEL, user: RESPONDER }),
    });
    const isApproval = (m: FakeMessage) => JSON.stringify(m.blocks ?? []).includes('approval.approve');
    const approval = await waitUntil(
      () => h.slack.messages(CHANNEL).slice(before).find(isApproval),
      'the forensics approval request',
    );
    const shown = messageText(approval);
    expect(shown).toMatch(/forensics/);
    for (const hit of ['web2', 'web4', 'web6']) expect(shown).toContain(hit);
    for (const other of ['web1', 'web3', 'web5', 'web7']) expect(shown).not.toContain(other);
    expect(shown).toContain(`hunt ${id} hits`);
    // One request, not one per host: wait a moment for any straggler, then count.
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.slack.messages(CHANNEL).slice(before).filter(isApproval)).toHaveLength(1);
  }, 240_000);

  it('--then-unblock-port reopens the port only on hosts no longer hits; the Reopen button does the same', async () => {
    try {
      // 8080 closed on the three hosts that had the implant.
      let mark = h.slack.messages(CHANNEL).length;
      await h.slash('block-port web2,web4,web6 8080 --reason "INC-9 implant hosts"');
      await reportOf('block-port', mark);
      for (const n of ['web2', 'web4', 'web6']) expect(await open8080(n)).toBe(false);

      // web6 is cleaned; the hunt finds web2 and web4 still hit, and reopens 8080 where it is clean.
      await h.lab.execOnHost('web6', ['rm', '-f', IMPLANT_PATH]);
      mark = h.slack.messages(CHANNEL).length;
      const { summary, id } = await hunt(`hunt tag:lab sha256:${IMPLANT_SHA} --then-unblock-port 8080`);
      expect(summary.text).toMatch(/: 2 hits on 7 hosts/);
      expect((await runningOn('unblock-port', mark)).sort()).toEqual(['web1', 'web3', 'web5', 'web6']);
      await reportOf('unblock-port', mark);
      expect(await open8080('web6')).toBe(true);
      expect(await open8080('web2')).toBe(false);
      expect(await open8080('web4')).toBe(false);
      expect(await open8080('web1')).toBe(true);

      // Closed again on web6; "Reopen a port on clean hosts" under that hunt's summary asks for the port, then
      // opens one unblock-port request for the same clean hosts.
      mark = h.slack.messages(CHANNEL).length;
      await h.slash('block-port web6 8080 --reason "INC-9 again"');
      await reportOf('block-port', mark);
      expect(await open8080('web6')).toBe(false);
      const views = h.slack.callsTo('views.open').length;
      await sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
        user_id: RESPONDER,
        action_id: 'hunt.unblock-port',
        value: JSON.stringify({ hunt: id }),
        channel_id: CHANNEL,
        message_ts: summary.ts,
        trigger_id: newTriggerId(),
      });
      const modal = await waitUntil(() => h.slack.callsTo('views.open')[views], 'the reopen-port modal');
      const modalText = JSON.stringify(modal.args['view']);
      for (const n of ['web1', 'web3', 'web5', 'web6']) expect(modalText).toContain(n);
      for (const n of ['web2', 'web4', 'web7']) expect(modalText).not.toContain(n);
      mark = h.slack.messages(CHANNEL).length;
      await sendViewSubmission(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
        user_id: RESPONDER,
        callback_id: 'hunt.unblock-port',
        private_metadata: JSON.stringify({ hunt: id }),
        values: {
          port: { value: { type: 'plain_text_input', value: '8080' } },
          reason: { value: { type: 'plain_text_input', value: 'INC-9 web6 cleaned' } },
        },
      });
      expect((await runningOn('unblock-port', mark)).sort()).toEqual(['web1', 'web3', 'web5', 'web6']);
      await reportOf('unblock-port', mark);
      expect(await open8080('web6')).toBe(true);
      expect(await open8080('web2')).toBe(false);
      expect(await open8080('web4')).toBe(false);
    } finally {
      // Tests run in a random order: leave the hosts as beforeAll made them.
      for (const n of ['web2', 'web4', 'web6'])
        await h.lab.execOnHost(n, ['nft', 'delete', 'table', 'inet', 'ward_ports']);
      await plantImplant('web6');
    }
  }, 400_000);
});
