/**
 * Forensics fan-out: `/ward forensics tag:…` over 1, 5 and 20 lab hosts (real sshd in network namespaces, each
 * with its own PID/mount namespaces), from the signed request to ward's final report in the thread. Also: ward's
 * peak RSS during each run (VmHWM, reset before it through /proc/PID/clear_refs), and the ratio of the 20-host time
 * to the slowest single host, where every round runs `forensics webN` on each of the 20 hosts alone.
 *
 * Everything measured runs INSIDE the lab's management namespace: this file re-runs itself there as a worker
 * (`ip netns exec <mgmt> node --import tsx bench/forensics-fanout.ts --worker <spec>`), which starts redis-server,
 * the fake Slack, ward (compiled) and the baseline, all connecting straight to 198.51.100.x. No per-connection proxy
 * process on either side: the figures are ward's and OpenSSH's, not the lab's plumbing.
 *
 * Baseline: a shell loop starting one OpenSSH `ssh` per host in the background (`&`, then `wait`), each running
 * the same forensic script with the same command line as ward, keeping the output as a tar.gz with its sha256.
 *
 * Run alone: `sudo tsx bench/forensics-fanout.ts` (needs root for the lab; WARD_BENCH_QUICK=1 for one round).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellQuote } from '../src/adapters/ssh/shell-quote.js';
import { sendSlashCommand } from '../test/helpers/slack-requests.js';
import { type Lab, labUp } from '../test/lab/lab.js';
import {
  type BenchResult,
  ensureBuilt,
  type Figure,
  forensicsScript,
  labSkipReason,
  QUICK,
  ROOT,
  readProcMemory,
  removeDir,
  resetPeakRss,
  runAlone,
  type ServiceProcess,
  SIGNING_SECRET,
  sized,
  skippedResult,
  sshBaseOptions,
  startInfra,
  startWardService,
  summarize,
  USERS,
  waitUntil,
  workDir,
  writeKnownHosts,
  writePolicy,
} from './lib.js';

const HOSTS = 20;
const SIZES = [
  { n: 1, selector: 'tag:n1' },
  { n: 5, selector: 'tag:n5' },
  { n: 20, selector: 'tag:lab' },
] as const;
const TITLE = 'Forensics fan-out (forensics tag:… over 1, 5, 20 lab hosts)';
const METHOD =
  '`/ward forensics <tag>` (policy: no approval, MFA none) from the signed request to the final report in the thread, over 1, 5 and 20 lab hosts; peak RSS of the ward process during the run (VmHWM reset before it); 20-host time ÷ slowest single-host time (every round runs each of the 20 hosts alone). ward, redis-server, the fake Slack and the baseline all run inside the lab’s management namespace and connect directly (no proxy process). Baseline: a bash loop of OpenSSH `ssh … &` + `wait` running the same script.';

/** What the parent hands the worker in the management namespace. */
interface WorkerSpec {
  rounds: number;
  labDir: string;
  wardKeyPath: string;
  hosts: Array<{ name: string; address: string }>;
  /** The lab's inventory without its ProxyCommand (ward connects directly from inside the namespace). */
  inventoryYaml: string;
  resultPath: string;
}

export interface FanoutOptions {
  rounds?: number;
}

function bash(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script, 'baseline', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

export async function run(options: FanoutOptions = {}): Promise<BenchResult> {
  const rounds = options.rounds ?? sized(4, 1);
  const started = Date.now();
  const skip = labSkipReason();
  if (skip) return skippedResult('forensics-fanout', TITLE, METHOD, skip);

  ensureBuilt();
  const dir = workDir('forensics-fanout');
  let lab: Lab | undefined;
  try {
    lab = await labUp({ hosts: HOSTS, sshdLogLevel: 'INFO' });
    const tags: Record<string, string[]> = {};
    lab.hosts.forEach((h, i) => {
      tags[h.name] = [...(i < 1 ? ['n1'] : []), ...(i < 5 ? ['n5'] : [])];
    });
    const spec: WorkerSpec = {
      rounds,
      labDir: lab.dir,
      wardKeyPath: lab.wardKeyPath,
      hosts: lab.hosts.map((h) => ({ name: h.name, address: h.address })),
      inventoryYaml: lab
        .inventoryYaml({ tags })
        .split('\n')
        .filter((l) => !l.startsWith('  proxyCommand:'))
        .join('\n'),
      resultPath: join(dir, 'result.json'),
    };
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const self = fileURLToPath(import.meta.url);
    const r = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      // `ip netns exec` execs node: the worker and everything it starts live in the management namespace.
      const child = spawn(
        'ip',
        ['netns', 'exec', lab!.mgmt.ns, process.execPath, '--import', 'tsx', self, '--worker', specPath],
        { cwd: ROOT, env: { ...process.env, WARD_BENCH_SKIP_BUILD: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, output }));
    });
    if (r.code !== 0)
      throw new Error(`the fan-out worker failed (exit ${r.code}):\n${r.output.slice(-3000)}`);
    const result = JSON.parse(readFileSync(spec.resultPath, 'utf8')) as BenchResult;
    return { ...result, durationMs: Date.now() - started };
  } finally {
    await lab?.down();
    removeDir(dir);
  }
}

