/**
 * The sudoers file for a non-root account (inventory `sudo: true`): one rule per command template ward can run on
 * a host, built from the templates themselves (nft.ts, ports.ts, persist.ts, contain.ts, the collection scripts),
 * so the file cannot drift from the code. `npm run doctor -- sudoers` prints it; test/unit/sudoers.test.ts feeds
 * every template through these rules, and the lab test runs forensics, lockdown and release through real sudo.
 *
 * A fixed command is allowed with its exact arguments. A command carrying a validated value (an address, a pid,
 * a user name, a port) is allowed through a sudoers regular expression (sudo ≥ 1.9.10) that accepts exactly one
 * such value and nothing after it. Some rules give root whatever their arguments, and say so: `sh -s` runs the
 * script ward sends on stdin (forensics, hunt, process evidence), `nft -f -` loads any ruleset, and `tee` into the
 * systemd unit directory writes a unit that runs at boot.
 */
import { SafeValue } from '../adapters/ssh/shell-quote.js';
import type { InventoryHost } from '../config/inventory.js';
import {
  BLOCK_TABLE,
  createBlockTable,
  deleteLockdownTable,
  listBlockTable,
  listLockdownTable,
  listRuleset,
  startWatchdog,
} from './nft.js';
import {
  daemonReload,
  detectInit,
  enableCommands,
  installRulesetCommands,
  installUnitCommands,
  persistPaths,
  readPersistCommands,
  removeCommands,
} from './persist.js';
import { createPortsTable, listPortsTable, PORTS_TABLE } from './ports.js';
import type { RemoteCommand } from './remote-command.js';

/**
 * Where each program ward runs is on Debian, Ubuntu, RHEL and Fedora. sudo resolves the command through its
 * secure_path and compares the file (device and inode) with the rule's, so `/bin/kill` also matches
 * `/usr/bin/kill` on a merged-/usr system. A host that keeps a program elsewhere needs its line edited.
 */
export const PROGRAM_PATHS: Readonly<Record<string, string>> = {
  cat: '/bin/cat',
  getent: '/usr/bin/getent',
  kill: '/bin/kill',
  ln: '/bin/ln',
  mkdir: '/bin/mkdir',
  mv: '/bin/mv',
  nft: '/usr/sbin/nft',
  pgrep: '/usr/bin/pgrep',
  pkill: '/usr/bin/pkill',
  readlink: '/bin/readlink',
  rm: '/bin/rm',
  sh: '/bin/sh',
  systemctl: '/bin/systemctl',
  tee: '/usr/bin/tee',
  usermod: '/usr/sbin/usermod',
};

export interface SudoRule {
  program: string;
  /** The arguments, exactly (joined by spaces, as sudo compares them), or a regular expression over them. */
  args: { exact: string } | { regex: string };
  /** Which ward feature needs it. */
  purpose: string;
  /** Set when the rule amounts to root whatever the arguments: why. */
  rootEquivalent?: string;
}

/** What a rule set depends on: the lockdown confirm window (the watchdog's sleep) and the host's persistence paths. */
export interface SudoersOptions {
  confirmSeconds: number;
  host: Pick<InventoryHost, 'persist'>;
}

// One value each, no spaces, nothing after: the patterns SafeValue and the templates accept (or narrower).
const PID = '[1-9][0-9]{0,6}';
// A process group to signal: never 1 (`kill -- -1` signals every process).
const PGID = '([2-9]|[1-9][0-9]{1,6})';
const USER = '[a-z_][a-z0-9_-]{0,31}';
const ADDRESS = '[0-9a-fA-F.:]+(/[0-9]{1,3})?';
const PORT = '[1-9][0-9]{0,4}';

const SCRIPT_ROOT =
  'runs whatever script arrives on stdin as root: ward sends only its fixed collection scripts, but the rule cannot tell';

function exact(command: RemoteCommand, purpose: string, rootEquivalent?: string): SudoRule {
  const [program, ...args] = command.argv;
  if (program === undefined) throw new Error('sudoers: empty command');
  return {
    program,
    args: { exact: args.join(' ') },
    purpose,
    ...(rootEquivalent !== undefined ? { rootEquivalent } : {}),
  };
}

