import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, messageText, startHarness, waitUntil } from '../helpers/remediation-harness.js';
import { describeLab } from '../lab/lab.js';

describeLab('block-ip, kill-process and disable-user against real hosts', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ hosts: 2 });
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  /** Final reports: `<outcome label>: <command>: ✓ host: …` (the label first, as the thread shows it). */
  const reports = (command: string) =>
    h.slack.messages().filter((m) => new RegExp(`^(?:[^:\\n]+: )?${command}: [✓✗]`).test(m.text ?? ''));
  /** The next final report the gate posts in the request's thread (`<command>: ✓ host: …`). */
  const report = (command: string, seen: number) =>
    waitUntil(() => reports(command)[seen], `the ${command} report`, 60_000);

  it('block-ip on a tag blocks the attacker on every host, once, and says so when repeated', async () => {
    expect(await h.lab.canConnect(h.lab.attacker.ns, h.lab.hosts[0]!.address, 8080)).toBe(true);
    let t = reports('block-ip').length;
    await h.slash(`block-ip tag:lab ${h.lab.attacker.address} --reason "scanner"`);
    const first = await report('block-ip', t);
    expect(first.text).toContain('✓ web1: web1: created table inet ward_block, blocked 198.51.100.66');
    expect(first.text).toContain('✓ web2:');
    for (const host of h.lab.hosts) {
      expect(await h.lab.canConnect(h.lab.attacker.ns, host.address, 8080)).toBe(false);
      expect(await h.lab.canConnect(h.lab.mgmt.ns, host.address, 8080)).toBe(true);
    }
    t = reports('block-ip').length;
    await h.slash(`block-ip web1 ${h.lab.attacker.address}/32`);
    const second = await report('block-ip', t);
    expect(second.text).toContain('was already blocked on web1; nothing changed');
    // A CIDR too: blocked once, then recognised.
    t = reports('block-ip').length;
    await h.slash('block-ip web2 203.0.113.0/24');
    expect((await report('block-ip', t)).text).toContain('web2: blocked 203.0.113.0/24');
    t = reports('block-ip').length;
    await h.slash('block-ip web2 203.0.113.0/24');
    expect((await report('block-ip', t)).text).toContain('203.0.113.0/24 was already blocked on web2');
    const rules = await h.lab.execOnHost('web1', ['nft', 'list', 'chain', 'inet', 'ward_block', 'input']);
    expect(rules.stdout.match(/@blocked4 drop/g)).toHaveLength(1);
    // The host's own loopback traffic is accepted before any set is consulted.
    expect(rules.stdout.indexOf('iif "lo" accept')).toBeGreaterThan(-1);
    expect(rules.stdout.indexOf('iif "lo" accept')).toBeLessThan(rules.stdout.indexOf('@blocked4 drop'));
  }, 90_000);

  it('block-ip refuses an address that would cut off the management network', async () => {
    const { responseUrl } = await h.slash('block-ip web1 198.51.100.0/24');
    const reply = await h.waitForEphemeral(responseUrl, (t) => t.includes('overlaps the management network'));
    expect(reply).toContain('Nothing was run');
  }, 30_000);

  it('kill-process records the process (cmdline, exe hash, open files) and then ends it', async () => {
    await h.lab.execOnHost('web2', ['cp', '/bin/sleep', '/tmp/miner']);
    const pid = await h.lab.spawnOnHost('web2', ['/tmp/miner', '900']);
    const t = reports('kill-process').length;
    await h.slash(`kill-process web2 ${pid} --reason "cryptominer"`);
    const done = await report('kill-process', t);
    expect(done.text).toContain(`process ${pid} (/tmp/miner) on web2 was ended with SIGTERM`);
    const recorded = await h.waitForMessage(
      (m) => m.text?.includes(`Process ${pid} on *web2* recorded`) === true,
    );
    const sha = (await h.lab.execOnHost('web2', ['sha256sum', '/tmp/miner'])).stdout.split(' ')[0]!;
    expect(messageText(recorded)).toContain(sha);
    expect(messageText(recorded)).toContain('/tmp/miner 900');
    const file = await waitUntil(
      () => h.slack.files().find((f) => f.name.startsWith(`process-${pid}-web2-`)),
      'upload',
    );
    expect(file.bytes.length).toBeGreaterThan(100);
    const alive = await h.lab.execOnHost('web2', ['test', '-d', `/proc/${pid}`]);
    expect(alive.code).not.toBe(0);

    const t2 = reports('kill-process').length;
    await h.slash(`kill-process web2 ${pid}`);
    expect((await report('kill-process', t2)).text).toContain(
      `process ${pid} was not running on web2; nothing was killed`,
    );
  }, 90_000);

  it('disable-user locks and expires the account and ends its sessions; repeated, it changes nothing', async () => {
    // Give web1 a private, writable /etc (overlay in its own mount namespace) so the machine's is never touched.
    const setup = await h.lab.execOnHost('web1', [
      'sh',
      '-c',
      'mkdir -p /tmp/etc-up /tmp/etc-work && mount -t overlay overlay -o lowerdir=/etc,upperdir=/tmp/etc-up,workdir=/tmp/etc-work /etc && useradd -M -s /bin/sh deploy && usermod -p x deploy',
    ]);
    expect(setup.stderr).toBe('');
    expect(setup.code).toBe(0);
    const pid = await h.lab.spawnOnHost('web1', [
      'setpriv',
      '--reuid',
      'deploy',
      '--regid',
      'deploy',
      '--clear-groups',
      'sleep',
      '900',
    ]);

    const t = reports('disable-user').length;
    await h.slash('disable-user web1 deploy --reason "stolen key"');
    const done = await report('disable-user', t);
    expect(done.text).toContain(
      'deploy on web1: locked the password, expired the account, ended 1 process(es)',
    );
    const shadow = (await h.lab.execOnHost('web1', ['getent', 'shadow', 'deploy'])).stdout.split(':');
    expect(shadow[1]!.startsWith('!')).toBe(true);
    expect(shadow[7]).toBe('1');
    await waitUntil(
      async () => (await h.lab.execOnHost('web1', ['test', '-d', `/proc/${pid}`])).code !== 0 || undefined,
      'the process to end',
      10_000,
    );

    const t2 = reports('disable-user').length;
    await h.slash('disable-user web1 deploy --reason "again"');
    expect((await report('disable-user', t2)).text).toContain(
      'already locked and expired with no running process; nothing changed',
    );
  }, 90_000);

  it('disable-user refuses root and the account ward logs in with, before connecting', async () => {
    const a = await h.slash('disable-user web1 root --reason "x"');
    expect(await h.waitForEphemeral(a.responseUrl, (t) => t.includes('will not disable root'))).toContain(
      'Nothing was run',
    );
    // ward logs in as root in the lab; a different inventory user is covered in the unit tests.
  }, 30_000);
});
