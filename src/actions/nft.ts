import { BlockList, isIP } from 'node:net';
import { SafeValue } from '../adapters/ssh/shell-quote.js';
import { UserInputError } from '../errors.js';
import type { RemoteCommand } from './remote-command.js';

/** ward's own nftables tables: ward never edits anyone else's rules, so deleting these restores the host. */
export const LOCKDOWN_TABLE = 'ward_lockdown';
export const BLOCK_TABLE = 'ward_block';

/**
 * The lockdown table: drop every inbound packet except loopback, established flows and new SSH connections from
 * the management CIDRs. `table X` + `delete table X` first makes the load idempotent (nft 1.0.6 has no
 * `destroy`), and `nft -f` applies the whole file atomically: there is no moment with half the rules.
 */
export function lockdownRuleset(managementCidrs: readonly string[], sshPort: number): string {
  if (managementCidrs.length === 0) throw new UserInputError('The inventory lists no management CIDR.');
  const allow = managementCidrs.map((c) => {
    const cidr = SafeValue.ipOrCidr(c);
    const family = isIP(cidr.split('/')[0] ?? '');
    return `    ${family === 6 ? 'ip6' : 'ip'} saddr ${cidr} tcp dport ${sshPort} ct state new accept`;
  });
  return [
    `table inet ${LOCKDOWN_TABLE}`,
    `delete table inet ${LOCKDOWN_TABLE}`,
    `table inet ${LOCKDOWN_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy drop;',
    '    iif "lo" accept',
    '    ct state established,related accept',
    '    ct state invalid drop',
    ...allow,
    '  }',
    '}',
    '',
  ].join('\n');
}

export const listRuleset: RemoteCommand = { argv: ['nft', 'list', 'ruleset'] };
export const listLockdownTable: RemoteCommand = { argv: ['nft', 'list', 'table', 'inet', LOCKDOWN_TABLE] };
export const deleteLockdownTable: RemoteCommand = {
  argv: ['nft', 'delete', 'table', 'inet', LOCKDOWN_TABLE],
};

export function applyLockdown(managementCidrs: readonly string[], sshPort: number): RemoteCommand {
  return { argv: ['nft', '-f', '-'], stdin: lockdownRuleset(managementCidrs, sshPort) };
}

/**
 * Starts the commit-confirmed watchdog: a process group of its own (setsid) that deletes the lockdown table after
 * `seconds` unless ward kills the group first. Prints the group id. LAB.md verified killing only `sh` would leave
 * `sleep` running, hence `kill -- -PGID` in cancelWatchdog.
 */
export function startWatchdog(seconds: number): RemoteCommand {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86_400) throw new Error('watchdog: bad seconds');
  return {
    argv: [
      'sh',
      '-c',
      `setsid sh -c 'sleep ${seconds}; nft delete table inet ${LOCKDOWN_TABLE}' >/dev/null 2>&1 </dev/null & echo $!`,
    ],
  };
}

/** How the plan shows the watchdog's process group id, before it is known. */
const WATCHDOG_PGID = '<watchdog process group id printed by the previous command>';

/**
 * Kills the watchdog's process group: `pgid` is what startWatchdog printed, known only once it ran. The plan is
 * built with `undefined` and shows the placeholder in its place; at run time the id must be a valid pid.
 */
export function cancelWatchdog(pgid: string | undefined): RemoteCommand {
  return {
    argv: ['kill', '-TERM', '--', `-${pgid === undefined ? WATCHDOG_PGID : SafeValue.pid(pgid)}`],
    runtimeWord: { index: 3, shown: `-${WATCHDOG_PGID}` },
  };
}

// ---- block-ip -------------------------------------------------------------------------------------------------

export const listBlockTable: RemoteCommand = { argv: ['nft', 'list', 'table', 'inet', BLOCK_TABLE] };

/** Creates ward's block table (run only when it does not exist: re-declaring would duplicate its rules). */
export const createBlockTable: RemoteCommand = {
  argv: ['nft', '-f', '-'],
  stdin: [
    `table inet ${BLOCK_TABLE} {`,
    '  set blocked4 { type ipv4_addr; flags interval; }',
    '  set blocked6 { type ipv6_addr; flags interval; }',
    '  chain input {',
    '    type filter hook input priority filter - 10; policy accept;',
    // The host's own traffic is never an attacker's: whatever lands in the sets, loopback keeps working.
    '    iif "lo" accept',
    '    ip saddr @blocked4 drop',
    '    ip6 saddr @blocked6 drop',
    '  }',
    '}',
    '',
  ].join('\n'),
};

function blockSet(address: string): string {
  return isIP(address.split('/')[0] ?? '') === 6 ? 'blocked6' : 'blocked4';
}

/** `nft get|add|delete element` of one address or CIDR in its family's block set. */
export function blockedElement(verb: 'get' | 'add' | 'delete', address: string): RemoteCommand {
  const a = SafeValue.ipOrCidr(address);
  return { argv: ['nft', verb, 'element', 'inet', BLOCK_TABLE, blockSet(a), '{', a, '}'] };
}

/** True when two CIDRs share any address (one contains the other's network address). */
export function cidrsOverlap(a: string, b: string): boolean {
  const [ipA = '', prefixA] = a.split('/');
  const [ipB = '', prefixB] = b.split('/');
  const famA = isIP(ipA);
  const famB = isIP(ipB);
  if (famA === 0 || famA !== famB) return false;
  const type = famA === 6 ? 'ipv6' : 'ipv4';
  const full = famA === 6 ? 128 : 32;
  const listA = new BlockList();
  listA.addSubnet(ipA, prefixA === undefined ? full : Number(prefixA), type);
  const listB = new BlockList();
  listB.addSubnet(ipB, prefixB === undefined ? full : Number(prefixB), type);
  return listA.check(ipB, type) || listB.check(ipA, type);
}
