import { isIP } from 'node:net';
import { z } from 'zod';
import { SafeValue } from '../adapters/ssh/shell-quote.js';
import type { Config } from '../config/env.js';
import { type InventoryHost, isCidr } from '../config/inventory.js';
import type { PlanStep } from '../core/command.js';
import { UserInputError } from '../errors.js';
import { code, esc } from '../render/blocks.js';
import { redactSecrets } from '../render/redact-secrets.js';
import { userText } from '../render/user-text.js';
import type { SectionSpec } from './collect-script.js';
import { type CollectionScript, runCollection, scriptPlanCommand } from './collect-script.js';
import { saveEvidence } from './evidence.js';
import type { HostOutcome } from './execution-helpers.js';
import { mustRun, type RemoteJob, RemoteStepError, runRemote, withHost } from './host-session.js';
import { cidrsOverlap } from './nft.js';
import { hostStep, type RemoteCommand } from './remote-command.js';
import { postInThread } from './report.js';

// ---- block-ip -------------------------------------------------------------------------------------------------

/** The `<ip|cidr>` argument of block-ip and unblock-ip: an IPv4/IPv6 address or CIDR. */
export const addressArg = z
  .string()
  .refine(isCidr, 'must be an IPv4/IPv6 address or CIDR such as 203.0.113.0/24');

/** How wide a block-ip target may be: the shortest prefix length accepted per family (WARD_BLOCK_MIN_PREFIX_V4/_V6). */
export interface BlockLimits {
  minPrefixV4: number;
  minPrefixV6: number;
}

export const DEFAULT_BLOCK_LIMITS: BlockLimits = { minPrefixV4: 16, minPrefixV6: 48 };

export function blockLimits(
  config: Pick<Config, 'WARD_BLOCK_MIN_PREFIX_V4' | 'WARD_BLOCK_MIN_PREFIX_V6'>,
): BlockLimits {
  return { minPrefixV4: config.WARD_BLOCK_MIN_PREFIX_V4, minPrefixV6: config.WARD_BLOCK_MIN_PREFIX_V6 };
}

/**
 * Ranges block-ip never touches, whatever the width: dropping them breaks the host itself (loopback), its
 * neighbours and routers (link-local), group traffic (multicast), or means nothing as a source (unspecified,
 * broadcast). IPv4-mapped IPv6 never reaches nft's `ip6 saddr`, so a block on it would only look done.
 */
const SPECIAL_RANGES: ReadonlyArray<{ cidr: string; what: string; why?: string }> = [
  { cidr: '0.0.0.0/8', what: 'the unspecified address range ("this network", 0.0.0.0/8)' },
  { cidr: '127.0.0.0/8', what: 'loopback (127.0.0.0/8)' },
  { cidr: '169.254.0.0/16', what: 'link-local (169.254.0.0/16)' },
  { cidr: '224.0.0.0/4', what: 'multicast (224.0.0.0/4)' },
  { cidr: '255.255.255.255/32', what: 'the broadcast address' },
  { cidr: '::/128', what: 'the unspecified address (::)' },
  { cidr: '::1/128', what: 'loopback (::1)' },
  { cidr: 'fe80::/10', what: 'link-local (fe80::/10)' },
  { cidr: 'ff00::/8', what: 'multicast (ff00::/8)' },
  {
    cidr: '::ffff:0:0/96',
    what: 'IPv4-mapped IPv6 (::ffff:0:0/96)',
    why: 'no packet arrives from it, so a block would only look done: block the IPv4 address instead.',
  },
];

const BREAKS_HOST = 'blocking it would break the host itself, not stop an attacker.';

function prefixOf(cidr: string): number {
  const [ip = '', prefix] = cidr.split('/');
  return prefix === undefined ? (isIP(ip) === 6 ? 128 : 32) : Number(prefix);
}

/**
 * Refuses a target block-ip must not take, before any plan exists: one that would cut ward's own management
 * access, one inside a special range above, one wider than the configured minimum prefix (`0.0.0.0/1` is half
 * the internet), and one that contains a special range. Each refusal names the rule it hit.
 */
