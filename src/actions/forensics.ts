import { SafeValue } from '../adapters/ssh/shell-quote.js';
import type { ShellSession } from '../ports/remote-shell.js';
import {
  type Artifact,
  type CollectionScript,
  runCollection,
  type SectionSpec,
  scriptPlanCommand,
} from './collect-script.js';
import type { ApprovedCommands, RemoteCommand } from './remote-command.js';

/** Directories an executable should never run from. */
export const SUSPICIOUS_EXE_DIRS = ['/tmp/', '/var/tmp/', '/dev/shm/'] as const;

// Fixed code only. Hash paths reach the script through $WARD_PATHS (validated absolute paths, one per line).
export const FORENSIC_SECTIONS: readonly SectionSpec[] = [
  { name: 'system', alternatives: [{ code: 'uname -a; hostname; uptime; date -u' }] },
  {
    name: 'logged-in-users',
    alternatives: [
      { when: { tool: 'w' }, code: 'w' },
      { when: { tool: 'who' }, code: 'who -a' },
    ],
  },
  {
    name: 'recent-logins',
    alternatives: [
      { when: { tool: 'last' }, code: 'last -n 50 -F' },
      { when: { tool: 'lastlog' }, code: 'lastlog' },
      { when: { tool: 'journalctl' }, code: 'journalctl --no-pager -n 200 -t sshd -t login' },
    ],
  },
  { name: 'processes', alternatives: [{ when: { tool: 'ps' }, code: 'ps auxww' }] },
  {
    name: 'process-executables',
    alternatives: [
      {
        when: { file: '/proc/self/exe' },
        // First line: the collection shell's own pid; then pid, executable, ppid=N, command line. The parent ids let
        // the analysis leave out the collection's own process tree (this script, its pipes, the session running it).
        code: `printf 'self\\t%s\\n' "$$"; for d in /proc/[0-9]*; do p=\${d#/proc/}; x=$(readlink "$d/exe" 2>/dev/null) || x='?'; pp=; while read -r k v; do if [ "$k" = 'PPid:' ]; then pp=$v; break; fi; done < "$d/status" 2>/dev/null; c=$(tr '\\000' ' ' < "$d/cmdline" 2>/dev/null | head -c 300); printf '%s\\t%s\\tppid=%s\\t%s\\n' "$p" "$x" "$pp" "$c"; done`,
      },
    ],
  },
  {
    name: 'listening-sockets',
    alternatives: [
      { when: { tool: 'ss' }, code: 'ss -tulpnH' },
      { when: { tool: 'netstat' }, code: 'netstat -tulpn' },
    ],
  },
  {
    name: 'established-connections',
    alternatives: [
      { when: { tool: 'ss' }, code: 'ss -tunpH state established' },
      { when: { tool: 'netstat' }, code: 'netstat -tunp | grep ESTABLISHED' },
    ],
  },
  { name: 'open-files', alternatives: [{ when: { tool: 'lsof' }, code: 'lsof -nP' }] },
  {
    name: 'listener-executable-sha256',
    alternatives: [
      {
        when: { tools: ['ss', 'sha256sum'] },
        code: `for p in $(ss -tulpnH | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un); do x=$(readlink "/proc/$p/exe" 2>/dev/null) || x='?'; h=$(sha256sum < "/proc/$p/exe" 2>/dev/null | cut -d' ' -f1); printf '%s\\t%s\\t%s\\n' "$p" "$x" "\${h:-unreadable}"; done`,
      },
    ],
  },
  {
    name: 'path-sha256',
    alternatives: [
      {
        when: { tool: 'sha256sum' },
        code: `printf '%s\\n' "$WARD_PATHS" | while IFS= read -r f; do [ -n "$f" ] || continue; if [ -f "$f" ]; then sha256sum -- "$f"; elif [ -e "$f" ]; then printf 'not-a-regular-file  %s\\n' "$f"; else printf 'absent  %s\\n' "$f"; fi; done`,
      },
    ],
  },
  {
    name: 'auth-log',
    alternatives: [
      { when: { file: '/var/log/auth.log' }, code: 'tail -n 500 /var/log/auth.log' },
      { when: { file: '/var/log/secure' }, code: 'tail -n 500 /var/log/secure' },
      {
        when: { tool: 'journalctl' },
        code: 'journalctl --no-pager -n 500 SYSLOG_FACILITY=4 + SYSLOG_FACILITY=10',
      },
    ],
  },
  {
    name: 'system-log',
    alternatives: [
      { when: { file: '/var/log/syslog' }, code: 'tail -n 500 /var/log/syslog' },
      { when: { file: '/var/log/messages' }, code: 'tail -n 500 /var/log/messages' },
      { when: { tool: 'journalctl' }, code: 'journalctl --no-pager -n 500' },
    ],
  },
  {
    name: 'crontabs',
    alternatives: [
      {
        code: 'for f in /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/*; do if [ -f "$f" ]; then echo "== $f"; cat "$f"; fi; done; true',
      },
    ],
  },
  {
    name: 'kernel-modules',
    alternatives: [
      { when: { tool: 'lsmod' }, code: 'lsmod' },
      { when: { file: '/proc/modules' }, code: 'cat /proc/modules' },
    ],
  },
  {
    name: 'recently-changed-files',
    alternatives: [
      {
        when: { tool: 'find' },
        code: 'find /etc /tmp /var/tmp /dev/shm -xdev -mmin -1440 -ls 2>/dev/null; true',
      },
    ],
  },
];

