import type { CommandPolicy } from '../../config/policy.js';
import { PermissionDeniedError, UserInputError, WardError } from '../../errors.js';
import type { MfaProvider } from '../../ports/mfa.js';
import type { Factor, Recipient, RequestNotice } from '../../ports/request-notifier.js';
import { planHash } from '../plan.js';
import type { Plan } from '../plan-types.js';
import { type ApprovalDeps, redraw, type Track } from './deps.js';
import { explainFinal, explainRefusal } from './explain.js';
import {
  type ApprovalRequest,
  approve,
  cancel,
  deny,
  expireIfDue,
  initialState,
  interrupt,
  newApprovalRequestId,
  REQUEST_ID_PATTERN,
  requesterVerified,
} from './request.js';
import { TamperedRequestError } from './request-seal.js';
import type { RequestStore } from './request-store.js';
import {
  type ClickOrigin,
  fromRequestMessage,
  grantOutcome,
  type Requirements,
  voteRefusal,
} from './rules.js';
import type { ApprovedRunner } from './run-approved.js';

/** A request the pipeline (src/core/requests/open-request.ts) has decided may be made, with what it needs. */
export interface NewRequest {
  command: string;
  args: Record<string, unknown>;
  /** The command text after `/ward`, kept for a re-run after an interruption. */
  text: string;
  reason: string | undefined;
  requester: string;
  channel: string;
  /** The message whose thread the request lives in (an alert's), when it was asked from under one. */
  thread?: string | undefined;
  plan: Plan;
  policy: CommandPolicy;
  requirements: Requirements;
  breakGlass: { user: string; reason: string } | undefined;
  /** The correlation id of the Slack request (or automation) that asked. */
  correlationId: string;
  /** Where to answer the requester privately, and the trigger id that can open the code window now. */
  requesterAt: Recipient;
  triggerId: string | undefined;
}

/**
 * The approval requests' service: create, vote, second factor, cancel, expire. Speaks to people only through the
 * RequestNotifier port and hands an approved request to the single execution path (ApprovedRunner).
 *
 * Invariants, each held by the store rather than by this process's memory:
 * - every state change is a compare-and-set on the request's JSON (RequestStore.update), never check-then-set;
 * - eligibility is judged at the moment of the vote (user groups fetched fresh);
 * - an approved request runs through ApprovedRunner only, which claims it once and re-checks the plan's hash.
 */
export class RequestService {
  constructor(
    private readonly deps: () => ApprovalDeps,
    readonly requests: RequestStore,
    private readonly runner: ApprovedRunner,
    private readonly mfa: () => MfaProvider,
    private readonly track: Track | undefined,
  ) {}

