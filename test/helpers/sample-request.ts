import type { ApprovalRequest } from '../../src/core/approvals/request.js';

/** A lockdown request as stored, for unit tests of transitions and rendering. */
export function sampleRequest(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: 'r-7f3a9c',
    version: 1,
    command: 'lockdown',
    args: { host: 'web1' },
    reason: 'INC-42: outbound to known C2',
    requester: 'U0REQUEST1',
    channel: 'C0INCIDENT',
    plan: {
      command: 'lockdown',
      args: { host: 'web1' },
      hosts: [{ name: 'web1', address: '198.51.100.11', hostKey: `SHA256:${'A'.repeat(43)}` }],
      steps: [
        {
          id: 'apply',
          title: 'Apply nftables table ward_lockdown on web1 (198.51.100.11)',
          host: 'web1',
          commands: ['nft -f -'],
        },
      ],
    },
    planHash: 'abc',
    policy: {
      approvals: 2,
      approvers: ['approver', 'admin'],
      mfa: 'requester',
      enforcement: 'hard',
      expiresMs: 900_000,
    },
    approvalsNeeded: 2,
    approverMfa: false,
    requesterMfa: 'pending',
    mfaKind: 'code',
    createdAt: 1_760_000_000_000,
    expiresAt: 1_760_000_900_000,
    status: 'pending',
    approvals: [],
    ...overrides,
  };
}