function regex(program: string, pattern: string, purpose: string): SudoRule {
  return { program, args: { regex: `^${pattern}$` }, purpose };
}

/** Every command ward may run on a host with these options, as sudoers rules (duplicates removed). */
export function sudoRules(options: SudoersOptions): SudoRule[] {
  const paths = persistPaths(options.host);
  const read = readPersistCommands(paths);
  const rules: SudoRule[] = [
    // Evidence: forensics, hunt and kill-process's process record are fixed scripts read from stdin.
    exact({ argv: ['sh', '-s'] }, 'forensics, hunt, kill-process (evidence scripts on stdin)', SCRIPT_ROOT),
    // Lockdown and release (nft.ts).
    exact(listRuleset, 'lockdown (ruleset saved as evidence), release (compared)'),
    exact(listLockdownTable, 'lockdown (confirmed), release, containment checks'),
    exact(deleteLockdownTable, 'release'),
    exact(
      { argv: ['nft', '-f', '-'] },
      "lockdown, block-ip, block-port (ward's tables, atomically)",
      'loads any nftables ruleset from stdin (it can also read files through `include`)',
    ),
    exact(startWatchdog(options.confirmSeconds), 'lockdown (commit-confirmed watchdog)'),
    regex('kill', `-TERM -- -${PGID}`, 'lockdown (cancels the watchdog process group)'),
    // block-ip (nft.ts) and its checks.
    exact(listBlockTable, 'block-ip, containment checks'),
    exact({ argv: ['nft', 'list', 'chain', 'inet', BLOCK_TABLE, 'input'] }, 'containment checks'),
    regex(
      'nft',
      `(get|add|delete) element inet ${BLOCK_TABLE} blocked[46] \\{ ${ADDRESS} \\}`,
      'block-ip, unblock-ip, containment checks',
    ),
    // block-port / unblock-port (ports.ts).
    exact(listPortsTable, 'block-port, unblock-port'),
    regex(
      'nft',
      `(get|add|delete) element inet ${PORTS_TABLE} (tcp|udp)_closed \\{ ${PORT} \\}`,
      'block-port, unblock-port',
    ),
    // kill-process and disable-user (contain.ts).
    regex('cat', `/proc/${PID}/stat`, 'kill-process'),
    regex('kill', `-(TERM|KILL) ${PID}`, 'kill-process'),
    regex('getent', `(passwd|shadow) ${USER}`, 'disable-user'),
    regex('usermod', `-L -e 1 ${USER}`, 'disable-user'),
    regex('pgrep', `-u ${USER}`, 'disable-user'),
    regex('pkill', `-KILL -u ${USER}`, 'disable-user'),
    // Containment that survives a reboot (persist.ts).
    exact(detectInit, 'persistence (which init system runs)'),
    ...installRulesetCommands(paths, 'host', undefined).map((c) =>
      exact(c, 'persistence (boot-time ruleset)'),
    ),
    ...installUnitCommands(paths).map((c) =>
      exact(
        c,
        'persistence (boot-time unit)',
        c.argv[0] === 'tee' ? 'writes a systemd unit, which runs as root at the next boot' : undefined,
      ),
    ),
    ...enableCommands(paths, 'systemctl').map((c) => exact(c, 'persistence (enable the unit)')),
    ...enableCommands(paths, 'link').map((c) => exact(c, 'persistence (enable the unit without systemd)')),
    ...removeCommands(paths).map((c) => exact(c, 'release (persistence removed)')),
    exact(daemonReload, 'release (persistence removed)'),
    exact(read.ruleset, 'containment checks'),
    exact(read.unit, 'containment checks'),
    exact(read.link, 'containment checks'),
    // Created only when missing; the same `nft -f -` as above.
    exact(createBlockTable, 'block-ip'),
    exact(createPortsTable, 'block-port'),
  ];
  const byKey = new Map<string, SudoRule>();
  for (const r of rules) {
    const key = `${r.program} ${'exact' in r.args ? `=${r.args.exact}` : `~${r.args.regex}`}`;
    const first = byKey.get(key);
    if (first === undefined) byKey.set(key, r);
    else if (!first.purpose.includes(r.purpose)) first.purpose = `${first.purpose}; ${r.purpose}`;
  }
  return [...byKey.values()];
}

