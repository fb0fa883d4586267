import { BlockList, isIP } from 'node:net';
import { SafeValue } from '../adapters/ssh/shell-quote.js';
import type { ShellSession } from '../ports/remote-shell.js';
import { dateTime } from '../render/time.js';
import {
  type Artifact,
  type CollectionScript,
  type CollectOptions,
  runCollection,
  type SectionSpec,
  scriptPlanCommand,
} from './collect-script.js';
import { type Indicator, indicatorText } from './hunt-indicators.js';
import type { ApprovedCommands, RemoteCommand } from './remote-command.js';
import { compareRpmVersions } from './rpm-version.js';

/** The bounds of one host's hunt: the sha256 scan stops at whichever comes first. */
export interface HuntBounds {
  /** Directories searched for sha256 indicators (each with -xdev: never into another file system). */
  paths: readonly string[];
  /** Files larger than this are not hashed (and make the answer partial). */
  maxFileBytes: number;
  /** At most this many files hashed per host. */
  maxFiles: number;
  /** The sha256 scan's time limit on the host, in ms. */
  scanTimeoutMs: number;
}

export type HuntOutcome = 'hit' | 'clean' | 'partial' | 'failed';

/** What one indicator found on one host. */
export interface IndicatorFinding {
  indicator: string;
  outcome: HuntOutcome;
  /** One line per match: a path, a process, a socket, a login, the installed version. */
  matches: string[];
  /** Why partial or failed, or context (the installed version when it did not match). */
  note?: string | undefined;
}

/** One host's single answer to a hunt. */
export interface HostHuntResult {
  host: string;
  address: string;
  outcome: HuntOutcome;
  /** Why the host failed or was partial (the first reason), in one sentence. */
  reason?: string | undefined;
  findings: IndicatorFinding[];
  durationMs: number;
}

// ---- the script: one fixed section per indicator, values only through the environment ------------------------

// Hashes every regular file under the hunt paths no larger than the cap, in one pass, and prints only the matches.
// The inner command uses double quotes only: it sits inside single quotes of the section, under `timeout` so that
// the time cap stops find, xargs and sha256sum together (timeout signals its whole process group).
const SCAN_INNER = String.raw`printf "%s\n" "$WARD_HUNT_PATHS" | while IFS= read -r d; do [ -d "$d" ] || continue; find "$d" -xdev -type f -size "-$WARD_HUNT_SIZE_LT" -print0 2>/dev/null; done | head -z -n "$WARD_HUNT_FILES_PLUS1" | xargs -0 -r sha256sum -- 2>/dev/null`;
const LARGE_INNER = String.raw`printf "%s\n" "$WARD_HUNT_PATHS" | while IFS= read -r d; do [ -d "$d" ] || continue; find "$d" -xdev -type f -size "+$WARD_HUNT_SIZE_GT" -print 2>/dev/null; done | head -n 1000 | wc -l`;
const SCAN_AWK = String.raw`BEGIN { n = split(want, w, "\n"); for (i = 1; i <= n; i++) W[w[i]] = 1 }
/^@rc / { rc = $2; next }
{ c++; if (c > max) next; l = $0; if (substr(l, 1, 1) == "\\") l = substr(l, 2); h = substr(l, 1, 64); if (h in W) print "hit\t" h "\t" substr(l, 67) }
END { print "scanned\t" (c > max ? max : c + 0); if (c > max) print "bound\tfiles"; if (rc == 124 || rc == 137) print "bound\ttime" }`;
const SCAN_CODE = `large=$(timeout "$WARD_HUNT_SCAN_S" sh -c '${LARGE_INNER}'); printf 'large\\t%s\\n' "\${large:-0}"
{ timeout "$WARD_HUNT_SCAN_S" sh -c '${SCAN_INNER}'; echo "@rc $?"; } | awk -v want="$WARD_HUNT_SHA256" -v max="$WARD_HUNT_MAX_FILES" '${SCAN_AWK}'`;

/** `${` for the shell's parameter expansions inside String.raw templates (which would read it as their own). */
const PE = '${';

