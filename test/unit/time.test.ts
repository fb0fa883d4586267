import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clockTime, dateTime, relative } from '../../src/render/time.js';

const at = Date.parse('2026-03-04T14:32:45.123Z');
const min = 60_000;

describe('times a responder reads', () => {
  it('`14:32 UTC`; with now: how long ago, and the date when it is another day', () => {
    expect(clockTime(at)).toBe('14:32 UTC');
    expect(clockTime(at, at + 10_000)).toBe('14:32 UTC, just now');
    expect(clockTime(at, at + 3 * min)).toBe('14:32 UTC, 3 min ago');
    expect(clockTime(at, at - 12 * min)).toBe('14:32 UTC, in 12 min');
    expect(clockTime(at, at + 11 * 3600_000)).toBe('Mar 4 14:32 UTC, 11 h ago');
    expect(clockTime(at, Date.parse('2026-03-06T09:00:00Z'))).toBe('Mar 4 14:32 UTC, 2 days ago');
    expect(clockTime(at, Date.parse('2026-06-01T00:00:00Z'))).toBe('Mar 4 14:32 UTC');
  });

  it('documents get the date and the second, never milliseconds or a bare Z', () => {
    expect(dateTime(at)).toBe('2026-03-04 14:32:45 UTC');
    expect(dateTime(Number.NaN)).toBe('(unknown time)');
    expect(relative(90 * 60_000)).toBe('2 h ago');
  });

  it('no message renderer or command formats a time with toISOString (they go through src/render/time.ts)', () => {
    const root = new URL('../../', import.meta.url).pathname;
    const files = [
      ...readdirSync(join(root, 'commands')).map((f) => `commands/${f}`),
      ...readdirSync(join(root, 'src/render')).map((f) => `src/render/${f}`),
      'src/incidents/render.ts',
      'src/incidents/report.ts',
      'src/alerts/render.ts',
      'src/actions/host-lock.ts',
      'src/actions/release.ts',
    ].filter((f) => f.endsWith('.ts') && f !== 'src/render/time.ts');
    const offenders = files.filter((f) => readFileSync(join(root, f), 'utf8').includes('toISOString()'));
    expect(files.length).toBeGreaterThan(30);
    expect(offenders).toEqual([]);
  });
});
