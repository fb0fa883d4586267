import type { Metrics } from '../ports/metrics.js';
import type { AnyCommand, CommandContext, CommandServices, ExecutionReport, Plan } from './command.js';

/** The detail of every step WARD_DRY_RUN kept from running. */
export const DRY_RUN_DETAIL = 'dry run: nothing changed';

/** Whether WARD_DRY_RUN keeps this command's approved plan from running (read-only commands still run). */
export function willDryRun(
  services: Pick<CommandServices, 'config'>,
  command: Pick<AnyCommand, 'readOnly'>,
): boolean {
  return services.config.WARD_DRY_RUN === '1' && command.readOnly !== true;
}

/**
 * Runs an approved plan exactly as the command's execute() does it, turning a thrown error into an honest
 * failed report (never a silent one) and auditing the start and the end.
 *
 * Before anything runs, the execution takes its lease and durable record (src/core/executions.ts): a request runs
 * at most once, across replicas, and a ward process that dies mid-way leaves a record the next one reports. If the
 * store or the audit log cannot be written, nothing runs.
 *
 * This is also the one place WARD_DRY_RUN acts: every gate (approvals, alerts' auto-run, the cloud watcher) ends
 * here, so a dry-run deployment goes through the whole flow (policy, approvals, MFA, lease, audit) and stops only
 * where hosts would be changed. Commands declared `readOnly` (forensics) still run.
 */
export async function runExecution(
  services: Pick<CommandServices, 'config' | 'executions' | 'audit' | 'log'> & { metrics: Metrics },
  request: {
    command: AnyCommand;
    ctx: CommandContext<unknown>;
    plan: Plan;
    approvalRequestId: string;
    thread: { channel: string; ts: string };
    signal?: AbortSignal;
  },
): Promise<ExecutionReport> {
  const { command, ctx, plan } = request;
  const hosts = plan.hosts.map((h) => h.name);
  const base = {
    requestId: request.approvalRequestId,
    command: command.name,
    hosts,
    actor: ctx.invocation.user,
  };
  const dryRun = willDryRun(services, command);
  const execution = await services.executions.begin({
    requestId: request.approvalRequestId,
    command: command.name,
    text: ctx.invocation.text,
    requester: ctx.invocation.user,
    thread: request.thread,
    hosts,
    steps: plan.steps.map((s) => ({ id: s.id, title: s.title, status: 'pending' })),
  });
  try {
    await services.audit.record({
      ...base,
      type: 'execution.started',
      ...(dryRun ? { details: { dryRun } } : {}),
    });
  } catch (err) {
    // Unrecorded, it must not run: give the request back as never started.
    await execution.withdraw().catch(() => {});
    throw err;
  }
  const signal = request.signal
    ? AbortSignal.any([request.signal, execution.abort.signal])
    : execution.abort.signal;
  const started = performance.now();
  services.metrics.executionStarted();
  let report: ExecutionReport;
  try {
    report = dryRun
      ? dryRunReport(plan)
      : await command.execute!({
          ...ctx,
          plan,
          approvalRequestId: request.approvalRequestId,
          thread: request.thread,
          signal,
          progress: (stepId, status, detail) => execution.progress(stepId, status, detail),
        });
  } catch (err) {
    const message =
      err && typeof err === 'object' && 'userMessage' in err
        ? String(err.userMessage)
        : 'an unexpected error';
    services.log.error({ err, approvalRequestId: request.approvalRequestId }, 'execution failed');
    const done = new Map(execution.record.steps.map((s) => [s.id, s]));
    report = {
      outcome: 'failed',
      summary: `Execution failed: ${message}`,
      steps: plan.steps.map((s) => {
        const known = done.get(s.id);
        if (known?.status === 'succeeded' || known?.status === 'failed')
          return { id: s.id, status: known.status, detail: known.detail };
        if (known?.status === 'running')
          return { id: s.id, status: 'interrupted', detail: 'stopped by the error; may have partly run' };
        return { id: s.id, status: 'skipped', detail: 'not reached' };
      }),
    };
  } finally {
    services.metrics.executionEnded();
  }
  const seconds = (performance.now() - started) / 1000;
  if (await execution.finish(report.outcome, report.steps)) {
    services.metrics.executionFinished(command.name, report.outcome, seconds);
  } else {
    // It was declared interrupted meanwhile (shutdown grace over, or this process lost its lease) and the thread was
    // told so; the audit entry below still records how it really ended.
    services.log.warn(
      { approvalRequestId: request.approvalRequestId, outcome: report.outcome },
      'execution ended after it had been reported interrupted',
    );
  }
  await services.audit.record({
    ...base,
    type: 'execution.finished',
    outcome: report.outcome,
    details: { steps: report.steps, ...(dryRun ? { dryRun } : {}) },
  });
  return report;
}

/** What an approved plan reports under WARD_DRY_RUN: each step it would have run, none of them run. */
function dryRunReport(plan: Plan): ExecutionReport {
  const titles = plan.steps.map((s) => s.title).join('; ');
  return {
    outcome: 'dry_run',
    dryRun: true,
    summary: `Dry run (WARD_DRY_RUN=1): nothing changed. Approved and planned; not run: ${titles}.`,
    steps: plan.steps.map((s) => ({ id: s.id, status: 'skipped', detail: DRY_RUN_DETAIL })),
  };
}