const FILE_CODE = (v: string) =>
  String.raw`f=$${v}; if [ -e "$f" ] || [ -L "$f" ]; then stat --printf='present\t%s\t%U\t%Y\t%F\n' -- "$f"; if [ -f "$f" ]; then h=$(sha256sum -- "$f" | cut -d' ' -f1); printf 'sha256\t%s\n' "$h"; fi; else echo absent; fi`;

// By name (comm, at most 15 characters in the kernel) or executable basename. Three processes list every pid's
// owner, executable and name (a loop over /proc would fork per process: seconds on a busy host); the executable
// is then hashed once per distinct path. ward's own shell is skipped.
const PROCESS_AWK = String.raw`$1 == "u" { u[$2] = $3 } $1 == "x" { p = $2; sub("^/proc/", "", p); x[p] = $3 } $1 == "c" { c[$2] = $3 }
END { short = substr(want, 1, 15)
  for (p in c) {
    if (p == self) continue
    e = x[p]; b = e; sub(/.*\//, "", b); sub(/ \(deleted\)$/, "", b)
    if (c[p] == want || (length(want) > 15 && c[p] == short) || b == want) {
      print "proc\t" p "\t" (p in u ? u[p] : "?") "\t" (e == "" ? "?" : e)
      if (e != "" && !(e in seen)) { seen[e] = 1; print "hash\t" p "\t" e }
    }
  } }`;
const PROCESS_CODE = (v: string) =>
  String.raw`{ find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' -printf 'u\t%f\t%u\n' 2>/dev/null; find /proc -mindepth 2 -maxdepth 2 -name exe -printf 'x\t%h\t%l\n' 2>/dev/null; grep -H '' /proc/[0-9]*/comm 2>/dev/null | sed 's|^/proc/\([0-9]*\)/comm:|c\t\1\t|'; } | awk -F'\t' -v want="$${v}" -v self="$$" '${PROCESS_AWK}' | while IFS= read -r l; do case $l in hash*) p=$(printf '%s' "$l" | cut -f2); e=$(printf '%s' "$l" | cut -f3-); h=$(sha256sum < "/proc/$p/exe" 2>/dev/null | cut -d' ' -f1); printf 'exehash\t%s\t%s\n' "${PE}h:-unreadable}" "$e";; *) printf '%s\n' "$l";; esac; done`;

// Every TCP/UDP socket with its state; ward filters by address or port (CIDR matching is done in TypeScript, not sh).
const SOCKETS: SectionSpec['alternatives'] = [
  { when: { tool: 'ss' }, code: 'ss -tunapH' },
  { when: { tool: 'netstat' }, code: 'netstat -tunap' },
];

const USER_CODE = (v: string) =>
  String.raw`u=$${v}; if e=$(getent passwd "$u"); then printf 'account\tpresent\t%s\n' "$(printf '%s' "$e" | cut -d: -f3,6,7)"; else printf 'account\tabsent\n'; fi; who 2>/dev/null | awk -v u="$u" '$1 == u { print "session\t" $0 }'; if command -v last >/dev/null 2>&1; then last -w -n 200 2>/dev/null | awk -v u="$u" '$1 == u { print "login\t" $0 }' | head -n 20; else echo 'nolast'; fi; true`;

const DPKG_OPS: Record<string, string> = { '<': 'lt', '<=': 'le', '=': 'eq', '>=': 'ge', '>': 'gt' };

const PACKAGE_DPKG = (i: number) =>
  String.raw`v=$(dpkg-query -W -f='${PE}Status}\t${PE}Version}\n' "$WARD_V${i}" 2>/dev/null | awk -F'\t' '$1 ~ / installed$/ { print $2; exit }'); if [ -z "$v" ]; then printf 'absent\tdpkg\n'; else printf 'installed\tdpkg\t%s\n' "$v"; if [ -n "$WARD_OP${i}" ]; then if dpkg --compare-versions "$v" "$WARD_OP${i}" "$WARD_VER${i}"; then printf 'compare\ttrue\n'; else printf 'compare\tfalse\n'; fi; fi; fi`;
const PACKAGE_RPM = (i: number) =>
  String.raw`v=$(rpm -q --qf '%{EPOCH}:%{VERSION}-%{RELEASE}\n' "$WARD_V${i}" 2>/dev/null | head -n 1); case $v in ''|*'not installed'*) printf 'absent\trpm\n';; *) printf 'installed\trpm\t%s\n' "${PE}v#(none):}";; esac`;

