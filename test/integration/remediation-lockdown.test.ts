import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, messageText, startHarness } from '../helpers/remediation-harness.js';
import { describeLab } from '../lab/lab.js';

describeLab('lockdown and release against real sshd + nftables', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ hosts: 1 });
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  const web1 = () => h.lab.hosts[0]!;

  it('lockdown cuts the attacker off while management keeps SSH; hosts shows who locked it; release restores reachability', async () => {
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1().address, 8080)).toBe(true);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1().address, 22)).toBe(true);

    await h.slash('lockdown web1 --reason "INC-9 C2 traffic"');
    const locked = await h.waitForMessage((m) => messageText(m).includes('web1 is locked down'));
    expect(locked.thread_ts).toBeUndefined(); // a channel notice, not buried in the thread
    expect(messageText(locked)).toContain('198.51.100.1/32');

    // Evidence came first: the forensic summary is in the request's thread.
    await h.waitForMessage((m) => messageText(m).includes('Forensics on web1'));
    const report = await h.waitForMessage((m) => m.text?.startsWith('lockdown:') === true);
    expect(report.text).toContain('✓ web1');
    expect(report.text).toContain('Confirmed over a new SSH connection');

    expect(await h.lab.canConnect(h.lab.attacker.ns, web1().address, 8080)).toBe(false);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1().address, 22)).toBe(false);
    expect(await h.lab.canConnect(h.lab.mgmt.ns, web1().address, 22)).toBe(true);
    expect(await h.lab.canConnect(h.lab.mgmt.ns, web1().address, 8080)).toBe(false);

    // The watchdog was cancelled (no `sleep 10; nft delete …` left on the host), so the table stays.
    const table = await h.lab.execOnHost('web1', ['nft', 'list', 'table', 'inet', 'ward_lockdown']);
    expect(table.code).toBe(0);
    const watchdogs = await h.lab.execOnHost('web1', [
      'sh',
      '-c',
      'ps -eo args | grep -c "[s]leep 10; nft delete"',
    ]);
    expect(watchdogs.stdout.trim()).toBe('0');

    const mail = await h.mailgun.waitForMessage((m) => m.subject.includes('web1 locked down'));
    expect(mail.text).toContain('INC-9 C2 traffic');

    const hosts = await h.slash('hosts');
    const listing = await h.waitForEphemeral(hosts.responseUrl, (t) => t.includes('web1'));
    expect(listing).toContain('web1 (locked down)');

    await h.slash('release web1 --reason "INC-9 contained"');
    const released = await h.waitForMessage((m) => messageText(m).includes('web1 is released'));
    expect(messageText(released)).toContain('back to the one saved before the lockdown');
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1().address, 8080)).toBe(true);
    expect(await h.lab.canConnect(h.lab.attacker.ns, web1().address, 22)).toBe(true);

    const again = await h.slash('release web1 --reason "double check"');
    expect(again.status).toBe(200);
    const idempotent = await h.waitForMessage((m) => m.text?.includes('was not locked down') === true);
    expect(idempotent.text).toContain('nothing changed');
  }, 120_000);
});
