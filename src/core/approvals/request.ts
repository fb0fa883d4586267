import type { CommandPolicy } from '../../config/policy.js';
import type { ExecutionReport, Plan } from '../plan-types.js';

/**
 * The life of an approval request:
 *
 *   pending ──(enough approvals, requester factor done)──▶ approved ──(execution claim)──▶ running ──▶ succeeded
 *      │                                                      │                                      ├─▶ failed
 *      ├──▶ denied (any eligible Deny)                        └──▶ plan_changed (rebuilt plan differs) ├─▶ partial
 *      ├──▶ cancelled (by the requester)                                                               └─▶ interrupted
 *      └──▶ expired (clock past expiresAt, seen by a click or by the sweep)
 *
 * `interrupted`: the execution was declared interrupted (shutdown past its grace period, or its ward process died);
 * its effect is partly unknown and the thread says what had been done. Final: a late report never overwrites it.
 */
export type RequestStatus =
  | 'pending'
  | 'approved'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'partial'
  | 'interrupted'
  | 'denied'
  | 'cancelled'
  | 'expired'
  | 'plan_changed';

export interface Vote {
  user: string;
  /** Epoch ms. */
  at: number;
}

/** Stored as JSON under `ward:request:<id>`; every change goes through a compare-and-set on the whole value. */
export interface ApprovalRequest {
  id: string;
  /** Incremented on every transition; the message is re-rendered until it shows the latest version. */
  version: number;
  command: string;
  args: Record<string, unknown>;
  /**
   * The command text after `/ward`, as given. Never replayed: an interrupted execution's "Re-run through approval"
   * parses it again as a new request. Absent on requests stored before it was recorded.
   */
  text?: string | undefined;
  reason?: string | undefined;
  requester: string;
  channel: string;
  /** The approval message, once posted. */
  message?: { channel: string; ts: string } | undefined;
  plan: Plan;
  /** sha256 of the plan as approved: execution rebuilds the plan and refuses to run a different one. */
  planHash: string;
  policy: Pick<CommandPolicy, 'approvals' | 'approvers' | 'mfa' | 'enforcement' | 'expiresMs'>;
  /** Approvals this request needs (0 for a break-glass override or an advisory policy). */
  approvalsNeeded: number;
  /** Whether each approver must pass MFA before their vote counts. */
  approverMfa: boolean;
  requesterMfa: 'not_required' | 'pending' | 'verified';
  /** Which MFA provider the request was made with: code (modal) or push. */
  mfaKind: 'code' | 'push';
  createdAt: number;
  expiresAt: number;
  status: RequestStatus;
  approvals: Vote[];
  deniedBy?: Vote | undefined;
  cancelledAt?: number | undefined;
  expiredAt?: number | undefined;
  breakGlass?: { user: string; reason: string } | undefined;
  /** Set when the policy is advisory and the request ran without what the policy asks for. */
  advisory?: boolean | undefined;
  startedAt?: number | undefined;
  finishedAt?: number | undefined;
  /** `dryRun`: WARD_DRY_RUN kept the approved plan from running (outcome `succeeded`, nothing changed). */
  result?: { outcome: ExecutionReport['outcome']; summary: string; dryRun?: true } | undefined;
  /** Why the execution was declared interrupted, in words for the message (status `interrupted`). */
  interruption?: string | undefined;
}

export { newApprovalRequestId, REQUEST_ID_PATTERN } from '../ids.js';

export function requestKey(id: string): string {
  return `ward:request:${id}`;
}

export function executionClaimKey(id: string): string {
  return `ward:request:${id}:exec`;
}

/** What a transition says about itself: `ok` when it changed the request, else why not. */
export type TransitionResult =
  | 'ok'
  | 'expired'
  | 'not_pending'
  | 'self_approval'
  | 'already_voted'
  | 'not_requester'
  | 'no_factor_pending';

export interface Transition {
  next: ApprovalRequest | null;
  result: TransitionResult;
}

const unchanged = (result: TransitionResult): Transition => ({ next: null, result });

/** Marks a pending request expired when the clock has passed its expiry. */
export function expireIfDue(req: ApprovalRequest, now: number): Transition {
  if (req.status !== 'pending' || now < req.expiresAt) return unchanged('not_pending');
  return { next: { ...req, status: 'expired', expiredAt: now }, result: 'ok' };
}