/** Section name of the shared sha256 scan, and of indicator `i`. */
const SCAN_SECTION = 'sha256-scan';
const sectionName = (i: number, ind: Indicator) => `i${i}-${ind.kind}`;

export function huntSections(indicators: readonly Indicator[]): SectionSpec[] {
  const sections: SectionSpec[] = [];
  if (indicators.some((i) => i.kind === 'sha256')) {
    sections.push({
      name: SCAN_SECTION,
      alternatives: [
        { when: { tools: ['find', 'sha256sum', 'xargs', 'awk', 'timeout', 'head', 'wc'] }, code: SCAN_CODE },
      ],
    });
  }
  indicators.forEach((ind, i) => {
    const name = sectionName(i, ind);
    switch (ind.kind) {
      case 'sha256':
        return;
      case 'file':
        sections.push({
          name,
          alternatives: [{ when: { tools: ['stat', 'sha256sum'] }, code: FILE_CODE(`WARD_V${i}`) }],
        });
        return;
      case 'process':
        sections.push({
          name,
          alternatives: [
            {
              when: { tools: ['find', 'grep', 'sed', 'awk', 'sha256sum'] },
              code: PROCESS_CODE(`WARD_V${i}`),
            },
          ],
        });
        return;
      case 'ip':
      case 'port':
        sections.push({ name, alternatives: SOCKETS });
        return;
      case 'user':
        sections.push({
          name,
          alternatives: [{ when: { tools: ['getent', 'awk'] }, code: USER_CODE(`WARD_V${i}`) }],
        });
        return;
      case 'package':
        sections.push({
          name,
          alternatives: [
            { when: { tools: ['dpkg-query', 'dpkg'] }, code: PACKAGE_DPKG(i) },
            { when: { tool: 'rpm' }, code: PACKAGE_RPM(i) },
          ],
        });
        return;
    }
  });
  return sections;
}

/** The environment the fixed script reads: every value validated again here (second lock after parsing). */
export function huntEnv(indicators: readonly Indicator[], bounds: HuntBounds): Record<string, string> {
  const env: Record<string, string> = {};
  const hashes = indicators.filter((i) => i.kind === 'sha256').map((i) => i.value);
  if (hashes.length > 0) {
    if (!hashes.every((h) => /^[0-9a-f]{64}$/.test(h)))
      throw new Error('hunt: bad sha256 reached the script');
    Object.assign(env, {
      WARD_HUNT_PATHS: bounds.paths.map((p) => SafeValue.absPath(p)).join('\n'),
      WARD_HUNT_SHA256: hashes.join('\n'),
      WARD_HUNT_MAX_FILES: String(bounds.maxFiles),
      WARD_HUNT_FILES_PLUS1: String(bounds.maxFiles + 1),
      WARD_HUNT_SIZE_LT: `${bounds.maxFileBytes + 1}c`,
      WARD_HUNT_SIZE_GT: `${bounds.maxFileBytes}c`,
      WARD_HUNT_SCAN_S: (bounds.scanTimeoutMs / 1000).toFixed(3),
    });
  }
  indicators.forEach((ind, i) => {
    if (ind.kind === 'sha256') return;
    if (ind.kind === 'package') {
      env[`WARD_V${i}`] = ind.name;
      env[`WARD_OP${i}`] = ind.op === undefined ? '' : (DPKG_OPS[ind.op] ?? '');
      env[`WARD_VER${i}`] = ind.version ?? '';
      return;
    }
    env[`WARD_V${i}`] = ind.value;
  });
  return env;
}

/** A hunt as one piece of data: its plan line (the script's hash, the indicators, the bounds) and what runs. */
export function huntScript(indicators: readonly Indicator[], bounds: HuntBounds): CollectionScript {
  const hasScan = indicators.some((i) => i.kind === 'sha256');
  return {
    name: 'hunt',
    sections: huntSections(indicators),
    detail: `${indicators.map(indicatorText).join(' ')}${hasScan ? `; sha256 scan of ${bounds.paths.join(' ')} (-xdev, files ≤ ${bounds.maxFileBytes} bytes, ≤ ${bounds.maxFiles} files, ≤ ${bounds.scanTimeoutMs / 1000} s)` : ''}`,
    env: huntEnv(indicators, bounds),
  };
}