/** The measuring half, run inside the management namespace: everything it starts connects to the hosts directly. */
async function worker(specPath: string): Promise<void> {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as WorkerSpec;
  const rounds = spec.rounds;
  const started = Date.now();
  const dir = workDir('forensics-fanout-worker');
  const infra = await startInfra();
  const { slack } = infra;
  let ward: ServiceProcess | undefined;
  try {
    const hosts = spec.hosts;
    const policyPath = join(dir, 'policy.yaml');
    const inventoryPath = join(dir, 'inventory.yaml');
    writePolicy(policyPath, { forensics: { allow: ['responder'], approvals: 0, mfa: 'none' } });
    writeFileSync(inventoryPath, spec.inventoryYaml);
    ward = await startWardService(
      {
        SLACK_API_URL: slack.apiUrl,
        REDIS_URL: infra.redis.url,
        WARD_POLICY: policyPath,
        WARD_INVENTORY: inventoryPath,
        WARD_EVIDENCE_DIR: join(dir, 'evidence'),
        // As parallel as the baseline's loop: every host at once.
        WARD_SSH_CONCURRENCY: String(HOSTS),
        WARD_SSH_COMMAND_TIMEOUT_MS: '60000',
      },
      join(dir, 'ward.log'),
    );
    const wardPid = ward.pid;
    const endpoint = `${ward.url}/slack/events`;
    let peakResets = true;

    let channelN = 0;
    const wardRun = async (selector: string, expected: number): Promise<{ ms: number; hwmMiB: number }> => {
      const channel = `C0FAN${++channelN}${Date.now() % 100000}`;
      const responseUrl = slack.newResponseUrl({ channel, user: USERS.requester });
      peakResets = resetPeakRss(wardPid) && peakResets;
      const t0 = Date.now();
      const res = await sendSlashCommand(endpoint, SIGNING_SECRET, {
        text: `forensics ${selector} --reason "bench fan-out"`,
        user_id: USERS.requester,
        channel_id: channel,
        response_url: responseUrl,
      });
      if (res.status !== 200) throw new Error(`slash command answered HTTP ${res.status}`);
      const report = await waitUntil(
        `the report of forensics ${selector}`,
        () =>
          slack
            .callsTo('chat.postMessage')
            .find(
              (c) => c.args['channel'] === channel && String(c.args['text'] ?? '').startsWith('forensics:'),
            ),
        180_000,
        20,
      );
      const text = String(report.args['text']);
      const ok = (text.match(/✓ /g) ?? []).length;
      if (ok !== expected)
        throw new Error(`forensics ${selector}: ${ok}/${expected} hosts succeeded: ${text}`);
      return { ms: report.at - t0, hwmMiB: readProcMemory(wardPid).hwmMiB };
    };

    // ---- baseline ---------------------------------------------------------------------------------------------
    const knownHosts = join(dir, 'known_hosts');
    writeKnownHosts(spec.labDir, hosts, knownHosts);
    const script = forensicsScript();
    const scriptPath = join(dir, 'forensics.sh');
    writeFileSync(scriptPath, script.stdin);
    const sshWords = sshBaseOptions(undefined, spec.wardKeyPath, knownHosts).map(shellQuote).join(' ');
    const outDir = join(dir, 'baseline');
    const loop = [
      'set -u',
      `out=${shellQuote(outDir)}`,
      'mkdir -p "$out"',
      'for a in "$@"; do',
      `  ( ssh ${sshWords} "root@$a" ${shellQuote(script.remote)} < ${shellQuote(scriptPath)} > "$out/$a.out" \\`,
      '    && tar czf "$out/$a.tgz" -C "$out" "$a.out" && sha256sum "$out/$a.tgz" > "$out/$a.sha256" ) &',
      'done',
      'fail=0',
      'for j in $(jobs -p); do wait "$j" || fail=$((fail+1)); done',
      'exit "$fail"',
    ].join('\n');
    const baselineRun = async (addresses: string[]): Promise<number> => {
      const t0 = Date.now();
      const r = await bash(loop, addresses);
      const ms = Date.now() - t0;
      if (r.code !== 0) throw new Error(`baseline: ${r.code} host(s) failed: ${r.stderr}`);
      return ms;
    };

    // Warm-up of each (JIT, first connections), not counted.
    await wardRun('tag:n5', 5);
    await baselineRun(hosts.slice(0, 5).map((h) => h.address));

    const w: Record<string, number[]> = {};
    const b: Record<string, number[]> = {};
    const peak: Record<string, number[]> = {};
    const push = (into: Record<string, number[]>, key: string, v: number) => {
      into[key] = [...(into[key] ?? []), v];
    };
    const sampled = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['ward', 'baseline'] as const) : (['baseline', 'ward'] as const);
      for (const who of order) {
        for (const size of SIZES) {
          if (who === 'ward') {
            const r = await wardRun(size.selector, size.n);
            push(w, `n${size.n}`, r.ms);
            push(peak, `n${size.n}`, r.hwmMiB);
          } else {
            push(b, `n${size.n}`, await baselineRun(hosts.slice(0, size.n).map((h) => h.address)));
          }
        }
        // Single hosts: all 20, one after the other, every round: the slowest is over all of them, not a sample.
        let slowest = 0;
        for (const h of hosts) {
          sampled.add(h.name);
          const ms = who === 'ward' ? (await wardRun(h.name, 1)).ms : await baselineRun([h.address]);
          slowest = Math.max(slowest, ms);
        }
        push(who === 'ward' ? w : b, 'slowest', slowest);
      }
    }
    const ratios = (x: Record<string, number[]>) => x['n20']!.map((v, i) => v / x['slowest']![i]!);
    const baseline = (samples: number[]) => ({ name: 'ssh loop', samples });
    const figures: Figure[] = [
      ...SIZES.map((s) => ({
        name: `wall time, ${s.n} host${s.n > 1 ? 's' : ''}`,
        unit: 'ms',
        samples: w[`n${s.n}`]!,
        baseline: baseline(b[`n${s.n}`]!),
      })),
      {
        name: `slowest single host (all ${HOSTS}, each alone, every round)`,
        unit: 'ms',
        samples: w['slowest']!,
        baseline: baseline(b['slowest']!),
      },
      {
        name: '20-host time ÷ slowest single host',
        unit: '×',
        samples: ratios(w),
        baseline: baseline(ratios(b)),
        note: 'the ratio column compares ward’s ratio with the loop’s',
        target: '≤ 1.5× (ward’s own ratio); ≤ 1.0× the loop’s',
      },
      ...SIZES.map((s) => ({
        name: `ward peak RSS (VmHWM), ${s.n} host${s.n > 1 ? 's' : ''}`,
        unit: 'MiB',
        samples: peak[`n${s.n}`]!,
      })),
    ];
    const notes = [
      ...(QUICK ? ['**QUICK MODE (WARD_BENCH_QUICK=1): one round; these figures mean nothing.**'] : []),
      `${rounds} rounds after a warm-up; every round ran each of the ${sampled.size} hosts alone (of ${HOSTS}).`,
      `WARD_SSH_CONCURRENCY=${HOSTS}, so ward, like the loop, works on every host at once. ward also writes each host's evidence files, manifest and bundle, uploads the bundle to the fake Slack and posts a summary per host; mail is not configured.`,
      'ward (compiled), redis-server, the fake Slack and the ssh loop all run inside the lab’s management namespace and connect straight to 198.51.100.x: no ProxyCommand process on either side.',
      peakResets
        ? 'Peak RSS: VmHWM was reset (clear_refs 5) before each run, so each figure is that run’s peak.'
        : 'Peak RSS: the kernel refused to reset VmHWM, so the figures are peaks since ward started.',
      `ward idle RSS at the end: ${summarize([readProcMemory(wardPid).rssMiB]).median.toFixed(1)} MiB.`,
    ];
    const result: BenchResult = {
      name: 'forensics-fanout',
      title: TITLE,
      method: METHOD,
      figures,
      notes,
      durationMs: Date.now() - started,
    };
    writeFileSync(spec.resultPath, JSON.stringify(result));
  } finally {
    await ward?.stop().catch(() => {});
    await infra.close();
    removeDir(dir);
  }
}

const workerAt = process.argv.indexOf('--worker');
if (workerAt !== -1 && process.argv[1] === fileURLToPath(import.meta.url)) {
  worker(process.argv[workerAt + 1] ?? '').then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  await runAlone(import.meta.url, () => run());
}
