/**
 * Containment that holds, for ward's sets (issue #17), against real sshd and real nftables: unblock-ip removes exactly
 * one element live and from the boot-time ruleset (and the whole persistence with the last one); block-port is
 * persisted and checked like block-ip; a drift's Re-apply goes through a distinct approver before anything runs.
 * The periodic check runs every 2 s here.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FakeMessage } from '../../src/fake-slack/fake-slack.js';
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
const ONE_INTERVAL_MS = CHECK_SECONDS * 1000 + 20_000;
const APPROVER = 'U0APPROVER';
const UNIT = '/etc/systemd/system/ward-containment.service';
const LINK = '/etc/systemd/system/sysinit.target.wants/ward-containment.service';
const RULESET = '/etc/ward/containment.nft';

describeLab('containment that holds: unblock-ip, block-port and re-apply through approval', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      hosts: 3,
      env: {
        WARD_CONTAINMENT_CHECK_SECONDS: String(CHECK_SECONDS),
        WARD_SSH_CONNECT_TIMEOUT_MS: '20000',
      },
      // The set commands run at once; a lockdown needs one approver other than the requester.
      policy: (yaml) =>
        yaml
          .replace('roles:\n', `roles:\n  approver: [${APPROVER}]\n`)
          .replace(
            / {2}lockdown: .*\n/,
            '  lockdown: { allow: [responder], approvals: 1, approvers: [approver], mfa: none }\n',
          )
          .concat(
            ['unblock-ip', 'block-port', 'unblock-port']
              .map((c) => `  ${c}: { allow: [responder], approvals: 0, mfa: none }\n`)
              .join(''),
          ),
    });
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  const { onHost, audit, metrics, driftMetric, messagesSince, waitForNew } = containmentProbes(
    () => h,
    ONE_INTERVAL_MS,
  );
  const exists = async (host: string, path: string) => (await onHost(host, ['test', '-e', path])).code === 0;
  /** The final report of the next `<command>:` run that names `host`, posted after message `since`. */
  const reportOf = (command: string, host: string, since: number) =>
    waitForNew(since, (t) => t.startsWith(`${command}:`) && t.includes(host), 90_000);
  const buttonOf = (m: FakeMessage, actionId: string) =>
    (m.blocks as Array<{ elements?: Array<Record<string, string>> }> | undefined)
      ?.flatMap((b) => b.elements ?? [])
      .find((e) => e['action_id'] === actionId);
  const click = (user: string, m: FakeMessage, actionId: string, value: string) =>
    sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: user,
      action_id: actionId,
      value,
      channel_id: CHANNEL,
      message_ts: m.ts,
      response_url: h.slack.newResponseUrl({ channel: CHANNEL, user, messageTs: m.ts }),
    });
  /** Waits for the approval message of a request opened after `since` and approves it as APPROVER. */
  const approveNext = async (since: number): Promise<string> => {
    const message = await waitUntil(
      () => messagesSince(since).find((m) => buttonOf(m, 'approval.approve') !== undefined),
      'an approval message',
      60_000,
    );
    const requestId = buttonOf(message, 'approval.approve')!['value']!;
    expect((await click(APPROVER, message, 'approval.approve', requestId)).status).toBe(200);
    return requestId;
  };
  /** The whole reply (text and blocks, as JSON) sent to a response_url, once it contains `needle`. */
  const replyOn = (responseUrl: string, needle: string) =>
    waitUntil(
      () =>
        h.slack
          .callsTo('response_url')
          .filter((c) => c.args['response_url'] === responseUrl)
          .map((c) => JSON.stringify(c.args))
          .find((t) => t.includes(needle)),
      `a reply containing ${needle}`,
      60_000,
    );
  const hasElement = async (host: string, set: string, element: string) =>
    (
      await onHost(host, [
        'nft',
        'get',
        'element',
        'inet',
        set.split(' ')[0]!,
        set.split(' ')[1]!,
        '{',
        element,
        '}',
      ])
    ).code === 0;
  const noDriftFor = async (host: string, since: number) => {
    // Several check intervals: none may report drift on this host.
    await new Promise((r) => setTimeout(r, CHECK_SECONDS * 3000));
    expect(
      messagesSince(since).filter((m) => messageText(m).includes(`Containment drift on *${host}*`)),
    ).toEqual([]);
  };

  it('unblock-ip removes exactly that element, live and from the boot-time file; the last one takes the persistence with it; no drift afterwards', async () => {
    const attacker = h.lab.attacker.address;
    let n = h.slack.messages(CHANNEL).length;
    await h.slash(`block-ip web2 ${attacker} --reason "INC-17 scanner"`);
    expect(messageText(await reportOf('block-ip', 'web2', n))).toContain('Survives a reboot');
    n = h.slack.messages(CHANNEL).length;
    await h.slash('block-ip web2 203.0.113.0/24 --reason "INC-17 scanner range"');
    await reportOf('block-ip', 'web2', n);
    expect((await onHost('web2', ['cat', RULESET])).stdout).toContain(
      `elements = { ${attacker}, 203.0.113.0/24 }`,
    );
    expect(await h.lab.canConnect(h.lab.attacker.ns, h.lab.hosts[1]!.address, 8080)).toBe(false);

    // The plan names the exact commands: the element's deletion and the boot-time file's rewrite or removal.
    const dry = await h.slash(`unblock-ip web2 ${attacker}/32 --reason "INC-17 false positive" --dry-run`);
    const plan = await replyOn(dry.responseUrl, 'nft delete element');
    expect(plan).toContain(`nft delete element inet ward_block blocked4 '{' ${attacker} '}'`);
    expect(plan).toContain(`nft -c -f ${RULESET}.new`);
    expect(plan).toContain(`rm -f ${LINK} ${UNIT} ${RULESET}`);
    expect(await hasElement('web2', 'ward_block blocked4', attacker)).toBe(true);

    // Unblock the attacker (written /32: the same element): gone live and from the file, the other one stays.
    n = h.slack.messages(CHANNEL).length;
    await h.slash(`unblock-ip web2 ${attacker}/32 --reason "INC-17 false positive"`);
    const report = messageText(await reportOf('unblock-ip', 'web2', n));
    expect(report).toContain(`web2: unblocked ${attacker}`);
    expect(report).toContain('Survives a reboot');
    expect(await hasElement('web2', 'ward_block blocked4', attacker)).toBe(false);
    expect(await hasElement('web2', 'ward_block blocked4', '203.0.113.0/24')).toBe(true);
    const file = (await onHost('web2', ['cat', RULESET])).stdout;
    expect(file).not.toContain(attacker);
    expect(file).toContain('elements = { 203.0.113.0/24 }');
    expect(await h.lab.canConnect(h.lab.attacker.ns, h.lab.hosts[1]!.address, 8080)).toBe(true);
    // A reboot keeps it unblocked: an empty ruleset, then the file the boot loads (one atomic nft transaction, so that
    // the 2-s check never sees the moment in between and rightly calls it drift).
    const reboot = await onHost('web2', [
      'sh',
      '-c',
      `printf 'flush ruleset\\ninclude "%s"\\n' ${RULESET} | /usr/sbin/nft -f -`,
    ]);
    expect(reboot.code).toBe(0);
    expect(await hasElement('web2', 'ward_block blocked4', attacker)).toBe(false);
    expect(await hasElement('web2', 'ward_block blocked4', '203.0.113.0/24')).toBe(true);
    await noDriftFor('web2', n);
    const verify = await h.slash('verify web2');
    expect(await h.waitForEphemeral(verify.responseUrl, (t) => t.includes('web2'), 60_000)).toContain(
      'web2: ok',
    );
    const entry = (await audit()).find((e) => e.type === 'host.ip_unblocked' && e.hosts?.includes('web2'));
    expect(entry?.details).toMatchObject({ address: attacker, wasLive: true });

    // Again: nothing to do, said so.
    n = h.slack.messages(CHANNEL).length;
    await h.slash(`unblock-ip web2 ${attacker} --reason "INC-17 twice"`);
    expect(messageText(await reportOf('unblock-ip', 'web2', n))).toContain(
      `${attacker} was not blocked by ward on web2; nothing changed`,
    );

    // The last block: ward holds nothing on web2 any more, so the file, the unit and its link go.
    n = h.slack.messages(CHANNEL).length;
    await h.slash('unblock-ip web2 203.0.113.0/24 --reason "INC-17 closed"');
    expect(messageText(await reportOf('unblock-ip', 'web2', n))).toContain('Boot-time containment removed');
    for (const path of [UNIT, LINK, RULESET]) expect(await exists('web2', path)).toBe(false);
    await noDriftFor('web2', n);
    const after = await h.slash('verify web2');
    expect(await replyOn(after.responseUrl, 'Verified')).toContain(
      'web2*: ward holds no containment here; nothing to verify',
    );
  }, 300_000);

  it('block-port is persisted and checked: a reboot keeps the port closed, removing it by hand is drift, unblock-port removes it all', async () => {
    const web3 = h.lab.hosts[2]!;
    let n = h.slack.messages(CHANNEL).length;
    await h.slash('block-port web3 8080 --reason "INC-17 implant listener"');
    expect(messageText(await reportOf('block-port', 'web3', n))).toContain('Survives a reboot');
    const file = (await onHost('web3', ['cat', RULESET])).stdout;
    expect(file).toMatch(/set tcp_closed \{[^}]*elements = \{ 8080 \}/);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web3.address, 8080)).toBe(false);
    const listing = await h.slash('hosts');
    expect(await replyOn(listing.responseUrl, 'web3')).toMatch(
      /closed ports `8080\/tcp` since .* \(request `r-/,
    );

    // A reboot: the kernel forgets; the unit's ExecStart brings the closed port back, SSH from management still works.
    expect((await onHost('web3', ['nft', 'flush', 'ruleset'])).code).toBe(0);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web3.address, 8080)).toBe(true);
    const unit = (await onHost('web3', ['cat', UNIT])).stdout;
    const boot = /^ExecStart=(.+)$/m.exec(unit)![1]!.split(' ');
    expect((await onHost('web3', boot)).code).toBe(0);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web3.address, 8080)).toBe(false);
    expect(await h.lab.canConnect(h.lab.mgmt.ns, web3.address, 22)).toBe(true);

    // Someone reopens it by hand: drift, counted, with a Re-apply button for block-port.
    const before = driftMetric(await metrics(), 'port');
    n = h.slack.messages(CHANNEL).length;
    expect(
      (
        await onHost('web3', [
          'nft',
          'delete',
          'element',
          'inet',
          'ward_ports',
          'tcp_closed',
          '{',
          '8080',
          '}',
        ])
      ).code,
    ).toBe(0);
    const drift = await waitForNew(n, (t) => t.includes('Containment drift on *web3*'));
    expect(messageText(drift)).toContain("8080/tcp is no longer in ward's closed-ports set");
    expect(JSON.parse(buttonOf(drift, 'containment.reapply')!['value']!)).toEqual({
      command: 'block-port',
      host: 'web3',
      port: '8080/tcp',
    });
    await waitUntil(
      async () => driftMetric(await metrics(), 'port') === before + 1 || undefined,
      'the port drift metric',
    );
    // Posted in the request's thread and at the top of the channel: both are out before going on.
    await waitUntil(
      () =>
        messagesSince(n).filter((m) => messageText(m).includes('Containment drift on *web3*')).length >= 2 ||
        undefined,
      'the drift in thread and channel',
    );

    // unblock-port: ward stops holding it; the drift is closed, the persistence removed, no drift afterwards.
    n = h.slack.messages(CHANNEL).length;
    await h.slash('unblock-port web3 8080 --reason "INC-17 cleaned"');
    const report = messageText(await reportOf('unblock-port', 'web3', n));
    expect(report).toContain('ward no longer holds it');
    expect(report).toContain('Boot-time containment removed');
    for (const path of [UNIT, LINK, RULESET]) expect(await exists('web3', path)).toBe(false);
    await waitForNew(n, (t) => t.includes('Drift resolved on *web3*') && t.includes('closed port 8080/tcp'));
    await noDriftFor('web3', n);
  }, 300_000);

  it('a drift re-applied through a distinct approver: the lockdown is back in the namespace and ward says containment restored, audited after the drift', async () => {
    const web1 = h.lab.hosts[0]!;
    let n = h.slack.messages(CHANNEL).length;
    await h.slash('lockdown web1 --reason "INC-17 C2 beacon"');
    await approveNext(n);
    await reportOf('lockdown', '✓ web1', n);

    n = h.slack.messages(CHANNEL).length;
    expect((await onHost('web1', ['nft', 'delete', 'table', 'inet', 'ward_lockdown'])).code).toBe(0);
    const drift = await waitForNew(
      n,
      (t) => t.includes('Containment drift on *web1*') && t.includes('lockdown of web1'),
    );
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1.address, 8080)).toBe(true);

    // The responder clicks Re-apply: a new lockdown request that waits for the approver, running nothing meanwhile.
    n = h.slack.messages(CHANNEL).length;
    const button = buttonOf(drift, 'containment.reapply')!;
    expect((await click(RESPONDER, drift, 'containment.reapply', button['value']!)).status).toBe(200);
    const approval = await waitUntil(
      () => messagesSince(n).find((m) => buttonOf(m, 'approval.approve') !== undefined),
      'the re-apply approval message',
      60_000,
    );
    expect(messageText(approval)).toContain('re-apply after containment drift reported by ward');
    expect((await onHost('web1', ['nft', 'list', 'table', 'inet', 'ward_lockdown'])).code).not.toBe(0);
    // The responder who asked is no approver: their Approve click changes nothing.
    const requestId = buttonOf(approval, 'approval.approve')!['value']!;
    expect((await click(RESPONDER, approval, 'approval.approve', requestId)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await onHost('web1', ['nft', 'list', 'table', 'inet', 'ward_lockdown'])).code).not.toBe(0);

    await approveNext(n);
    await reportOf('lockdown', '✓ web1', n);
    const table = await onHost('web1', ['nft', 'list', 'table', 'inet', 'ward_lockdown']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('policy drop');
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1.address, 8080)).toBe(false);
    expect(await h.lab.canConnect(h.lab.mgmt.ns, web1.address, 22)).toBe(true);
    // Said in the thread where the drift was reported (the original request's), and at the top of the channel.
    const driftThread = messagesSince(0).find(
      (m) =>
        m.thread_ts !== undefined && messageText(m).includes('Containment drift on *web1*: the lockdown'),
    )!.thread_ts;
    await waitUntil(
      () =>
        messagesSince(n).find(
          (m) =>
            m.thread_ts === driftThread &&
            messageText(m).includes('Containment restored on *web1*: the lockdown of web1'),
        ),
      'containment restored, in the drift thread',
      ONE_INTERVAL_MS,
    );

    const entries = (await audit()).filter((e) => e.hosts?.includes('web1') || e.requestId === requestId);
    const driftAt = entries.findIndex((e) => e.type === 'containment.drift');
    const fixAt = entries.findIndex((e, i) => i > driftAt && e.type === 'containment.drift_resolved');
    expect(driftAt).toBeGreaterThan(-1);
    expect(fixAt).toBeGreaterThan(driftAt);
    expect(entries[fixAt]?.details).toMatchObject({ how: 'restored' });
    const votes = entries.filter((e) => e.type === 'approval.vote' && e.requestId === requestId);
    expect(votes.filter((e) => e.outcome === 'approved').map((e) => e.actor)).toEqual([APPROVER]);

    // Leave web1 open again for whatever runs next.
    n = h.slack.messages(CHANNEL).length;
    await h.slash('release web1 --reason "INC-17 closed"');
    await waitForNew(n, (t) => t.includes('web1 is released'), 90_000);
  }, 360_000);

  it('hostile input: a forged Re-apply button or a bad address runs nothing and says why', async () => {
    const n = h.slack.messages(CHANNEL).length;
    const anchor = { ts: '1700000000.000100' } as FakeMessage;
    const forged = h.slack.newResponseUrl({ channel: CHANNEL, user: RESPONDER });
    const res = await sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: RESPONDER,
      action_id: 'containment.reapply',
      value: JSON.stringify({ command: 'block-port', host: 'web1', port: '22; touch /tmp/pwn' }),
      channel_id: CHANNEL,
      message_ts: anchor.ts,
      response_url: forged,
    });
    expect(res.status).toBe(200);
    expect(await h.waitForEphemeral(forged, (t) => t.includes('malformed'))).toContain(
      'nothing was requested',
    );
    for (const bad of ['198.51.100.66;id', '198.51.100.66/33', '$(reboot)', '2001:db8::/129']) {
      const { responseUrl } = await h.slash(`unblock-ip web1 ${bad} --reason "x"`);
      expect(await h.waitForEphemeral(responseUrl, (t) => t.includes('address'))).toContain(
        'must be an IPv4/IPv6 address or CIDR',
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(messagesSince(n).filter((m) => /^(block-port|unblock-ip):/.test(m.text ?? ''))).toEqual([]);
    expect((await onHost('web1', ['test', '-e', '/tmp/pwn'])).code).not.toBe(0);
  }, 120_000);
});
