import type { ApprovalRequest, TransitionResult } from './request.js';

/** Why a click on a request that is no longer pending changes nothing. */
export function explainFinal(req: ApprovalRequest): string {
  const base = `Request \`${req.id}\``;
  switch (req.status) {
    case 'pending':
      return `${base} is still waiting for approval.`;
    case 'approved':
    case 'running':
      return `${base} is already approved and running; votes no longer change it.`;
    case 'dry_run':
      return `${base} was a dry run (WARD_DRY_RUN=1): nothing changed then, and votes change nothing now.`;
    case 'succeeded':
    case 'failed':
    case 'partial':
      return `${base} already ran (${req.status}); nothing changed.`;
    case 'interrupted':
      return `${base} was interrupted while running; nothing changed. The thread has a button to ask for it again.`;
    case 'denied':
      return `${base} was denied by <@${req.deniedBy?.user ?? '?'}>; nothing changed.`;
    case 'cancelled':
      return `${base} was cancelled by the requester; nothing changed.`;
    case 'expired':
      return `${base} has expired; nothing changed. Make a new request if it is still needed.`;
    case 'plan_changed':
      return `${base} was not run because its plan changed; make a new request.`;
  }
}

/** Why the state machine refused a transition. */
export function explainRefusal(result: TransitionResult, req: ApprovalRequest): string {
  switch (result) {
    case 'self_approval':
      return `You asked for \`${req.id}\`, so you cannot vote on it.`;
    case 'already_voted':
      return `You already approved \`${req.id}\`; approvals must come from distinct people.`;
    case 'not_requester':
      return `Only the requester, <@${req.requester}>, may do that on \`${req.id}\`.`;
    case 'no_factor_pending':
      return `There is no second factor left to confirm on \`${req.id}\`.`;
    default:
      return explainFinal(req);
  }
}
