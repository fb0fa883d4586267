import { hostname } from 'node:os';
import { WardError } from '../../errors.js';
import type { Thread } from '../../ports/request-notifier.js';
import type { CommandContext } from '../command.js';
import { runExecution, willDryRun } from '../execution.js';
import { planHash } from '../plan.js';
import type { Plan } from '../plan-types.js';
import { replierFor } from '../requests/replier.js';
import { type ApprovalDeps, redraw } from './deps.js';
import { type ApprovalRequest, executionClaimKey, finish, planChanged, startRunning } from './request.js';
import type { RequestStore } from './request-store.js';

/** The execution claim outlives any execution; it is never released, so a request can never run twice. */
const CLAIM_TTL_MS = 90 * 24 * 60 * 60_000;

/**
 * The single execution path of an approved request: claim, rebuild the plan, compare its hash with the approved one,
 * run, record. At most once across every process sharing the store: the claim is a setIfAbsent only one caller can
 * win, taken before anything else happens, and never released.
 */
export class ApprovedRunner {
  private readonly owner = `${hostname()}:${process.pid}`;

  constructor(
    private readonly deps: () => ApprovalDeps,
    private readonly requests: RequestStore,
  ) {}

  async run(id: string): Promise<void> {
    const s = this.deps();
    const claimed = await s.store.setIfAbsent(executionClaimKey(id), this.owner, CLAIM_TTL_MS);
    if (!claimed) return;
    let req = await this.requests.get(id);
    if (req?.status !== 'approved') return;
    const command = s.commands.find(req.command);
    if (!command?.plan) throw new Error(`request ${id}: command ${req.command} is not a change command`);
    if (!req.message) req = await this.setMessage(id, await s.notifier.postRequest(req));
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
