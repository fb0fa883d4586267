import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { SafeValue } from '../adapters/ssh/shell-quote.js';
import { type InventoryHost, persistDirs } from '../config/inventory.js';
import type { PlanStep } from '../core/command.js';
import type { ShellSession } from '../ports/remote-shell.js';
import { mustRun, type RemoteJob, runRemote } from './host-session.js';
import { BLOCK_TABLE, createBlockTable, lockdownRuleset } from './nft.js';
import { createPortsTable, PORTS_TABLE, parsePortSpec } from './ports.js';
import { hostStep, type RemoteCommand } from './remote-command.js';

/**
 * Containment that survives a reboot. nftables rules live in the kernel: a reboot forgets them. So whenever ward
 * changes its tables on a host, it also writes them to a ruleset file of its own and installs a systemd unit that
 * loads that file at boot, before the network comes up. Every command here is a fixed argv; the only values in
 * them are the inventory's directories (validated plain paths) and ward's own rulesets.
 */

export const UNIT_NAME = 'ward-containment.service';
/** Where nft is on Debian, Ubuntu, RHEL and Fedora; the unit names it absolutely, as systemd requires. */
export const NFT_BINARY = '/usr/sbin/nft';

export interface PersistPaths {
  rulesetFile: string;
  unitFile: string;
  wantsDir: string;
  wantsLink: string;
}

export function persistPaths(host: Pick<InventoryHost, 'persist'>): PersistPaths {
  const { unitDir, stateDir } = persistDirs(host);
  return {
    rulesetFile: `${stateDir}/containment.nft`,
    unitFile: `${unitDir}/${UNIT_NAME}`,
    wantsDir: `${unitDir}/sysinit.target.wants`,
    wantsLink: `${unitDir}/sysinit.target.wants/${UNIT_NAME}`,
  };
}

/**
 * The unit, modelled on Debian's nftables.service: no default dependencies (it runs in early boot), ordered before
 * network-pre.target and pulling it in, so that no interface is up before ward's rules are loaded.
 */
export function unitFileText(rulesetFile: string): string {
  return [
    '# Installed by ward (incident response). Loads the containment ward applied on this host at boot,',
    '# before the network. Removed by ward when the containment is released.',
    '[Unit]',
    'Description=ward containment (nftables rules applied by ward)',
    'DefaultDependencies=no',
    'Before=network-pre.target shutdown.target',
    'Wants=network-pre.target',
    'Conflicts=shutdown.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${NFT_BINARY} -f ${rulesetFile}`,
    '',
    '[Install]',
    'WantedBy=sysinit.target',
    '',
  ].join('\n');
}

/** What ward has applied on a host and must come back after a reboot. */
export interface PersistedContainment {
  lockdown?: { managementCidrs: readonly string[]; sshPort: number } | undefined;
  /** Addresses and CIDRs in ward's block sets. */
  blocked: readonly string[];
  /** Ports block-port closed (`8080/tcp`, `53/udp`); absent: none. */
  ports?: readonly string[] | undefined;
}

export function isEmpty(c: PersistedContainment): boolean {
  return c.lockdown === undefined && c.blocked.length === 0 && (c.ports ?? []).length === 0;
}

/**
 * One of ward's set tables with its elements: the live table's own text (what block-ip / block-port create), with
 * the sets filled in, so the boot-time copy cannot drift from what the commands create live. `table X` +
 * `delete table X` first: an idempotent load.
 */
function filledTable(table: string, createText: string, sets: Record<string, readonly string[]>): string {
  let body = createText;
  for (const [set, list] of Object.entries(sets)) {
    const elements = list.length > 0 ? ` elements = { ${list.join(', ')} };` : '';
    body = body.replace(
      new RegExp(`(set ${set} \\{[^}]*?)( \\})`),
      (_m, head: string, end: string) => `${head}${elements}${end}`,
    );
  }
  return [`table inet ${table}`, `delete table inet ${table}`, body].join('\n');
}

/** The block table with its elements (block-ip's createBlockTable, sets filled in). */
export function blockRuleset(blocked: readonly string[]): string {
  const family = (a: string) => isIP(SafeValue.ipOrCidr(a).split('/')[0] ?? '');
  return filledTable(BLOCK_TABLE, createBlockTable.stdin ?? '', {
    blocked4: blocked.filter((a) => family(a) === 4),
    blocked6: blocked.filter((a) => family(a) === 6),
  });
}

