import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../src/core/approvals/request.js';
import {
  renderApprovalMessage,
  renderBreakGlassAnnouncement,
  renderMfaModal,
} from '../../src/render/approval.js';
import { sampleRequest } from '../helpers/sample-request.js';

/**
 * Golden files: the Block Kit JSON ward sends, reviewed once and then held still. Set UPDATE_GOLDEN=1 to rewrite
 * them after an intended change (and review the diff).
 */
function golden(name: string, value: unknown): void {
  const path = new URL(`./golden/${name}.json`, import.meta.url);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, text);
  if (!existsSync(path))
    throw new Error(`missing golden file ${name}.json: run with UPDATE_GOLDEN=1 and review it`);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

const T = 1_760_000_100_000;
const states: Record<string, Partial<ApprovalRequest>> = {
  pending: {},
  'pending-one-vote': { approvals: [{ user: 'U0APPROVE1', at: T }], requesterMfa: 'verified' },
  running: {
    status: 'running',
    startedAt: T,
    approvals: [{ user: 'U0APPROVE1', at: T }],
    requesterMfa: 'verified',
  },
  denied: { status: 'denied', deniedBy: { user: 'U0APPROVE2', at: T } },
  expired: { status: 'expired', expiredAt: 1_760_000_900_000 },
  cancelled: { status: 'cancelled', cancelledAt: T },
  'plan-changed': { status: 'plan_changed', approvals: [{ user: 'U0APPROVE1', at: T }] },
  interrupted: {
    status: 'interrupted',
    startedAt: T,
    finishedAt: T + 60_000,
    interruption: 'the ward process running it stopped without finishing it (crash or kill)',
  },
  succeeded: {
    status: 'succeeded',
    result: { outcome: 'succeeded', summary: 'web1 is locked down; management SSH still works.' },
  },
  'dry-run': {
    status: 'succeeded',
    result: {
      outcome: 'succeeded',
      dryRun: true,
      summary:
        'Dry run (WARD_DRY_RUN=1): nothing changed. Approved and planned; not run: Apply nftables table ward_lockdown on web1 (198.51.100.11).',
    },
  },
};

describe('approval message rendering', () => {
  for (const [name, overrides] of Object.entries(states)) {
    it(`renders the ${name} state`, () =>
      golden(`approval-${name}`, renderApprovalMessage(sampleRequest(overrides))));
  }

  it('only a pending request has buttons, and they carry the request id', () => {
    const pending = JSON.stringify(renderApprovalMessage(sampleRequest()).blocks);
    for (const id of ['approval.approve', 'approval.deny', 'approval.cancel']) expect(pending).toContain(id);
    expect(pending).toContain('"value":"r-7f3a9c"');
    const denied = JSON.stringify(renderApprovalMessage(sampleRequest(states['denied'])).blocks);
    expect(denied).not.toContain('approval.approve');
  });

  it('a dry run reads as nothing changed, never as done or succeeded', () => {
    const text = JSON.stringify(renderApprovalMessage(sampleRequest(states['dry-run'])));
    expect(text).toContain('Dry run: nothing changed');
    expect(text).toContain('Dry run: lockdown on web1');
    expect(text).not.toMatch(/Succeeded|Done:/);
  });

  it('escapes user text so a reason cannot ping the channel', () => {
    const text = JSON.stringify(
      renderApprovalMessage(sampleRequest({ reason: '<!channel> see <https://evil|here>' })),
    );
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt;');
  });

  it('renders the break-glass announcement and the MFA modal', () => {
    golden(
      'approval-break-glass',
      renderBreakGlassAnnouncement(
        sampleRequest({ breakGlass: { user: 'U0BREAKGL1', reason: 'worm spreading' }, approvalsNeeded: 0 }),
      ),
    );
    golden(
      'mfa-modal',
      renderMfaModal(
        { requestId: 'r-7f3a9c', factor: 'approver', channel: 'C0INCIDENT', ts: '1760000000.000100' },
        '`lockdown` (`r-7f3a9c`)',
      ),
    );
  });
});
