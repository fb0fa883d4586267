import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { currentSummary, SUMMARY_FILE, summaryFromResults, withSummary } from '../../bench/readme-summary.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('benchmark summary (docs/benchmarks.md)', () => {
  it('is exactly what bench/RESULTS.md generates (npm run bench rewrites both)', () => {
    const summary = currentSummary(read(SUMMARY_FILE));
    expect(summary).toBeDefined();
    expect(summary).toBe(summaryFromResults(read('bench/RESULTS.md')));
  });

  it('the README points at it', () => {
    expect(read('README.md')).toContain(`](${SUMMARY_FILE})`);
  });

  it('shows each figure with its baseline, both ratios and a skipped benchmark said loudly', () => {
    const results = [
      '# ward benchmark results',
      '- **Date:** 2030-01-01T00:00:00.000Z',
      '- **Commit measured:** `0123456789abcdef` (clean) on branch `perf`',
      '- **Machine:** CPU, 2 cores',
      '- **Load average (1/5/15 min):** 0.10 / 0.20 / 0.30 at the start',
      '## Ack latency (signed slash command → HTTP 200)',
      '| figure | unit | rounds | min | median | max | baseline median (min–max) | ratio | second baseline median (min–max) | ratio to it | target |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      '| help ×1 in flight: p50 | ms | 3 | 1.00 | 1.10 | 1.20 | 1.00 (bare Bolt, same work; 0.90–1.10) | 1.10× | 0.50 (bare Bolt, ack only; 0.40–0.60) | 2.20× | ≤ 1.5× |',
      '## Forensics fan-out',
      '**SKIPPED: not running as root**',
    ].join('\n');
    const summary = summaryFromResults(results);
    expect(summary).toContain('commit 0123456');
    expect(summary).toContain(
      '| Ack latency | help ×1 in flight: p50 | 1.10 ms | 1.00 (bare Bolt, same work) | 1.10× | 0.50 (bare Bolt, ack only): 2.20× | ≤ 1.5× |',
    );
    expect(summary).toContain('- Forensics fan-out: SKIPPED: not running as root');
    expect(withSummary(`a\n${summary}\nb`, 'X')).toBe('a\nX\nb');
  });
});