export function checkBlockable(
  address: string,
  managementCidrs: readonly string[],
  limits: BlockLimits = DEFAULT_BLOCK_LIMITS,
): string {
  const a = normaliseAddress(address);
  const hit = managementCidrs.find((m) => cidrsOverlap(a, m));
  if (hit) {
    throw new UserInputError(
      `${a} overlaps the management network ${hit}: blocking it would cut ward (and you) off the hosts. Nothing was run.`,
    );
  }
  const special = SPECIAL_RANGES.filter((r) => cidrsOverlap(a, r.cidr));
  // Inside a special range (127.0.0.1, 127.0.0.0/8): say what it is, rather than how wide it is.
  const inside = special.find((r) => prefixOf(a) >= prefixOf(r.cidr));
  if (inside) {
    throw new UserInputError(`${a} is ${inside.what}: ${inside.why ?? BREAKS_HOST} Nothing was run.`);
  }
  const v6 = isIP(a.split('/')[0] ?? '') === 6;
  const min = v6 ? limits.minPrefixV6 : limits.minPrefixV4;
  if (prefixOf(a) < min) {
    throw new UserInputError(
      `${a} is too wide: ward blocks IPv${v6 ? 6 : 4} ranges of /${min} or narrower (${v6 ? 'WARD_BLOCK_MIN_PREFIX_V6' : 'WARD_BLOCK_MIN_PREFIX_V4'}). Block the attacking addresses or a narrower range. Nothing was run.`,
    );
  }
  if (special[0]) {
    throw new UserInputError(
      `${a} includes ${special[0].what}: ${special[0].why ?? BREAKS_HOST} Nothing was run.`,
    );
  }
  return a;
}

/**
 * `203.0.113.7/32` → `203.0.113.7` (nft stores a full-length prefix as the plain address, so look it up as one).
 * Throws a UserInputError for anything but an IPv4/IPv6 address or CIDR.
 */
export function normaliseAddress(value: string): string {
  value = SafeValue.ipOrCidr(value);
  const [ip = '', prefix] = value.split('/');
  if (prefix === undefined) return ip;
  return Number(prefix) === (isIP(ip) === 6 ? 128 : 32) ? ip : `${ip}/${Number(prefix)}`;
}

// ---- kill-process ---------------------------------------------------------------------------------------------

const PROCESS_SECTIONS: readonly SectionSpec[] = [
  { name: 'status', alternatives: [{ code: 'cat "/proc/$WARD_PID/status"' }] },
  { name: 'cmdline', alternatives: [{ code: `tr '\\000' ' ' < "/proc/$WARD_PID/cmdline"; echo` }] },
  { name: 'exe', alternatives: [{ code: 'readlink "/proc/$WARD_PID/exe"' }] },
  {
    name: 'exe-sha256',
    alternatives: [
      { when: { tool: 'sha256sum' }, code: 'sha256sum < "/proc/$WARD_PID/exe" | cut -d" " -f1' },
    ],
  },
  { name: 'cwd', alternatives: [{ code: 'readlink "/proc/$WARD_PID/cwd"' }] },
  { name: 'fds', alternatives: [{ code: 'ls -l "/proc/$WARD_PID/fd"' }] },
  { name: 'open-files', alternatives: [{ when: { tool: 'lsof' }, code: 'lsof -nP -p "$WARD_PID"' }] },
  {
    name: 'sockets',
    alternatives: [{ when: { tool: 'ss' }, code: 'ss -tunapH | grep "pid=$WARD_PID," ; true' }],
  },
];

const PROCESS_LIMITS = { maxSectionBytes: 1024 * 1024, sectionTimeoutSeconds: 20 } as const;

const processAlive = (pid: string): RemoteCommand => ({ argv: ['cat', `/proc/${SafeValue.pid(pid)}/stat`] });
const killWith = (signal: 'TERM' | 'KILL', pid: string): RemoteCommand => ({
  argv: ['kill', `-${signal}`, SafeValue.pid(pid)],
});

/** The process evidence script as one piece of data: its plan line and what runs both come from it. */
function processScript(pid: string): CollectionScript {
  const p = SafeValue.pid(pid);
  return {
    name: 'process evidence',
    sections: PROCESS_SECTIONS,
    detail: `WARD_PID=${p}`,
    env: { WARD_PID: p },
  };
}

