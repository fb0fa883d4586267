import { hostname } from 'node:os';
import { NotDurableError, StoreUnavailableError, WardError } from '../../errors.js';
import type { Thread } from '../../ports/request-notifier.js';
import type { CommandContext } from '../command.js';
import { runExecution, willDryRun } from '../execution.js';
import { ExecutionAlreadyRanError } from '../executions.js';
import { planHash } from '../plan.js';
import type { Plan } from '../plan-types.js';
import { replierFor } from '../requests/replier.js';
import { type ApprovalDeps, redraw } from './deps.js';
import {
  type ApprovalRequest,
  executionClaimKey,
  finish,
  planChanged,
  startRunning,
  unstart,
} from './request.js';
import { TamperedRequestError } from './request-seal.js';
import type { RequestStore } from './request-store.js';

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
export const DEFAULT_UNSTARTED_GRACE_MS = 60_000;
/** Saving the approval message's place is retried for about as long as a Sentinel failover takes. */
const MESSAGE_POINTER_ATTEMPTS = 10;
const MESSAGE_POINTER_RETRY_MS = 1000;

/**
 * The single execution path of an approved request: claim, rebuild the plan, compare its hash with the approved one,
 * run, record. At most once across every process sharing the store: the claim is a setIfAbsent only one caller can
 * win, taken (durably) before anything else happens; it is given back only when the start provably did not happen
 * (no execution record), and the durable execution record refuses a second run in any case.
 */
export class ApprovedRunner {
  private readonly owner = `${hostname()}:${process.pid}`;

  constructor(
    private readonly deps: () => ApprovalDeps,
    private readonly requests: RequestStore,
    private readonly options: { unstartedGraceMs?: number | undefined } = {},
  ) {}

  /**
   * Runs an approved request once. A stored record that fails its integrity check is refused before the claim (and
   * again when the claimed run reads it): TamperedRequestError, nothing run, the claim kept so nothing retries it.
   */
  async run(id: string): Promise<void> {
    const s = this.deps();
    if ((await this.requests.get(id))?.status !== 'approved') return;
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
      if (!(err instanceof ExecutionAlreadyRanError || err instanceof TamperedRequestError)) {
        await this.giveBackStart(id, claimValue);
      }
      throw err;
    }
  }

  /**
   * Saves where the approval message is, once it is posted. The request itself is already durable and people can
   * see and click the message, so telling the requester "not done, retry" now would be wrong (a retry makes a second
   * request): the save is retried through a failover window, and if it still is not confirmed the request carries
   * on without it (its message is then not redrawn, and its run reports in a thread of its own).
   */
  async saveMessagePointer(req: ApprovalRequest, message: Thread): Promise<ApprovalRequest> {
    const s = this.deps();
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

  /**
   * Undoes a start that did not happen: back to approved and the claim released, only when no execution record
   * exists (with one, the execution did start and its own recovery applies). Best effort: when the store fails
   * here too, the sweep does it once the claim is old (recoverUnstarted).
   */
  private async giveBackStart(id: string, claimValue: string): Promise<void> {
    const s = this.deps();
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
   * given back. Gives it back and tries again. (The sweep calls it for every approved or running request.)
   */
  async recoverUnstarted(req: ApprovalRequest): Promise<void> {
    const s = this.deps();
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
    await this.run(req.id);
  }

  private async executeClaimed(id: string): Promise<void> {
    const s = this.deps();
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
      req = await this.setMessage(id, await s.notifier.postRunNotice(req));
    }
    // Everything the request produces goes to its thread: the alert's when it was asked from an alert's button.
    const thread = { channel: req.message!.channel, ts: req.thread ?? req.message!.ts };
    const ctx = contextFor(s, req, thread);

    let rebuilt: Plan | undefined;
    let problem: string | undefined;
    try {
      rebuilt = await command.plan(ctx);
    } catch (err) {
      problem = err instanceof WardError ? err.userMessage : undefined;
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
      await redraw(s, this.requests, id);
      await s.notifier.planChanged(thread, req, problem);
      return;
    }

    const started = await this.requests.update(id, (x) => startRunning(x, s.clock.now()));
    if (!started?.changed) return;
    await redraw(s, this.requests, id);
    // Under WARD_DRY_RUN nothing will run (read-only commands aside): no "Running" line for what will not run.
    if (!willDryRun(s, command)) {
      await s.notifier.running(
        thread,
        req,
        rebuilt.hosts.map((h) => h.name),
      );
    }
    const report = await runExecution(s, { command, ctx, plan: rebuilt, approvalRequestId: id, thread });
    await this.requests.update(id, (x) => finish(x, report, s.clock.now()));
    await redraw(s, this.requests, id);
    await s.notifier.finished(thread, report, req.id);
  }

  private async setMessage(id: string, message: Thread): Promise<ApprovalRequest> {
    const r = await this.requests.update(id, (req) => ({ next: { ...req, message }, result: 'ok' }));
    if (!r) throw new Error(`request ${id} vanished`);
    return r.req;
  }
}

/** What the command's plan() and execute() see when an approved request runs: the requester, in the thread. */
function contextFor(s: ApprovalDeps, req: ApprovalRequest, thread: Thread): CommandContext<unknown> {
  return {
    args: req.args,
    flags: { reason: req.reason, dryRun: false, breakGlass: req.breakGlass !== undefined },
    invocation: {
      user: req.requester,
      channel: req.channel,
      // The execution record keeps it for a re-run after an interruption.
      text: req.text ?? req.command,
      requestId: req.id,
      threadTs: thread.ts,
    },
    reply: replierFor(s.chat, { channel: req.channel, threadTs: thread.ts, person: req.requester }),
    services: s,
  };
}