/** The closed-ports table with its elements (block-port's createPortsTable, sets filled in). */
export function portsRuleset(ports: readonly string[]): string {
  const specs = ports.map(parsePortSpec);
  const of = (proto: 'tcp' | 'udp') =>
    specs
      .filter((p) => p.proto === proto)
      .map((p) => p.port)
      .sort((a, b) => a - b)
      .map(String);
  return filledTable(PORTS_TABLE, createPortsTable.stdin ?? '', {
    tcp_closed: of('tcp'),
    udp_closed: of('udp'),
  });
}

/**
 * ward's boot-time ruleset: the lockdown table exactly as lockdown applies it (SSH from the management CIDRs
 * kept, like the live one), the block table with every address ward blocked and the ports table with every port
 * ward closed. Only ward's own tables: loading
 * it never touches anyone else's rules.
 */
export function persistedRuleset(c: PersistedContainment): string {
  const parts = [
    '# ward containment: loaded at boot by ward-containment.service. Managed by ward; do not edit.',
  ];
  if (c.lockdown) parts.push(lockdownRuleset(c.lockdown.managementCidrs, c.lockdown.sshPort));
  if (c.blocked.length > 0) parts.push(blockRuleset([...c.blocked].sort()));
  if ((c.ports ?? []).length > 0) parts.push(portsRuleset(c.ports ?? []));
  return `${parts.join('\n')}`;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What init system the host runs: systemd as PID 1, systemd installed but not running (containers), or none. */
export const detectInit: RemoteCommand = {
  argv: [
    'sh',
    '-c',
    'if [ -d /run/systemd/system ]; then echo systemd; elif command -v systemctl >/dev/null 2>&1; then echo systemd-offline; else echo none; fi',
  ],
};

export type InitSystem = 'systemd' | 'systemd-offline' | 'none';

/** The commands that install the ruleset file (written aside, checked with `nft -c`, then moved into place). */
export function installRulesetCommands(
  paths: PersistPaths,
  host: string,
  /** What ward holds on the host now; known at run time (the plan is built with `undefined`). */
  ruleset: string | undefined,
): RemoteCommand[] {
  const dir = paths.rulesetFile.slice(0, paths.rulesetFile.lastIndexOf('/'));
  const next = `${paths.rulesetFile}.new`;
  return [
    { argv: ['mkdir', '-p', '-m', '0700', dir] },
    {
      argv: ['tee', next],
      stdin: ruleset,
      // The ruleset depends on what ward holds when it runs: the plan names it, `nft -c` checks it before use.
      stdinLabel: `ward's tables on ${host} as ward holds them (nft ruleset)`,
    },
    { argv: ['nft', '-c', '-f', next] },
    { argv: ['mv', '-f', next, paths.rulesetFile] },
  ];
}

export function installUnitCommands(paths: PersistPaths): RemoteCommand[] {
  const dir = paths.unitFile.slice(0, paths.unitFile.lastIndexOf('/'));
  const next = `${paths.unitFile}.new`;
  return [
    { argv: ['mkdir', '-p', dir] },
    {
      argv: ['tee', next],
      stdin: unitFileText(paths.rulesetFile),
      stdinLabel: `the ${UNIT_NAME} unit (Before=network-pre.target, ExecStart=${NFT_BINARY} -f ${paths.rulesetFile})`,
    },
    { argv: ['mv', '-f', next, paths.unitFile] },
  ];
}

/** Enabling = the sysinit.target.wants link. systemctl does it where systemd runs; elsewhere ward makes the link. */
export function enableCommands(paths: PersistPaths, how: 'systemctl' | 'link'): RemoteCommand[] {
  if (how === 'systemctl') {
    return [{ argv: ['systemctl', 'daemon-reload'] }, { argv: ['systemctl', 'enable', UNIT_NAME] }];
  }
  return [
    { argv: ['mkdir', '-p', paths.wantsDir] },
    { argv: ['ln', '-sfn', paths.unitFile, paths.wantsLink] },
  ];
}

export function removeCommands(paths: PersistPaths): RemoteCommand[] {
  return [
    { argv: ['rm', '-f', paths.wantsLink, paths.unitFile, paths.rulesetFile, `${paths.rulesetFile}.new`] },
  ];
}

export const daemonReload: RemoteCommand = { argv: ['systemctl', 'daemon-reload'] };

/** Read-only: what is installed now. */
export function readPersistCommands(paths: PersistPaths): {
  ruleset: RemoteCommand;
  unit: RemoteCommand;
  link: RemoteCommand;
} {
  return {
    ruleset: { argv: ['cat', paths.rulesetFile] },
    unit: { argv: ['cat', paths.unitFile] },
    link: { argv: ['readlink', paths.wantsLink] },
  };
}

/** `systemctl enable` knows only its own search path: a unit elsewhere (a lab's tmpfs) is linked by ward. */
function enableMethod(init: InitSystem, host: InventoryHost): 'systemctl' | 'link' {
  return init === 'systemd' && persistDirs(host).unitDir === '/etc/systemd/system' ? 'systemctl' : 'link';
}

/** What ward recorded about the persistence it installed on a host (`ward:host:<name>:persist`). */
export interface PersistRecord {
  init: InitSystem;
  enabledWith: 'systemctl' | 'link' | 'none';
  rulesetSha256: string;
  paths: PersistPaths;
  /** Epoch ms. */
  at: number;
}

export const persistKey = (host: string): string => `ward:host:${host}:persist`;

export async function readPersistRecord(
  store: RemoteJob['services']['store'],
  host: string,
): Promise<PersistRecord | undefined> {
  const raw = await store.get(persistKey(host));
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as PersistRecord;
  } catch {
    return undefined;
  }
}