  /**
   * Runs what a click (or a factor) asked for; a stored record that fails its integrity check stops it, and the
   * person is told so privately (the store has reported it in the request's thread and the audit log).
   */
  private async refusingTampered(who: Recipient, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (!(err instanceof TamperedRequestError)) throw err;
      await this.tell(who, { kind: 'tampered', id: err.requestId, problem: err.problem });
    }
  }

  private background(work: Promise<unknown>): void {
    const guarded = work.catch((err) => this.deps().log.error({ err }, 'approval follow-up failed'));
    if (this.track) this.track(guarded);
  }

  // ---- create -----------------------------------------------------------------------------------------------------

  async create(n: NewRequest): Promise<ApprovalRequest> {
    const s = this.deps();
    const now = s.clock.now();
    const { requirements: needs, policy } = n;
    let req: ApprovalRequest | undefined;
    for (let attempt = 0; attempt < 5 && !req; attempt++) {
      const candidate = initialState({
        id: newApprovalRequestId(),
        version: 1,
        command: n.command,
        args: n.args,
        text: n.text,
        reason: n.reason,
        requester: n.requester,
        channel: n.channel,
        thread: n.thread,
        plan: n.plan,
        planHash: planHash(n.plan),
        policy: {
          approvals: policy.approvals,
          approvers: policy.approvers,
          mfa: policy.mfa,
          enforcement: policy.enforcement,
          expiresMs: policy.expiresMs,
        },
        approvalsNeeded: needs.approvalsNeeded,
        approverMfa: needs.approverMfa,
        requesterMfa: needs.requesterMfa ? 'pending' : 'not_required',
        mfaKind: this.mfa().kind,
        createdAt: now,
        expiresAt: now + policy.expiresMs,
        status: 'pending',
        approvals: [],
        breakGlass: n.breakGlass,
        advisory: needs.advisory || undefined,
      });
      if (await this.requests.create(candidate)) req = candidate;
    }
    if (!req) throw new Error('could not allocate a request id');
    const hosts = n.plan.hosts.map((h) => h.name);

    await s.audit.record({
      type: 'approval.requested',
      actor: n.requester,
      requestId: req.id,
      command: req.command,
      hosts,
      details: {
        planHash: req.planHash,
        approvalsNeeded: needs.approvalsNeeded,
        mfa: policy.mfa,
        enforcement: policy.enforcement,
        reason: req.reason,
        slackRequestId: n.correlationId,
      },
    });
    if (n.breakGlass) {
      await s.audit.record({
        type: 'policy.override',
        actor: n.requester,
        requestId: req.id,
        command: req.command,
        outcome: 'break_glass',
        hosts,
        details: { reason: n.breakGlass.reason, approvalsSkipped: policy.approvals },
      });
      await s.notifier.announceBreakGlass(req);
    }
    if (req.status === 'approved') await this.onGranted(req);
    if (needs.advisory) {
      await s.audit.record({
        type: 'policy.advisory',
        actor: n.requester,
        requestId: req.id,
        command: req.command,
        outcome: 'ran_without_approval',
        details: { approvals: policy.approvals, mfa: policy.mfa },
      });
      await s.notifier.announceAdvisory(req);
    }

    const posted = await s.notifier.postRequest(req);
    const r = { req: await this.runner.saveMessagePointer(req, posted) };
    if (r.req.version !== req.version + 1) await redraw(s, this.requests, req.id);

    // A slash command's trigger_id is valid for 3 s: the code window opens now, before anything slow. The window
    // names the request's message (r.req has it), which is checked again when the code comes back.
    if (req.requesterMfa === 'pending') await this.askFactor(r.req, 'requester', n.requesterAt, n.triggerId);
    if (r.req.status === 'approved') await this.runner.run(req.id);
    return r.req;
  }

  // ---- votes and factors (from clicks) ---------------------------------------------------------------------------

  /** The request as stored, expired first when its time is up (enforced on every click, not only by the sweep). */
  async current(id: string): Promise<ApprovalRequest | undefined> {
    const r = await this.requests.update(id, (req) => expireIfDue(req, this.deps().clock.now()));
    if (!r) return undefined;
    if (r.changed) await this.onExpired(r.req);
    return r.req;
  }

  /**
   * The request once its message is recorded. Slack can deliver a click on the message a moment before the process
   * that posted it has stored where it is (postMessage answered, the store write not yet done): wait that moment
   * out (up to 2 s) rather than refuse a genuine click. A request whose message never appears stays as it is.
   */
  private async withRecordedMessage(req: ApprovalRequest | undefined): Promise<ApprovalRequest | undefined> {
    for (let i = 0; req && !req.message && req.status === 'pending' && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      req = await this.requests.get(req.id);
    }
    return req;
  }

  /**
   * The pending request a click names, or undefined after telling the clicker why there is none. A click counts
   * only from the request's own message (fromRequestMessage); a vote from anywhere else is audited as refused.
   */
  private async pendingFor(
    id: string,
    who: Recipient,
    from: ClickOrigin,
    vote?: 'approve' | 'deny',
  ): Promise<ApprovalRequest | undefined> {
    if (!REQUEST_ID_PATTERN.test(id)) {
      await this.tell(who, { kind: 'not_a_request' });
      return undefined;
    }
    const req = await this.withRecordedMessage(await this.current(id));
    if (!req) {
      await this.tell(who, { kind: 'unknown_request', id });
      return undefined;
    }
    if (!fromRequestMessage(req, from)) {
      if (vote) await this.auditVote(req, who.user, vote, 'refused:other_message');
      await this.tell(who, { kind: 'other_message', req });
      return undefined;
    }
    if (req.status !== 'pending') {
      if (vote) await this.auditVote(req, who.user, vote, 'refused:not_pending');
      await this.tell(who, { kind: 'final', req });
      // Approved but not started: the click that approved it was told "not done, retry" after its vote had in fact
      // been kept, or its start failed. The person retried: start it now (the claim keeps this to one start).
      if (req.status === 'approved') await this.runner.run(req.id);
      return undefined;
    }
    return req;
  }

  /** Whether the person may vote now (roles fetched fresh); tells them (and audits) when not. */
  private async mayVote(who: Recipient, req: ApprovalRequest, vote: 'approve' | 'deny'): Promise<boolean> {
    const isApprover =
      who.user !== req.requester &&
      (await this.deps().policy.holdsAny(who.user, req.policy.approvers, { fresh: true }));
    const refusal = voteRefusal(req, who.user, vote, isApprover);
    if (refusal === undefined) return true;
    if (refusal === 'own_request') await this.auditVote(req, who.user, vote, 'refused:self_approval');
    if (refusal === 'not_an_approver') await this.auditVote(req, who.user, vote, 'refused:ineligible');
    await this.tell(who, { kind: refusal, vote, req });
    return false;
  }

  /** An Approve or Deny click on the message at `from`. */
  async vote(
    id: string,
    vote: 'approve' | 'deny',
    who: Recipient,
    from: ClickOrigin,
    triggerId: string | undefined,
  ): Promise<void> {
    await this.refusingTampered(who, async () => {
      const req = await this.pendingFor(id, who, from, vote);
      if (!req || !(await this.mayVote(who, req, vote))) return;
      if (vote === 'deny') return this.applyDenial(req.id, who);
      if (req.approverMfa) return this.askFactor(req, 'approver', who, triggerId);
      await this.applyApproval(req.id, who);
    });
  }

  /** The requester's Cancel click on the message at `from`. */
  async withdraw(id: string, who: Recipient, from: ClickOrigin): Promise<void> {
    await this.refusingTampered(who, async () => {
      if (!(await this.pendingFor(id, who, from))) return;
      try {
        await this.cancel(id, who.user);
      } catch (err) {
        if (!(err instanceof WardError) || err instanceof TamperedRequestError) throw err;
        await this.tell(who, { kind: 'message', text: err.userMessage });
      }
    });
  }

  /** The requester's "enter MFA code" click. */
  async confirmRequester(
    id: string,
    who: Recipient,
    from: ClickOrigin,
    triggerId: string | undefined,
  ): Promise<void> {
    await this.refusingTampered(who, async () => {
      const req = await this.pendingFor(id, who, from);
      if (!req) return;
      if (who.user !== req.requester) return this.tell(who, { kind: 'requester_factor_only', req });
      if (req.requesterMfa !== 'pending') return this.tell(who, { kind: 'no_factor_pending', req });
      await this.askFactor(req, 'requester', who, triggerId);
    });
  }

  /**
   * A code typed into the window. Returns what to show under the input when it is refused; on success the window
   * closes and the vote, the message update and any execution continue in the background. `from` is the request
   * message the window was opened from (ward writes it into the window's metadata): a window that names no message,
   * or another one, is not a factor for this request.
   */
  async submitCode(
    id: string,
    factor: Factor,
    user: string,
    code: string,
    from: ClickOrigin,
  ): Promise<RequestNotice | undefined> {
    try {
      return await this.checkCode(id, factor, user, code, from);
    } catch (err) {
      if (!(err instanceof TamperedRequestError)) throw err;
      return { kind: 'tampered', id: err.requestId, problem: err.problem };
    }
  }

  private async checkCode(
    id: string,
    factor: Factor,
    user: string,
    code: string,
    from: ClickOrigin,
  ): Promise<RequestNotice | undefined> {
    if (!REQUEST_ID_PATTERN.test(id)) return { kind: 'not_a_request' };
    const req = await this.current(id);
    if (!req) return { kind: 'unknown_request', id };
    if (req.status !== 'pending') return { kind: 'final', req };
    if (!fromRequestMessage(req, from)) {
      if (factor === 'approver') await this.auditVote(req, user, 'approve', 'refused:other_message');
      return { kind: 'other_window', req };
    }
    if (factor === 'approver') {
      if (user === req.requester) return { kind: 'own_request', vote: 'approve', req };
      if (!(await this.deps().policy.holdsAny(user, req.policy.approvers, { fresh: true }))) {
        await this.auditVote(req, user, 'approve', 'refused:ineligible');
        return { kind: 'not_an_approver', vote: 'approve', req };
      }
      if (req.approvals.some((v) => v.user === user)) return { kind: 'already_approved', req };
    } else if (user !== req.requester || req.requesterMfa !== 'pending') {
      return { kind: 'no_factor_pending', req };
    }
    const outcome = await this.checkFactor(req, factor, user, code);
    if (outcome) return outcome;
    const who = { user, channel: req.channel };
    this.background(this.refusingTampered(who, () => this.factorPassed(id, factor, who)));
    return undefined;
  }

  private async applyApproval(id: string, who: Recipient): Promise<void> {
    const s = this.deps();
    const r = await this.requests.update(id, (req) => approve(req, who.user, s.clock.now()));
    if (!r) return;
    await this.auditVote(r.req, who.user, 'approve', r.changed ? 'approved' : `refused:${r.result}`);
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed || r.result !== 'ok')
      return this.tell(who, { kind: 'refused', result: r.result, req: r.req });
    if (!(await this.advance(r.req))) await this.tell(who, { kind: 'vote_recorded', req: r.req });
  }

  private async applyDenial(id: string, who: Recipient): Promise<void> {
    const s = this.deps();
    const r = await this.requests.update(id, (x) => deny(x, who.user, s.clock.now()));
    if (!r) return;
    await this.auditVote(r.req, who.user, 'deny', r.changed ? 'denied' : `refused:${r.result}`);
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed || r.result !== 'ok')
      return this.tell(who, { kind: 'refused', result: r.result, req: r.req });
    s.metrics.approvalDecided(r.req.command, 'denied');
    await s.audit.record({
      type: 'approval.denied',
      actor: who.user,
      requestId: id,
      command: r.req.command,
      outcome: 'denied',
    });
    await redraw(s, this.requests, id);
  }

  private async askFactor(
    req: ApprovalRequest,
    factor: Factor,
    who: Recipient,
    triggerId: string | undefined,
  ): Promise<void> {
    const s = this.deps();
    if (this.mfa().kind === 'push') {
      await this.tell(who, { kind: 'push_sent', req });
      this.background(this.refusingTampered(who, () => this.pushFactor(req.id, factor, who)));
      return;
    }
    // A code window for someone with no authenticator enrolled only fails after they type: say how to enrol instead.
    if (factor === 'approver' && !(await this.mfa().status(who.user)).enrolled) {
      return this.tell(who, {
        kind: 'message',
        text: `Approving \`${req.id}\` needs your MFA code, and you have no authenticator enrolled yet: run \`/ward mfa enroll\` (ward sends the QR code by direct message), then click Approve again. Your approval was not counted.`,
      });
    }
    if (triggerId === undefined) return this.tell(who, { kind: 'click_to_confirm', req });
    try {
      await s.notifier.askCode(triggerId, req, factor);
    } catch (err) {
      s.log.warn({ err, approvalRequestId: req.id }, 'could not open the MFA modal');
      await this.tell(who, { kind: 'window_failed', factor, req });
    }
  }

  private async pushFactor(id: string, factor: Factor, who: Recipient): Promise<void> {
    const req = await this.requests.get(id);
    if (!req) return;
    const refused = await this.checkFactor(req, factor, who.user, undefined);
    if (refused) return this.tell(who, refused);
    await this.factorPassed(id, factor, who);
  }

  /** Verifies the factor (audited: outcome only, never the code). Returns the refusal, or undefined when it passed. */
  private async checkFactor(
    req: ApprovalRequest,
    factor: Factor,
    user: string,
    code: string | undefined,
  ): Promise<RequestNotice | undefined> {
    const s = this.deps();
    const mfa = this.mfa();
    let outcome: Awaited<ReturnType<MfaProvider['verify']>>;
    try {
      outcome = await mfa.verify(user, { code, context: `${req.command} ${req.id}` });
    } catch (err) {
      await s.audit.record({
        type: 'mfa.attempt',
        actor: user,
        requestId: req.id,
        outcome: 'unavailable',
        details: { factor, provider: mfa.name },
      });
      if (err instanceof WardError) return { kind: 'message', text: err.userMessage };
      throw err;
    }
    await s.audit.record({
      type: 'mfa.attempt',
      actor: user,
      requestId: req.id,
      command: req.command,
      outcome: outcome.ok ? 'success' : outcome.reason,
      details: { factor, provider: mfa.name },
    });
    return outcome.ok ? undefined : { kind: 'message', text: outcome.message };
  }

  /** After a valid factor: the vote counts (approver) or the request may proceed (requester). */
  private async factorPassed(id: string, factor: Factor, who: Recipient): Promise<void> {
    if (factor === 'approver') return this.applyApproval(id, who);
    const s = this.deps();
    const r = await this.requests.update(id, (req) => requesterVerified(req, who.user, s.clock.now()));
    if (!r) return;
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed) return this.tell(who, { kind: 'refused', result: r.result, req: r.req });
    await this.advance(r.req);
  }

  /** After a vote or a factor changed a request: redraws it and, once approved, runs it. Returns whether it did. */
  private async advance(req: ApprovalRequest): Promise<boolean> {
    await redraw(this.deps(), this.requests, req.id);
    if (req.status !== 'approved') return false;
    await this.onGranted(req);
    await this.runner.run(req.id);
    return true;
  }

  // ---- cancel, interruption, expiry --------------------------------------------------------------------------------

  /** `/ward cancel <id>` and the Cancel button: only the requester may. Throws a WardError explaining a refusal. */
  async cancel(requestId: string, user: string): Promise<void> {
    const s = this.deps();
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      throw new UserInputError(
        `\`${requestId.slice(0, 40)}\` is not a request id (they look like r-7f3a9c).`,
      );
    }
    const before = await this.current(requestId);
    if (!before) throw new UserInputError(`There is no request \`${requestId}\`.`);
    if (before.status !== 'pending') throw new UserInputError(explainFinal(before));
    if (user !== before.requester) {
      throw new PermissionDeniedError(
        `Only the requester, <@${before.requester}>, may cancel \`${requestId}\`. Approvers can *Deny* it instead.`,
      );
    }
    const r = await this.requests.update(requestId, (req) => cancel(req, user, s.clock.now()));
    if (!r) throw new UserInputError(`There is no request \`${requestId}\`.`);
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed || r.result !== 'ok') throw new UserInputError(explainRefusal(r.result, r.req));
    s.metrics.approvalDecided(r.req.command, 'cancelled');
    await s.audit.record({
      type: 'approval.cancelled',
      actor: user,
      requestId,
      command: r.req.command,
      outcome: 'cancelled',
    });
    await redraw(s, this.requests, requestId);
  }

  /**
   * The execution of this request was declared interrupted (src/core/recovery.ts): the request ends as
   * `interrupted` and its message is redrawn. Does nothing to a request that is not running.
   */
  async interrupted(requestId: string, reason: string): Promise<void> {
    const s = this.deps();
    const r = await this.requests.update(requestId, (req) => interrupt(req, reason, s.clock.now()));
    if (r?.changed) await redraw(s, this.requests, requestId);
  }

  /** Expires the request when its time is up (the sweep). Returns whether this call expired it. */
  async expireIfDue(id: string): Promise<boolean> {
    const r = await this.requests.update(id, (x) => expireIfDue(x, this.deps().clock.now()));
    if (r?.changed) await this.onExpired(r.req);
    return r?.changed === true;
  }

  /** A request has just become approved: counted, and audited as granted when a policy decided something. */
  private async onGranted(req: ApprovalRequest): Promise<void> {
    const s = this.deps();
    const outcome = grantOutcome(req);
    if (outcome === undefined) return;
    s.metrics.approvalDecided(req.command, outcome);
    if (outcome === 'overridden') return;
    await s.audit.record({
      type: 'approval.granted',
      actor: req.requester,
      requestId: req.id,
      command: req.command,
      outcome: 'approved',
      details: { approvers: req.approvals.map((v) => v.user), requesterMfa: req.requesterMfa },
    });
  }

  private async onExpired(req: ApprovalRequest): Promise<void> {
    const s = this.deps();
    s.metrics.approvalDecided(req.command, 'expired');
    await s.audit.record({
      type: 'approval.expired',
      requestId: req.id,
      command: req.command,
      actor: req.requester,
      outcome: 'expired',
      details: { approvals: req.approvals.length, needed: req.approvalsNeeded },
    });
    await redraw(s, this.requests, req.id);
  }

  private async auditVote(req: ApprovalRequest, user: string, vote: 'approve' | 'deny', outcome: string) {
    await this.deps().audit.record({
      type: 'approval.vote',
      actor: user,
      requestId: req.id,
      command: req.command,
      outcome,
      details: { vote },
    });
  }

  private tell(who: Recipient, notice: RequestNotice): Promise<void> {
    return this.deps().notifier.tell(who, notice);
  }
}
