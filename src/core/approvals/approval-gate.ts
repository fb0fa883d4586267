import { hostname } from 'node:os';
import {
  NotDurableError,
  PermissionDeniedError,
  StoreUnavailableError,
  UserInputError,
  WardError,
} from '../../errors.js';
import { approvalsTotal } from '../../metrics.js';
import type { ChatMessage } from '../../ports/chat.js';
import type { MfaProvider } from '../../ports/mfa.js';
import {
  APPROVE_ACTION,
  CANCEL_ACTION,
  DENY_ACTION,
  MFA_BLOCK_ID,
  MFA_CALLBACK_ID,
  MFA_INPUT_ID,
  renderAdvisoryWarning,
  renderApprovalMessage,
  renderBreakGlassAnnouncement,
  renderMfaModal,
  VERIFY_ACTION,
} from '../../render/approval.js';
import { context, esc, section } from '../../render/blocks.js';
import type { CommandContext, Invocation, Plan, Replier } from '../command.js';
import { runExecution } from '../execution.js';
import { ExecutionAlreadyRanError } from '../executions.js';
import type { ChangeGate } from '../gate.js';
import type { ActionEvent, InteractionRouter, ViewEvent, ViewResult } from '../interactions.js';
import { planHash } from '../plan.js';
import type { Services } from '../services.js';
import {
  type ApprovalRequest,
  approve,
  cancel,
  deny,
  executionClaimKey,
  expireIfDue,
  finish,
  initialState,
  interrupt,
  newApprovalRequestId,
  planChanged,
  REQUEST_ID_PATTERN,
  requesterVerified,
  startRunning,
  type TransitionResult,
  unstart,
} from './request.js';
import { RequestStore } from './request-store.js';

/**
 * The execution claim outlives any execution. It is given back only by a start that provably did not happen (no
 * execution record): the record (ExecutionLedger.begin, durable, first writer wins) is what keeps a request from
 * running twice, the claim keeps two processes from preparing the same run at once.
 */
const CLAIM_TTL_MS = 90 * 24 * 60 * 60_000;
/**
 * A claim this old on a request that has no execution record belongs to a start that failed and could not be given
 * back (the store was failing over): the sweep gives it back. Far longer than a claim takes to become a record.
 */
const DEFAULT_UNSTARTED_GRACE_MS = 60_000;
/** Saving the approval message's place is retried for about as long as a Sentinel failover takes. */
const MESSAGE_POINTER_ATTEMPTS = 10;
const MESSAGE_POINTER_RETRY_MS = 1000;
const DEFAULT_SWEEP_INTERVAL_MS = 15_000;

type Factor = 'requester' | 'approver';

export interface ApprovalGateOptions {
  mfa: MfaProvider;
  /** Work that continues after Slack was answered (e.g. an execution after a modal closed): shutdown waits for it. */
  track?: (work: Promise<unknown>) => void;
  sweepIntervalMs?: number;
  /** How old a claim without an execution record must be before the sweep gives it back (default 60 s). */
  unstartedGraceMs?: number;
}

/** Who clicked, and how to answer them privately. */
interface Clicker {
  user: string;
  channel?: string | undefined;
  responseUrl?: string | undefined;
}

/**
 * The approval flow for `change` commands: a request in the store, votes by button, a second factor in a modal
 * (or a Duo push), and exactly one execution of exactly the plan that was approved.
 *
 * Invariants, each held by the store rather than by this process's memory:
 * - every state change is a compare-and-set on the request's JSON (RequestStore.update), never check-then-set;
 * - only the process that wins `setIfAbsent(ward:request:<id>:exec)` executes, and it never releases the claim;
 * - eligibility is judged at the moment of the click (user groups fetched fresh);
 * - the plan is rebuilt just before execution and must hash to what was approved.
 */
export class ApprovalGate implements ChangeGate {
  readonly requests: RequestStore;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly owner = `${hostname()}:${process.pid}`;

  constructor(
    private readonly services: () => Services,
    private readonly options: ApprovalGateOptions,
  ) {
    this.requests = new RequestStore(() => this.services().store);
  }

  /** Registers the buttons (`approval.*`) and the MFA modal (`mfa.verify`). */
  register(router: InteractionRouter): void {
    router.onAction('approval.', (event) => this.onAction(event));
    router.onView(MFA_CALLBACK_ID, (event) => this.onMfaView(event));
  }

