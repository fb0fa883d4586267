import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { HostHuntResult } from '../../src/actions/hunt.js';
import type { Incident } from '../../src/incidents/incident.js';
import {
  renderAnnouncement,
  renderCard,
  renderIncidentHeader,
  renderOpenFailure,
} from '../../src/incidents/render.js';
import { buildReport } from '../../src/incidents/report.js';
import { type Timeline, timelineMarkdown } from '../../src/incidents/timeline.js';
import type { AuditEvent } from '../../src/ports/audit.js';
import { countResults, renderHuntProgress, renderHuntSummary } from '../../src/render/hunt.js';

/**
 * Golden files for the hunt and incident messages (the approval kinds and the forensic summary have theirs in
 * approval-render.test.ts and forensic-summary.test.ts): UPDATE_GOLDEN=1 rewrites them; review every diff.
 */
function golden(name: string, value: unknown): void {
  const ext = typeof value === 'string' ? 'md' : 'json';
  const path = new URL(`./golden/${name}.${ext}`, import.meta.url);
  const text = typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`;
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, text);
  if (!existsSync(path))
    throw new Error(`missing golden file ${name}.${ext}: run with UPDATE_GOLDEN=1 and review it`);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

const T0 = Date.parse('2026-03-04T14:32:00Z');
const min = 60_000;

const hit: HostHuntResult = {
  host: 'web1',
  address: '198.51.100.11',
  outcome: 'hit',
  durationMs: 900,
  findings: [
    {
      indicator: 'file:/tmp/.x/kinsing',
      outcome: 'hit',
      matches: [
        'regular file, 4096 bytes, owner root, mtime 2026-03-04 14:02:11 UTC, sha256 ' + 'ab'.repeat(32),
      ],
    },
    { indicator: 'ip:203.0.113.9', outcome: 'clean', matches: [] },
  ],
};
const clean: HostHuntResult = {
  host: 'web2',
  address: '198.51.100.12',
  outcome: 'clean',
  durationMs: 700,
  findings: [
    { indicator: 'file:/tmp/.x/kinsing', outcome: 'clean', matches: [], note: 'absent' },
    { indicator: 'ip:203.0.113.9', outcome: 'clean', matches: [] },
  ],
};
const failed: HostHuntResult = {
  host: 'db1',
  address: '198.51.100.21',
  outcome: 'failed',
  reason: 'SSH: connection refused',
  durationMs: 100,
  findings: [],
};

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: 'INC-7',
    n: 7,
    title: 'Web shell on web1 <!channel>',
    severity: 'sev2',
    status: 'investigating',
    requester: 'U0RILEY001',
    roles: { commander: 'U0ALEX0001', scribe: 'U0SAM00001' },
    originChannel: 'C0INCIDENT',
    alert: {
      fingerprint: '0123456789abcdef0123456789abcdef',
      title: 'Write below binary dir',
      source: 'falco',
      severity: 'critical',
      host: 'web1',
      firstSeenMs: T0 - 5 * min,
    },
    open: {
      channel: { id: 'G0INC7WEB1', name: 'inc-7-web-shell-on-web1' },
      invited: true,
      headerTs: '1772634720.000100',
      pinned: true,
      announced: true,
    },
    times: { detected: T0 - 5 * min, acknowledged: T0, firstContainment: T0 + 12 * min },
    ...overrides,
  };
}

function entry(seq: number, atMs: number, event: AuditEvent) {
  return {
    seq,
    at: new Date(atMs).toISOString(),
    hash: (seq % 256).toString(16).padStart(2, '0').repeat(32),
    event,
  };
}

const timeline: Timeline = {
  entries: [
    entry(101, T0, {
      type: 'incident.opened',
      actor: 'U0RILEY001',
      details: { title: 'Web shell on web1', severity: 'sev2' },
    }),
    entry(102, T0 + min, {
      type: 'approval.requested',
      actor: 'U0RILEY001',
      command: 'lockdown',
      hosts: ['web1'],
      requestId: 'r-0a1b2c3d',
      details: { reason: 'web shell' },
    }),
    entry(103, T0 + 2 * min, {
      type: 'approval.vote',
      actor: 'U0ALEX0001',
      outcome: 'approved',
      command: 'lockdown',
      requestId: 'r-0a1b2c3d',
    }),
    entry(104, T0 + 12 * min, {
      type: 'execution.finished',
      actor: 'ward',
      command: 'lockdown',
      hosts: ['web1'],
      outcome: 'succeeded',
      requestId: 'r-0a1b2c3d',
    }),
    entry(107, T0 + 14 * min, {
      type: 'approval.requested',
      actor: 'U0RILEY001',
      command: 'block-ip',
      hosts: ['web2'],
      requestId: 'r-4e5f6a7b',
      details: { reason: 'C2 address' },
    }),
    entry(108, T0 + 15 * min, {
      type: 'execution.finished',
      actor: 'ward',
      command: 'block-ip',
      hosts: ['web2'],
      outcome: 'dry_run',
      requestId: 'r-4e5f6a7b',
      details: { dryRun: true },
    }),
    entry(109, T0 + 16 * min, {
      type: 'artifact.collected',
      hosts: ['web1'],
      requestId: 'r-0a1b2c3d',
      details: { bundle: 'web1-forensics.tar.gz', sha256: 'cd'.repeat(32) },
    }),
    entry(110, T0 + 17 * min, {
      type: 'incident.note',
      actor: 'U0SAM00001',
      details: { text: 'Saw POST /upload.php' },
    }),
  ],
  verdict: { ok: true },
  range: { from: 101, to: 110 },
};

describe('hunt messages (golden)', () => {
  it('progress line', () =>
    golden('hunt-progress', renderHuntProgress('h-5e6f7a8b', countResults(40, [hit, clean, failed]))));

  it('summary with a hit, a clean host and a failure', () =>
    golden(
      'hunt-summary',
      renderHuntSummary({
        huntId: 'h-5e6f7a8b',
        indicators: ['file:/tmp/.x/kinsing', 'ip:203.0.113.9'],
        results: [hit, clean, failed],
        cloudHits: [],
        files: [{ name: 'hunt-h-5e6f7a8b.csv', sha256: 'ef'.repeat(32) }],
        evidenceDir: '/var/lib/ward/evidence/hunt-h-5e6f7a8b',
      }),
    ));

  it('summary of a clean hunt', () =>
    golden(
      'hunt-summary-clean',
      renderHuntSummary({
        huntId: 'h-9c0d1e2f',
        indicators: ['ip:203.0.113.9'],
        results: [clean],
        cloudHits: [],
        files: [],
        evidenceDir: '/var/lib/ward/evidence/hunt-h-9c0d1e2f',
      }),
    ));
});

describe('incident messages (golden)', () => {
  it('pinned header', () => golden('incident-header', renderIncidentHeader(incident())));
  it('announcement', () => golden('incident-announcement', renderAnnouncement(incident())));
  it('open stopped part-way', () =>
    golden(
      'incident-open-failure',
      renderOpenFailure(
        incident({
          open: {
            channel: { id: 'G0INC7WEB1', name: 'inc-7-web-shell-on-web1' },
            invited: true,
            failure: { step: 'headerTs', error: 'restricted_action', at: T0 },
          },
        }),
        true,
      ),
    ));
  it('card', () =>
    golden(
      'incident-card',
      renderCard(incident(), {
        openRequests: ['r-0a1b2c3d'],
        hostsContained: ['web1'],
        evidence: 2,
        now: T0 + 20 * min,
      }),
    ));
  it('exported timeline (markdown)', () =>
    golden('incident-timeline', timelineMarkdown(incident().id, incident().title, timeline)));
  it('post-incident report draft (markdown)', () =>
    golden(
      'incident-report',
      buildReport(
        incident({
          status: 'resolved',
          summary: 'Locked down web1; rotated keys',
          times: { ...incident().times, resolved: T0 + 50 * min },
        }),
        timeline,
        {
          hosts: [{ host: 'web1', since: T0 + 12 * min, requestId: 'r-0a1b2c3d', inIncident: true }],
          ips: [],
          instances: [],
        },
      ),
    ));

  it('user text cannot ping a channel from any of them', () => {
    const all = JSON.stringify([
      renderIncidentHeader(incident()),
      renderAnnouncement(incident()),
      renderCard(incident(), { openRequests: [], hostsContained: [], evidence: 0, now: T0 }),
    ]);
    expect(all).not.toContain('<!channel>');
  });
});
