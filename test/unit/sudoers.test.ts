/**
 * The sudoers file for a non-root ward account (inventory `sudo: true`) is generated from the command templates:
 * every command a plan or a read-only path can produce is allowed by exactly the rules generated for that host,
 * every rule is used by some command, and the commands a stolen account would want are refused. The lab test
 * (test/integration/remediation-sudo.test.ts) checks the same with real sudo and runs ward through it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DENIED,
  PROGRAM_PATHS,
  renderSudoers,
  ruleAllows,
  sudoersAllow,
  sudoRules,
} from '../../src/actions/sudoers.js';
import { sudoArgv } from '../../src/adapters/ssh/node-ssh-shell.js';
import { sudoersFor } from '../../src/cli/doctor.js';
import { type InventoryHost, inventorySchema, toInventory } from '../../src/config/inventory.js';
import { parseYaml } from '../../src/config/yaml-file.js';
import { argvOf, commandTemplates, HOSTILE_COMMANDS } from '../helpers/command-templates.js';

const KEY = 'SHA256:uJ4bX2aBQn7zZk0PqzP8l8z1J6m3bH0l2cJv0sYp9aE';

function host(extra = ''): InventoryHost {
  const inventory = toInventory(
    parseYaml(
      `management: { cidrs: [198.51.100.1/32] }\ndefaults: { user: ward, sudo: true }\nhosts:\n  web1: { address: 198.51.100.11, hostKey: "${KEY}"${extra} }\n`,
      inventorySchema,
      'inventory file',
    ),
  );
  return inventory.hosts.get('web1')!;
}

const cases: Array<[string, InventoryHost, number]> = [
  ['default persist directories', host(), 60],
  ['custom persist directories', host(', persist: { unitDir: /run/units, stateDir: /var/lib/ward-fw }'), 15],
];

describe('sudoers for a non-root ward account', () => {
  it.each(cases)('allows every command the plans can produce (%s)', (_, h, seconds) => {
    const rules = sudoRules({ confirmSeconds: seconds, host: h });
    const commands = commandTemplates(h, seconds);
    expect(commands.length).toBeGreaterThan(40);
    const refused = commands.filter((argv) => !sudoersAllow(rules, argv)).map((a) => a.join(' '));
    expect(refused).toEqual([]);
    // And no rule is dead: each one is what some template needs.
    const unused = rules.filter((r) => !commands.some((argv) => ruleAllows(r, argv)));
    expect(unused.map((r) => `${r.program} ${JSON.stringify(r.args)}`)).toEqual([]);
  });

  it('is exact about configuration: another watchdog delay or persist directory is refused', () => {
    const rules = sudoRules({ confirmSeconds: 60, host: host() });
    const other = commandTemplates(host(', persist: { unitDir: /run/units, stateDir: /var/lib/x' + ' }'), 61);
    const refused = other.filter((argv) => !sudoersAllow(rules, argv)).map((a) => a.join(' '));
    expect(refused.some((c) => c.includes('sleep 61'))).toBe(true);
    expect(refused.some((c) => c.startsWith('tee /var/lib/x/'))).toBe(true);
    expect(refused.some((c) => c.startsWith('tee /run/units/'))).toBe(true);
  });

  it('refuses what a stolen ward account would run', () => {
    const rules = sudoRules({ confirmSeconds: 60, host: host() });
    const allowed = HOSTILE_COMMANDS.filter((argv) => sudoersAllow(rules, argv)).map((a) => a.join(' '));
    expect(allowed).toEqual([]);
    for (const denied of DENIED) expect(rules.some((r) => ruleAllows(r, denied))).toBe(true);
  });

  it('names every program any action module runs, with an absolute path', () => {
    // A template added outside the plans still names its program in an `argv: ['…'` literal: it must be known.
    const dirs = ['../../src/actions/', '../../src/containment/'];
    const programs = new Set<string>();
    for (const dir of dirs) {
      const url = new URL(dir, import.meta.url);
      for (const file of readdirSync(url).filter((f) => f.endsWith('.ts'))) {
        const text = readFileSync(new URL(file, url), 'utf8');
        for (const m of text.matchAll(/argv: \[\s*'([a-z]+)'/g)) programs.add(m[1]!);
      }
    }
    expect(programs.size).toBeGreaterThan(10);
    expect([...programs].filter((p) => PROGRAM_PATHS[p] === undefined)).toEqual([]);
    for (const path of Object.values(PROGRAM_PATHS)) expect(path).toMatch(/^\/[a-z/]+$/);
  });

  it('renders one line per rule, escaped for the sudoers parser, with the root-equivalent rules marked', () => {
    const text = renderSudoers('ward', { confirmSeconds: 60, host: host() });
    expect(text).toContain('Defaults:ward !requiretty, !lecture, user_command_timeouts');
    expect(text).toContain('ward ALL=(root) NOPASSWD: /usr/sbin/nft list ruleset\n');
    expect(text).toContain(
      'ward ALL=(root) NOPASSWD: /usr/sbin/usermod ^-L -e 1 [a-z_][a-z0-9_-]{0\\,31}$\n',
    );
    expect(text).toContain(
      'ward ALL=(root) NOPASSWD: /bin/sh -c if \\[ -d /run/systemd/system \\]; then echo systemd;',
    );
    expect(text).toContain('ward ALL=(root) !/usr/sbin/usermod -L -e 1 root\n');
    expect(text.match(/^# ROOT-EQUIVALENT: /gm)).toHaveLength(3);
    const ruleLines = text.split('\n').filter((l) => l.startsWith('ward ALL=(root) NOPASSWD: '));
    expect(ruleLines).toHaveLength(sudoRules({ confirmSeconds: 60, host: host() }).length);
    expect(() => renderSudoers('ward; ALL', { confirmSeconds: 60, host: host() })).toThrow(/Unix user name/);
  });

  it.skipIf(!existsSync('/usr/sbin/visudo'))('parses with visudo -c (sudo installed)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ward-sudoers-'));
    try {
      const file = join(dir, 'ward');
      writeFileSync(file, renderSudoers('ward', { confirmSeconds: 60, host: host() }), { mode: 0o440 });
      expect(execFileSync('/usr/sbin/visudo', ['-cf', file], { encoding: 'utf8' })).toContain('parsed OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('wraps a command as sudo -n [-T seconds] -- argv, and a display command parses back to its argv', () => {
    expect(sudoArgv(['nft', 'list', 'ruleset'])).toEqual(['sudo', '-n', '--', 'nft', 'list', 'ruleset']);
    expect(sudoArgv(['sh', '-s'], 31)).toEqual(['sudo', '-n', '-T', '31', '--', 'sh', '-s']);
    expect(argvOf("sh -c 'a '\\''b'\\'' c' < label")).toEqual(['sh', '-c', "a 'b' c"]);
  });

  it('the inventory takes sudo per host or as a default, never for a local host', () => {
    expect(host().sudo).toBe(true);
    expect(host(', sudo: false').sudo).toBe(false);
    expect(() =>
      parseYaml(
        'management: { cidrs: [198.51.100.1/32] }\nhosts:\n  me: { address: 127.0.0.1, transport: local, sudo: true }\n',
        inventorySchema,
        'inventory file',
      ),
    ).toThrow(/sudo: applies to SSH hosts only/);
  });

  it('doctor sudoers: the file for an inventory host, and a clear refusal for bad arguments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ward-sudoers-cli-'));
    try {
      const inventory = join(dir, 'inventory.yaml');
      writeFileSync(
        inventory,
        `management: { cidrs: [198.51.100.1/32] }\ndefaults: { user: wardops, sudo: true }\nhosts:\n  web1: { address: 198.51.100.11, hostKey: "${KEY}" }\n  web2: { address: 198.51.100.12, hostKey: "${KEY}", persist: { stateDir: /var/lib/fw } }\n  db1: { address: 198.51.100.13, hostKey: "${KEY}", user: root, sudo: false }\n`,
      );
      const env = {
        SLACK_BOT_TOKEN: 'xoxb-1-2-abc',
        SLACK_SIGNING_SECRET: 'abcdef0123456789',
        WARD_INVENTORY: inventory,
        WARD_LOCKDOWN_CONFIRM_SECONDS: '45',
      };
      const web2 = sudoersFor(env, ['--host', 'web2']);
      expect(web2).toContain('wardops ALL=(root) NOPASSWD: /usr/bin/tee /var/lib/fw/containment.nft.new\n');
      expect(web2).toContain('sleep 45; nft delete table inet ward_lockdown');
      expect(sudoersFor(env, ['--host', 'web1', '--user', 'ward2'])).toContain('ward2 ALL=(root) NOPASSWD: ');
      // web1 and web2 differ in their directories: one file per host, said so.
      expect(() => sudoersFor(env, [])).toThrow(/--host/);
      expect(() => sudoersFor(env, ['--host', 'db1'])).toThrow(/root: it needs no sudoers file/);
      expect(() => sudoersFor(env, ['--host', 'nosuch'])).toThrow(/not a host of the inventory/);
      expect(() => sudoersFor(env, ['--host', 'web1', '--user', 'x ALL=(ALL) ALL'])).toThrow(
        /Unix user name/,
      );
      expect(() => sudoersFor(env, ['--user'])).toThrow(/--user needs a value/);
      expect(() => sudoersFor(env, ['web1'])).toThrow(/unexpected "web1"/);
      expect(() => sudoersFor({ ...env, WARD_LOCKDOWN_CONFIRM_SECONDS: 'soon' }, [])).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