/** The plan's command for a hunt: deterministic (the script's hash, the indicators, the bounds). */
export function huntPlanCommand(indicators: readonly Indicator[], bounds: HuntBounds): RemoteCommand {
  return scriptPlanCommand(huntScript(indicators, bounds));
}

/** Per-section limits: the scan has its own time cap; every other section is quick. */
function collectOptions(bounds: HuntBounds, runTimeoutMs: number): CollectOptions & { runTimeoutMs: number } {
  return {
    maxSectionBytes: 4 * 1024 * 1024,
    // Room for the scan's two passes (each under its own cap) and the quick sections.
    sectionTimeoutSeconds: Math.ceil((2 * bounds.scanTimeoutMs) / 1000) + 30,
    runTimeoutMs,
  };
}

/** Runs every indicator on one connected host in one `sh -s` channel, and reads the answer. */
export async function huntOnSession(
  session: ShellSession,
  approved: ApprovedCommands,
  indicators: readonly Indicator[],
  bounds: HuntBounds,
  commandTimeoutMs: number,
): Promise<Omit<HostHuntResult, 'address'>> {
  const runTimeoutMs = 2 * bounds.scanTimeoutMs + commandTimeoutMs;
  const { result, artifacts } = await runCollection(
    session,
    approved,
    huntScript(indicators, bounds),
    collectOptions(bounds, runTimeoutMs),
  );
  if (result.timedOut) {
    return {
      host: session.host.name,
      outcome: 'failed',
      reason: `the hunt did not finish within ${Math.round(runTimeoutMs / 1000)} s and was stopped`,
      findings: indicators.map((i) => ({ indicator: indicatorText(i), outcome: 'failed', matches: [] })),
      durationMs: result.durationMs,
    };
  }
  const findings = analyseHunt(indicators, artifacts);
  return { host: session.host.name, ...classifyHost(findings), findings, durationMs: result.durationMs };
}

/** hit > failed > partial > clean: a hit is what a responder acts on, whatever else went wrong on the host. */
export function classifyHost(findings: readonly IndicatorFinding[]): {
  outcome: HuntOutcome;
  reason?: string | undefined;
} {
  const rank: HuntOutcome[] = ['hit', 'failed', 'partial', 'clean'];
  for (const o of rank) {
    const f = findings.find((x) => x.outcome === o);
    if (!f) continue;
    if (o === 'clean') return { outcome: 'clean' };
    const why = findings.find((x) => x.outcome === 'failed' || x.outcome === 'partial');
    return { outcome: o, reason: why ? `${why.indicator}: ${why.note ?? why.outcome}` : undefined };
  }
  return { outcome: 'clean' };
}

const text = (a: Artifact | undefined) => (a ? a.content.toString('utf8') : '');
const lines = (a: Artifact | undefined) =>
  text(a)
    .split('\n')
    .filter((l) => l.trim() !== '');

/** Why an artifact is not an answer: missing tool, failed command, cut short. Undefined when it is one. */
function artifactProblem(a: Artifact | undefined): string | undefined {
  if (!a) return 'no output arrived';
  if (a.status === 'ok') return undefined;
  if (a.status === 'missing') return `missing tool: ${a.note ?? 'not installed'}`;
  if (a.status === 'timed-out') return 'stopped by the time limit';
  if (a.status === 'not-received') return a.note ?? 'no output arrived';
  const err = text(a).trim().split('\n').slice(-1)[0] ?? '';
  return `exited ${a.exitCode}${err ? `: ${err.slice(0, 200)}` : ''}`;
}

/** Reads each indicator's section into a finding. Pure: unit-tested on recorded output. */
export function analyseHunt(
  indicators: readonly Indicator[],
  artifacts: readonly Artifact[],
): IndicatorFinding[] {
  const byName = new Map(artifacts.map((a) => [a.name, a]));
  const scan = byName.get(SCAN_SECTION);
  return indicators.map((ind, i) => {
    const indicator = indicatorText(ind);
    const a = ind.kind === 'sha256' ? scan : byName.get(sectionName(i, ind));
    const problem = artifactProblem(a);
    if (problem !== undefined) return { indicator, outcome: 'failed', matches: [], note: problem };
    return findingFor(ind, indicator, a);
  });
}

