import type { AnyCommand, CommandContext, ExecutionReport, Plan } from './command.js';
import type { Services } from './services.js';

/**
 * Runs an approved plan exactly as the command's execute() does it, turning a thrown error into an honest
 * failed report (never a silent one) and auditing the start and the end.
 */
export async function runExecution(
  services: Services,
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
  await services.audit.record({ ...base, type: 'execution.started' });
  let report: ExecutionReport;
  try {
    report = await command.execute!({
      ...ctx,
      plan,
      approvalRequestId: request.approvalRequestId,
      thread: request.thread,
      signal: request.signal ?? new AbortController().signal,
    });
  } catch (err) {
    const message =
      err && typeof err === 'object' && 'userMessage' in err
        ? String(err.userMessage)
        : 'an unexpected error';
    services.log.error({ err, requestId: request.approvalRequestId }, 'execution failed');
    report = {
      outcome: 'failed',
      summary: `Execution failed: ${message}`,
      steps: plan.steps.map((s) => ({ id: s.id, status: 'skipped', detail: 'not reached' })),
    };
  }
  await services.audit.record({
    ...base,
    type: 'execution.finished',
    outcome: report.outcome,
    details: { steps: report.steps },
  });
  return report;
}
