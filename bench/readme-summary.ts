/**
 * The benchmark summary (docs/benchmarks.md, "Latest figures"; the README links to it) is generated from
 * bench/RESULTS.md, never written by hand: `npm run bench` writes RESULTS.md and then this block, and
 * test/unit/bench-summary.test.ts keeps the two equal. The block sits between two markers in SUMMARY_FILE;
 * everything else in that file is left alone.
 */

/** The file holding the summary block, relative to the repository root. */
export const SUMMARY_FILE = 'docs/benchmarks.md';

export const SUMMARY_START =
  '<!-- bench-summary:start (generated from bench/RESULTS.md by npm run bench) -->';
export const SUMMARY_END = '<!-- bench-summary:end -->';

interface Section {
  title: string;
  /** Bold lines at the top of a section: SKIPPED / FAILED. */
  skipped?: string;
  rows: Array<Record<string, string>>;
}

function cells(line: string): string[] {
  // Table cells are split on unescaped pipes; `\|` stays inside a cell.
  return line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

function sections(results: string): Section[] {
  const out: Section[] = [];
  let current: Section | undefined;
  let header: string[] | undefined;
  for (const line of results.split('\n')) {
    if (line.startsWith('## ')) {
      current = { title: line.slice(3).trim(), rows: [] };
      out.push(current);
      header = undefined;
      continue;
    }
    if (!current) continue;
    if (/^\*\*(SKIPPED|FAILED)/.test(line) && current.rows.length === 0)
      current.skipped = line.replace(/\*\*/g, '');
    if (!line.startsWith('|')) {
      header = undefined;
      continue;
    }
    const c = cells(line);
    if (header === undefined) {
      header = c;
    } else if (!c.every((x) => /^-+$/.test(x))) {
      current.rows.push(Object.fromEntries(header.map((h, i) => [h, c[i] ?? ''])));
    }
  }
  return out;
}

/** The facts line at the top of RESULTS.md (date, commit, machine, load), reduced to what a reader needs. */
function provenance(results: string): string {
  const field = (name: string) =>
    new RegExp(`^- \\*\\*${name}:\\*\\* (.*)$`, 'm').exec(results)?.[1] ?? 'unknown';
  const commit = /`([0-9a-f]{7})[0-9a-f]*`/.exec(field('Commit measured'))?.[1] ?? 'unknown';
  const partial = /\*\*Partial run:\*\*/.test(results) ? ' **Partial run.**' : '';
  const notRoot = /NOT RUN AS ROOT/.test(results)
    ? ' **Not run as root: the lab benchmarks were skipped.**'
    : '';
  const quick = /QUICK MODE/.test(results)
    ? ' **QUICK MODE (WARD_BENCH_QUICK=1): tiny rounds, figures meaningless; do not commit.**'
    : '';
  return `From \`bench/RESULTS.md\`: commit ${commit}, ${field('Date')}; ${field('Machine')}; load average ${field('Load average \\(1/5/15 min\\)')}.${partial}${notRoot}${quick}`;
}

/** The summary block for a RESULTS.md text: one table row per figure (median, baseline median, ratio, target). */
export function summaryFromResults(results: string): string {
  const rows: string[][] = [];
  const skipped: string[] = [];
  for (const s of sections(results)) {
    if (s.skipped) {
      skipped.push(`- ${s.title}: ${s.skipped}`);
      continue;
    }
    for (const r of s.rows) {
      const baseline = (r['baseline median (min–max)'] ?? '–').replace(/; [^)]*\)$/, ')');
      const second = r['second baseline median (min–max)'];
      rows.push([
        s.title.replace(/ \(.*\)$/, ''),
        r['figure'] ?? '',
        `${r['median'] ?? ''} ${r['unit'] ?? ''}`.trim(),
        baseline,
        r['ratio'] ?? '–',
        second && second !== '–' ? `${second.replace(/; [^)]*\)$/, ')')}: ${r['ratio to it'] ?? '–'}` : '',
        r['target'] ?? '',
      ]);
    }
  }
  const line = (c: string[]) => `| ${c.map((x) => x.replaceAll('|', '\\|')).join(' | ')} |`;
  const table = [
    line([
      'benchmark',
      'figure',
      'ward (median)',
      'baseline (median)',
      'ratio',
      'second baseline: ratio',
      'target',
    ]),
    line(['---', '---', '---', '---', '---', '---', '---']),
    ...rows.map(line),
  ];
  return [
    SUMMARY_START,
    '',
    provenance(results),
    '',
    ...table,
    ...(skipped.length > 0 ? ['', ...skipped] : []),
    '',
    SUMMARY_END,
  ].join('\n');
}

/** A document's text with its summary block replaced by `summary`; throws when the markers are missing. */
export function withSummary(doc: string, summary: string): string {
  const start = doc.indexOf(SUMMARY_START);
  const end = doc.indexOf(SUMMARY_END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`${SUMMARY_FILE} has no benchmark summary block (${SUMMARY_START} … ${SUMMARY_END})`);
  }
  return `${doc.slice(0, start)}${summary}${doc.slice(end + SUMMARY_END.length)}`;
}

/** The summary block currently in a document's text, or undefined without markers. */
export function currentSummary(doc: string): string | undefined {
  const start = doc.indexOf(SUMMARY_START);
  const end = doc.indexOf(SUMMARY_END);
  return start === -1 || end === -1 ? undefined : doc.slice(start, end + SUMMARY_END.length);
}