  /** Starts the periodic expiry sweep. */
  start(): void {
    const interval = this.options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.timer = setInterval(() => {
      // One sweep at a time; a slow one (Slack rate limits) is not stacked on.
      if (this.sweeping) return;
      this.sweeping = true;
      this.background(
        this.sweep()
          .catch((err) => this.services().log.warn({ err }, 'approval sweep failed'))
          .finally(() => {
            this.sweeping = false;
          }),
      );
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private background(work: Promise<unknown>): void {
    const log = this.services().log;
    const guarded = work.catch((err) => log.error({ err }, 'approval follow-up failed'));
    if (this.options.track) this.options.track(guarded);
  }

  // ---- submitting a request ---------------------------------------------------------------------------------

  async submit({ command, ctx, plan, policy }: Parameters<ChangeGate['submit']>[0]): Promise<void> {
    const s = this.services();
    const user = ctx.invocation.user;
    const now = s.clock.now();
    let approvalsNeeded = policy.approvals;
    let breakGlass: ApprovalRequest['breakGlass'];
    let advisory = false;

    if (ctx.flags.breakGlass) {
      if (policy.enforcement !== 'soft') {
        throw new UserInputError(
          `--break-glass only applies to commands whose policy enforcement is \`soft\`; \`${command.name}\` is \`${policy.enforcement}\`.`,
        );
      }
      if (ctx.flags.reason === undefined) {
        throw new UserInputError(
          '--break-glass needs --reason "…": an override must say why. Nothing was run.',
        );
      }
      if (!(await s.policy.holdsAny(user, policy.breakGlass, { fresh: true }))) {
        await s.audit.record({
          type: 'policy.override',
          actor: user,
          command: command.name,
          outcome: 'refused',
          hosts: plan.hosts.map((h) => h.name),
        });
        throw new PermissionDeniedError(
          policy.breakGlass.length === 0
            ? `\`${command.name}\` has no break-glass role in its policy, so nobody may override it. Nothing was run.`
            : `Only the break-glass role${policy.breakGlass.length > 1 ? 's' : ''} ${policy.breakGlass.map((r) => `*${r}*`).join(', ')} may override \`${command.name}\`. Nothing was run.`,
        );
      }
      breakGlass = { user, reason: ctx.flags.reason };
      approvalsNeeded = 0;
    } else if (policy.enforcement === 'advisory' && (policy.approvals > 0 || policy.mfa !== 'none')) {
      advisory = true;
      approvalsNeeded = 0;
    }
    const needsRequesterMfa = !advisory && (policy.mfa === 'requester' || policy.mfa === 'both');
    const approverMfa =
      !advisory && approvalsNeeded > 0 && (policy.mfa === 'approvers' || policy.mfa === 'both');
    if (needsRequesterMfa || approverMfa) this.options.mfa.assertUsable();
    if (needsRequesterMfa && this.options.mfa.kind === 'code') {
      const status = await this.options.mfa.status(user);
      if (!status.enrolled) {
        throw new UserInputError(
          `\`${command.name}\` needs your second factor, and you have no MFA enrolled yet: run \`/ward mfa enroll\` first. Nothing was run.`,
        );
      }
    }

    let req: ApprovalRequest | undefined;
    for (let attempt = 0; attempt < 5 && !req; attempt++) {
      const candidate = initialState({
        id: newApprovalRequestId(),
        version: 1,
        command: command.name,
        args: ctx.args as Record<string, unknown>,
        text: ctx.invocation.text,
        reason: ctx.flags.reason,
        requester: user,
        channel: ctx.invocation.channel,
        plan,
        planHash: planHash(plan),
        policy: {
          approvals: policy.approvals,
          approvers: policy.approvers,
          mfa: policy.mfa,
          enforcement: policy.enforcement,
          expiresMs: policy.expiresMs,
        },
        approvalsNeeded,
        approverMfa,
        requesterMfa: needsRequesterMfa ? 'pending' : 'not_required',
        mfaKind: this.options.mfa.kind,
        createdAt: now,
        expiresAt: now + policy.expiresMs,
        status: 'pending',
        approvals: [],
        breakGlass,
        advisory: advisory || undefined,
      });
      if (await this.requests.create(candidate)) req = candidate;
    }
    if (!req) throw new Error('could not allocate a request id');

    await s.audit.record({
      type: 'approval.requested',
      actor: user,
      requestId: req.id,
      command: req.command,
      hosts: plan.hosts.map((h) => h.name),
      details: {
        planHash: req.planHash,
        approvalsNeeded,
        mfa: policy.mfa,
        enforcement: policy.enforcement,
        reason: req.reason,
        slackRequestId: ctx.invocation.requestId,
      },
    });
    if (breakGlass) {
      await s.audit.record({
        type: 'policy.override',
        actor: user,
        requestId: req.id,
        command: req.command,
        outcome: 'break_glass',
        hosts: plan.hosts.map((h) => h.name),
        details: { reason: breakGlass.reason, approvalsSkipped: policy.approvals },
      });
      await s.chat.postMessage(req.channel, renderBreakGlassAnnouncement(req));
    }
    if (req.status === 'approved') await this.onGranted(req);
    if (advisory) {
      await s.audit.record({
        type: 'policy.advisory',
        actor: user,
        requestId: req.id,
        command: req.command,
        outcome: 'ran_without_approval',
        details: { approvals: policy.approvals, mfa: policy.mfa },
      });
      await s.chat.postMessage(req.channel, renderAdvisoryWarning(req));
    }

    const posted = await s.chat.postMessage(req.channel, renderApprovalMessage(req));
    const withMessage = await this.saveMessagePointer(req, posted);
    if (withMessage.version !== req.version + 1) await this.refreshMessage(req.id);

    if (req.requesterMfa === 'pending') {
      // A slash command's trigger_id is valid for 3 s: the modal opens now, before anything slow.
      await this.askFactor(
        withMessage,
        'requester',
        { user, channel: req.channel, responseUrl: ctx.invocation.responseUrl },
        ctx.invocation.triggerId,
      );
    }
    if (withMessage.status === 'approved') await this.tryExecute(req.id);
  }

  /**
   * Saves where the approval message is, once it is posted. The request itself is already durable and people can
   * see and click the message, so telling the requester "not done, retry" now would be wrong (a retry makes a second
   * request): the save is retried through a failover window, and if it still is not confirmed the request carries
   * on without it (its message is then not redrawn, and its run reports in a thread of its own).
   */
  private async saveMessagePointer(
    req: ApprovalRequest,
    message: { channel: string; ts: string },
  ): Promise<ApprovalRequest> {
    const s = this.services();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.setMessage(req.id, message);
      } catch (err) {
        if (!(err instanceof NotDurableError || err instanceof StoreUnavailableError)) throw err;
        if (attempt >= MESSAGE_POINTER_ATTEMPTS) {
          s.log.warn(
            { err, approvalRequestId: req.id },
            'could not confirm where the approval message is; the request goes on without it',
          );
          return (await this.requests.get(req.id).catch(() => undefined)) ?? req;
        }
        await new Promise((r) => setTimeout(r, MESSAGE_POINTER_RETRY_MS));
      }
    }
  }

  private async setMessage(id: string, message: { channel: string; ts: string }): Promise<ApprovalRequest> {
    const r = await this.requests.update(id, (req) => ({ next: { ...req, message }, result: 'ok' }));
    if (!r) throw new Error(`request ${id} vanished`);
    return r.req;
  }

  // ---- clicks -------------------------------------------------------------------------------------------------

  private async onAction(event: ActionEvent): Promise<void> {
    const clicker: Clicker = { user: event.user, channel: event.channel, responseUrl: event.responseUrl };
    const id = event.value;
    if (!REQUEST_ID_PATTERN.test(id)) {
      await this.tell(clicker, 'That button does not belong to a ward request.');
      return;
    }
    const req = await this.withRecordedMessage(await this.currentState(id));
    if (!req) {
      await this.tell(clicker, `Request \`${id}\` no longer exists.`);
      return;
    }
    // A click counts only on the request's own message: the same button (action id + request id) sitting in a
    // message elsewhere (another channel, a copy, a thread) must not vote, deny or cancel from out of sight.
    if (!fromRequestMessage(req, event.channel, event.messageTs)) {
      if (event.actionId === APPROVE_ACTION || event.actionId === DENY_ACTION) {
        await this.auditVote(
          req,
          event.user,
          event.actionId === APPROVE_ACTION ? 'approve' : 'deny',
          'refused:other_message',
        );
      }
      await this.tell(
        clicker,
        `That button is not on request \`${req.id}\`'s own message in <#${req.message?.channel ?? req.channel}>, so it changed nothing. Use the buttons there.`,
      );
      return;
    }
    if (req.status !== 'pending') {
      if (event.actionId === APPROVE_ACTION || event.actionId === DENY_ACTION) {
        await this.auditVote(
          req,
          event.user,
          event.actionId === APPROVE_ACTION ? 'approve' : 'deny',
          'refused:not_pending',
        );
      }
      await this.tell(clicker, explainFinal(req));
      // Approved but not started: the click that approved it was told "not done, retry" after its vote had in fact
      // been kept, or its start failed. The person retried: start it now (the claim keeps this to one start).
      if (req.status === 'approved') await this.tryExecute(req.id);
      return;
    }
    switch (event.actionId) {
      case APPROVE_ACTION:
        return this.onApprove(clicker, req, event.triggerId);
      case DENY_ACTION:
        return this.onDeny(clicker, req);
      case CANCEL_ACTION:
        return this.onCancel(clicker, req);
      case VERIFY_ACTION:
        return this.onVerify(clicker, req, event.triggerId);
      default:
        await this.tell(clicker, 'That button is not handled by this version of ward.');
    }
  }

  /** The request as stored, expired first when its time is up (enforced on every click, not only by the sweep). */
  private async currentState(id: string): Promise<ApprovalRequest | undefined> {
    const now = this.services().clock.now();
    const r = await this.requests.update(id, (req) => expireIfDue(req, now));
    if (!r) return undefined;
    if (r.changed) await this.onExpired(r.req);
    return r.req;
  }

  /**
   * The request once its message is recorded. Slack can deliver a click on the message a moment before the
   * process that posted it has stored where it is (postMessage answered, setMessage not yet done): wait that
   * moment out rather than refuse a genuine click. Bounded: a request whose message never appears stays as it is.
   */
  private async withRecordedMessage(req: ApprovalRequest | undefined): Promise<ApprovalRequest | undefined> {
    for (let i = 0; req && !req.message && req.status === 'pending' && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      req = await this.requests.get(req.id);
    }
    return req;
  }

  /** Whether the user may vote now; answers them (and audits) when not. */
  private async mayVote(clicker: Clicker, req: ApprovalRequest, vote: 'approve' | 'deny'): Promise<boolean> {
    const s = this.services();
    if (clicker.user === req.requester) {
      await this.auditVote(req, clicker.user, vote, 'refused:self_approval');
      await this.tell(
        clicker,
        vote === 'approve'
          ? `You asked for \`${req.id}\`, so you cannot approve it: someone in ${roleList(req.policy.approvers)} must.`
          : `You asked for \`${req.id}\`: use *Cancel* (or \`/ward cancel ${req.id}\`) to withdraw it.`,
      );
      return false;
    }
    if (!(await s.policy.holdsAny(clicker.user, req.policy.approvers, { fresh: true }))) {
      await this.auditVote(req, clicker.user, vote, 'refused:ineligible');
      await this.tell(
        clicker,
        `You may not ${vote} \`${req.id}\`: approvers of \`${req.command}\` must hold ${roleList(req.policy.approvers)}. Nothing changed.`,
      );
      return false;
    }
    if (vote === 'approve' && req.approvals.some((v) => v.user === clicker.user)) {
      await this.tell(
        clicker,
        `You already approved \`${req.id}\`; approvals must come from distinct people.`,
      );
      return false;
    }
    return true;
  }

  private async onApprove(clicker: Clicker, req: ApprovalRequest, triggerId: string): Promise<void> {
    if (!(await this.mayVote(clicker, req, 'approve'))) return;
    if (req.approverMfa) {
      await this.askFactor(req, 'approver', clicker, triggerId);
      return;
    }
    await this.applyApproval(req.id, clicker);
  }

  private async applyApproval(id: string, clicker: Clicker): Promise<void> {
    const s = this.services();
    const r = await this.requests.update(id, (req) => approve(req, clicker.user, s.clock.now()));
    if (!r) return;
    await this.auditVote(r.req, clicker.user, 'approve', r.changed ? 'approved' : `refused:${r.result}`);
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed || r.result !== 'ok') {
      await this.tell(clicker, explainRefusal(r.result, r.req));
      return;
    }
    if (!(await this.advance(r.req)))
      await this.tell(
        clicker,
        `Your approval of \`${id}\` is recorded (${r.req.approvals.length} of ${r.req.approvalsNeeded}).`,
      );
  }

