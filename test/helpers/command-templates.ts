/**
 * Every command ward can run on a host, as argv, taken from what the plans show approvers (the display form of
 * each command) plus what the read-only paths run (forensics, hunt, containment checks). Used to prove that the
 * generated sudoers file allows each of them (test/unit/sudoers.test.ts with ward's own matcher, the lab test with
 * real sudo).
 */
import { disableUserPlanSteps, killProcessPlanSteps } from '../../src/actions/contain.js';
import { forensicsPlanCommand } from '../../src/actions/forensics.js';
import { huntPlanCommand } from '../../src/actions/hunt.js';
import { parseIndicator } from '../../src/actions/hunt-indicators.js';
import { lockdownPlanSteps } from '../../src/actions/lockdown.js';
import { BLOCK_TABLE, blockedElement, cancelWatchdog, listLockdownTable } from '../../src/actions/nft.js';
import { persistPaths, readPersistCommands } from '../../src/actions/persist.js';
import { releasePlanSteps } from '../../src/actions/release.js';
import { displayCommand } from '../../src/actions/remote-command.js';
import {
  ADDRESS_FAMILY,
  addElementPlanSteps,
  PORT_FAMILY,
  removeElementPlanSteps,
} from '../../src/actions/set-elements.js';
import type { InventoryHost } from '../../src/config/inventory.js';

/** A display command (plain words, single-quoted words, then `< label` or `<<< 'stdin'`) back to its argv. */
export function argvOf(display: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < display.length) {
    if (display[i] === ' ') {
      i++;
      continue;
    }
    if (display.startsWith('< ', i) || display.startsWith('<<< ', i)) break;
    let word = '';
    while (i < display.length && display[i] !== ' ') {
      if (display[i] === "'") {
        const end = display.indexOf("'", i + 1);
        if (end === -1) throw new Error(`unterminated quote in ${display}`);
        word += display.slice(i + 1, end);
        i = end + 1;
      } else if (display.startsWith("\\'", i)) {
        word += "'";
        i += 2;
      } else {
        word += display[i];
        i++;
      }
    }
    out.push(word);
  }
  return out;
}

/** Every command the plans and the read-only paths produce for this host, with sample values. */
export function commandTemplates(host: InventoryHost, confirmSeconds: number): string[][] {
  const displays: string[] = [];
  const steps = [
    ...lockdownPlanSteps(host, ['198.51.100.1/32', '2001:db8::/48'], ['/usr/local/bin/app'], confirmSeconds),
    ...releasePlanSteps(host),
    ...addElementPlanSteps(ADDRESS_FAMILY, host, '203.0.113.7'),
    ...addElementPlanSteps(ADDRESS_FAMILY, host, '203.0.113.0/24'),
    ...addElementPlanSteps(ADDRESS_FAMILY, host, '2001:db8::7'),
    ...removeElementPlanSteps(ADDRESS_FAMILY, host, '203.0.113.7'),
    ...removeElementPlanSteps(ADDRESS_FAMILY, host, '2001:db8::/64'),
    ...addElementPlanSteps(PORT_FAMILY, host, '8443/tcp'),
    ...removeElementPlanSteps(PORT_FAMILY, host, '53/udp'),
    ...killProcessPlanSteps(host, '4194304'),
    ...disableUserPlanSteps(host, 'mallory'),
  ];
  for (const s of steps) displays.push(...s.commands);
  displays.push(displayCommand(forensicsPlanCommand(['/usr/local/bin/app'])));
  displays.push(
    displayCommand(
      huntPlanCommand([parseIndicator('process:kworker-upd'), parseIndicator('ip:203.0.113.7')], {
        paths: ['/tmp'],
        maxFileBytes: 1024,
        maxFiles: 10,
        scanTimeoutMs: 1000,
      }),
    ),
  );
  // Containment checks (src/containment/checks.ts): read-only.
  const read = readPersistCommands(persistPaths(host));
  for (const c of [
    listLockdownTable,
    blockedElement('get', '203.0.113.7'),
    { argv: ['nft', 'list', 'chain', 'inet', BLOCK_TABLE, 'input'] },
    read.ruleset,
    read.unit,
    read.link,
  ]) {
    displays.push(displayCommand(c));
  }
  return displays.map((d) =>
    // The watchdog's process group is known at run time: the plan shows a placeholder, sudo sees a number.
    d === displayCommand(cancelWatchdog(undefined)) ? [...cancelWatchdog('4242').argv] : argvOf(d),
  );
}

/** Commands a stolen ward account would like to run: each must be refused by the sudoers file. */
export const HOSTILE_COMMANDS: string[][] = [
  ['sh', '-c', 'id'],
  ['sh', '-i'],
  ['usermod', '-L', '-e', '1', 'mallory', '-G', 'sudo'],
  ['usermod', '-aG', 'sudo', 'mallory'],
  [
    'nft',
    'add',
    'element',
    'inet',
    'ward_block',
    'blocked4',
    '{',
    '203.0.113.7',
    '}',
    ';',
    'flush',
    'ruleset',
  ],
  ['nft', 'flush', 'ruleset'],
  ['nft', '-f', '/etc/shadow'],
  ['kill', '-KILL', '1', '2'],
  ['kill', '-TERM', '--', '-1'],
  ['cat', '/etc/shadow'],
  ['cat', '/proc/1/environ'],
  ['tee', '/etc/sudoers.d/ward'],
  ['tee', '-a', '/etc/ward/containment.nft.new'],
  ['mv', '-f', '/tmp/x', '/etc/systemd/system/ward-containment.service'],
  ['rm', '-rf', '/'],
  ['pkill', '-KILL', '-u', 'root', 'sshd'],
  ['pkill', '-KILL', '-u', 'root'],
  ['usermod', '-L', '-e', '1', 'root'],
  ['getent', 'shadow', 'root'],
  ['getent', 'shadow', 'root', 'mallory'],
  ['systemctl', 'enable', 'evil.service'],
  ['ln', '-sfn', '/bin/sh', '/etc/systemd/system/sysinit.target.wants/ward-containment.service'],
  ['bash'],
];
