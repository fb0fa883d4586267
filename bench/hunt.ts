/**
 * Hunt fan-out: ward's hunt over 20 lab hosts against the slowest single host (every one of the 20 hosts alone,
 * each round) and against an OpenSSH loop doing the same hunt script per host.
 *
 * Nothing goes through the lab's ProxyCommand: the measured worker is this file re-run under
 * `ip netns exec <mgmt ns> node --import tsx bench/hunt.ts --worker <config>`, so ward's code and the `ssh` loop both
 * run inside the management namespace and connect straight to 198.51.100.x. The ward side is what `runHunt` does
 * per host (src/actions/hunt-run.ts): ward's SSH adapter (NodeSshShell, pinned host keys), `fanOut` with every host
 * at once, `huntOnSession` (one `sh -s` channel) and the analysis of the answer into hit/clean; the Slack messages,
 * result files and host locks around it are not part of the figure. The baseline runs byte-for-byte the command
 * line and stdin ward sends (recorded from huntOnSession itself), one `ssh … &` per host, then `wait`.
 *
 * Run alone: `sudo tsx bench/hunt.ts` (needs root for the lab); `WARD_BENCH_QUICK=1` or `--quick` for a smoke run
 * of one round, whose figures mean nothing.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fanOut } from '../src/actions/fan-out.js';
import { type HuntBounds, huntOnSession, huntPlanCommand } from '../src/actions/hunt.js';
import { parseIndicators } from '../src/actions/hunt-indicators.js';
import { approvedFor } from '../src/actions/remote-command.js';
import { NodeSshShell } from '../src/adapters/ssh/node-ssh-shell.js';
import { shellQuote } from '../src/adapters/ssh/shell-quote.js';
import type { ExecOptions, ExecResult, HostTarget, ShellSession } from '../src/ports/remote-shell.js';
import { type Lab, labUp } from '../test/lab/lab.js';
import {
  type BenchResult,
  COMMAND_TIMEOUT_MS,
  type Figure,
  labSkipReason,
  ROOT,
  removeDir,
  runAlone,
  skippedResult,
  workDir,
  writeKnownHosts,
} from './lib.js';

const HOSTS = 20;
const TITLE = 'Hunt fan-out (hunt over 20 lab hosts, inside the management namespace)';
const METHOD =
  'A six-indicator hunt (sha256 over /tmp and /usr/sbin, file, process, port, ip, user) by ward’s hunt code (NodeSshShell + fanOut + huntOnSession, every host at once) run as `node --import tsx` under `ip netns exec <mgmt>`, connecting straight to 198.51.100.x: wall time over 20 hosts; each round, every host also alone, and the slowest of those 20. Baseline in the same rounds, from the same namespace: a bash loop of OpenSSH `ssh … &` + `wait` sending the same command line and script.';

/** Two hosts hold the implant, so every run has hits to report (and the analysis has something to find). */
const IMPLANT = 'ward hunt bench implant: not a real binary\n';
const IMPLANT_PATH = '/tmp/.cache/kworker-upd';
const HIT_HOSTS = ['web4', 'web15'];

const QUICK_ENV = process.env['WARD_BENCH_QUICK'] === '1';

export interface HuntBenchOptions {
  rounds?: number;
  /** One round, no warm-up beyond a single host: proves the benchmark works; its figures mean nothing. */
  quick?: boolean;
}

/** What the parent hands the worker (a JSON file). */
interface WorkerConfig {
  rounds: number;
  hosts: Array<{ name: string; address: string; hostKey: string }>;
  keyPath: string;
  knownHosts: string;
  indicators: string[];
  bounds: HuntBounds;
  hitHosts: string[];
  dir: string;
  resultPath: string;
}