/**
 * Exceptions to the value rules, listed after them (in sudoers the last matching line wins): ward refuses to
 * disable root (contain.ts), and the file says so too, so that ward's account cannot lock root, kill all of
 * root's processes or read root's password hash.
 */
export const DENIED: readonly (readonly string[])[] = [
  ['usermod', '-L', '-e', '1', 'root'],
  ['pkill', '-KILL', '-u', 'root'],
  ['getent', 'shadow', 'root'],
];

/** Whether the rules allow an argv, the way sudo decides: some rule matches and no DENIED line does. */
export function sudoersAllow(rules: readonly SudoRule[], argv: readonly string[]): boolean {
  if (DENIED.some((d) => d.length === argv.length && d.every((w, i) => w === argv[i]))) return false;
  return rules.some((r) => ruleAllows(r, argv));
}

/** Whether a rule allows an argv, the way sudo compares: the arguments joined by single spaces. */
export function ruleAllows(rule: SudoRule, argv: readonly string[]): boolean {
  const [program, ...args] = argv;
  if (program !== rule.program) return false;
  const joined = args.join(' ');
  return 'exact' in rule.args ? joined === rule.args.exact : new RegExp(rule.args.regex).test(joined);
}

/**
 * sudoers escaping of a command's arguments: `\` `,` `:` `=` are special to the parser everywhere; in exact
 * arguments the glob characters `*` `?` `[` `]` are escaped too (sudo matches arguments with fnmatch).
 */
function escapeArgs(args: SudoRule['args']): string {
  if ('exact' in args) {
    if (args.exact === '') return '""';
    return args.exact.replace(/[\\,:=*?[\]]/g, (c) => `\\${c}`);
  }
  return args.regex.replace(/[,:=]/g, (c) => `\\${c}`);
}

/** The sudoers text (for /etc/sudoers.d/ward, mode 0440) letting `user` run exactly ward's commands as root. */
export function renderSudoers(user: string, options: SudoersOptions): string {
  const account = SafeValue.unixUser(user);
  const rules = sudoRules(options);
  const lines = [
    `# /etc/sudoers.d/${account}: what ward may run as root on this host, and nothing else.`,
    '# Generated by `npm run doctor -- sudoers` from the command templates of this ward version; regenerate it',
    "# after an upgrade (and when WARD_LOCKDOWN_CONFIRM_SECONDS or the host's persist directories change).",
    '# Install: visudo -cf ward.sudoers && install -m 0440 -o root -g root ward.sudoers /etc/sudoers.d/ward',
    '# Needs sudo >= 1.9.10 (regular expressions in arguments): Debian 12, Ubuntu 24.04, RHEL 9.',
    `Defaults:${account} !requiretty, !lecture, user_command_timeouts`,
    `Defaults:${account} secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"`,
  ];
  let purpose = '';
  for (const rule of rules) {
    const path = PROGRAM_PATHS[rule.program];
    if (path === undefined) throw new Error(`sudoers: no path for ${rule.program}`);
    if (rule.purpose !== purpose) {
      lines.push('', `# ${rule.purpose}`);
      purpose = rule.purpose;
    }
    if (rule.rootEquivalent) lines.push(`# ROOT-EQUIVALENT: ${rule.rootEquivalent}`);
    lines.push(`${account} ALL=(root) NOPASSWD: ${path} ${escapeArgs(rule.args)}`);
  }
  lines.push('', '# never for root (ward refuses these itself; the last matching line wins)');
  for (const [program = '', ...args] of DENIED) {
    lines.push(`${account} ALL=(root) !${PROGRAM_PATHS[program]} ${escapeArgs({ exact: args.join(' ') })}`);
  }
  return `${lines.join('\n')}\n`;
}