export function killProcessPlanSteps(host: InventoryHost, pid: string): PlanStep[] {
  return [
    hostStep({
      id: `${host.name}.evidence`,
      title: `Record process ${pid} on ${host.name} (${host.address}): command line, executable and its sha256, open files`,
      host: host.name,
      run: [processAlive(pid), scriptPlanCommand(processScript(pid))],
    }),
    hostStep({
      id: `${host.name}.kill`,
      title: `Send SIGTERM to ${pid}; if it is still alive after 5 s, SIGKILL`,
      host: host.name,
      run: [killWith('TERM', pid), processAlive(pid), killWith('KILL', pid)],
    }),
  ];
}

/** `/proc/<pid>/stat` → alive unless it is gone or a zombie (state Z/X after the `)` that ends the name). */
function isAlive(stat: { code: number | null; stdout: Buffer }): boolean {
  if (stat.code !== 0) return false;
  const text = stat.stdout.toString('utf8');
  const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X' && state !== '';
}

export async function killProcessOnHost(
  job: RemoteJob,
  host: InventoryHost,
  pidValue: number,
): Promise<HostOutcome> {
  const pid = SafeValue.pid(pidValue);
  const id = (s: string) => `${host.name}.${s}`;
  return withHost(job, host, async (session) => {
    if (!isAlive(await runRemote(session, job, processAlive(pid)))) {
      return {
        host: host.name,
        ok: true,
        detail: `process ${pid} was not running on ${host.name}; nothing was killed.`,
        steps: { [id('evidence')]: 'skipped', [id('kill')]: 'skipped' },
      };
    }
    const { artifacts } = await runCollection(session, job.approved, processScript(pid), {
      ...PROCESS_LIMITS,
      runTimeoutMs: job.services.config.WARD_SSH_COMMAND_TIMEOUT_MS,
    });
    const saved = await saveEvidence({
      evidenceDir: job.services.config.WARD_EVIDENCE_DIR,
      requestId: job.requestId,
      host,
      kind: `process-${pid}`,
      requestedBy: job.user,
      collectedAt: job.services.clock.now(),
      artifacts,
    });
    const field = (name: string) =>
      artifacts
        .find((a) => a.name === name)
        ?.content.toString('utf8')
        .trim() ?? '';
    const exe = field('exe');
    const exeSha = field('exe-sha256');
    const cmdline = field('cmdline');
    await postInThread(
      job.services,
      job,
      // The command line as posted has its secrets redacted; the evidence bundle keeps it as collected.
      `🔍 Process ${pid} on *${esc(host.name)}* recorded before killing: ${userText(redactSecrets(cmdline), 200)}, executable ${code(exe)} sha256 ${code(exeSha)}. Evidence: ${esc(saved.bundleName)} (sha256 ${saved.bundleSha256}).`,
    );
    await job.services.chat
      .uploadFile({
        channel: job.thread.channel,
        threadTs: job.thread.ts,
        filename: saved.bundleName,
        content: saved.bundle,
        title: `Process ${pid} on ${host.name}`,
      })
      .catch((err) => job.services.log.warn({ err }, 'process evidence upload failed'));

    const term = await runRemote(session, job, killWith('TERM', pid));
    let how = 'SIGTERM';
    let alive = term.code === 0;
    for (let i = 0; alive && i < 50; i++) {
      await new Promise((res) => setTimeout(res, 100));
      alive = isAlive(await runRemote(session, job, processAlive(pid)));
    }
    if (alive) {
      const kill = await runRemote(session, job, killWith('KILL', pid));
      how = 'SIGKILL (it ignored SIGTERM for 5 s)';
      if (kill.code !== 0 && isAlive(await runRemote(session, job, processAlive(pid)))) {
        throw new RemoteStepError(host.name, killWith('KILL', pid), kill);
      }
    }
    await job.services.audit.record({
      type: 'host.process_killed',
      actor: job.user,
      requestId: job.requestId,
      hosts: [host.name],
      details: { pid, exe, exeSha256: exeSha, signal: how },
    });
    return {
      host: host.name,
      ok: true,
      detail: `process ${pid} (${exe || 'unknown executable'}) on ${host.name} was ended with ${how}; its evidence is kept (bundle sha256 ${saved.bundleSha256.slice(0, 16)}…).`,
    };
  });
}

