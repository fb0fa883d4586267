/**
 * Containment that holds (issue #17), against real sshd and real nftables: lockdown and block-ip persist for
 * reboots (ruleset file + ward-containment.service on each host's private /etc), and the periodic check (every 2 s
 * here) reports drift, its fix, and hosts it cannot reach. Lab hosts have no systemd as PID 1: the test reads the
 * unit ward installed and runs its ExecStart itself, as the boot would.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { containmentProbes } from '../helpers/containment-probes.js';
import {
  CHANNEL,
  type Harness,
  messageText,
  RESPONDER,
  SIGNING_SECRET,
  startHarness,
  waitUntil,
} from '../helpers/remediation-harness.js';
import { sendBlockAction } from '../helpers/slack-requests.js';
import { describeLab } from '../lab/lab.js';

const CHECK_SECONDS = 2;
/** Drift must be reported within one interval; a loaded 2-core machine gets generous slack on top. */
const ONE_INTERVAL_MS = CHECK_SECONDS * 1000 + 20_000;

describeLab('containment that holds: persistence and drift checks against real hosts', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      hosts: 2,
      env: {
        WARD_CONTAINMENT_CHECK_SECONDS: String(CHECK_SECONDS),
        WARD_CONTAINMENT_UNVERIFIED_AFTER: '2',
        // Checks every 2 s add SSH load to a busy 2-core machine: a slow handshake must not fail the block itself.
        WARD_SSH_CONNECT_TIMEOUT_MS: '20000',
      },
    });
  }, 90_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  const { onHost, audit, metrics, driftMetric, messagesSince, waitForNew } = containmentProbes(
    () => h,
    ONE_INTERVAL_MS,
  );
  const clickReapply = async (drift: FakeMessage): Promise<void> => {
    const button = (drift.blocks as Array<{ type: string; elements?: Array<Record<string, string>> }>)
      .flatMap((b) => b.elements ?? [])
      .find((e) => e['action_id'] === 'containment.reapply');
    expect(button).toBeDefined();
    const res = await sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: RESPONDER,
      action_id: 'containment.reapply',
      value: button!['value']!,
      channel_id: CHANNEL,
      message_ts: drift.ts,
      response_url: h.slack.newResponseUrl({ channel: CHANNEL, user: RESPONDER }),
    });
    expect(res.status).toBe(200);
  };

  it('lockdown installs the boot-time ruleset and unit; deleting the table is reported as drift, re-apply fixes it, a reboot restores it, release removes it all', async () => {
    const web1 = h.lab.hosts[0]!;
    await h.slash('lockdown web1 --reason "INC-17 C2 beacon"');
    const report = await h.waitForMessage((m) => /^(?:[^:\n]+: )?lockdown: [✓✗]/.test(m.text ?? ''), 90_000);
    expect(report.text).toContain('✓ web1');
    expect(report.text).toContain('Survives a reboot');
    expect(report.text).toContain('ward created the enablement link');

    // The unit and its enablement link, on the host's own (tmpfs) /etc.
    const unit = await onHost('web1', ['cat', '/etc/systemd/system/ward-containment.service']);
    expect(unit.code).toBe(0);
    expect(unit.stdout).toContain('Before=network-pre.target');
    expect(unit.stdout).toContain('Wants=network-pre.target');
    const execStart = /^ExecStart=(.+)$/m.exec(unit.stdout)?.[1];
    expect(execStart).toBe('/usr/sbin/nft -f /etc/ward/containment.nft');
    const link = await onHost('web1', [
      'readlink',
      '/etc/systemd/system/sysinit.target.wants/ward-containment.service',
    ]);
    expect(link.stdout.trim()).toBe('/etc/systemd/system/ward-containment.service');
    const saved = await onHost('web1', ['cat', '/etc/ward/containment.nft']);
    expect(saved.stdout).toContain('ip saddr 198.51.100.1/32 tcp dport 22 ct state new accept');

    // (a) root on the host deletes ward's table: drift within one interval, audited and counted, with a button.
    const before = driftMetric(await metrics(), 'lockdown');
    let n = h.slack.messages(CHANNEL).length;
    expect((await onHost('web1', ['nft', 'delete', 'table', 'inet', 'ward_lockdown'])).code).toBe(0);
    const drift = await waitForNew(
      n,
      (t) => t.includes('Containment drift on *web1*') && t.includes('lockdown of web1'),
    );
    expect(messageText(drift)).toContain('table inet ward_lockdown is missing');
    // Posted both in the request's thread and at the top of the channel.
    await waitUntil(
      () =>
        messagesSince(n).filter((m) => messageText(m).includes('Containment drift on *web1*')).length >= 2 ||
        undefined,
      'the drift in thread and channel',
    );
    const entry = await waitUntil(
      async () => (await audit()).find((e) => e.type === 'containment.drift' && e.hosts?.includes('web1')),
      'the containment.drift audit entry',
    );
    expect(JSON.stringify(entry.details)).toContain('ward_lockdown is missing');
    expect(driftMetric(await metrics(), 'lockdown')).toBe(before + 1);
    // Reported once: a few more intervals add no second report of the same drift.
    await new Promise((r) => setTimeout(r, CHECK_SECONDS * 2500));
    expect(
      messagesSince(n).filter(
        (m) =>
          m.thread_ts === undefined && messageText(m).includes('Containment drift on *web1*: the lockdown'),
      ),
    ).toHaveLength(1);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1.address, 8080)).toBe(true);

    // Re-apply: a new request through the gate (policy: approvals 0 for the harness), then ward says it is fixed.
    n = h.slack.messages(CHANNEL).length;
    await clickReapply(drift);
    await waitForNew(n, (t) => /^(?:[^:\n]+: )?lockdown: /.test(t) && t.includes('✓ web1'), 90_000);
    await waitForNew(
      n,
      (t) => t.includes('Containment restored on *web1*') && t.includes('lockdown of web1'),
    );
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1.address, 8080)).toBe(false);

    // (b) a reboot: the kernel forgets everything; the boot runs exactly the unit's ExecStart.
    expect((await onHost('web1', ['nft', 'flush', 'ruleset'])).code).toBe(0);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1.address, 8080)).toBe(true);
    const unitNow = await onHost('web1', ['cat', '/etc/systemd/system/ward-containment.service']);
    const boot = /^ExecStart=(.+)$/m.exec(unitNow.stdout)![1]!.split(' ');
    expect((await onHost('web1', boot)).code).toBe(0);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1.address, 8080)).toBe(false);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1.address, 22)).toBe(false);
    expect(await h.lab.canConnect(h.lab.mgmt.ns, web1.address, 22)).toBe(true);
    // What the boot loaded is what ward applied: the next checks find no drift.
    const hostsReply = await h.slash('verify web1');
    const verified = await h.waitForEphemeral(hostsReply.responseUrl, (t) => t.includes('web1'));
    expect(verified).toContain('web1: ok');

    // `/ward hosts` shows since when, which request, and the last check.
    const listing = await h.slash('hosts');
    const hostsText = await h.waitForEphemeral(listing.responseUrl, (t) => t.includes('web1'));
    expect(hostsText).toContain('web1 (locked down)');
    const hostsMessage = h.slack
      .callsTo('response_url')
      .find((c) => c.args['response_url'] === listing.responseUrl);
    expect(JSON.stringify(hostsMessage?.args['blocks'])).toMatch(
      /last verified ([A-Z][a-z]{2} \d{1,2} )?\d\d:\d\d UTC(, [^:]*)?: ok/,
    );
    expect(await metrics()).toMatch(
      /^ward_containment_last_verified_timestamp_seconds\{[^}]*host="web1"[^}]*\} \d+/m,
    );

    // (d) release: unit, link and file gone; no drift afterwards.
    n = h.slack.messages(CHANNEL).length;
    await h.slash('release web1 --reason "INC-17 closed"');
    await waitForNew(n, (t) => t.includes('web1 is released'), 60_000);
    for (const path of [
      '/etc/systemd/system/ward-containment.service',
      '/etc/systemd/system/sysinit.target.wants/ward-containment.service',
      '/etc/ward/containment.nft',
    ]) {
      expect((await onHost('web1', ['test', '-e', path])).code).not.toBe(0);
    }
    await new Promise((r) => setTimeout(r, CHECK_SECONDS * 2500));
    expect(
      messagesSince(n).filter((m) => messageText(m).includes('Containment drift on *web1*')),
    ).toHaveLength(0);
  }, 300_000);

  it('block-ip persists the block; removing the element by hand is drift; an unreachable host is unverified, never ok', async () => {
    const web2 = h.lab.hosts[1]!;
    await h.slash(`block-ip web2 ${h.lab.attacker.address} --reason "scanner"`);
    const report = await h.waitForMessage(
      (m) => /^(?:[^:\n]+: )?block-ip: [✓✗]/.test(m.text ?? '') && (m.text ?? '').includes('web2'),
      90_000,
    );
    expect(report.text).toContain('Survives a reboot');
    const saved = await onHost('web2', ['cat', '/etc/ward/containment.nft']);
    expect(saved.stdout).toContain(`elements = { ${h.lab.attacker.address} }`);
    expect(saved.stdout).not.toContain('ward_lockdown');
    expect(await h.lab.canConnect(h.lab.attacker.ns, web2.address, 8080)).toBe(false);

    // (e) the element goes, by hand: drift.
    let n = h.slack.messages(CHANNEL).length;
    const del = await onHost('web2', [
      'nft',
      'delete',
      'element',
      'inet',
      'ward_block',
      'blocked4',
      '{',
      h.lab.attacker.address,
      '}',
    ]);
    expect(del.code).toBe(0);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web2.address, 8080)).toBe(true);
    const drift = await waitForNew(n, (t) => t.includes('Containment drift on *web2*'));
    expect(messageText(drift)).toContain(`${h.lab.attacker.address} is no longer in ward's block set`);
    expect(driftMetric(await metrics(), 'block')).toBeGreaterThanOrEqual(1);

    // (c) sshd stops: after 2 failed checks, "unverified" in the channel; never reported ok meanwhile.
    n = h.slack.messages(CHANNEL).length;
    await h.lab.stopSshd('web2');
    await waitForNew(
      n,
      (t) => t.includes('Containment on *web2* is UNVERIFIED'),
      CHECK_SECONDS * 3000 + 30_000,
    );
    const verify = await h.slash('verify web2');
    const answer = await h.waitForEphemeral(verify.responseUrl, (t) => t.includes('web2'), 60_000);
    expect(answer).toContain('web2: unverified');
    expect(answer).not.toContain('web2: ok');
    expect(messagesSince(n).some((m) => messageText(m).includes('answers again'))).toBe(false);
    expect(
      (await audit()).some((e) => e.type === 'containment.unverified' && e.hosts?.includes('web2')),
    ).toBe(true);
  }, 240_000);
});