function findingFor(ind: Indicator, indicator: string, a: Artifact | undefined): IndicatorFinding {
  switch (ind.kind) {
    case 'sha256':
      return sha256Finding(indicator, ind.value, lines(a));
    case 'file':
      return fileFinding(indicator, lines(a));
    case 'process': {
      const out = lines(a);
      const hashes = new Map<string, string>();
      for (const l of out.filter((x) => x.startsWith('exehash\t'))) {
        const [, sha = '', ...exe] = l.split('\t');
        hashes.set(exe.join('\t'), sha);
      }
      const matches = out
        .filter((l) => l.startsWith('proc\t'))
        .map((l) => {
          const [, pid, user, ...exe] = l.split('\t');
          const path = exe.join('\t');
          return `pid ${pid} user ${user} exe ${path} sha256 ${hashes.get(path) ?? 'unreadable'}`;
        })
        .sort();
      return { indicator, outcome: matches.length > 0 ? 'hit' : 'clean', matches };
    }
    case 'ip':
    case 'port': {
      const sockets = parseSockets(text(a));
      const matches = (
        ind.kind === 'ip' ? socketsForIp(sockets, ind.value) : socketsForPort(sockets, ind.value)
      ).map((s) => `${s.proto} ${s.state} ${s.local} ${s.peer}${s.process ? ` ${s.process}` : ''}`);
      return { indicator, outcome: matches.length > 0 ? 'hit' : 'clean', matches };
    }
    case 'user':
      return userFinding(indicator, lines(a));
    case 'package':
      return packageFinding(indicator, ind, lines(a));
  }
}

function sha256Finding(indicator: string, hash: string, out: string[]): IndicatorFinding {
  const matches = out
    .filter((l) => l.startsWith(`hit\t${hash}\t`))
    .map((l) => l.slice(`hit\t${hash}\t`.length));
  const scanned = out.find((l) => l.startsWith('scanned\t'))?.split('\t')[1] ?? '?';
  const large = Number(out.find((l) => l.startsWith('large\t'))?.split('\t')[1] ?? '0');
  const bounds: string[] = [];
  if (out.includes('bound\ttime')) bounds.push('the time limit stopped the scan');
  if (out.includes('bound\tfiles')) bounds.push('the file count limit was reached');
  if (large > 0)
    bounds.push(`${large >= 1000 ? '1000+' : large} file(s) over the size limit were not hashed`);
  const note = `${scanned} file(s) hashed${bounds.length > 0 ? `; ${bounds.join('; ')}` : ''}`;
  if (matches.length > 0) return { indicator, outcome: 'hit', matches, note };
  return { indicator, outcome: bounds.length > 0 ? 'partial' : 'clean', matches, note };
}

function fileFinding(indicator: string, out: string[]): IndicatorFinding {
  const present = out.find((l) => l.startsWith('present\t'));
  if (!present) return { indicator, outcome: 'clean', matches: [], note: 'absent' };
  const [, size, owner, mtime, type] = present.split('\t');
  const sha = out.find((l) => l.startsWith('sha256\t'))?.split('\t')[1];
  const when = Number.isFinite(Number(mtime)) ? dateTime(Number(mtime) * 1000) : String(mtime);
  return {
    indicator,
    outcome: 'hit',
    matches: [`${type}, ${size} bytes, owner ${owner}, mtime ${when}${sha ? `, sha256 ${sha}` : ''}`],
  };
}

function userFinding(indicator: string, out: string[]): IndicatorFinding {
  const account = out.find((l) => l.startsWith('account\t'))?.split('\t') ?? [];
  const matches: string[] = [];
  if (account[1] === 'present') matches.push(`account present (uid:home:shell ${account[2] ?? '?'})`);
  for (const l of out.filter((x) => x.startsWith('session\t')))
    matches.push(`logged in: ${l.slice(8).trim()}`);
  for (const l of out.filter((x) => x.startsWith('login\t')))
    matches.push(`recent login: ${l.slice(6).trim()}`);
  return {
    indicator,
    outcome: matches.length > 0 ? 'hit' : 'clean',
    matches,
    note: out.includes('nolast') ? 'recent logins not checked: `last` is not installed' : undefined,
  };
}