  private async onDeny(clicker: Clicker, req: ApprovalRequest): Promise<void> {
    if (!(await this.mayVote(clicker, req, 'deny'))) return;
    const s = this.services();
    const r = await this.requests.update(req.id, (x) => deny(x, clicker.user, s.clock.now()));
    if (!r) return;
    await this.auditVote(r.req, clicker.user, 'deny', r.changed ? 'denied' : `refused:${r.result}`);
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed || r.result !== 'ok') {
      await this.tell(clicker, explainRefusal(r.result, r.req));
      return;
    }
    approvalsTotal.inc({ command: r.req.command, outcome: 'denied' });
    await s.audit.record({
      type: 'approval.denied',
      actor: clicker.user,
      requestId: req.id,
      command: r.req.command,
      outcome: 'denied',
    });
    await this.refreshMessage(req.id);
  }

  private async onCancel(clicker: Clicker, req: ApprovalRequest): Promise<void> {
    try {
      await this.cancel(req.id, clicker.user);
    } catch (err) {
      if (!(err instanceof WardError)) throw err;
      await this.tell(clicker, err.userMessage);
    }
  }

  async cancel(requestId: string, user: string): Promise<void> {
    const s = this.services();
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      throw new UserInputError(
        `\`${requestId.slice(0, 40)}\` is not a request id (they look like r-7f3a9c).`,
      );
    }
    const before = await this.currentState(requestId);
    if (!before) throw new UserInputError(`There is no request \`${requestId}\`.`);
    if (before.status !== 'pending') throw new UserInputError(explainFinal(before));
    if (user !== before.requester) {
      throw new PermissionDeniedError(
        `Only the requester, ${`<@${before.requester}>`}, may cancel \`${requestId}\`. Approvers can *Deny* it instead.`,
      );
    }
    const r = await this.requests.update(requestId, (req) => cancel(req, user, s.clock.now()));
    if (!r) throw new UserInputError(`There is no request \`${requestId}\`.`);
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed || r.result !== 'ok') throw new UserInputError(explainRefusal(r.result, r.req));
    approvalsTotal.inc({ command: r.req.command, outcome: 'cancelled' });
    await s.audit.record({
      type: 'approval.cancelled',
      actor: user,
      requestId,
      command: r.req.command,
      outcome: 'cancelled',
    });
    await this.refreshMessage(requestId);
  }

  async interrupted(requestId: string, reason: string): Promise<void> {
    const s = this.services();
    const r = await this.requests.update(requestId, (req) => interrupt(req, reason, s.clock.now()));
    if (r?.changed) await this.refreshMessage(requestId);
  }

  private async onVerify(clicker: Clicker, req: ApprovalRequest, triggerId: string): Promise<void> {
    if (clicker.user !== req.requester) {
      await this.tell(
        clicker,
        `Only the requester, <@${req.requester}>, confirms this request with their MFA.`,
      );
      return;
    }
    if (req.requesterMfa !== 'pending') {
      await this.tell(clicker, 'Your second factor for this request is already confirmed.');
      return;
    }
    await this.askFactor(req, 'requester', clicker, triggerId);
  }

  // ---- the second factor ------------------------------------------------------------------------------------

  private async askFactor(
    req: ApprovalRequest,
    factor: Factor,
    clicker: Clicker,
    triggerId: string | undefined,
  ): Promise<void> {
    const s = this.services();
    const what = `\`${req.command}\` (\`${req.id}\`)`;
    if (this.options.mfa.kind === 'push') {
      await this.tell(clicker, `Check your phone: ward sent a Duo push to confirm ${what}.`);
      this.background(this.pushFactor(req.id, factor, clicker));
      return;
    }
    if (triggerId === undefined) {
      await this.tell(
        clicker,
        `Confirm ${what} with MFA: click *Requester: enter MFA code* on the request message.`,
      );
      return;
    }
    try {
      const where = req.message ?? { channel: req.channel, ts: '' };
      const meta = { requestId: req.id, factor, channel: where.channel, ts: where.ts };
      await s.chat.openView(triggerId, renderMfaModal(meta, what));
    } catch (err) {
      s.log.warn({ err, approvalRequestId: req.id }, 'could not open the MFA modal');
      await this.tell(
        clicker,
        factor === 'requester'
          ? `Slack did not let ward open the MFA window in time. Click *Requester: enter MFA code* on the request message.`
          : `Slack did not let ward open the MFA window in time. Click *Approve* again.`,
      );
    }
  }

  private async pushFactor(id: string, factor: Factor, clicker: Clicker): Promise<void> {
    const req = await this.requests.get(id);
    if (!req) return;
    const outcome = await this.checkFactor(req, factor, clicker.user, undefined);
    if (!outcome.ok) {
      await this.tell(clicker, outcome.message);
      return;
    }
    await this.factorPassed(id, factor, clicker);
  }

  /** Verifies the factor (audited: outcome only, never the code). */
  private async checkFactor(
    req: ApprovalRequest,
    factor: Factor,
    user: string,
    code: string | undefined,
  ): Promise<{ ok: true } | { ok: false; message: string }> {
    const s = this.services();
    let outcome: Awaited<ReturnType<MfaProvider['verify']>>;
    try {
      outcome = await this.options.mfa.verify(user, { code, context: `${req.command} ${req.id}` });
    } catch (err) {
      await s.audit.record({
        type: 'mfa.attempt',
        actor: user,
        requestId: req.id,
        outcome: 'unavailable',
        details: { factor, provider: this.options.mfa.name },
      });
      if (err instanceof WardError) return { ok: false, message: err.userMessage };
      throw err;
    }
    await s.audit.record({
      type: 'mfa.attempt',
      actor: user,
      requestId: req.id,
      command: req.command,
      outcome: outcome.ok ? 'success' : outcome.reason,
      details: { factor, provider: this.options.mfa.name },
    });
    return outcome.ok ? { ok: true } : { ok: false, message: outcome.message };
  }

  /** After a valid factor: the vote counts (approver) or the request may proceed (requester). */
  private async factorPassed(id: string, factor: Factor, clicker: Clicker): Promise<void> {
    if (factor === 'approver') {
      await this.applyApproval(id, clicker);
      return;
    }
    const s = this.services();
    const r = await this.requests.update(id, (req) => requesterVerified(req, clicker.user, s.clock.now()));
    if (!r) return;
    if (r.result === 'expired') await this.onExpired(r.req);
    if (!r.changed) {
      await this.tell(clicker, explainRefusal(r.result, r.req));
      return;
    }
    await this.advance(r.req);
  }

  /**
   * After a vote or a second factor changed a request: redraws its message and, once it has everything it needs,
   * starts its (single) execution. Returns whether it did.
   */
  private async advance(req: ApprovalRequest): Promise<boolean> {
    await this.refreshMessage(req.id);
    if (req.status !== 'approved') return false;
    await this.onGranted(req);
    await this.tryExecute(req.id);
    return true;
  }

  private async onMfaView(event: ViewEvent): Promise<ViewResult> {
    let meta: { requestId?: unknown; factor?: unknown; channel?: unknown; ts?: unknown };
    try {
      meta = JSON.parse(event.privateMetadata) as typeof meta;
    } catch {
      return { errors: { [MFA_BLOCK_ID]: 'This window is from an unknown request.' } };
    }
    const id = typeof meta.requestId === 'string' ? meta.requestId : '';
    const factor: Factor = meta.factor === 'approver' ? 'approver' : 'requester';
    const fail = (message: string): ViewResult => ({ errors: { [MFA_BLOCK_ID]: message.slice(0, 150) } });
    if (!REQUEST_ID_PATTERN.test(id)) return fail('This window is from an unknown request.');
    const req = await this.currentState(id);
    if (!req) return fail(`Request ${id} no longer exists.`);
    if (req.status !== 'pending') return fail(stripMrkdwn(explainFinal(req)));
    const user = event.user;
    // ward writes the message it opened the window from into private_metadata: a window that names no message,
    // or another one, is not a factor for this request.
    if (!fromRequestMessage(req, meta.channel, meta.ts)) {
      if (factor === 'approver') await this.auditVote(req, user, 'approve', 'refused:other_message');
      return fail('This window does not belong to the request message. Use the buttons on it.');
    }
    const s = this.services();
    if (factor === 'approver') {
      if (user === req.requester) return fail('You cannot approve your own request.');
      if (!(await s.policy.holdsAny(user, req.policy.approvers, { fresh: true }))) {
        await this.auditVote(req, user, 'approve', 'refused:ineligible');
        return fail(`You no longer hold an approver role (${req.policy.approvers.join(', ')}).`);
      }
      if (req.approvals.some((v) => v.user === user)) return fail('You already approved this request.');
    } else if (user !== req.requester || req.requesterMfa !== 'pending') {
      return fail('There is no second factor of yours to confirm on this request.');
    }
    const code = event.values[MFA_BLOCK_ID]?.[MFA_INPUT_ID] ?? '';
    const outcome = await this.checkFactor(req, factor, user, code);
    if (!outcome.ok) return fail(outcome.message);
    // The modal closes now; the vote, the message update and any execution continue after Slack got its answer.
    this.background(this.factorPassed(id, factor, { user, channel: req.channel }));
    return undefined;
  }

  // ---- execution ----------------------------------------------------------------------------------------------

  /**
   * Executes an approved request, at most once across every process sharing the store: the execution claim is a
   * setIfAbsent that only one caller can win, taken before anything else happens.
   */
  async tryExecute(id: string): Promise<void> {
    const s = this.services();
    // The claim is durable before anything runs: a claim lost in a Redis failover was never acted on. Should one be
    // lost anyway, the durable running state and execution record (ExecutionLedger.begin) still refuse a second run.
    const claimValue = `${this.owner}@${s.clock.now()}`;
    const claim = { won: false };
    try {
      await s.store.durable(async () => {
        claim.won = await s.store.setIfAbsent(executionClaimKey(id), claimValue, CLAIM_TTL_MS);
      });
    } catch (err) {
      // Not durable: give the claim back so that a retry (the click again, or the sweep) can take it.
      if (claim.won) await s.store.compareAndSet(executionClaimKey(id), claimValue, null).catch(() => {});
      throw err;
    }
    if (!claim.won) return;
    try {
      await this.executeClaimed(id);
    } catch (err) {
      // Whatever failed before the execution record was confirmed (a transition or record not acknowledged by a
      // replica, the store failing over) ran nothing: give the start back so that it is tried again, instead of
      // leaving the request approved or "running" with nothing running it.
      if (!(err instanceof ExecutionAlreadyRanError)) await this.giveBackStart(id, claimValue);
      throw err;
    }
  }

  /**
   * Undoes a start that did not happen: back to approved and the claim released, only when no execution record
   * exists (with one, the execution did start and its own recovery applies). Best effort: when the store fails
   * here too, the sweep does it once the claim is old (recoverUnstarted).
   */
  private async giveBackStart(id: string, claimValue: string): Promise<void> {
    const s = this.services();
    try {
      if ((await s.executions.get(id)) !== null) return;
      await this.requests.update(id, unstart);
      await s.store.compareAndSet(executionClaimKey(id), claimValue, null);
      s.log.warn(
        { approvalRequestId: id },
        'execution not started (the store did not confirm it); it will be retried',
      );
    } catch (err) {
      s.log.warn(
        { err, approvalRequestId: id },
        'execution not started and could not be given back yet; the sweep retries it',
      );
    }
  }

  /**
   * An approved or "running" request with an old claim and no execution record: its start failed and could not be
   * given back. Gives it back and tries again.
   */
  private async recoverUnstarted(req: ApprovalRequest): Promise<void> {
    const s = this.services();
    const claimValue = await s.store.get(executionClaimKey(req.id));
    if (claimValue !== null) {
      const claimedAt = Number(claimValue.slice(claimValue.lastIndexOf('@') + 1));
      const grace = this.options.unstartedGraceMs ?? DEFAULT_UNSTARTED_GRACE_MS;
      // A claim from a ward before claims carried their time counts as old.
      if (Number.isFinite(claimedAt) && s.clock.now() - claimedAt < grace) return;
    }
    if ((await s.executions.get(req.id)) !== null) return;
    s.log.warn(
      { approvalRequestId: req.id, status: req.status },
      'found an approved request whose execution never started: trying again',
    );
    if (req.status === 'running') await this.requests.update(req.id, unstart);
    if (claimValue !== null) await s.store.compareAndSet(executionClaimKey(req.id), claimValue, null);
    await this.tryExecute(req.id);
  }

  private async executeClaimed(id: string): Promise<void> {
    const s = this.services();
    let req = await this.requests.get(id);
    if (req?.status !== 'approved') return;
    const command = s.commands.find(req.command);
    if (!command?.plan) throw new Error(`request ${id}: command ${req.command} is not a change command`);
    if (!req.message) {
      // The approval message was posted but saving where it is was not confirmed and a failover lost it (or it was
      // never posted). Posting the approval message again would show people a second set of buttons for a request
      // that is already approved: the run gets a plain notice of its own to report in instead.
      s.log.warn(
        { approvalRequestId: id },
        'approved request without its approval message: reporting in a new thread',
      );
      const notice = await s.chat.postMessage(req.channel, {
        text: `Request ${id} (${req.command}) is approved; its run is reported in this thread.`,
        blocks: [
          section(
            `:white_check_mark: Request \`${id}\` (\`${esc(req.command)}\`) is approved; its run is reported in this thread.`,
          ),
        ],
      });
      req = await this.setMessage(id, notice);
    }
    const thread = req.message!;
    const ctx = this.contextFor(req, thread);

    let rebuilt: Plan | undefined;
    let problem = '';
    try {
      rebuilt = await command.plan(ctx);
    } catch (err) {
      problem = err instanceof WardError ? ` (${err.userMessage})` : '';
      s.log.warn({ err, approvalRequestId: id }, 'the plan could not be rebuilt before execution');
    }
    if (!rebuilt || planHash(rebuilt) !== req.planHash) {
      await this.requests.update(id, (x) => planChanged(x, s.clock.now()));
      await s.audit.record({
        type: 'execution.refused',
        actor: req.requester,
        requestId: id,
        command: req.command,
        hosts: req.plan.hosts.map((h) => h.name),
        outcome: 'plan_changed',
      });
      await this.refreshMessage(id);
      await s.chat.postMessage(
        thread.channel,
        {
          text: `Nothing was run: the plan of ${id} changed since it was approved.`,
          blocks: [
            section(
              `:warning: Nothing was run. The plan rebuilt just before execution differs from the one approved${esc(problem)}: the inventory or a host key changed. Make a new request so that approvers see what would really run.`,
            ),
          ],
        },
        { threadTs: thread.ts },
      );
      return;
    }

    const started = await this.requests.update(id, (x) => startRunning(x, s.clock.now()));
    if (!started?.changed) return;
    await this.refreshMessage(id);
    await s.chat.postMessage(
      thread.channel,
      {
        text: `Running ${req.command} (${id}) on ${rebuilt.hosts.map((h) => h.name).join(', ') || 'no host'}`,
        blocks: [
          section(
            `:gear: Running \`${esc(req.command)}\` (\`${id}\`) on ${rebuilt.hosts.map((h) => esc(h.name)).join(', ') || 'no host'}.`,
          ),
        ],
      },
      { threadTs: thread.ts },
    );
    const report = await runExecution(s, {
      command,
      ctx,
      plan: rebuilt,
      approvalRequestId: id,
      thread,
    });
    await this.requests.update(id, (x) => finish(x, report, s.clock.now()));
    await this.refreshMessage(id);
    await s.chat.postMessage(
      thread.channel,
      {
        text: report.summary,
        blocks: [
          section(esc(report.summary)),
          context(report.dryRun ? 'Outcome: *dry run: nothing changed*' : `Outcome: *${report.outcome}*`),
        ],
      },
      { threadTs: thread.ts },
    );
  }

  private contextFor(req: ApprovalRequest, thread: { channel: string; ts: string }): CommandContext<unknown> {
    const s = this.services();
    const invocation: Invocation = {
      user: req.requester,
      channel: req.channel,
      // The execution record keeps it for a re-run after an interruption.
      text: req.text ?? req.command,
      requestId: req.id,
      threadTs: thread.ts,
    };
    const reply: Replier = {
      ephemeral: (message) =>
        s.chat.postEphemeral(req.channel, req.requester, message, { threadTs: thread.ts }),
      inChannel: (message, options = {}) =>
        s.chat.postMessage(req.channel, message, { threadTs: options.threadTs ?? thread.ts }),
    };
    return {
      args: req.args,
      flags: { reason: req.reason, dryRun: false, breakGlass: req.breakGlass !== undefined },
      invocation,
      reply,
      services: s,
    };
  }

  // ---- expiry ---------------------------------------------------------------------------------------------------

  /**
   * Marks every pending request whose time is up as expired and redraws its message; also executes an approved
   * request that no process claimed (a replica that died between approval and claim). Returns how many expired.
   */
  async sweep(): Promise<number> {
    const s = this.services();
    let expired = 0;
    for (const id of await this.requests.ids()) {
      const req = await this.requests.get(id);
      if (req?.status === 'pending' && s.clock.now() >= req.expiresAt) {
        const r = await this.requests.update(id, (x) => expireIfDue(x, s.clock.now()));
        if (r?.changed) {
          expired++;
          await this.onExpired(r.req);
        }
      } else if (req?.status === 'approved' || req?.status === 'running') {
        await this.recoverUnstarted(req);
      }
    }
    return expired;
  }

  /**
   * A request has just become approved. Counted in ward_approvals_total (break-glass as `overridden`) and audited as
   * granted; a request whose policy asked for nothing (no approval, no second factor, or advisory) decided nothing
   * and is not counted.
   */
  private async onGranted(req: ApprovalRequest): Promise<void> {
    if (req.breakGlass) {
      approvalsTotal.inc({ command: req.command, outcome: 'overridden' });
      return;
    }
    if (req.advisory || (req.approvalsNeeded === 0 && req.requesterMfa === 'not_required')) return;
    approvalsTotal.inc({ command: req.command, outcome: 'approved' });
    await this.services().audit.record({
      type: 'approval.granted',
      actor: req.requester,
      requestId: req.id,
      command: req.command,
      outcome: 'approved',
      details: { approvers: req.approvals.map((v) => v.user), requesterMfa: req.requesterMfa },
    });
  }

  private async onExpired(req: ApprovalRequest): Promise<void> {
    approvalsTotal.inc({ command: req.command, outcome: 'expired' });
    await this.services().audit.record({
      type: 'approval.expired',
      requestId: req.id,
      command: req.command,
      actor: req.requester,
      outcome: 'expired',
      details: { approvals: req.approvals.length, needed: req.approvalsNeeded },
    });
    await this.refreshMessage(req.id);
  }

  // ---- messages ---------------------------------------------------------------------------------------------

  /**
   * Redraws the approval message from the stored request. Two processes may redraw at once and Slack keeps the
   * last update, so after each update the version is read again and the message redrawn until it shows the latest.
   */
  async refreshMessage(id: string): Promise<void> {
    const s = this.services();
    for (let i = 0; i < 5; i++) {
      const req = await this.requests.get(id);
      if (!req?.message) return;
      try {
        await s.chat.update(req.message.channel, req.message.ts, renderApprovalMessage(req));
      } catch (err) {
        s.log.warn({ err, approvalRequestId: id }, 'could not update the approval message');
        return;
      }
      const after = await this.requests.get(id);
      if (!after || after.version === req.version) return;
    }
  }

  private async auditVote(req: ApprovalRequest, user: string, vote: 'approve' | 'deny', outcome: string) {
    await this.services().audit.record({
      type: 'approval.vote',
      actor: user,
      requestId: req.id,
      command: req.command,
      outcome,
      details: { vote },
    });
  }

  /** A private answer to the person who clicked: through the click's response_url, else chat.postEphemeral. */
  private async tell(clicker: Clicker, text: string): Promise<void> {
    const s = this.services();
    const message: ChatMessage = { text };
    try {
      if (clicker.responseUrl) {
        await s.chat.respond(clicker.responseUrl, {
          ...message,
          responseType: 'ephemeral',
          replaceOriginal: false,
        });
      } else if (clicker.channel) {
        await s.chat.postEphemeral(clicker.channel, clicker.user, message);
      }
    } catch (err) {
      s.log.warn({ err }, 'could not deliver an ephemeral answer');
    }
  }
}

/**
 * Whether a click (or a modal opened from one) came from the request's own message, as stored with it. A request
 * whose message was never recorded (its store write lost, e.g. Redis killed just after the post) can still be
 * decided, but only from its own channel.
 */
function fromRequestMessage(req: ApprovalRequest, channel: unknown, ts: unknown): boolean {
  if (req.message === undefined) return channel === req.channel;
  return channel === req.message.channel && ts === req.message.ts;
}

function roleList(roles: readonly string[]): string {
  return roles.map((r) => `*${r}*`).join(' or ') || 'an approver role';
}

function stripMrkdwn(text: string): string {
  return text.replace(/[*`]/g, '');
}

/** Why a click on a request that is no longer pending changes nothing. */
export function explainFinal(req: ApprovalRequest): string {
  const base = `Request \`${req.id}\``;
  switch (req.status) {
    case 'pending':
      return `${base} is still waiting for approval.`;
    case 'approved':
    case 'running':
      return `${base} is already approved and running; votes no longer change it.`;
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

function explainRefusal(result: TransitionResult, req: ApprovalRequest): string {
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
