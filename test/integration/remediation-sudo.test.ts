/**
 * A non-root ward account (issue #21): the lab host gets a `ward` user and the sudoers file printed by
 * `npm run doctor -- sudoers`, the inventory says `user: ward, sudo: true`, and ward collects forensics, locks the
 * host down and releases it through real sudo. Real sudo also judges every command template (`sudo -l -U ward`)
 * and refuses what a stolen account would run.
 */
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/doctor.js';
import type { InventoryHost } from '../../src/config/inventory.js';
import { commandTemplates, HOSTILE_COMMANDS } from '../helpers/command-templates.js';
import {
  BOT_TOKEN,
  type Harness,
  messageText,
  SIGNING_SECRET,
  startHarness,
} from '../helpers/remediation-harness.js';
import { describeLab } from '../lab/lab.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIRM_SECONDS = '10';

/** `doctor sudoers …` as an operator runs it, with ward's environment. */
async function doctorSudoers(
  inventoryPath: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(`${ROOT}node_modules/tsx/dist/loader.mjs`).href,
      `${ROOT}src/cli/doctor.ts`,
      'sudoers',
      ...args,
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        WARD_INVENTORY: inventoryPath,
        WARD_LOCKDOWN_CONFIRM_SECONDS: CONFIRM_SECONDS,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, stdout, stderr };
}