/** What the worker hands back: per round, each side's 20-host wall time and its slowest single host. */
interface WorkerResult {
  ward: { all: number[]; slowest: number[]; slowestHost: string[] };
  loop: { all: number[]; slowest: number[]; slowestHost: string[] };
  singlesPerRound: number;
  remoteCommand: string;
  stdinBytes: number;
}

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export async function run(options: HuntBenchOptions = {}): Promise<BenchResult> {
  const quick = options.quick ?? (QUICK_ENV || process.argv.includes('--quick'));
  const rounds = options.rounds ?? (quick ? 1 : 5);
  const started = Date.now();
  const skip = labSkipReason();
  if (skip) return skippedResult('hunt', TITLE, METHOD, skip);

  const dir = workDir('hunt');
  let lab: Lab | undefined;
  try {
    lab = await labUp({ hosts: HOSTS, sshdLogLevel: 'INFO' });
    for (const name of HIT_HOSTS) {
      const r = await lab.execOnHost(name, ['sh', '-c', `mkdir -p /tmp/.cache && cat > ${IMPLANT_PATH}`], {
        stdin: IMPLANT,
      });
      if (r.code !== 0) throw new Error(`could not plant the implant on ${name}: ${r.stderr}`);
    }
    const knownHosts = join(dir, 'known_hosts');
    writeKnownHosts(lab.dir, lab.hosts, knownHosts);
    const config: WorkerConfig = {
      rounds,
      hosts: lab.hosts.map((h) => ({ name: h.name, address: h.address, hostKey: h.hostKeyFingerprint })),
      keyPath: lab.wardKeyPath,
      knownHosts,
      indicators: [
        `sha256:${sha256Hex(IMPLANT)}`,
        'file:/etc/cron.d/ward-bench-upd',
        'process:kdevtmpfsi',
        'port:4444',
        'ip:203.0.113.0/24',
        'user:ward-bench-backdoor',
      ],
      // /tmp is private to each lab host; /usr/sbin is shared and small (the defaults would hash this machine).
      // Quick mode hashes /tmp only: a smoke run proves the benchmark works, not how fast the hosts hash.
      bounds: {
        paths: quick ? ['/tmp'] : ['/tmp', '/usr/sbin'],
        maxFileBytes: 64 * 1024 * 1024,
        maxFiles: 200_000,
        scanTimeoutMs: 60_000,
      },
      hitHosts: HIT_HOSTS,
      dir,
      resultPath: join(dir, 'result.json'),
    };
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));

    // The worker: this file, inside the management namespace (`ip` execs node: no wrapper, no proxy).
    const logPath = join(dir, 'worker.log');
    const fd = openSync(logPath, 'a');
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.mgmt.ns,
        process.execPath,
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--worker',
        configPath,
      ],
      {
        cwd: ROOT,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root' },
        stdio: ['ignore', fd, fd],
      },
    );
    closeSync(fd);
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    process.off('exit', kill);
    if (code !== 0) {
      throw new Error(`hunt worker exited ${code}:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
    }
    const r = JSON.parse(readFileSync(config.resultPath, 'utf8')) as WorkerResult;

    const loop = (samples: number[]) => ({ name: 'ssh loop', samples });
    const perRound = (x: WorkerResult['ward']) => x.all.map((v, i) => v / x.slowest[i]!);
    const figures: Figure[] = [
      {
        name: 'wall time, 20 hosts',
        unit: 'ms',
        samples: r.ward.all,
        baseline: loop(r.loop.all),
        target: '≤ 1.2× the ssh loop',
      },
      {
        name: `slowest single host (all ${r.singlesPerRound} hosts alone, each round)`,
        unit: 'ms',
        samples: r.ward.slowest,
        baseline: loop(r.loop.slowest),
      },
      {
        name: '20-host time ÷ slowest single host',
        unit: '×',
        samples: perRound(r.ward),
        baseline: loop(perRound(r.loop)),
        target: 'ward ≤ 1.5×',
        note: 'the samples are ward’s ratio per round; the ratio column compares it with the loop’s own ratio',
      },
    ];
    const notes = [
      `${rounds} round${rounds === 1 ? '' : 's'} after a warm-up${quick ? ' (QUICK MODE: a smoke run hashing /tmp only; the figures mean nothing)' : ''}; ward and the loop alternate which goes first.`,
      `Both run inside the lab's management namespace and connect directly (no ProxyCommand, no process per connection). Every run's outcomes are checked: hits on exactly ${HIT_HOSTS.join(' and ')}, every other host clean; the loop's output must hold the implant's path for those two.`,
      `Remote command (the same for both, ${r.stdinBytes} bytes of script on stdin): \`${r.remoteCommand.slice(0, 160)}${r.remoteCommand.length > 160 ? '…' : ''}\``,
      `Slowest single hosts (ward): ${[...new Set(r.ward.slowestHost)].join(', ')}; (loop): ${[...new Set(r.loop.slowestHost)].join(', ')}.`,
    ];
    return { name: 'hunt', title: TITLE, method: METHOD, figures, notes, durationMs: Date.now() - started };
  } finally {
    await lab?.down();
    removeDir(dir);
  }
}

// ---- the worker: runs inside the management namespace ------------------------------------------------------------

/** Records the command huntOnSession sends (as the SSH adapter puts it on the wire) without sending it. */
class RecordingSession implements ShellSession {
  command: string | undefined;
  stdin = '';
  constructor(readonly host: HostTarget) {}
  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    // NodeSshShell's wrapping (src/adapters/ssh/node-ssh-shell.ts): `timeout -s KILL <t + 1 s>`, each word quoted.
    const wrapped =
      options.timeoutMs === undefined
        ? argv
        : ['timeout', '-s', 'KILL', `${Math.ceil((options.timeoutMs + 1000) / 1000)}s`, ...argv];
    this.command = wrapped.map(shellQuote).join(' ');
    this.stdin = options.stdin === undefined ? '' : options.stdin.toString();
    return {
      code: 0,
      stdout: Buffer.alloc(0),
      stderr: Buffer.alloc(0),
      truncated: false,
      timedOut: false,
      durationMs: 0,
    };
  }
  async close(): Promise<void> {}
}

