/**
 * What the benchmarks share: statistics, the figure and result shapes RESULTS.md is written from, markdown tables,
 * process RSS sampling from /proc, and starting the real things (redis-server, the fake Slack, ward as a process,
 * the bare-Bolt baseline, the lab). Nothing here asserts a figure: benchmarks report, they never pass or fail.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectCommand } from '../src/actions/collect-script.js';
import { FORENSIC_LIMITS, forensicsScript as forensicsScriptSpec } from '../src/actions/forensics.js';
import { shellQuote } from '../src/adapters/ssh/shell-quote.js';
import { DEFAULT_HASH_PATHS } from '../src/config/inventory.js';
import { type FakeSlack, startFakeSlack } from '../test/fakes/fake-slack.js';
import { freePort } from '../test/helpers/free-port.js';
import { type RedisProcess, startRedis } from '../test/helpers/redis-server.js';
import { slackSignature } from '../test/helpers/slack-requests.js';
import { labAvailable } from '../test/lab/lab.js';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Scratch space for one run (ignored by git); each benchmark takes a subdirectory and removes it. */
export const WORK_DIR = join(ROOT, 'bench', '.work');

export const SIGNING_SECRET = 'bench-signing-secret-0123456789';
export const BOT_TOKEN = 'xoxb-bench-0000000000';
export const USERS = { requester: 'U0BREQUEST', approver: 'U0BAPPROVE' } as const;

// ---- statistics ------------------------------------------------------------------------------------------------