// ---- disable-user ---------------------------------------------------------------------------------------------

/** Refuses root and the account ward itself logs in with (checked before any plan exists). */
export function checkDisablable(user: string, host: InventoryHost): string {
  const u = SafeValue.unixUser(user);
  if (u === 'root') throw new UserInputError('ward will not disable root. Nothing was run.');
  if (u === host.user) {
    throw new UserInputError(
      `\`${u}\` is the account ward logs in to ${host.name} with; disabling it would lock ward out. Nothing was run.`,
    );
  }
  return u;
}

const getent = (db: 'passwd' | 'shadow', user: string): RemoteCommand => ({
  argv: ['getent', db, SafeValue.unixUser(user)],
});
const lockAccount = (user: string): RemoteCommand => ({
  argv: ['usermod', '-L', '-e', '1', SafeValue.unixUser(user)],
});
const listProcesses = (user: string): RemoteCommand => ({ argv: ['pgrep', '-u', SafeValue.unixUser(user)] });
const killProcesses = (user: string): RemoteCommand => ({
  argv: ['pkill', '-KILL', '-u', SafeValue.unixUser(user)],
});

export function disableUserPlanSteps(host: InventoryHost, user: string): PlanStep[] {
  return [
    hostStep({
      id: `${host.name}.inspect`,
      title: `Look up ${user} on ${host.name} (${host.address}): exists, uid, locked, expired`,
      host: host.name,
      run: [getent('passwd', user), getent('shadow', user)],
    }),
    hostStep({
      id: `${host.name}.lock`,
      title: `Lock ${user}'s password and expire the account (skipped if already both)`,
      host: host.name,
      run: [lockAccount(user)],
    }),
    hostStep({
      id: `${host.name}.end-sessions`,
      title: `End every process of ${user} (its sessions)`,
      host: host.name,
      run: [listProcesses(user), killProcesses(user)],
    }),
  ];
}

export async function disableUserOnHost(
  job: RemoteJob,
  host: InventoryHost,
  userValue: string,
): Promise<HostOutcome> {
  const user = checkDisablable(userValue, host);
  return withHost(job, host, async (session) => {
    const passwd = await runRemote(session, job, getent('passwd', user));
    if (passwd.code === 2) {
      return {
        host: host.name,
        ok: true,
        detail: `there is no user ${user} on ${host.name}; nothing changed.`,
      };
    }
    if (passwd.code !== 0) throw new RemoteStepError(host.name, getent('passwd', user), passwd);
    const uid = passwd.stdout.toString('utf8').split(':')[2];
    if (uid === '0') {
      return {
        host: host.name,
        ok: false,
        detail: `${user} has uid 0 (root) on ${host.name}; ward will not disable it.`,
      };
    }
    const shadow = (await mustRun(session, job, getent('shadow', user))).stdout
      .toString('utf8')
      .trim()
      .split(':');
    const locked = (shadow[1] ?? '').startsWith('!');
    const expired = shadow[7] === '1';
    const changes: string[] = [];
    if (!locked || !expired) {
      await mustRun(session, job, lockAccount(user));
      if (!locked) changes.push('locked the password');
      if (!expired) changes.push('expired the account');
    }
    const procs = await runRemote(session, job, listProcesses(user));
    const pids = procs.code === 0 ? procs.stdout.toString('utf8').trim().split(/\s+/).filter(Boolean) : [];
    if (pids.length > 0) {
      const k = await runRemote(session, job, killProcesses(user));
      if (k.code !== 0 && k.code !== 1) throw new RemoteStepError(host.name, killProcesses(user), k);
      changes.push(`ended ${pids.length} process(es) (${pids.slice(0, 10).join(', ')})`);
    }
    await job.services.audit.record({
      type: 'host.user_disabled',
      actor: job.user,
      requestId: job.requestId,
      hosts: [host.name],
      details: { user, changes },
    });
    return {
      host: host.name,
      ok: true,
      detail:
        changes.length > 0
          ? `${user} on ${host.name}: ${changes.join(', ')}.`
          : `${user} on ${host.name} was already locked and expired with no running process; nothing changed.`,
    };
  });
}