function bash(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script, 'loop', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

async function worker(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as WorkerConfig;
  const indicators = parseIndicators(config.indicators);
  const shell = new NodeSshShell({ connectTimeoutMs: 30_000 });
  const targets: HostTarget[] = config.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    port: 22,
    user: 'root',
    keyPath: config.keyPath,
    hostKey: h.hostKey,
  }));
  const expected = (name: string) => (config.hitHosts.includes(name) ? 'hit' : 'clean');

  // ---- ward: its adapter, its fan-out, its per-host hunt ------------------------------------------------------
  const huntHost = async (host: HostTarget) => {
    const session = await shell.connect(host);
    try {
      return await huntOnSession(
        session,
        approvedFor(host.name, huntPlanCommand(indicators, config.bounds)),
        indicators,
        config.bounds,
        COMMAND_TIMEOUT_MS,
      );
    } finally {
      await session.close().catch(() => {});
    }
  };
  const wardRun = async (hosts: HostTarget[]): Promise<number> => {
    const t0 = performance.now();
    const settled = await fanOut(hosts, hosts.length, huntHost);
    const ms = performance.now() - t0;
    settled.forEach((s, i) => {
      const name = hosts[i]!.name;
      if (s.status === 'rejected') throw new Error(`ward: ${name} failed: ${String(s.reason)}`);
      if (s.value.outcome !== expected(name)) {
        throw new Error(
          `ward: ${name} answered ${s.value.outcome} (${s.value.reason ?? ''}), expected ${expected(name)}`,
        );
      }
    });
    return ms;
  };

  // ---- baseline: the exact command line and script ward sends, one ssh per host, all at once --------------------
  const rec = new RecordingSession(targets[0]!);
  await huntOnSession(
    rec,
    approvedFor(rec.host.name, huntPlanCommand(indicators, config.bounds)),
    indicators,
    config.bounds,
    COMMAND_TIMEOUT_MS,
  );
  if (!rec.command) throw new Error('huntOnSession sent nothing to record');
  const scriptPath = join(config.dir, 'hunt.sh');
  writeFileSync(scriptPath, rec.stdin);
  const outDir = join(config.dir, 'loop');
  mkdirSync(outDir, { recursive: true });
  const sshWords = [
    '-F',
    '/dev/null',
    '-i',
    config.keyPath,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${config.knownHosts}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'UpdateHostKeys=no',
  ]
    .map(shellQuote)
    .join(' ');
  const loopScript = [
    'set -u',
    `out=${shellQuote(outDir)}`,
    'for a in "$@"; do',
    `  ssh ${sshWords} "root@$a" ${shellQuote(rec.command)} < ${shellQuote(scriptPath)} > "$out/$a.out" &`,
    'done',
    'fail=0',
    'for j in $(jobs -p); do wait "$j" || fail=$((fail+1)); done',
    'exit "$fail"',
  ].join('\n');
  const loopRun = async (hosts: HostTarget[]): Promise<number> => {
    const t0 = performance.now();
    const r = await bash(
      loopScript,
      hosts.map((h) => h.address),
    );
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`ssh loop: ${r.code} host(s) failed: ${r.stderr}`);
    for (const h of hosts) {
      const out = readFileSync(join(outDir, `${h.address}.out`), 'utf8');
      if (out.includes(IMPLANT_PATH) !== config.hitHosts.includes(h.name)) {
        throw new Error(
          `ssh loop: ${h.name}'s output ${out.includes(IMPLANT_PATH) ? 'has' : 'lacks'} the implant`,
        );
      }
    }
    return ms;
  };

  // Warm-up (JIT, tsx's first compile, first connections), not counted.
  await wardRun(targets.slice(0, 5));
  await loopRun(targets.slice(0, 5));

  const result: WorkerResult = {
    ward: { all: [], slowest: [], slowestHost: [] },
    loop: { all: [], slowest: [], slowestHost: [] },
    singlesPerRound: targets.length,
    remoteCommand: rec.command,
    stdinBytes: Buffer.byteLength(rec.stdin),
  };
  for (let round = 0; round < config.rounds; round++) {
    const order = round % 2 === 0 ? (['ward', 'loop'] as const) : (['loop', 'ward'] as const);
    for (const who of order) {
      const runOn = who === 'ward' ? wardRun : loopRun;
      const side = result[who];
      side.all.push(await runOn(targets));
      // Every host alone, one after the other: the slowest of them is what 20 at once is compared with.
      let slowest = 0;
      let slowestHost = '';
      for (const t of targets) {
        const ms = await runOn([t]);
        if (ms > slowest) {
          slowest = ms;
          slowestHost = t.name;
        }
      }
      side.slowest.push(slowest);
      side.slowestHost.push(slowestHost);
    }
  }
  writeFileSync(config.resultPath, JSON.stringify(result));
}

const workerAt = process.argv.indexOf('--worker');
if (workerAt !== -1 && process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await worker(process.argv[workerAt + 1] ?? '');
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
} else {
  await runAlone(import.meta.url, () => run());
}