export const FORENSIC_LIMITS = { maxSectionBytes: 4 * 1024 * 1024, sectionTimeoutSeconds: 30 } as const;

function hashPathsEnv(paths: readonly string[]): Record<string, string> {
  return { WARD_PATHS: paths.map((p) => SafeValue.absPath(p)).join('\n') };
}

/** The forensic collection as one piece of data: its plan line and what runs both come from it. */
export function forensicsScript(hashPaths: readonly string[]): CollectionScript {
  return {
    name: 'forensics',
    sections: FORENSIC_SECTIONS,
    detail: `also hashing ${hashPaths.join(' ')}`,
    env: hashPathsEnv(hashPaths),
  };
}

/** The plan's command for a forensic collection: deterministic, with the script's hash and the hashed paths. */
export function forensicsPlanCommand(hashPaths: readonly string[]): RemoteCommand {
  return scriptPlanCommand(forensicsScript(hashPaths));
}

export interface ForensicsResult {
  host: string;
  /** Epoch ms when collection started. */
  startedAt: number;
  durationMs: number;
  artifacts: Artifact[];
  highlights: ForensicHighlights;
  /** The whole run hit its time limit and was stopped: the artifacts after `hungIn` were never collected. */
  timedOut: boolean;
  /** When timed out: the section that had started and never finished, if output showed one. */
  hungIn?: string | undefined;
}

export interface SuspiciousProcess {
  pid: string;
  exe: string;
  /** As collected (the bundle keeps it); redact it before showing it (src/render/redact-secrets.ts). */
  cmdline: string;
  why: string;
  /** `critical`: a deleted executable (the classic way to hide an implant); `high`: runs from a world-writable dir. */
  severity: 'critical' | 'high';
}

export interface ForensicHighlights {
  suspiciousProcesses: SuspiciousProcess[];
  /** `proto local-address process` of each listener. */
  listeners: string[];
  /** Lines of `w`/`who`: who is logged in now. */
  sessions: string[];
  /** Artifacts that failed, timed out, were not received or whose tool is missing. */
  failures: Array<{ name: string; status: string; note?: string | undefined }>;
  /** Processes left out because they were the collection itself or the session running it. */
  ownProcesses: number;
}

/** Runs the forensic collection on one connected host (one channel) and parses it into artifacts. */
export async function collectForensics(
  session: ShellSession,
  approved: ApprovedCommands,
  options: { hashPaths: readonly string[]; timeoutMs: number; now: () => number },
): Promise<ForensicsResult> {
  const startedAt = options.now();
  const { result, artifacts } = await runCollection(session, approved, forensicsScript(options.hashPaths), {
    ...FORENSIC_LIMITS,
    runTimeoutMs: options.timeoutMs,
  });
  let hungIn: string | undefined;
  if (result.timedOut) {
    for (const a of artifacts) {
      if (a.status !== 'not-received') continue;
      // A section whose begin marker arrived was running when the limit hit: that is where the host hung.
      const started = a.command !== '(not run)';
      if (started) hungIn ??= a.name;
      a.note = `${started ? 'did not finish' : 'not collected'}: the whole run hit the ${options.timeoutMs} ms limit`;
    }
  }
  return {
    host: session.host.name,
    startedAt,
    durationMs: result.durationMs,
    artifacts,
    // On a `local` host the collection runs under ward's own process: that chain is ward, not a finding.
    highlights: analyseArtifacts(artifacts, session.host.transport === 'local' ? [String(process.pid)] : []),
    timedOut: result.timedOut,
    hungIn,
  };
}

