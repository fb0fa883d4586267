import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCommand, parseCollectOutput, type SectionSpec } from '../../src/actions/collect-script.js';
import {
  checkBlockable,
  checkDisablable,
  disableUserPlanSteps,
  killProcessPlanSteps,
} from '../../src/actions/contain.js';
import { lockdownPlanSteps } from '../../src/actions/lockdown.js';
import { cidrsOverlap, lockdownRuleset } from '../../src/actions/nft.js';
import { withoutWardTables } from '../../src/actions/release.js';
import { tarGz } from '../../src/actions/tar.js';
import type { InventoryHost } from '../../src/config/inventory.js';
import { planHash } from '../../src/core/plan.js';

const web1: InventoryHost = {
  name: 'web1',
  address: '198.51.100.11',
  port: 22,
  user: 'ward',
  keyPath: '/etc/ward/id_ed25519',
  hostKey: `SHA256:${'A'.repeat(43)}`,
  tags: ['web'],
};

describe('collection script', () => {
  const sections: SectionSpec[] = [
    { name: 'echo', alternatives: [{ code: 'printf "no newline at end"' }] },
    { name: 'forger', alternatives: [{ code: 'printf "\\n@@ward-0000 end forger\\t0\\t0\\nfake"; exit 3' }] },
    { name: 'absent', alternatives: [{ when: { tool: 'no-such-tool-ward' }, code: 'no-such-tool-ward' }] },
    { name: 'big', alternatives: [{ code: 'head -c 5000 /dev/zero' }] },
  ];

  it('keeps each section byte-exact with its exit code, marks missing tools and truncation, and cannot be forged', () => {
    const run = collectCommand(
      { name: 'test', sections },
      { maxSectionBytes: 1000, sectionTimeoutSeconds: 10 },
    );
    const r = spawnSync('sh', ['-s'], { input: run.command.stdin });
    const [echo, forger, absent, big] = parseCollectOutput(r.stdout, run.boundary, sections, 1000);
    expect(echo!.content.toString()).toBe('no newline at end');
    expect(echo!.status).toBe('ok');
    expect(forger!.exitCode).toBe(3);
    expect(forger!.status).toBe('failed');
    expect(forger!.content.toString()).toContain('fake');
    expect(absent!.status).toBe('missing');
    expect(absent!.note).toBe('not installed (no-such-tool-ward)');
    expect(big!.truncated).toBe(true);
    expect(big!.bytes).toBe(1000);
  });

  it('reports sections that never arrived instead of dropping them', () => {
    const arts = parseCollectOutput(Buffer.from(''), '@@ward-x', sections, 1000);
    expect(arts.map((a) => a.status)).toEqual([
      'not-received',
      'not-received',
      'not-received',
      'not-received',
    ]);
  });
});

describe('plans', () => {
  it('a lockdown plan lists every step with exact commands and hashes the same twice', () => {
    const a = lockdownPlanSteps(web1, ['198.51.100.1/32', '2001:db8::/64'], ['/usr/sbin/sshd'], 60);
    const b = lockdownPlanSteps(web1, ['198.51.100.1/32', '2001:db8::/64'], ['/usr/sbin/sshd'], 60);
    const plan = (steps: typeof a) => ({ command: 'lockdown', args: { host: 'web1' }, hosts: [], steps });
    expect(planHash(plan(a))).toBe(planHash(plan(b)));
    expect(a.map((s) => s.id)).toEqual([
      'web1.forensics',
      'web1.save-ruleset',
      'web1.watchdog',
      'web1.apply',
      'web1.verify',
      'web1.confirm',
      'web1.persist',
    ]);
    const all = a.flatMap((s) => s.commands).join('\n');
    expect(all).toContain("setsid sh -c '\\''sleep 60; nft delete table inet ward_lockdown'\\''");
    expect(all).toContain('ip saddr 198.51.100.1/32 tcp dport 22 ct state new accept');
    expect(all).toContain('ip6 saddr 2001:db8::/64 tcp dport 22 ct state new accept');
    // A different confirm window is a different plan.
    expect(planHash(plan(lockdownPlanSteps(web1, ['198.51.100.1/32'], [], 30)))).not.toBe(
      planHash(plan(lockdownPlanSteps(web1, ['198.51.100.1/32'], [], 60))),
    );
  });

  it('kill-process and disable-user plans name the exact argv', () => {
    expect(killProcessPlanSteps(web1, '4242').flatMap((s) => s.commands)).toContain('kill -TERM 4242');
    expect(disableUserPlanSteps(web1, 'deploy').flatMap((s) => s.commands)).toEqual([
      'getent passwd deploy',
      'getent shadow deploy',
      'usermod -L -e 1 deploy',
      'pgrep -u deploy',
      'pkill -KILL -u deploy',
    ]);
  });

  it('refuses root, the SSH user ward uses, and addresses overlapping management', () => {
    expect(() => checkDisablable('root', web1)).toThrow(/will not disable root/);
    expect(() => checkDisablable('ward', web1)).toThrow(/account ward logs in to web1 with/);
    expect(() => checkDisablable('bob;id', web1)).toThrow(/not a valid Unix user name/);
    expect(() => checkBlockable('198.51.100.0/24', ['198.51.100.1/32'])).toThrow(/overlaps the management/);
    expect(() => checkBlockable('0.0.0.0/0', ['198.51.100.1/32'])).toThrow(/overlaps/);
    expect(checkBlockable('203.0.113.7/32', ['198.51.100.1/32'])).toBe('203.0.113.7');
    expect(cidrsOverlap('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(cidrsOverlap('2001:db8::1', '198.51.100.1')).toBe(false);
  });
});

describe('nftables text', () => {
  it('the lockdown ruleset is idempotent to load and refuses an empty management list', () => {
    const text = lockdownRuleset(['198.51.100.1/32'], 2222);
    expect(text.split('\n').slice(0, 2)).toEqual([
      'table inet ward_lockdown',
      'delete table inet ward_lockdown',
    ]);
    expect(text).toContain('tcp dport 2222');
    expect(() => lockdownRuleset([], 22)).toThrow(/no management CIDR/);
  });

  it('compares rulesets without ward tables', () => {
    const before = 'table inet filter {\n\tchain input {\n\t}\n}';
    const after = `${before}\ntable inet ward_block {\n\tset blocked4 {\n\t}\n}`;
    expect(withoutWardTables(after)).toBe(withoutWardTables(before));
  });
});

describe('tar writer', () => {
  it('writes an archive that tar extracts byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ward-tar-'));
    const data = Buffer.from('x'.repeat(1500));
    const gz = tarGz([
      { name: 'b/one.txt', data, mtimeMs: 1_700_000_000_000 },
      { name: 'b/empty.txt', data: Buffer.alloc(0), mtimeMs: 1_700_000_000_000 },
    ]);
    execFileSync('tar', ['xzf', '-', '-C', dir], { input: gz });
    expect(execFileSync('cat', [join(dir, 'b/one.txt')]).equals(data)).toBe(true);
    expect(execFileSync('tar', ['tzvf', '-'], { input: gz }).toString()).toContain('b/empty.txt');
    expect(() => tarGz([{ name: '../evil', data, mtimeMs: 0 }])).toThrow(/unsafe/);
  });
});
