/**
 * `npm run bench`: runs every benchmark in one process, one after the other, and writes bench/RESULTS.md with the
 * machine, the date, the commit measured, and each figure with min/median/max over its rounds and the ratio to
 * the baseline measured in the same run; then regenerates the summary in docs/benchmarks.md from it. Figures are reported,
 * never asserted. WARD_BENCH_QUICK=1 runs tiny rounds that only prove the benchmarks work (RESULTS.md says so).
 *
 * `npm run bench -- --only ack-latency,memory` runs a subset (RESULTS.md then says it is a partial run).
 * Lab benchmarks need root; without it they are skipped and RESULTS.md says so at the top.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  type BenchResult,
  type Figure,
  figuresTable,
  fmt,
  gitInfo,
  isRoot,
  machineInfo,
  printResult,
  QUICK,
  ROOT,
} from './lib.js';
import { SUMMARY_FILE, summaryFromResults, withSummary } from './readme-summary.js';

interface Entry {
  name: string;
  title: string;
  load: () => Promise<() => Promise<unknown>>;
}

const ENTRIES: Entry[] = [
  {
    name: 'ack-latency',
    title: 'Ack latency',
    load: async () => (await import('./ack-latency.js')).run,
  },
  {
    name: 'click-to-action',
    title: 'Click to action',
    load: async () => (await import('./click-to-action.js')).run,
  },
  {
    name: 'forensics-fanout',
    title: 'Forensics fan-out',
    load: async () => (await import('./forensics-fanout.js')).run,
  },
  { name: 'hunt', title: 'Hunt fan-out', load: async () => (await import('./hunt.js')).run },
  { name: 'memory', title: 'Memory', load: async () => (await import('./memory.js')).run },
  { name: 'alert-storm', title: 'Alert storm', load: async () => (await import('./alert-storm.js')).run },
];

/**
 * What an external benchmark's run() may return: a BenchResult, an array of figures, or an object of named
 * figures, each a number, an array of per-round samples, or `{ samples | value, unit?, baseline? }`.
 */
export function normalizeResult(name: string, title: string, raw: unknown, durationMs: number): BenchResult {
  const base: BenchResult = { name, title, method: '', figures: [], notes: [], durationMs };
  if (raw && typeof raw === 'object' && 'figures' in raw && Array.isArray(raw.figures)) {
    const r = raw as Partial<BenchResult>;
    return {
      ...base,
      title: r.title ?? title,
      method: r.method ?? '',
      notes: r.notes ?? [],
      figures: (r.figures ?? []).map((f, i) => toFigure(f.name ?? `figure ${i + 1}`, f)),
      ...(r.skipped ? { skipped: r.skipped } : {}),
    };
  }
  if (Array.isArray(raw)) {
    return {
      ...base,
      figures: raw.map((f, i) => toFigure((f as { name?: string }).name ?? `figure ${i + 1}`, f)),
    };
  }
  if (raw && typeof raw === 'object') {
    return { ...base, figures: Object.entries(raw).map(([k, v]) => toFigure(k, v)) };
  }
  return { ...base, notes: [`run() returned ${JSON.stringify(raw)}: no figures to report.`] };
}

function samplesOf(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('samples' in o) return samplesOf(o['samples']);
    if ('value' in o) return samplesOf(o['value']);
  }
  return [];
}

