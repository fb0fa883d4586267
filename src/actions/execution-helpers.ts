import type { InventoryHost } from '../config/inventory.js';
import type { ExecutionContext, ExecutionReport, Plan, PlanStep, StepResult } from '../core/command.js';
import { WardError } from '../errors.js';
import { fanOut } from './fan-out.js';
import { describeError, type RemoteJob } from './host-session.js';
import { approvedCommands } from './remote-command.js';

/** A host as a plan records it: what the approver saw, compared again before anything runs. */
export function planHost(h: InventoryHost): Plan['hosts'][number] {
  return { name: h.name, address: h.address, hostKey: h.hostKey };
}

/** The inventory changed between approval and execution for a host: refuse rather than run on something else. */
export class InventoryChangedError extends WardError {
  constructor(host: string) {
    super(
      'ward_inventory_changed',
      `${host} changed in the inventory (address or pinned key) since this plan was made, or is gone. Nothing was run on it; ask again.`,
    );
  }
}

export function jobFrom(ctx: ExecutionContext<unknown>): RemoteJob {
  return {
    services: ctx.services,
    requestId: ctx.approvalRequestId,
    command: ctx.plan.command,
    user: ctx.invocation.user,
    thread: ctx.thread,
    // A command declared read-only only collects: it shares its hosts with other collections.
    access: ctx.services.commands.find(ctx.plan.command)?.readOnly === true ? 'read' : 'change',
    // What runs is what was approved: every command is checked against the plan's lines for its host.
    approved: approvedCommands(ctx.plan),
  };
}

/** The plan's hosts, resolved against the current inventory; each must still have the approved address and key. */
export function hostsForExecution(ctx: ExecutionContext<unknown>): InventoryHost[] {
  const inventory = ctx.services.inventory();
  return ctx.plan.hosts.map((p) => {
    const h = inventory.hosts.get(p.name);
    if (!h || h.address !== p.address || h.hostKey !== p.hostKey) throw new InventoryChangedError(p.name);
    return h;
  });
}

export interface HostOutcome {
  host: string;
  ok: boolean;
  /** One sentence: what was done or changed, or why it failed. */
  detail: string;
  /** Per plan step id, where the host's work knows better than "all succeeded". */
  steps?: Record<string, StepResult['status']>;
}

/**
 * Runs `work` on every host of the plan (WARD_SSH_CONCURRENCY at a time), turning a host's error into its own
 * failed outcome so that the others still run, and builds an honest report: per step, per host.
 */
export async function runOnHosts(
  ctx: ExecutionContext<unknown>,
  work: (host: InventoryHost) => Promise<HostOutcome>,
): Promise<ExecutionReport> {
  const hosts = hostsForExecution(ctx);
  // Each host's steps are recorded as running, then done, so that a ward process that dies mid-way leaves a record
  // of what had and had not been done (crash recovery reads it).
  const mark = async (
    host: string,
    status: (stepId: string) => StepResult['status'] | 'running',
    detail?: string,
  ): Promise<void> => {
    for (const s of ctx.plan.steps) if (s.host === host) await ctx.progress?.(s.id, status(s.id), detail);
  };
  const settled = await fanOut(hosts, ctx.services.config.WARD_SSH_CONCURRENCY, async (host) => {
    await mark(host.name, () => 'running');
    try {
      const o = await work(host);
      await mark(
        host.name,
        (id) => o.steps?.[id] ?? (o.ok ? 'succeeded' : 'failed'),
        o.ok ? undefined : o.detail,
      );
      return o;
    } catch (err) {
      await mark(host.name, () => 'failed', describeError(err));
      throw err;
    }
  });
  const outcomes: HostOutcome[] = settled.map((s, i) =>
    s.status === 'fulfilled' ? s.value : { host: hosts[i]!.name, ok: false, detail: describeError(s.reason) },
  );
  for (const [i, s] of settled.entries()) {
    if (s.status === 'rejected') {
      ctx.services.log.warn(
        { err: s.reason, host: hosts[i]!.name, approvalRequestId: ctx.approvalRequestId },
        'host failed',
      );
    }
  }
  return buildReport(ctx.plan.command, ctx.plan.steps, outcomes);
}

export function buildReport(
  command: string,
  steps: readonly PlanStep[],
  outcomes: readonly HostOutcome[],
): ExecutionReport {
  const byHost = new Map(outcomes.map((o) => [o.host, o]));
  const stepResults: StepResult[] = steps.map((s) => {
    const o = s.host ? byHost.get(s.host) : undefined;
    const status = o?.steps?.[s.id] ?? (o ? (o.ok ? 'succeeded' : 'failed') : 'skipped');
    return { id: s.id, status, ...(o && !o.ok ? { detail: o.detail } : {}) };
  });
  const okCount = outcomes.filter((o) => o.ok).length;
  const outcome: ExecutionReport['outcome'] =
    okCount === outcomes.length ? 'succeeded' : okCount === 0 ? 'failed' : 'partial';
  const summary = `${command}: ${outcomes.map((o) => `${o.ok ? '✓' : '✗'} ${o.host}: ${o.detail}`).join(' ')}`;
  return { outcome, summary, steps: stepResults };
}