/**
 * Brings the host's boot-time containment in line with `desired`: writes the ruleset and installs and enables the
 * unit, or removes all three when nothing of ward's remains. Returns one sentence saying what holds after a
 * reboot, honestly: a host without systemd keeps its rules only until it reboots.
 */
export async function syncPersistence(
  session: ShellSession,
  job: RemoteJob,
  host: InventoryHost,
  desired: PersistedContainment,
): Promise<string> {
  const paths = persistPaths(host);
  const store = job.services.store;
  const init = (await mustRun(session, job, detectInit)).stdout.toString('utf8').trim() as InitSystem;
  if (isEmpty(desired)) {
    for (const c of removeCommands(paths)) await mustRun(session, job, c);
    if (init === 'systemd') await runRemote(session, job, daemonReload);
    await store.durable(() => store.del(persistKey(host.name)));
    return `Boot-time containment removed (${paths.rulesetFile}, ${UNIT_NAME} and its enablement link).`;
  }
  const ruleset = persistedRuleset(desired);
  for (const c of installRulesetCommands(paths, host.name, ruleset)) await mustRun(session, job, c);
  let enabledWith: PersistRecord['enabledWith'] = 'none';
  if (init !== 'none') {
    for (const c of installUnitCommands(paths)) await mustRun(session, job, c);
    enabledWith = enableMethod(init, host);
    for (const c of enableCommands(paths, enabledWith)) await mustRun(session, job, c);
  }
  const record: PersistRecord = {
    init,
    enabledWith,
    rulesetSha256: sha256(ruleset),
    paths,
    at: job.services.clock.now(),
  };
  // Durable like every record of what ward holds: the checker verifies the host against it after a failover too.
  await store.durable(() => store.set(persistKey(host.name), JSON.stringify(record)));
  if (init === 'none') {
    return `NOT reboot-safe: ${host.name} has no systemd, so nothing loads ${paths.rulesetFile} at boot; after a reboot the host is open until ward's rules are applied again.`;
  }
  return enabledWith === 'systemctl'
    ? `Survives a reboot: ${paths.rulesetFile} is loaded before the network by ${UNIT_NAME} (enabled with systemctl).`
    : `Survives a reboot: ${paths.rulesetFile} is loaded before the network by ${UNIT_NAME}; systemd is not running as PID 1 here${init === 'systemd' ? ' in that unit directory' : ''}, so ward created the enablement link ${paths.wantsLink} itself.`;
}

/**
 * The plan step that brings the boot-time containment in line with what ward holds on the host, with every command
 * either branch may run. `what` names the change it follows ("the lockdown", "the block").
 */
export function persistPlanStep(host: InventoryHost, what: string): PlanStep {
  const paths = persistPaths(host);
  return hostStep({
    id: `${host.name}.persist`,
    title: `Make ${what} survive a reboot of ${host.name}: write ward's tables (lockdown keeping SSH from the management CIDRs, blocked addresses, closed ports) to ${paths.rulesetFile} (checked with nft -c), install ${UNIT_NAME} and enable it (systemctl where systemd runs as PID 1, else the ${paths.wantsDir} link; a host without systemd is reported as not reboot-safe). When ward holds nothing on the host any more, remove all three instead`,
    host: host.name,
    run: [
      detectInit,
      ...installRulesetCommands(paths, host.name, undefined),
      ...installUnitCommands(paths),
      ...enableCommands(paths, 'systemctl'),
      ...enableCommands(paths, 'link'),
      ...removeCommands(paths),
      daemonReload,
    ],
  });
}