/** A pending request moves to approved once it has its approvals and the requester's factor. */
function promote(req: ApprovalRequest): ApprovalRequest {
  if (
    req.status === 'pending' &&
    req.approvals.length >= req.approvalsNeeded &&
    req.requesterMfa !== 'pending'
  ) {
    return { ...req, status: 'approved' };
  }
  return req;
}

/** Every click first checks the state and the clock: nothing changes a request that is final or expired. */
function guard(req: ApprovalRequest, now: number): Transition | undefined {
  if (req.status === 'pending' && now >= req.expiresAt) {
    return { next: { ...req, status: 'expired', expiredAt: now }, result: 'expired' };
  }
  if (req.status !== 'pending') return unchanged('not_pending');
  return undefined;
}

/** Eligibility (roles, groups) is checked by the caller at click time; this enforces what the state knows. */
export function approve(req: ApprovalRequest, user: string, now: number): Transition {
  const blocked = guard(req, now);
  if (blocked) return blocked;
  if (user === req.requester) return unchanged('self_approval');
  if (req.approvals.some((v) => v.user === user)) return unchanged('already_voted');
  return { next: promote({ ...req, approvals: [...req.approvals, { user, at: now }] }), result: 'ok' };
}

export function deny(req: ApprovalRequest, user: string, now: number): Transition {
  const blocked = guard(req, now);
  if (blocked) return blocked;
  if (user === req.requester) return unchanged('self_approval');
  return { next: { ...req, status: 'denied', deniedBy: { user, at: now } }, result: 'ok' };
}

export function cancel(req: ApprovalRequest, user: string, now: number): Transition {
  const blocked = guard(req, now);
  if (blocked) return blocked;
  if (user !== req.requester) return unchanged('not_requester');
  return { next: { ...req, status: 'cancelled', cancelledAt: now }, result: 'ok' };
}

export function requesterVerified(req: ApprovalRequest, user: string, now: number): Transition {
  const blocked = guard(req, now);
  if (blocked) return blocked;
  if (user !== req.requester) return unchanged('not_requester');
  if (req.requesterMfa !== 'pending') return unchanged('no_factor_pending');
  return { next: promote({ ...req, requesterMfa: 'verified' }), result: 'ok' };
}

/** Only the holder of the execution claim calls these. */
export function startRunning(req: ApprovalRequest, now: number): Transition {
  if (req.status !== 'approved') return unchanged('not_pending');
  return { next: { ...req, status: 'running', startedAt: now }, result: 'ok' };
}

/**
 * A start that did not happen: ward moved the request to running, then could not confirm the execution record (or
 * the claim, or the running state itself) before anything ran. Back to approved, so that the next attempt (a click,
 * the sweep) runs it. Only the caller that has checked that no execution record exists may use it.
 */
export function unstart(req: ApprovalRequest): Transition {
  if (req.status !== 'running') return unchanged('not_pending');
  const { startedAt: _startedAt, ...rest } = req;
  return { next: { ...rest, status: 'approved' }, result: 'ok' };
}

export function planChanged(req: ApprovalRequest, now: number): Transition {
  if (req.status !== 'approved') return unchanged('not_pending');
  return { next: { ...req, status: 'plan_changed', finishedAt: now }, result: 'ok' };
}

export function finish(req: ApprovalRequest, report: ExecutionReport, now: number): Transition {
  if (req.status !== 'running') return unchanged('not_pending');
  return {
    next: {
      ...req,
      status: report.outcome,
      finishedAt: now,
      result: {
        outcome: report.outcome,
        summary: report.summary,
        ...(report.dryRun ? { dryRun: true as const } : {}),
      },
    },
    result: 'ok',
  };
}

/**
 * The execution was declared interrupted (its record says so): only a running request moves, so that this and a
 * late finish() cannot both win, and a request that had already finished keeps its outcome.
 */
export function interrupt(req: ApprovalRequest, reason: string, now: number): Transition {
  if (req.status !== 'running') return unchanged('not_pending');
  return { next: { ...req, status: 'interrupted', finishedAt: now, interruption: reason }, result: 'ok' };
}

/** A newly created request: approved at once when it needs no approval and no requester factor. */
export function initialState(req: ApprovalRequest): ApprovalRequest {
  return promote(req);
}