function text(artifacts: readonly Artifact[], name: string): string {
  const a = artifacts.find((x) => x.name === name);
  return a && (a.status === 'ok' || a.status === 'failed') ? a.content.toString('utf8') : '';
}

interface ProcessLine {
  pid: string;
  exe: string;
  ppid?: string | undefined;
  cmdline: string;
}

/** Reads process-executables: `self<TAB>pid` then `pid exe ppid=N cmdline` (older collections: `pid exe cmdline`). */
function parseProcesses(raw: string): { self?: string | undefined; processes: ProcessLine[] } {
  let self: string | undefined;
  const processes: ProcessLine[] = [];
  for (const line of raw.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'self') {
      self = f[1]?.trim();
      continue;
    }
    const [pid, exe] = f;
    if (!pid || !exe || !/^\d+$/.test(pid)) continue;
    const m = /^ppid=(\d*)$/.exec(f[2] ?? '');
    processes.push(
      m
        ? { pid, exe, ppid: m[1] || undefined, cmdline: f.slice(3).join('\t').trim() }
        : { pid, exe, cmdline: f.slice(2).join('\t').trim() },
    );
  }
  return { self, processes };
}

/**
 * The collection's own process tree: the collecting shell and everything it started (readlink, tr, head…), and,
 * when ward runs on the host itself (a `local` host), the chain from that shell up to ward's own process. The
 * SSH session's ancestors are *not* left out: a trojaned sshd is exactly what a collection should report.
 */
function ownTree(
  self: string | undefined,
  processes: readonly ProcessLine[],
  wardPids: readonly string[],
): Set<string> {
  const own = new Set<string>(wardPids);
  if (self === undefined) return own;
  const parent = new Map(processes.map((p) => [p.pid, p.ppid]));
  const chain: string[] = [];
  for (let p: string | undefined = self; p && p !== '0' && !chain.includes(p); p = parent.get(p)) {
    chain.push(p);
    if (wardPids.includes(p)) {
      for (const q of chain) own.add(q);
      break;
    }
  }
  const mine = new Set([self]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of processes) {
      if (p.ppid !== undefined && mine.has(p.ppid) && !mine.has(p.pid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  for (const p of mine) own.add(p);
  return own;
}

/** What a responder should see first: pure, so it is unit-tested on recorded output. */
export function analyseArtifacts(
  artifacts: readonly Artifact[],
  /** Pids of ward's own processes when ward runs on the host itself (a `local` host): never findings. */
  wardPids: readonly string[] = [],
): ForensicHighlights {
  const suspiciousProcesses: SuspiciousProcess[] = [];
  const { self, processes } = parseProcesses(text(artifacts, 'process-executables'));
  const own = ownTree(self, processes, wardPids);
  let ownProcesses = 0;
  for (const { pid, exe, cmdline } of processes) {
    if (exe === '?') continue;
    const dir = SUSPICIOUS_EXE_DIRS.find((d) => exe.startsWith(d));
    const finding: Pick<SuspiciousProcess, 'why' | 'severity'> | undefined = exe.endsWith(' (deleted)')
      ? { why: 'its executable was deleted from disk while it runs', severity: 'critical' }
      : dir
        ? { why: `runs from ${dir}, a world-writable directory`, severity: 'high' }
        : undefined;
    if (!finding) continue;
    if (own.has(pid)) {
      ownProcesses += 1;
      continue;
    }
    suspiciousProcesses.push({ pid, exe, cmdline, ...finding });
  }
  suspiciousProcesses.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));

  const listeners: string[] = [];
  for (const line of text(artifacts, 'listening-sockets').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    // ss -tulpnH: Netid State Recv-Q Send-Q Local Peer [Process]; netstat: Proto Recv Send Local Foreign State [PID/Prog]
    const isSs = f[1] === 'LISTEN' || f[1] === 'UNCONN';
    const proto = f[0]!;
    const local = isSs ? f[4]! : f[3]!;
    const proc = isSs ? (/\("([^"]+)",pid=(\d+)/.exec(line)?.slice(1, 3).join(' pid ') ?? '') : (f[6] ?? '');
    if (!/^(tcp|udp)/.test(proto)) continue;
    listeners.push(`${proto} ${local}${proc ? ` ${proc}` : ''}`);
  }

  const sessions = text(artifacts, 'logged-in-users')
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\s*\d\d:\d\d:\d\d up /.test(l) && !/^USER\s/.test(l));

  const failures = artifacts
    .filter((a) => a.status !== 'ok')
    .map((a) => ({ name: a.name, status: a.status, note: a.note }));

  return { suspiciousProcesses, listeners, sessions, failures, ownProcesses };
}
