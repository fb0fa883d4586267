import type { RequestService } from '../core/approvals/request-service.js';
import type { Recipient, RequestNotifier } from '../ports/request-notifier.js';
import {
  APPROVE_ACTION,
  CANCEL_ACTION,
  DENY_ACTION,
  MFA_BLOCK_ID,
  MFA_CALLBACK_ID,
  MFA_INPUT_ID,
  VERIFY_ACTION,
} from '../render/approval.js';
import { renderNoticeInModal } from '../render/notice.js';
import type { ActionEvent, InteractionRouter, ViewEvent, ViewResult } from './interactions.js';

/**
 * The request message's buttons (`approval.*`) and the MFA window (`mfa.verify`), translated into calls on the
 * approvals core. Nothing is decided here: who may vote, what is missing and what runs are the core's.
 */
export function registerApprovalListeners(
  router: InteractionRouter,
  deps: () => { approvals: RequestService; notifier: RequestNotifier },
): void {
  const approvals = () => deps().approvals;
  router.onAction('approval.', async (event: ActionEvent) => {
    const who: Recipient = { user: event.user, channel: event.channel, responseUrl: event.responseUrl };
    const service = approvals();
    const from = { channel: event.channel, ts: event.messageTs };
    switch (event.actionId) {
      case APPROVE_ACTION:
        return service.vote(event.value, 'approve', who, from, event.triggerId);
      case DENY_ACTION:
        return service.vote(event.value, 'deny', who, from, event.triggerId);
      case CANCEL_ACTION:
        return service.withdraw(event.value, who, from);
      case VERIFY_ACTION:
        return service.confirmRequester(event.value, who, from, event.triggerId);
      default:
        await deps().notifier.tell(who, { kind: 'unknown_action' });
    }
  });
  router.onView(MFA_CALLBACK_ID, async (event: ViewEvent): Promise<ViewResult> => {
    let meta: { requestId?: unknown; factor?: unknown; channel?: unknown; ts?: unknown };
    try {
      meta = JSON.parse(event.privateMetadata) as typeof meta;
    } catch {
      return { errors: { [MFA_BLOCK_ID]: renderNoticeInModal({ kind: 'not_a_request' }) } };
    }
    const id = typeof meta.requestId === 'string' ? meta.requestId : '';
    const factor = meta.factor === 'approver' ? 'approver' : 'requester';
    const code = event.values[MFA_BLOCK_ID]?.[MFA_INPUT_ID] ?? '';
    // The request message the window was opened from, as ward wrote it into private_metadata.
    const from = {
      channel: typeof meta.channel === 'string' ? meta.channel : undefined,
      ts: typeof meta.ts === 'string' ? meta.ts : undefined,
    };
    const refused = await approvals().submitCode(id, factor, event.user, code, from);
    return refused ? { errors: { [MFA_BLOCK_ID]: renderNoticeInModal(refused) } } : undefined;
  });
}