export interface Summary {
  n: number;
  min: number;
  median: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { n: 0, min: Number.NaN, median: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const median = n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { n, min: s[0]!, median, max: s[n - 1]!, mean: s.reduce((a, b) => a + b, 0) / n };
}

// ---- figures and results ---------------------------------------------------------------------------------------

/**
 * One figure: one sample per round (a round's p50, a wall time, an RSS…), and the same measurement of the
 * baseline taken in the same rounds. The ratio is median(ward) / median(baseline).
 */
export interface Figure {
  name: string;
  unit: 'ms' | 'MiB' | '×' | 'alerts/s' | string;
  samples: number[];
  baseline?: { name: string; samples: number[] };
  /** A second baseline shown beside the first (ack latency: bare Bolt that only acks), with its own ratio. */
  second?: { name: string; samples: number[] };
  /** The target as the issue states it, for the reader; never checked. */
  target?: string;
  note?: string;
}

export interface BenchResult {
  /** Script name, e.g. `ack-latency`. */
  name: string;
  title: string;
  /** What is measured and how, in a sentence or two (copied into RESULTS.md). */
  method: string;
  figures: Figure[];
  notes: string[];
  /** Set when the benchmark did not run (not root, a file missing…): RESULTS.md says so loudly. */
  skipped?: string;
  durationMs: number;
}

export function ratio(f: Figure, against: 'baseline' | 'second' = 'baseline'): number | undefined {
  const base = f[against];
  if (!base) return undefined;
  const a = summarize(f.samples).median;
  const b = summarize(base.samples).median;
  return b > 0 ? a / b : undefined;
}

export function fmt(v: number | undefined, unit = ''): string {
  if (v === undefined || Number.isNaN(v)) return '–';
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return `${v.toFixed(digits)}${unit}`;
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The table of one benchmark: each figure with min/median/max, its baseline's median and the ratio. */
export function figuresTable(figures: readonly Figure[]): string {
  const withSecond = figures.some((f) => f.second);
  const baseCell = (b: Figure['baseline']) => {
    if (!b) return '–';
    const s = summarize(b.samples);
    return `${fmt(s.median)} (${b.name}; ${fmt(s.min)}–${fmt(s.max)})`;
  };
  const rows = figures.map((f) => {
    const s = summarize(f.samples);
    return [
      f.name,
      f.unit,
      String(s.n),
      fmt(s.min),
      fmt(s.median),
      fmt(s.max),
      baseCell(f.baseline),
      f.baseline ? `${fmt(ratio(f))}×` : '–',
      ...(withSecond ? [baseCell(f.second), f.second ? `${fmt(ratio(f, 'second'))}×` : '–'] : []),
      f.target ?? '',
    ];
  });
  const table = markdownTable(
    [
      'figure',
      'unit',
      'rounds',
      'min',
      'median',
      'max',
      'baseline median (min–max)',
      'ratio',
      ...(withSecond ? ['second baseline median (min–max)', 'ratio to it'] : []),
      'target',
    ],
    rows,
  );
  const notes = figures.filter((f) => f.note).map((f) => `- *${f.name}*: ${f.note}`);
  return notes.length > 0 ? `${table}\n\n${notes.join('\n')}` : table;
}

/** What a benchmark script prints when run alone. */
export function printResult(r: BenchResult): void {
  process.stdout.write(`\n## ${r.title}\n`);
  if (r.skipped) process.stdout.write(`\nSKIPPED: ${r.skipped}\n`);
  else process.stdout.write(`\n${figuresTable(r.figures)}\n`);
  for (const n of r.notes) process.stdout.write(`- ${n}\n`);
  process.stdout.write(`(${(r.durationMs / 1000).toFixed(1)} s)\n`);
}

/** Runs a benchmark's `run()` when its file is executed directly (`tsx bench/x.ts`). */
export async function runAlone(metaUrl: string, run: () => Promise<BenchResult>): Promise<void> {
  if (!process.argv[1] || fileURLToPath(metaUrl) !== process.argv[1]) return;
  try {
    printResult(await run());
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A fresh scratch directory under bench/.work. */
export function workDir(name: string): string {
  const dir = join(WORK_DIR, `${name}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---- machine and commit ----------------------------------------------------------------------------------------

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: totalmem() / 1024 ** 3,
    kernel: release(),
    node: process.version,
  };
}

export function gitInfo(): { commit: string; dirty: boolean; branch: string } {
  const git = (args: string[]) =>
    execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git(['rev-parse', 'HEAD']);
    // bench/RESULTS.md itself is rewritten by every run: it does not make the measured code dirty.
    const dirty =
      git(['status', '--porcelain', '--untracked-files=no'])
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.endsWith('bench/RESULTS.md')).length > 0;
    return { commit, dirty, branch: git(['rev-parse', '--abbrev-ref', 'HEAD']) };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirty: false, branch: 'unknown' };
  }
}

// ---- process memory --------------------------------------------------------------------------------------------

export interface ProcMemory {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** Peak resident set size (VmHWM) since start or since resetPeakRss(), MiB. */
  hwmMiB: number;
}

export function readProcMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

/**
 * Resets the kernel's peak-RSS counter (VmHWM) of a process: `echo 5 > /proc/PID/clear_refs` (Linux ≥ 4.0, needs
 * the right to write there: root, or the owner). Returns false when the kernel refused.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

// ---- ward, baseline and infrastructure processes ---------------------------------------------------------------

export interface ServiceProcess {
  pid: number;
  url: string;
  port: number;
  /** The log file (ward's JSON lines, or the baseline's output). */
  logFile: string;
  stop(): Promise<void>;
}

/** Set WARD_BENCH_QUICK=1 for tiny rounds that only prove the benchmarks work: their figures mean nothing. */
export const QUICK = process.env['WARD_BENCH_QUICK'] === '1';

/** `quick` under WARD_BENCH_QUICK=1, else `full`. */
export function sized<T>(full: T, quick: T): T {
  return QUICK ? quick : full;
}

let built = false;
/**
 * Compiles ward (`npm run build`: tsconfig.build.json → dist/) once per bench process, so the benchmarks measure
 * what `npm start` runs: plain JavaScript, no TypeScript loader. WARD_BENCH_SKIP_BUILD=1 uses dist/ as it is.
 */
export function ensureBuilt(): void {
  if (built || process.env['WARD_BENCH_SKIP_BUILD'] === '1' || process.env['WARD_BENCH_WARD_JS']) return;
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
  built = true;
}

/**
 * ward's compiled entry point, as `npm start` runs it. WARD_BENCH_WARD_JS points at another build (say, one of an
 * older commit, compiled under bench/.work/) to compare before and after with the same harness.
 */
export const WARD_MAIN_JS = process.env['WARD_BENCH_WARD_JS'] ?? join(ROOT, 'dist', 'src', 'main.js');

/**
 * Starts a plain-JavaScript program as its own node process (`node <file>`: the pid is the program's, so
 * /proc/PID/status is its memory), optionally inside a network namespace (`ip netns exec NS node <file>`: `ip`
 * execs node, so the pid is still the program's). Output goes to a file, not through a pipe to this process, so
 * that reading it costs the measured process nothing. Resolves once a log line shows the port.
 */
export async function startNodeService(
  entry: string,
  env: Record<string, string>,
  logFile: string,
  portOf: (line: Record<string, unknown>) => number | undefined,
  options: { netns?: string; host?: string; nodeArgs?: readonly string[] } = {},
): Promise<ServiceProcess> {
  const fd = openSync(logFile, 'a');
  const node = [process.execPath, ...(options.nodeArgs ?? []), entry];
  const argv = options.netns
    ? (['ip', ['netns', 'exec', options.netns, ...node]] as const)
    : ([node[0]!, node.slice(1)] as const);
  const child = spawn(argv[0], [...argv[1]], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let port: number | undefined;
  const deadline = Date.now() + 60_000;
  while (port === undefined) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${entry} exited before listening:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    if (Date.now() > deadline) {
      kill();
      throw new Error(`${entry} did not listen within 60 s:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await sleep(50);
    for (const raw of readFileSync(logFile, 'utf8').split('\n')) {
      if (!raw.startsWith('{')) continue;
      try {
        port = portOf(JSON.parse(raw) as Record<string, unknown>) ?? port;
      } catch {
        // a partial line
      }
    }
  }
  return {
    pid: child.pid!,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', kill);
    },
  };
}

/**
 * ward as `npm start` runs it (dist/src/main.js, compiled by ensureBuilt), HTTP mode, with the given environment on
 * top of the bench defaults.
 */
export function startWardService(
  env: Record<string, string>,
  logFile: string,
  options: { netns?: string } = {},
): Promise<ServiceProcess> {
  ensureBuilt();
  return startNodeService(
    WARD_MAIN_JS,
    {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      PORT: '0',
      WARD_BIND: '127.0.0.1',
      // ward's default level: what an operator runs, so its logging cost is part of the figure.
      LOG_LEVEL: 'info',
      WARD_SHUTDOWN_GRACE_MS: '2000',
      ...env,
    },
    logFile,
    (l) =>
      typeof l['msg'] === 'string' && l['msg'].startsWith('ward listening on')
        ? Number(l['port'])
        : undefined,
    {
      ...options,
      // For profiling ward under a benchmark, e.g. WARD_BENCH_WARD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
      // (node writes the profile when ward exits at the end of the benchmark).
      nodeArgs: (process.env['WARD_BENCH_WARD_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    },
  );
}

/**
 * The baseline: a bare Bolt app (bench/bare-bolt.mjs, plain JS) with HTTPReceiver. `ack`: acks /ward and does
 * nothing else; `same`: acks, then does the same visible work as ward (see the file).
 */
export async function startBareBolt(
  slackApiUrl: string,
  logFile: string,
  work: 'ack' | 'same',
  redisUrl?: string,
): Promise<ServiceProcess> {
  const port = await freePort();
  return startNodeService(
    join(ROOT, 'bench', 'bare-bolt.mjs'),
    {
      BARE_BOLT_PORT: String(port),
      BARE_BOLT_WORK: work,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_API_URL: slackApiUrl,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    },
    logFile,
    (l) => (l['msg'] === 'bare bolt listening' ? Number(l['port']) : undefined),
  );
}

export interface Infra {
  redis: RedisProcess;
  slack: FakeSlack;
  close(): Promise<void>;
}

/** A real redis-server and the fake Slack, both on loopback. */
export async function startInfra(): Promise<Infra> {
  const redis = await startRedis();
  const slack = await startFakeSlack({ botToken: BOT_TOKEN });
  return {
    redis,
    slack,
    async close() {
      await Promise.allSettled([slack.close(), redis.stop()]);
    },
  };
}

/** A policy file: requester and approver roles, and the given per-command policies. */
export function writePolicy(path: string, commands: Record<string, Record<string, unknown>>): void {
  const lines = [
    'roles:',
    `  responder: [${USERS.requester}]`,
    `  approver: [${USERS.approver}]`,
    `  admin: [${USERS.requester}]`,
    'commands:',
  ];
  for (const [name, policy] of Object.entries(commands)) {
    lines.push(`  ${name}: ${JSON.stringify(policy)}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

// ---- signed requests -------------------------------------------------------------------------------------------

/**
 * POSTs a body signed as Slack signs it and returns the time to the complete HTTP answer in ms. Only the request
 * itself is timed: the body and signature are built before the clock starts.
 */
export async function timedSignedPost(
  url: string,
  body: string,
): Promise<{ ms: number; status: number; text: string }> {
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': slackSignature(SIGNING_SECRET, timestamp, body),
  };
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { ms: performance.now() - t0, status: res.status, text };
}

/** Runs `total` tasks with `concurrency` of them in flight at any time (closed loop); returns their results. */
export async function inFlight<T>(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return results;
}

// ---- lab helpers -----------------------------------------------------------------------------------------------

/** Tools the OpenSSH baselines need on top of the lab's. */
export function sshClientAvailable(): boolean {
  return spawnSync('ssh', ['-V'], { stdio: 'ignore' }).status === 0;
}

/**
 * A known_hosts file pinning every lab host's key (what ward pins by fingerprint), so the `ssh` baseline runs
 * with StrictHostKeyChecking=yes exactly as ward refuses an unknown key.
 */
export function writeKnownHosts(
  labDir: string,
  hosts: ReadonlyArray<{ name: string; address: string }>,
  path: string,
): void {
  const lines = hosts.map((h) => {
    const pub = readFileSync(join(labDir, h.name, 'ssh_host_ed25519_key.pub'), 'utf8')
      .trim()
      .split(/\s+/);
    return `${h.address} ${pub[0]} ${pub[1]}`;
  });
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/**
 * Options every `ssh` baseline invocation uses: the pinned keys and, when given, the lab's proxy into the mgmt
 * namespace (none when the baseline itself runs inside that namespace).
 */
export function sshBaseOptions(
  proxyCommand: readonly string[] | undefined,
  keyPath: string,
  knownHosts: string,
): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    keyPath,
    ...(proxyCommand ? ['-o', `ProxyCommand=${proxyCommand.join(' ')}`] : []),
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'LogLevel=ERROR',
    // ward does not ask the server for its other host keys after login: neither does the baseline.
    '-o',
    'UpdateHostKeys=no',
  ];
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

// ---- OpenSSH baselines -----------------------------------------------------------------------------------------

/** ward's command timeout in the lab benchmarks (WARD_SSH_COMMAND_TIMEOUT_MS), also used to wrap baseline commands. */
export const COMMAND_TIMEOUT_MS = 60_000;

/**
 * The command line ward sends for an argv (NodeSshShell: `timeout -s KILL <t+1 s>` in front, every word
 * shell-quoted), so the baseline runs byte-for-byte the same remote command.
 */
export function remoteCommandLine(argv: readonly string[]): string {
  return ['timeout', '-s', 'KILL', `${Math.ceil((COMMAND_TIMEOUT_MS + 1000) / 1000)}s`, ...argv]
    .map(shellQuote)
    .join(' ');
}

/** The forensic collection exactly as ward runs it (src/actions/forensics.ts): `sh -s` and its script on stdin. */
export function forensicsScript(hashPaths: readonly string[] = DEFAULT_HASH_PATHS): {
  remote: string;
  stdin: string;
} {
  const run = collectCommand(forensicsScriptSpec(hashPaths), FORENSIC_LIMITS);
  return { remote: remoteCommandLine(run.command.argv), stdin: run.command.stdin ?? '' };
}

export interface SshRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs OpenSSH's `ssh` (argv, no local shell) with stdin; collects its output. */
export function runSsh(args: readonly string[], stdin = ''): Promise<SshRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

/** Like runSsh, but a non-zero exit is an error naming the command. */
export async function mustSsh(args: readonly string[], stdin = ''): Promise<SshRun> {
  const r = await runSsh(args, stdin);
  if (r.code !== 0) throw new Error(`ssh ${args.at(-1)} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/**
 * Files for a ward that takes `lockdown web1` requests needing one approval, whose host is 127.0.0.1:9 (discard):
 * the plan builds, and a stray execution could reach nothing. Returns the env for startWardService.
 */
export function writeLockdownRequestConfig(
  dir: string,
  redisUrl: string,
  slackApiUrl: string,
): Record<string, string> {
  const policyPath = join(dir, 'policy.yaml');
  const inventoryPath = join(dir, 'inventory.yaml');
  writePolicy(policyPath, {
    lockdown: { allow: ['responder'], approvals: 1, approvers: ['approver'], mfa: 'none' },
  });
  writeFileSync(
    inventoryPath,
    `management:\n  cidrs: [198.51.100.1/32]\nhosts:\n  web1:\n    address: 127.0.0.1\n    port: 9\n    hostKey: "SHA256:${'A'.repeat(43)}"\n    tags: [lab]\n`,
  );
  return {
    SLACK_API_URL: slackApiUrl,
    REDIS_URL: redisUrl,
    WARD_POLICY: policyPath,
    WARD_INVENTORY: inventoryPath,
    WARD_EVIDENCE_DIR: join(dir, 'evidence'),
  };
}

/** Why a lab benchmark cannot run here (not root, no lab, no ssh client), or undefined when it can. */
export function labSkipReason(): string | undefined {
  if (!isRoot()) return 'not running as root: the lab (network namespaces, nftables, sshd) needs root';
  const lab = labAvailable();
  if (!lab.ok) return `lab unavailable: ${lab.why}`;
  if (!sshClientAvailable()) return 'the OpenSSH client (ssh) is not installed: the baseline cannot run';
  return undefined;
}

/** The result of a benchmark that did not run: RESULTS.md says so loudly. */
export function skippedResult(name: string, title: string, method: string, reason: string): BenchResult {
  return { name, title, method, figures: [], notes: [], skipped: reason, durationMs: 0 };
}
