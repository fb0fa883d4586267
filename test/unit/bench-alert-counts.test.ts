import { describe, expect, it } from 'vitest';
import { alertCountsShown } from '../../bench/alert-storm.js';
import { renderAlertMessage, renderRollup } from '../../src/alerts/render.js';
import { parseGeneric } from '../../src/alerts/sources/generic.js';

const alert = (fp: string) =>
  parseGeneric({ title: `storm alert ${fp}`, fingerprint: fp, severity: 'warning' })[0]!;
const at = '2030-01-01T00:00:00.000Z';

describe('alert storm benchmark: alerts shown in Slack', () => {
  it('counts every alert by its exact fingerprint: r1-fp-1 is not r1-fp-10', () => {
    const route = { rule: 'team-1', suggest: [] };
    const messages = [
      renderAlertMessage(
        alert('r1-fp-1'),
        { count: 3, firstSeen: at, lastSeen: at, status: 'firing' },
        route,
      ),
      renderAlertMessage(
        alert('r1-fp-10'),
        { count: 1, firstSeen: at, lastSeen: at, status: 'firing' },
        route,
      ),
      renderRollup('team-1', at, {
        count: 6,
        resolved: 0,
        part: 1,
        entries: [
          { fingerprint: 'r1-fp-1', title: 'storm alert r1-fp-1', count: 2, status: 'firing' },
          { fingerprint: 'r1-fp-11', title: 'storm alert r1-fp-11', count: 4, status: 'firing' },
        ],
      }),
    ];
    expect(Object.fromEntries(alertCountsShown(messages))).toEqual({
      'r1-fp-1': 5,
      'r1-fp-10': 1,
      'r1-fp-11': 4,
    });
  });
});
