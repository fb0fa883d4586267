import { hostname } from 'node:os';
import { PermissionDeniedError, UserInputError, WardError } from '../../errors.js';
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
  renderResultNotice,
  renderRunningNotice,
  VERIFY_ACTION,
} from '../../render/approval.js';
import { esc, section } from '../../render/blocks.js';
import type { CommandContext, Invocation, Plan, Replier } from '../command.js';
import { runExecution, willDryRun } from '../execution.js';
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
} from './request.js';
import { RequestStore } from './request-store.js';

/** The execution claim outlives any execution; it is never released, so a request can never run twice. */
const CLAIM_TTL_MS = 90 * 24 * 60 * 60_000;
const DEFAULT_SWEEP_INTERVAL_MS = 15_000;

type Factor = 'requester' | 'approver';

export interface ApprovalGateOptions {
  mfa: MfaProvider;
  /** Work that continues after Slack was answered (e.g. an execution after a modal closed): shutdown waits for it. */
  track?: (work: Promise<unknown>) => void;
  sweepIntervalMs?: number;
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
        // A request from a button under an alert lives in that alert's thread; a slash command's starts its own.
        thread: ctx.invocation.threadTs,
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

    const posted = await this.postRequestMessage(req);
    const withMessage = await this.setMessage(req.id, posted);
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

  private postRequestMessage(req: ApprovalRequest): Promise<{ channel: string; ts: string }> {
    return this.services().chat.postMessage(
      req.channel,
      renderApprovalMessage(req),
      req.thread ? { threadTs: req.thread } : {},
    );
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
    const claimed = await s.store.setIfAbsent(executionClaimKey(id), this.owner, CLAIM_TTL_MS);
    if (!claimed) return;
    let req = await this.requests.get(id);
    if (req?.status !== 'approved') return;
    const command = s.commands.find(req.command);
    if (!command?.plan) throw new Error(`request ${id}: command ${req.command} is not a change command`);
    if (!req.message) req = await this.setMessage(id, await this.postRequestMessage(req));
    // Everything the request produces goes to its thread: the alert's when it came from an alert's button.
    const thread = { channel: req.message!.channel, ts: req.thread ?? req.message!.ts };
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
    // Under WARD_DRY_RUN nothing will run (read-only commands aside): no "Running" line for what will not run.
    if (!willDryRun(s, command)) {
      await s.chat.postMessage(thread.channel, renderRunningNotice(req, rebuilt), { threadTs: thread.ts });
    }
    const report = await runExecution(s, {
      command,
      ctx,
      plan: rebuilt,
      approvalRequestId: id,
      thread,
    });
    await this.requests.update(id, (x) => finish(x, report, s.clock.now()));
    await this.refreshMessage(id);
    await s.chat.postMessage(thread.channel, renderResultNotice(req, report), { threadTs: thread.ts });
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
      } else if (req?.status === 'approved') {
        await this.tryExecute(id);
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
