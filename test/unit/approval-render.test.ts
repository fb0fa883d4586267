import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lockdownPlanSteps } from '../../src/actions/lockdown.js';
import type { InventoryHost } from '../../src/config/inventory.js';
import type { ApprovalRequest } from '../../src/core/approvals/request.js';
import type { Plan } from '../../src/core/command.js';
import { planHash } from '../../src/core/plan.js';
import {
  renderApprovalMessage,
  renderBreakGlassAnnouncement,
  renderMfaModal,
  SHOW_PLAN_ACTION,
} from '../../src/render/approval.js';
import { renderExactPlanBlocks } from '../../src/render/plan.js';
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
const web1: InventoryHost = {
  name: 'web1',
  address: '198.51.100.11',
  port: 22,
  user: 'ward',
  keyPath: '/etc/ward/id_ed25519',
  hostKey: `SHA256:${'A'.repeat(43)}`,
  tags: ['web'],
};
/** The real lockdown plan (six steps, a 12-line nftables script among them), as an approver sees it. */
const lockdownPlan: Plan = {
  command: 'lockdown',
  args: { host: 'web1' },
  hosts: [{ name: 'web1', address: '198.51.100.11', hostKey: web1.hostKey }],
  steps: lockdownPlanSteps(web1, ['198.51.100.1/32'], ['/usr/sbin/sshd'], 60),
};
const base: Partial<ApprovalRequest> = { plan: lockdownPlan, planHash: planHash(lockdownPlan) };
const granted: Partial<ApprovalRequest> = {
  ...base,
  approvals: [
    { user: 'U0APPROVE1', at: T },
    { user: 'U0APPROVE2', at: T + 30_000 },
  ],
  requesterMfa: 'verified',
};
const ran: Partial<ApprovalRequest> = { ...granted, startedAt: T + 31_000, finishedAt: T + 95_000 };
const states: Record<string, Partial<ApprovalRequest>> = {
  pending: { ...base },
  'pending-one-vote': { ...base, approvals: [{ user: 'U0APPROVE1', at: T }], requesterMfa: 'verified' },
  granted: { ...granted, status: 'approved' },
  running: { ...granted, status: 'running', startedAt: T + 31_000 },
  denied: { ...base, status: 'denied', deniedBy: { user: 'U0APPROVE2', at: T } },
  expired: { ...base, status: 'expired', expiredAt: 1_760_000_900_000 },
  cancelled: { ...base, status: 'cancelled', cancelledAt: T },
  'plan-changed': { ...granted, status: 'plan_changed' },
  interrupted: {
    ...ran,
    status: 'interrupted',
    interruption: 'the ward process running it stopped without finishing it (crash or kill)',
  },
  succeeded: {
    ...ran,
    status: 'succeeded',
    result: { outcome: 'succeeded', summary: 'web1 is locked down; management SSH still works.' },
  },
  'dry-run': {
    ...ran,
    status: 'dry_run',
    result: {
      outcome: 'dry_run',
      dryRun: true,
      summary:
        'Dry run (WARD_DRY_RUN=1): nothing changed. Approved and planned; not run: Apply nftables table ward_lockdown on web1 (198.51.100.11).',
    },
  },
  // Stored before dry_run was an outcome of its own: still reads as a dry run.
  'dry-run-stored-as-succeeded': {
    ...ran,
    status: 'succeeded',
    result: { outcome: 'succeeded', dryRun: true, summary: 'Dry run (WARD_DRY_RUN=1): nothing changed.' },
  },
  failed: {
    ...ran,
    status: 'failed',
    result: {
      outcome: 'failed',
      summary: 'lockdown: ✗ web1: SSH connection refused before the first step; nothing was changed.',
    },
  },
  partial: {
    ...ran,
    status: 'partial',
    result: {
      outcome: 'partial',
      summary:
        'lockdown: ✓ web1: evidence collected, ruleset saved, watchdog started; ✗ web1: nft -f - exited 1 (Error: Could not process rule); the watchdog removes anything applied within 60 s.',
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
    for (const name of ['dry-run', 'dry-run-stored-as-succeeded']) {
      const text = JSON.stringify(renderApprovalMessage(sampleRequest(states[name])));
      expect(text).toContain('Dry run: nothing changed');
      expect(text).toContain('Dry run: lockdown on web1');
      expect(text).not.toMatch(/succeeded|Done:/i);
    }
  });

  it('a pending request says who, what, why and what the policy needs before its buttons, and no shell', () => {
    const { blocks } = renderApprovalMessage(sampleRequest(states['pending']));
    const buttons = blocks!.findIndex((b) => b.type === 'actions');
    const above = JSON.stringify(blocks!.slice(0, buttons));
    expect(above).toContain('*Requested by* <@U0REQUEST1>: `lockdown` on web1 (198.51.100.11)');
    expect(above).toContain('*Why:* `INC-42: outbound to known C2`');
    expect(above).toMatch(
      /\*Needs\* 2 of \*approver\*, \*admin\* \(0 so far\) · \*MFA:\* requester .* · \*expires\* 09:08 UTC/,
    );
    const all = JSON.stringify(blocks);
    // Step titles only: the nftables script and the other commands sit behind "Show exact plan".
    expect(all).not.toContain('nft -f');
    expect(all).not.toContain('table inet');
    expect(all).toContain(SHOW_PLAN_ACTION);
  });

  it('the exact plan shows every command of the hashed plan under its hash', () => {
    const { blocks, fits } = renderExactPlanBlocks(lockdownPlan, planHash(lockdownPlan));
    expect(fits).toBe(true);
    golden('plan-exact-lockdown', blocks);
    const text = JSON.stringify(blocks);
    expect(text).toContain(planHash(lockdownPlan));
    for (const step of lockdownPlan.steps)
      for (const c of step.commands)
        expect(text).toContain(
          JSON.stringify(c.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'))
            .slice(1, -1)
            .slice(0, 60),
        );
  });

  it('a plan too large for a modal is not cut: it is marked to go to the thread as a file', () => {
    const big: Plan = {
      ...lockdownPlan,
      steps: Array.from({ length: 120 }, (_, i) => ({ id: `s${i}`, title: `step ${i}`, commands: ['true'] })),
    };
    expect(renderExactPlanBlocks(big, planHash(big)).fits).toBe(false);
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