describeLab('a non-root ward account with the generated sudoers file (real sshd, nftables and sudo)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      hosts: 1,
      env: { WARD_LOCKDOWN_CONFIRM_SECONDS: CONFIRM_SECONDS },
      inventory: (yaml) => yaml.replace('\n  user: root\n', '\n  user: ward\n  sudo: true\n'),
    });
    // The account: no password (sshd with UsePAM no refuses a locked `!` one), the lab's ward key. The lab's
    // authorized_keys sits in its private dir: let a non-root user reach that one file (the keys stay 0600).
    chmodSync(h.lab.dir, 0o711);
    chmodSync(join(h.lab.dir, 'authorized_keys'), 0o644);
    const add = await h.lab.execOnHost('web1', ['useradd', '-M', '-s', '/bin/sh', '-p', '*', 'ward']);
    expect(add.stderr).toBe('');
    const sudoers = await doctorSudoers(h.inventoryPath, ['--host', 'web1']);
    expect(sudoers.stderr).toBe('');
    expect(sudoers.code).toBe(0);
    const install = await h.lab.execOnHost(
      'web1',
      [
        'sh',
        '-c',
        'cat > /etc/sudoers.d/ward.new && visudo -cf /etc/sudoers.d/ward.new && chmod 0440 /etc/sudoers.d/ward.new && mv /etc/sudoers.d/ward.new /etc/sudoers.d/ward',
      ],
      { stdin: sudoers.stdout },
    );
    expect(install.code, install.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  it('the inventory really is non-root: ward logs in as ward, and never as root', async () => {
    await h.slash('forensics web1');
    const summary = await h.waitForMessage((m) => messageText(m).includes('Forensics on web1'), 90_000);
    // Root's view through sudo: sshd's listening socket is named with its process, which only root can see.
    expect(messageText(summary)).toMatch(/tcp 0\.0\.0\.0:22 sshd pid \d+/);
    const log = readFileSync(h.lab.hosts[0]!.sshdLog, 'utf8');
    expect(log).toMatch(/Accepted publickey for ward from 198\.51\.100\.1/);
    expect(log).not.toMatch(/Accepted publickey for root/);
  }, 120_000);

  it('real sudo allows every command template, and refuses what a stolen account would run', async () => {
    const lab = h.lab.hosts[0]!;
    const host: InventoryHost = {
      name: lab.name,
      address: lab.address,
      port: 22,
      user: 'ward',
      keyPath: h.lab.wardKeyPath,
      hostKey: lab.hostKeyFingerprint,
      sudo: true,
      tags: [],
    };
    const verdict = async (argv: string[]): Promise<boolean> =>
      (await h.lab.execOnHost('web1', ['sudo', '-n', '-l', '-U', 'ward', '--', ...argv])).code === 0;
    const refused: string[] = [];
    for (const argv of commandTemplates(host, Number(CONFIRM_SECONDS))) {
      if (!(await verdict(argv))) refused.push(argv.join(' '));
    }
    expect(refused).toEqual([]);
    const allowed: string[] = [];
    for (const argv of HOSTILE_COMMANDS) if (await verdict(argv)) allowed.push(argv.join(' '));
    expect(allowed).toEqual([]);
  }, 120_000);

  it('forensics, lockdown (persisted, watchdog cancelled) and release all run through sudo', async () => {
    await h.slash('lockdown web1 --reason "INC-21 non-root account"');
    const report = await h.waitForMessage(
      (m) => m.text?.includes('lockdown: ✓ web1') === true || m.text?.includes('lockdown: ✗ web1') === true,
      120_000,
    );
    expect(report.text).toContain('lockdown: ✓ web1');
    expect(report.text).toContain('Confirmed over a new SSH connection');
    expect(await h.lab.canConnect(h.lab.attacker.ns, h.lab.hosts[0]!.address, 8080)).toBe(false);
    expect(await h.lab.canConnect(h.lab.mgmt.ns, h.lab.hosts[0]!.address, 22)).toBe(true);
    // Root-owned results of sudo'd commands: the table, the boot-time ruleset written with sudo tee.
    const table = await h.lab.execOnHost('web1', ['nft', 'list', 'table', 'inet', 'ward_lockdown']);
    expect(table.code).toBe(0);
    const persisted = await h.lab.execOnHost('web1', ['stat', '-c', '%U %a', '/etc/ward/containment.nft']);
    expect(persisted.stdout.trim()).toMatch(/^root /);
    const watchdogs = await h.lab.execOnHost('web1', [
      'sh',
      '-c',
      `ps -eo args | grep -c "[s]leep ${CONFIRM_SECONDS}; nft delete"`,
    ]);
    expect(watchdogs.stdout.trim()).toBe('0');

    await h.slash('release web1 --reason "INC-21 done"');
    await h.waitForMessage((m) => messageText(m).includes('web1 is released'), 120_000);
    expect(await h.lab.canConnect(h.lab.attacker.ns, h.lab.hosts[0]!.address, 8080)).toBe(true);
    const gone = await h.lab.execOnHost('web1', ['test', '-e', '/etc/ward/containment.nft']);
    expect(gone.code).not.toBe(0);
  }, 240_000);

  it('doctor sudoers refuses a bad account name or an unknown host, and prints nothing', async () => {
    for (const args of [
      ['--user', 'ward ALL=(ALL) ALL'],
      ['--host', 'nosuchhost'],
      ['--user'],
      ['--shell', 'x'],
    ]) {
      const r = await doctorSudoers(h.inventoryPath, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^ward doctor sudoers: /);
    }
    const root = await doctorSudoers(h.inventoryPath, ['--user', 'root']);
    expect(root.stderr).toContain('needs no sudoers file');
  }, 120_000);

  it('doctor runs one sudo command per sudo host: ok with the file, a clear failure for an account without one', async () => {
    const other = await h.lab.execOnHost('web1', ['useradd', '-M', '-s', '/bin/sh', '-p', '*', 'nosudo']);
    expect(other.code).toBe(0);
    const otherInventory = join(h.dir, 'inventory-nosudo.yaml');
    writeFileSync(
      otherInventory,
      readFileSync(h.inventoryPath, 'utf8').replace('user: ward', 'user: nosudo'),
    );
    const env = {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: h.slack.apiUrl,
      REDIS_URL: h.redis.url,
    };
    const good = await runDoctor({ ...env, WARD_INVENTORY: h.inventoryPath });
    expect(good.find((r) => r.check === 'host web1')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^ward@198\.51\.100\.11:22, host key SHA256:.*matches, sudo ok$/),
    });
    const bad = await runDoctor({ ...env, WARD_INVENTORY: otherInventory });
    expect(bad.find((r) => r.check === 'host web1')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('logged in as nosudo, but sudo refused `nft list ruleset`'),
    });
  }, 120_000);
});
