import type { CommandPolicy } from '../../config/policy.js';
import type { ApprovalRequest } from './request.js';

/** What a new request needs before it may run, decided from its policy alone (pure; no I/O). */
export interface Requirements {
  /** Approvals to collect (0 for a break-glass override or an advisory policy). */
  approvalsNeeded: number;
  /** Each approver confirms their vote with their second factor. */
  approverMfa: boolean;
  /** The requester confirms the request with their second factor. */
  requesterMfa: boolean;
  /** The policy is advisory: the request runs without what the policy asks for, loudly. */
  advisory: boolean;
}

/** Whether the policy asks the requester for a second factor (which ward itself cannot give). */
export function asksRequesterFactor(policy: Pick<CommandPolicy, 'mfa'>): boolean {
  return policy.mfa === 'requester' || policy.mfa === 'both';
}

/**
 * What a request needs. A break-glass override skips approvals but not the requester's own factor; an advisory
 * policy asks for nothing and says so.
 */
export function requirementsFor(
  policy: Pick<CommandPolicy, 'approvals' | 'mfa' | 'enforcement'>,
  options: { breakGlass: boolean },
): Requirements {
  let approvalsNeeded = policy.approvals;
  let advisory = false;
  if (options.breakGlass) {
    approvalsNeeded = 0;
  } else if (policy.enforcement === 'advisory' && (policy.approvals > 0 || policy.mfa !== 'none')) {
    advisory = true;
    approvalsNeeded = 0;
  }
  return {
    approvalsNeeded,
    approverMfa: !advisory && approvalsNeeded > 0 && (policy.mfa === 'approvers' || policy.mfa === 'both'),
    requesterMfa: !advisory && asksRequesterFactor(policy),
    advisory,
  };
}

/** Why a person may not vote on a request, or undefined when they may. `isApprover` is judged fresh, at the click. */
export type VoteRefusal = 'own_request' | 'not_an_approver' | 'already_approved';

export function voteRefusal(
  req: ApprovalRequest,
  user: string,
  vote: 'approve' | 'deny',
  isApprover: boolean,
): VoteRefusal | undefined {
  if (user === req.requester) return 'own_request';
  if (!isApprover) return 'not_an_approver';
  if (vote === 'approve' && req.approvals.some((v) => v.user === user)) return 'already_approved';
  return undefined;
}

/**
 * Whether a newly approved request decided something worth counting: a break-glass override counts as
 * `overridden`; a request whose policy asked for nothing (or was advisory) decided nothing.
 */
export function grantOutcome(req: ApprovalRequest): 'overridden' | 'approved' | undefined {
  if (req.breakGlass) return 'overridden';
  if (req.advisory || (req.approvalsNeeded === 0 && req.requesterMfa === 'not_required')) return undefined;
  return 'approved';
}

/** Where a click (or the code window opened from one) came from: the message that held the button. */
export interface ClickOrigin {
  channel?: string | undefined;
  ts?: string | undefined;
}

/**
 * Whether a click (or a window opened from one) came from the request's own message, as stored with it. The same
 * button (action id + request id) copied into a message elsewhere (another channel, a copy, a thread) must not
 * vote, deny or cancel from out of sight. A request whose message was never recorded (its store write lost, e.g.
 * Redis killed just after the post) can still be decided, but only from its own channel.
 */
export function fromRequestMessage(req: ApprovalRequest, from: ClickOrigin): boolean {
  if (req.message === undefined) return from.channel === req.channel;
  return from.channel === req.message.channel && from.ts === req.message.ts;
}
