import { explainFinal, explainRefusal } from '../core/approvals/explain.js';
import type { ApprovalRequest } from '../core/approvals/request.js';
import { explainSealProblem } from '../core/approvals/request-seal.js';
import type { RequestNotice } from '../ports/request-notifier.js';

function roleList(roles: readonly string[]): string {
  return roles.map((r) => `*${r}*`).join(' or ') || 'an approver role';
}

const what = (req: ApprovalRequest) => `\`${req.command}\` (\`${req.id}\`)`;

/** A notice as a private message to the person who clicked (mrkdwn). */
export function renderNotice(n: RequestNotice): string {
  switch (n.kind) {
    case 'not_a_request':
      return 'That button does not belong to a ward request.';
    case 'unknown_request':
      return `Request \`${n.id}\` no longer exists.`;
    case 'other_message':
      return `That button is not on request \`${n.req.id}\`'s own message in <#${n.req.message?.channel ?? n.req.channel}>, so it changed nothing. Use the buttons there.`;
    case 'other_window':
      return 'This window does not belong to the request message. Use the buttons on it.';
    case 'final':
      return explainFinal(n.req);
    case 'refused':
      return explainRefusal(n.result, n.req);
    case 'own_request':
      return n.vote === 'approve'
        ? `You asked for \`${n.req.id}\`, so you cannot approve it: someone in ${roleList(n.req.policy.approvers)} must.`
        : `You asked for \`${n.req.id}\`: use *Cancel* (or \`/ward cancel ${n.req.id}\`) to withdraw it.`;
    case 'not_an_approver':
      return `You may not ${n.vote} \`${n.req.id}\`: approvers of \`${n.req.command}\` must hold ${roleList(n.req.policy.approvers)}. Nothing changed.`;
    case 'already_approved':
      return `You already approved \`${n.req.id}\`; approvals must come from distinct people.`;
    case 'vote_recorded':
      return `Your approval of \`${n.req.id}\` is recorded (${n.req.approvals.length} of ${n.req.approvalsNeeded}).`;
    case 'requester_factor_only':
      return `Only the requester, <@${n.req.requester}>, confirms this request with their MFA.`;
    case 'no_factor_pending':
      return 'Your second factor for this request is already confirmed.';
    case 'push_sent':
      return `Check your phone: ward sent a Duo push to confirm ${what(n.req)}.`;
    case 'click_to_confirm':
      return `Confirm ${what(n.req)} with MFA: click *Requester: enter MFA code* on the request message.`;
    case 'window_failed':
      return n.factor === 'requester'
        ? 'Slack did not let ward open the MFA window in time. Click *Requester: enter MFA code* on the request message.'
        : 'Slack did not let ward open the MFA window in time. Click *Approve* again.';
    case 'message':
      return n.text;
    case 'tampered':
      return `:rotating_light: ${explainSealProblem(n.id, n.problem)}`;
    case 'unknown_action':
      return 'That button is not handled by this version of ward.';
  }
}

/** A notice as the error under the code input of the MFA window: plain text, at most 150 characters. */
export function renderNoticeInModal(n: RequestNotice): string {
  const text = (() => {
    switch (n.kind) {
      case 'not_a_request':
        return 'This window is from an unknown request.';
      case 'unknown_request':
        return `Request ${n.id} no longer exists.`;
      case 'own_request':
        return 'You cannot approve your own request.';
      case 'not_an_approver':
        return `You no longer hold an approver role (${n.req.policy.approvers.join(', ')}).`;
      case 'already_approved':
        return 'You already approved this request.';
      case 'no_factor_pending':
        return 'There is no second factor of yours to confirm on this request.';
      case 'message':
        return n.text;
      case 'tampered':
        return n.problem === 'tampered'
          ? `Request ${n.id} was modified outside ward; nothing was run. ward will not act on it.`
          : `Request ${n.id} has no valid seal from this ward; nothing was run. ward will not act on it.`;
      default:
        return renderNotice(n).replace(/[*`]/g, '');
    }
  })();
  return text.slice(0, 150);
}
