import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectError, HostKeyMismatchError, NodeSshShell } from '../../src/adapters/ssh/node-ssh-shell.js';
import type { HostTarget, ShellSession } from '../../src/ports/remote-shell.js';
import { describeLab, type Lab, type LabHost, labUp } from '../lab/lab.js';

describeLab('NodeSshShell against real sshd in the lab', () => {
  let lab: Lab;
  let shell: NodeSshShell;
  let session: ShellSession;

  const target = (h: LabHost, over: Partial<HostTarget> = {}): HostTarget => ({
    name: h.name,
    address: h.address,
    port: 22,
    user: 'root',
    keyPath: lab.wardKeyPath,
    hostKey: h.hostKeyFingerprint,
    proxyCommand: lab.proxyCommand,
    ...over,
  });
  const text = (b: Buffer): string => b.toString('utf8');

  beforeAll(async () => {
    lab = await labUp({ hosts: ['web1', 'web2', 'web3'] });
    shell = new NodeSshShell();
    session = await shell.connect(target(lab.hosts[0]!));
  });
  afterAll(async () => {
    await session?.close();
    await lab?.down();
  });

  it('runs commands on the lab host itself: its hostname and its exit codes', async () => {
    const r = await session.exec(['hostname']);
    expect(text(r.stdout).trim()).toBe('web1');
    expect(r.code).toBe(0);
    expect(r.timedOut).toBe(false);
    const fail = await session.exec(['sh', '-c', 'exit 3']);
    expect(fail.code).toBe(3);
  });

  it('writes stdin to the command', async () => {
    const input = 'evidence line 1\nevidence line 2\n';
    const r = await session.exec(['sha256sum'], { stdin: input });
    expect(text(r.stdout).split(' ')[0]).toBe(createHash('sha256').update(input).digest('hex'));
  });

  it('passes hostile argument text literally, never interpreting it', async () => {
    const hostile = 'a\'b; id $(id) `id` "q" \\ $HOME';
    const r = await session.exec(['echo', hostile]);
    expect(text(r.stdout)).toBe(`${hostile}\n`);
  });

  it('runs several commands in parallel and in sequence on one connection', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => session.exec(['expr', String(n), '*', '7'])),
    );
    expect(results.map((r) => text(r.stdout).trim())).toEqual(['7', '14', '21', '28', '35']);
    const again = await session.exec(['echo', 'still here']);
    expect(text(again.stdout)).toBe('still here\n');
  });

  it('kills a hanging command at its timeout and says so', async () => {
    const r = await session.exec(['sleep', '30'], { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    // and the command really dies on the host (not left running after ward gave up on it)
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      alive = (await lab.execOnHost('web1', ['pgrep', '-x', 'sleep'])).code === 0;
      if (alive) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(alive).toBe(false);
    const after = await session.exec(['echo', 'ok']);
    expect(text(after.stdout)).toBe('ok\n');
  });

  it('caps output at maxOutputBytes and marks it truncated', async () => {
    const r = await session.exec(['head', '-c', '100000', '/dev/zero'], { maxOutputBytes: 1000 });
    expect(r.stdout.length).toBe(1000);
    expect(r.truncated).toBe(true);
    expect(r.code).toBe(0);
  });

  it('refuses a host whose key differs from the pinned one, before any command runs', async () => {
    const web2 = lab.hosts[1]!;
    const wrong = lab.hosts[2]!.hostKeyFingerprint;
    // Tests run in any order: only what sshd logs from this attempt on counts.
    const logStart = readFileSync(web2.sshdLog, 'utf8').length;
    const err = await shell.connect(target(web2, { hostKey: wrong })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    const m = err as HostKeyMismatchError;
    expect(m.code).toBe('ward_ssh_host_key_mismatch');
    expect(m.userMessage).toContain('web2');
    expect(m.userMessage).toContain(wrong);
    expect(m.userMessage).toContain(web2.hostKeyFingerprint);
    expect(m.userMessage).toMatch(/refused to connect/);
    // sshd saw the connection but no login: ward never authenticated, so no command could have run.
    const log = readFileSync(web2.sshdLog, 'utf8').slice(logStart);
    expect(log).toMatch(/Connection (closed|reset) by|disconnected|Connection from/);
    expect(log).not.toMatch(/Accepted publickey/);
  });

  it('refuses to connect at all when no valid key is pinned', async () => {
    const err = await shell.connect(target(lab.hosts[1]!, { hostKey: '' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).userMessage).toMatch(/no valid pinned host key/);
  });

  it('reports a rejected login key as a ConnectError naming the key', async () => {
    const err = await shell
      .connect(target(lab.hosts[1]!, { keyPath: `${lab.dir}/web2/ssh_host_ed25519_key` }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).userMessage).toMatch(/could not log in to web2 .* refused ward's key/);
  });

  it('reports a proxy command that cannot run as a ConnectError, not a crash', async () => {
    const err = await shell
      .connect(target(lab.hosts[0]!, { proxyCommand: ['/nonexistent/ward-proxy', '%h', '%p'] }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).userMessage).toMatch(
      /proxy command failed: cannot run \/nonexistent\/ward-proxy/,
    );
  });

  it('gives a ConnectError naming the host when its sshd is down', async () => {
    const web3 = lab.hosts[2]!;
    await lab.stopSshd(web3.name);
    const err = await shell.connect(target(web3), { connectTimeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe('ward_ssh_connect');
    expect((err as ConnectError).userMessage).toMatch(
      /^could not connect to web3 \(198\.51\.100\.13:22\) within 2 s: /,
    );
  });

  it('the lab is real: an nft ruleset loaded over SSH cuts the attacker off while management keeps SSH', async () => {
    const web2 = lab.hosts[1]!;
    expect(await lab.canConnect(lab.attacker.ns, web2.address, 8080)).toBe(true);
    const s = await shell.connect(target(web2));
    try {
      const ruleset = [
        'table inet ward_lockdown',
        'delete table inet ward_lockdown',
        'table inet ward_lockdown {',
        '  chain input {',
        '    type filter hook input priority filter; policy drop;',
        '    iif "lo" accept',
        '    ct state established,related accept',
        `    ip saddr ${lab.mgmt.address} tcp dport 22 ct state new accept`,
        '  }',
        '}',
        '',
      ].join('\n');
      const r = await s.exec(['nft', '-f', '-'], { stdin: ruleset });
      expect(text(r.stderr)).toBe('');
      expect(r.code).toBe(0);
      expect(await lab.canConnect(lab.attacker.ns, web2.address, 8080, 500)).toBe(false);
      expect(await lab.canConnect(lab.mgmt.ns, web2.address, 22)).toBe(true);
      // the web1 host next door is untouched: rules apply to web2's namespace only
      expect(await lab.canConnect(lab.attacker.ns, lab.hosts[0]!.address, 8080)).toBe(true);
    } finally {
      await s.close();
    }
  });
});