function toFigure(name: string, v: unknown): Figure {
  const o = (v && typeof v === 'object' && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
  const figure: Figure = {
    name,
    unit: typeof o['unit'] === 'string' ? o['unit'] : '',
    samples: samplesOf(v),
  };
  const b = o['baseline'];
  if (b !== undefined) {
    const bo = (b && typeof b === 'object' && !Array.isArray(b) ? b : {}) as Record<string, unknown>;
    figure.baseline = {
      name: typeof bo['name'] === 'string' ? bo['name'] : 'baseline',
      samples: samplesOf(b),
    };
  }
  if (typeof o['target'] === 'string') figure.target = o['target'];
  return figure;
}

function only(): Set<string> | undefined {
  const i = process.argv.indexOf('--only');
  const value = i === -1 ? undefined : process.argv[i + 1];
  return value ? new Set(value.split(',').map((s) => s.trim())) : undefined;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo();
  const git = gitInfo();
  const loadBefore = loadavg();
  const root = isRoot();
  const selected = only();
  const results: BenchResult[] = [];
  for (const entry of ENTRIES) {
    if (selected && !selected.has(entry.name)) continue;
    process.stdout.write(`\n>>> ${entry.name} …\n`);
    const t0 = Date.now();
    let result: BenchResult;
    try {
      const run = await entry.load();
      const raw = await run();
      result = normalizeResult(entry.name, entry.title, raw, Date.now() - t0);
    } catch (err) {
      result = {
        name: entry.name,
        title: entry.title,
        method: '',
        figures: [],
        notes: [],
        skipped: `FAILED: ${err instanceof Error ? err.message : String(err)}`.slice(0, 2000),
        durationMs: Date.now() - t0,
      };
    }
    printResult(result);
    results.push(result);
  }
  const totalMs = Date.now() - started;
  const md = render({ machine, git, loadBefore, loadAfter: loadavg(), root, results, totalMs, selected });
  writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), md);
  // The summary in docs/benchmarks.md is generated from RESULTS.md (test/unit/bench-summary.test.ts keeps them equal).
  const summaryPath = join(ROOT, SUMMARY_FILE);
  writeFileSync(summaryPath, withSummary(readFileSync(summaryPath, 'utf8'), summaryFromResults(md)));
  process.stdout.write(
    `\nwrote bench/RESULTS.md and its summary in ${SUMMARY_FILE} (${(totalMs / 1000).toFixed(0)} s in all)\n`,
  );
  process.exit(results.some((r) => r.skipped?.startsWith('FAILED')) ? 1 : 0);
}

function render(x: {
  machine: ReturnType<typeof machineInfo>;
  git: ReturnType<typeof gitInfo>;
  loadBefore: number[];
  loadAfter: number[];
  root: boolean;
  results: BenchResult[];
  totalMs: number;
  selected: Set<string> | undefined;
}): string {
  const out: string[] = ['# ward benchmark results', ''];
  if (!x.root) {
    out.push(
      '> **⚠️ NOT RUN AS ROOT: the lab benchmarks (click-to-action, forensics fan-out) were SKIPPED.** They need network namespaces, nftables and sshd. Run `sudo npm run bench` for every figure.',
      '',
    );
  }
  if (QUICK) {
    out.push(
      '> **⚠️ QUICK MODE (WARD_BENCH_QUICK=1): tiny rounds that only prove the benchmarks run. These figures mean nothing; do not commit them.**',
      '',
    );
  }
  if (x.selected) {
    out.push(`> **Partial run:** only ${[...x.selected].join(', ')} (\`--only\`).`, '');
  }
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
  out.push(
    'Generated by `npm run bench` (bench/run.ts). Figures are measured, never asserted: each benchmark and its baseline run in the same rounds, on the same machine; ward (compiled) and each baseline (plain JS) run in their own processes, apart from the load generator and the fake Slack.',
    '',
    `- **Date:** ${new Date().toISOString()}`,
    `- **Commit measured:** \`${x.git.commit}\`${x.git.dirty ? ' **(dirty: uncommitted changes to tracked files)**' : ' (clean)'} on branch \`${x.git.branch}\``,
    `- **Machine:** ${x.machine.cpu}, ${x.machine.cores} cores, ${x.machine.memoryGiB.toFixed(1)} GiB RAM, Linux ${x.machine.kernel}, Node ${x.machine.node}`,
    `- **Load average (1/5/15 min):** ${load(x.loadBefore)} at the start, ${load(x.loadAfter)} at the end${x.loadBefore[0]! > x.machine.cores ? ' (the machine was busy with other work: expect noise)' : ''}`,
    `- **Run as root:** ${x.root ? 'yes' : 'NO (lab benchmarks skipped)'}`,
    `- **Total time:** ${(x.totalMs / 1000).toFixed(0)} s`,
    '',
    'Columns: per figure, one sample per round; min / median / max over the rounds; the baseline’s median (and its min–max) from the same rounds; ratio = ward median ÷ baseline median (below 1 means ward took less).',
    '',
  );
  for (const r of x.results) {
    out.push(`## ${r.title}`, '');
    if (r.skipped) {
      out.push(`**${r.skipped.startsWith('FAILED') ? '' : 'SKIPPED: '}${r.skipped}**`, '');
      continue;
    }
    if (r.method) out.push(r.method, '');
    out.push(figuresTable(r.figures), '');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push(`- Took ${fmt(r.durationMs / 1000)} s.`, '');
  }
  return `${out.join('\n')}\n`;
}

await main();
