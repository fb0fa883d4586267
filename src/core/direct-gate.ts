import { PermissionDeniedError } from '../errors.js';
import { context, esc, header, section } from '../render/blocks.js';
import { renderPlanSteps } from '../render/plan.js';
import { runExecution } from './execution.js';
import type { ChangeGate } from './gate.js';
import type { Services } from './services.js';

/**
 * The gate for deployments without the approval flow: runs a plan at once only when its policy asks for no
 * approval and no second factor; anything else is refused, never run without what policy demands.
 */
export class DirectGate implements ChangeGate {
  constructor(private readonly services: () => Services) {}

  async submit({ command, ctx, plan, policy }: Parameters<ChangeGate['submit']>[0]): Promise<void> {
    if (policy.approvals > 0 || policy.mfa !== 'none') {
      throw new PermissionDeniedError(
        `\`${command.name}\` needs ${policy.approvals} approval(s) and MFA "${policy.mfa}", and this ward has no approval flow configured. Nothing was run.`,
      );
    }
    const services = this.services();
    // Recorded before anything is said or done: with the store down this throws and nothing is posted or run.
    await services.audit.record({
      type: 'command.requested',
      actor: ctx.invocation.user,
      requestId: ctx.invocation.requestId,
      command: command.name,
      hosts: plan.hosts.map((h) => h.name),
      details: { reason: ctx.flags.reason, gate: 'direct' },
    });
    const posted = await ctx.reply.inChannel({
      text: `${command.name} requested by <@${ctx.invocation.user}>: running`,
      blocks: [
        header(`${command.name}: running`),
        section(
          `Requested by <@${ctx.invocation.user}>${ctx.flags.reason ? `\n*Reason:* ${esc(ctx.flags.reason)}` : ''}`,
        ),
        section(`*Plan*\n${renderPlanSteps(plan)}`),
      ],
    });
    const report = await runExecution(services, {
      command,
      ctx,
      plan,
      approvalRequestId: ctx.invocation.requestId,
      thread: posted,
    });
    await services.chat.postMessage(
      posted.channel,
      {
        text: report.summary,
        blocks: [section(esc(report.summary)), context(`Outcome: *${report.outcome}*`)],
      },
      { threadTs: posted.ts },
    );
  }
}
