import { type ApprovalRequest, REQUEST_ID_PATTERN } from '../core/approvals/request.js';
import { TamperedRequestError } from '../core/approvals/request-seal.js';
import { planHash } from '../core/plan.js';
import type { Services } from '../core/services.js';
import { SHOW_PLAN_ACTION } from '../render/approval.js';
import { renderExactPlanBlocks, renderExactPlanText } from '../render/plan.js';
import type { ActionEvent, InteractionRouter } from './interactions.js';

/**
 * "Show exact plan" under a request message: the plan as stored with the request (the one whose sha256 the
 * approvers approve) in a modal, or as a file in the request's thread when it is larger than a modal allows.
 * Anyone who can see the message may look: it shows what the message already commits to, and changes nothing.
 */
export function registerShowPlan(router: InteractionRouter, services: () => Services): void {
  router.onAction(SHOW_PLAN_ACTION, (event) => showPlan(services(), event));
}

async function showPlan(services: Services, event: ActionEvent): Promise<void> {
  const tell = (text: string) =>
    event.responseUrl
      ? services.chat.respond(event.responseUrl, { text, responseType: 'ephemeral', replaceOriginal: false })
      : event.channel
        ? services.chat.postEphemeral(event.channel, event.user, { text })
        : Promise.resolve();
  const id = event.value;
  let req: ApprovalRequest | undefined;
  try {
    // Read through the sealed store: a record changed outside ward is not shown as what was approved.
    req = REQUEST_ID_PATTERN.test(id) ? await services.approvals.requests.get(id) : undefined;
  } catch (err) {
    if (!(err instanceof TamperedRequestError)) throw err;
    await tell(err.userMessage);
    return;
  }
  if (!req) {
    await tell(`Request \`${id.slice(0, 20)}\` is no longer stored, so its plan cannot be shown.`);
    return;
  }
  // The stored hash is what was approved; a plan whose bytes no longer match it is said so, never shown as approved.
  const hash = planHash(req.plan);
  if (hash !== req.planHash) {
    services.log.error({ approvalRequestId: id }, 'stored plan does not match its stored hash');
    await tell(`The stored plan of \`${id}\` does not match its hash; ward will not run it. See the logs.`);
    return;
  }
  const { blocks, fits } = renderExactPlanBlocks(req.plan, hash);
  if (fits) {
    await services.chat.openView(event.triggerId, {
      type: 'modal',
      callback_id: 'plan.view',
      title: { type: 'plain_text', text: `Plan of ${id}`.slice(0, 24) },
      close: { type: 'plain_text', text: 'Close' },
      blocks,
    });
    return;
  }
  const where = req.message ?? { channel: req.channel, ts: undefined };
  await services.chat.uploadFile({
    channel: where.channel,
    threadTs: req.thread ?? where.ts,
    filename: `plan-${id}.txt`,
    title: `Exact plan of ${id} (sha256 ${hash.slice(0, 12)}…)`,
    content: renderExactPlanText(req.plan, hash),
    initialComment: `Exact plan of \`${id}\`, sha256 \`${hash}\`: too large for a window, so here as a file.`,
  });
}
