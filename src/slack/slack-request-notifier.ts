import type { ApprovalRequest } from '../core/approvals/request.js';
import { explainSealProblem, type SealProblem } from '../core/approvals/request-seal.js';
import type { Replier } from '../core/command.js';
import type { ExecutionRecord } from '../core/executions.js';
import type { ExecutionReport, Plan } from '../core/plan-types.js';
import type { ChatClient, ChatMessage } from '../ports/chat.js';
import type { Logger } from '../ports/logger.js';
import type { Factor, Recipient, RequestNotice, RequestNotifier, Thread } from '../ports/request-notifier.js';
import {
  renderAdvisoryWarning,
  renderApprovalMessage,
  renderBreakGlassAnnouncement,
  renderMfaModal,
  renderResultNotice,
  renderRunningNotice,
} from '../render/approval.js';
import { esc, section } from '../render/blocks.js';
import { renderNotice } from '../render/notice.js';
import { renderPlanPreview } from '../render/plan.js';
import { renderInterrupted } from '../render/recovery.js';

/** The RequestNotifier in Slack: Block Kit messages in the channel and thread, ephemeral notes, the MFA modal. */
export class SlackRequestNotifier implements RequestNotifier {
  constructor(
    private readonly chat: ChatClient,
    private readonly log: Logger,
  ) {}

  /** Top-level for a typed command; in the alert's thread for a request asked from an alert's button. */
  postRequest(req: ApprovalRequest): Promise<Thread> {
    return this.chat.postMessage(
      req.channel,
      renderApprovalMessage(req),
      req.thread ? { threadTs: req.thread } : {},
    );
  }

  postRunNotice(req: ApprovalRequest): Promise<Thread> {
    return this.chat.postMessage(
      req.channel,
      {
        text: `Request ${req.id} (${req.command}) is approved; its run is reported in this thread.`,
        blocks: [
          section(
            `✅ Request \`${req.id}\` (\`${esc(req.command)}\`) is approved; its run is reported in this thread.`,
          ),
        ],
      },
      req.thread ? { threadTs: req.thread } : {},
    );
  }

  async redrawRequest(req: ApprovalRequest): Promise<void> {
    if (!req.message) return;
    await this.chat.update(req.message.channel, req.message.ts, renderApprovalMessage(req));
  }

  async announceBreakGlass(req: ApprovalRequest): Promise<void> {
    await this.chat.postMessage(req.channel, renderBreakGlassAnnouncement(req));
  }

  async announceAdvisory(req: ApprovalRequest): Promise<void> {
    await this.chat.postMessage(req.channel, renderAdvisoryWarning(req));
  }

  /** Through the click's response_url when there is one, else chat.postEphemeral. */
  async tell(to: Recipient, notice: RequestNotice): Promise<void> {
    const message: ChatMessage = { text: renderNotice(notice) };
    try {
      if (to.responseUrl) {
        await this.chat.respond(to.responseUrl, {
          ...message,
          responseType: 'ephemeral',
          replaceOriginal: false,
        });
      } else if (to.channel) {
        await this.chat.postEphemeral(to.channel, to.user, message);
      }
    } catch (err) {
      this.log.warn({ err }, 'could not deliver an ephemeral answer');
    }
  }

  /** The window names the request's message, so that the code counts only for a window opened from it. */
  async askCode(triggerId: string, req: ApprovalRequest, factor: Factor): Promise<void> {
    const where = req.message ?? { channel: req.channel, ts: '' };
    const meta = { requestId: req.id, factor, channel: where.channel, ts: where.ts };
    await this.chat.openView(triggerId, renderMfaModal(meta, `\`${req.command}\` (\`${req.id}\`)`));
  }

  async planChanged(thread: Thread, req: ApprovalRequest, problem: string | undefined): Promise<void> {
    await this.chat.postMessage(
      thread.channel,
      {
        text: `Nothing was run: the plan of ${req.id} changed since it was approved.`,
        blocks: [
          section(
            `:warning: Nothing was run. The plan rebuilt just before execution differs from the one approved${esc(problem === undefined ? '' : ` (${problem})`)}: the inventory or a host key changed. Make a new request so that approvers see what would really run.`,
          ),
        ],
      },
      { threadTs: thread.ts },
    );
  }

  async running(thread: Thread, req: ApprovalRequest, hosts: string[]): Promise<void> {
    await this.chat.postMessage(thread.channel, renderRunningNotice(req, hosts), { threadTs: thread.ts });
  }

  async finished(thread: Thread, report: ExecutionReport, requestId?: string): Promise<void> {
    await this.chat.postMessage(thread.channel, renderResultNotice(report, requestId), {
      threadTs: thread.ts,
    });
  }

  async interrupted(record: ExecutionRecord): Promise<void> {
    await this.chat.postMessage(record.thread.channel, renderInterrupted(record), {
      threadTs: record.thread.ts,
    });
  }

  async tampered(
    where: { channel: string; ts: string | undefined },
    requestId: string,
    problem: SealProblem,
  ): Promise<void> {
    const text =
      problem === 'tampered'
        ? `Request ${requestId} was modified outside ward; nothing was run.`
        : `Request ${requestId} has no valid seal from this ward; nothing was run.`;
    await this.chat.postMessage(
      where.channel,
      { text, blocks: [section(`:rotating_light: ${esc(explainSealProblem(requestId, problem))}`)] },
      where.ts === undefined ? {} : { threadTs: where.ts },
    );
  }

  async dryRun(reply: Replier, plan: Plan, reason: string | undefined): Promise<void> {
    await reply.ephemeral(renderPlanPreview(plan, { dryRun: true, reason }));
  }
}