function packageFinding(
  indicator: string,
  ind: Extract<Indicator, { kind: 'package' }>,
  out: string[],
): IndicatorFinding {
  const installed = out.find((l) => l.startsWith('installed\t'))?.split('\t');
  if (!installed) return { indicator, outcome: 'clean', matches: [], note: 'not installed' };
  const [, manager, version = ''] = installed;
  let matching = true;
  if (ind.op !== undefined && ind.version !== undefined) {
    if (manager === 'dpkg') {
      matching = out.includes('compare\ttrue');
    } else {
      const c = compareRpmVersions(version, ind.version);
      matching = { '<': c < 0, '<=': c <= 0, '=': c === 0, '>=': c >= 0, '>': c > 0 }[ind.op];
    }
  }
  const line = `${ind.name} ${version} installed (${manager})`;
  return matching
    ? { indicator, outcome: 'hit', matches: [line] }
    : { indicator, outcome: 'clean', matches: [], note: `${line}; does not satisfy ${ind.op}${ind.version}` };
}

// ---- sockets ---------------------------------------------------------------------------------------------------

export interface Socket {
  proto: string;
  /** ESTAB, LISTEN, UNCONN… (netstat's names are mapped to ss's). */
  state: string;
  local: string;
  peer: string;
  process?: string | undefined;
}

const NETSTAT_STATES: Record<string, string> = { ESTABLISHED: 'ESTAB', LISTEN: 'LISTEN' };

/** Parses `ss -tunapH` or `netstat -tunap` output. */
export function parseSockets(output: string): Socket[] {
  const out: Socket[] = [];
  for (const line of output.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^(tcp|udp)/.test(f[0]!)) continue;
    if (!/^\d+$/.test(f[1]!)) {
      // ss: Netid State Recv-Q Send-Q Local Peer [Process]
      const proc = /\("([^"]+)",pid=(\d+)/.exec(line);
      out.push({
        proto: f[0]!,
        state: f[1]!,
        local: f[4]!,
        peer: f[5] ?? '',
        process: proc ? `${proc[1]} pid ${proc[2]}` : undefined,
      });
    } else {
      // netstat: Proto Recv-Q Send-Q Local Foreign [State] PID/Program
      const udp = f[0]!.startsWith('udp');
      const state = udp ? 'UNCONN' : (NETSTAT_STATES[f[5] ?? ''] ?? f[5] ?? '');
      out.push({ proto: f[0]!, state, local: f[3]!, peer: f[4]!, process: udp ? f[5] : f[6] });
    }
  }
  return out;
}

/** `198.51.100.1:22`, `[::1]:631`, `:::22`, `*:68`, `[::ffff:1.2.3.4]:80` → address and port. */
export function splitEndpoint(endpoint: string): { address: string; port: string } {
  const at = endpoint.lastIndexOf(':');
  let address = at === -1 ? endpoint : endpoint.slice(0, at);
  const port = at === -1 ? '' : endpoint.slice(at + 1);
  address = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4) address = address.slice(7);
  return { address, port };
}

const isListening = (s: Socket) =>
  s.state === 'LISTEN' || (s.proto.startsWith('udp') && s.state === 'UNCONN');

export function socketsForIp(sockets: readonly Socket[], cidr: string): Socket[] {
  const [ip = '', prefix] = cidr.split('/');
  const family = isIP(ip);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  list.addSubnet(ip, prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix), type);
  const inside = (endpoint: string) => {
    const { address } = splitEndpoint(endpoint);
    return isIP(address) === family && list.check(address, type);
  };
  return sockets.filter(
    (s) =>
      (s.state === 'ESTAB' && (inside(s.local) || inside(s.peer))) || (isListening(s) && inside(s.local)),
  );
}

export function socketsForPort(sockets: readonly Socket[], port: string): Socket[] {
  return sockets.filter((s) => isListening(s) && splitEndpoint(s.local).port === port);
}
