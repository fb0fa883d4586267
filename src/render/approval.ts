import type { ApprovalRequest } from '../core/approvals/request.js';
import type { Block, ChatMessage } from '../ports/chat.js';
import { actions, context, esc, header, mention, section } from './blocks.js';
import { renderHosts, renderPlanSteps } from './plan.js';
import { userText } from './user-text.js';

export const APPROVE_ACTION = 'approval.approve';
export const DENY_ACTION = 'approval.deny';
export const CANCEL_ACTION = 'approval.cancel';
/** The requester's "enter my code" button, shown while their second factor is pending. */
export const VERIFY_ACTION = 'approval.verify';

export const MFA_CALLBACK_ID = 'mfa.verify';
export const MFA_BLOCK_ID = 'mfa_code';
export const MFA_INPUT_ID = 'code';

/** A Slack date token: every reader sees it in their own time zone; the fallback is UTC. */
export function slackDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${iso.slice(0, 16).replace('T', ' ')} UTC>`;
}

function roles(list: readonly string[]): string {
  return list.map((r) => `*${esc(r)}*`).join(', ') || '(nobody)';
}

function title(req: ApprovalRequest): string {
  const hosts = req.plan.hosts.map((h) => h.name).join(', ');
  const what = `${req.command}${hosts ? ` on ${hosts}` : ''}`;
  switch (req.status) {
    case 'pending':
      return `Approval needed: ${what}`;
    case 'approved':
      return `Approved: ${what}`;
    case 'running':
      return `Running: ${what}`;
    case 'succeeded':
      return req.result?.dryRun ? `Dry run: ${what}` : `Done: ${what}`;
    case 'failed':
      return `Failed: ${what}`;
    case 'partial':
      return `Partly done: ${what}`;
    case 'interrupted':
      return `Interrupted: ${what}`;
    case 'denied':
      return `Denied: ${what}`;
    case 'cancelled':
      return `Cancelled: ${what}`;
    case 'expired':
      return `Expired: ${what}`;
    case 'plan_changed':
      return `Not run (plan changed): ${what}`;
  }
}

function approvalLines(req: ApprovalRequest): string {
  const lines: string[] = [];
  if (req.breakGlass) {
    lines.push(`*Approvals:* overridden by break-glass (policy asks for ${req.policy.approvals})`);
  } else if (req.advisory) {
    lines.push(`*Approvals:* not enforced (advisory policy asks for ${req.policy.approvals})`);
  } else if (req.approvalsNeeded === 0) {
    lines.push('*Approvals:* none needed');
  } else {
    lines.push(
      `*Approvals:* ${req.approvals.length} of ${req.approvalsNeeded} from ${roles(req.policy.approvers)} (never the requester)${req.approverMfa ? ', each confirmed with MFA' : ''}`,
    );
  }
  for (const v of req.approvals)
    lines.push(`:white_check_mark: ${mention(v.user)} approved ${slackDate(v.at)}`);
  if (req.requesterMfa === 'pending') {
    lines.push(`:hourglass_flowing_sand: Waiting for ${mention(req.requester)} to confirm with MFA`);
  } else if (req.requesterMfa === 'verified') {
    lines.push(`:closed_lock_with_key: ${mention(req.requester)} confirmed with MFA`);
  }
  return lines.join('\n');
}

function outcome(req: ApprovalRequest): string {
  switch (req.status) {
    case 'pending':
      return '';
    case 'approved':
      return ':white_check_mark: Approved: starting.';
    case 'running':
      return `:gear: Approved and running since ${slackDate(req.startedAt ?? req.createdAt)}. Progress in the thread.`;
    case 'succeeded':
    case 'failed':
    case 'partial': {
      // WARD_DRY_RUN reports "succeeded" for a plan it did not run: "Succeeded" would read as done.
      if (req.result?.dryRun) {
        return `:information_source: Dry run: nothing changed (WARD_DRY_RUN=1). The plan above was approved; none of its ${req.plan.steps.length} step(s) ran.`;
      }
      const icon =
        req.status === 'succeeded' ? ':white_check_mark:' : req.status === 'failed' ? ':x:' : ':warning:';
      return `${icon} ${req.status === 'succeeded' ? 'Succeeded' : req.status === 'failed' ? 'Failed' : 'Partly done'}: ${esc(req.result?.summary ?? '')}`;
    }
    case 'interrupted':
      return `:warning: Interrupted ${slackDate(req.finishedAt ?? req.startedAt ?? req.createdAt)}: ${esc(req.interruption ?? 'ward stopped')}. It may have partly run: see the thread for what was done, and to ask for it again.`;
    case 'denied':
      return `:no_entry: Denied by ${mention(req.deniedBy?.user ?? '')} ${slackDate(req.deniedBy?.at ?? req.createdAt)}. Nothing was run.`;
    case 'cancelled':
      return `:no_entry_sign: Cancelled by the requester ${slackDate(req.cancelledAt ?? req.createdAt)}. Nothing was run.`;
    case 'expired':
      return `:hourglass: Expired ${slackDate(req.expiredAt ?? req.expiresAt)} with ${req.approvals.length} of ${req.approvalsNeeded} approvals. Nothing was run.`;
    case 'plan_changed':
      return ':warning: Nothing was run: the inventory or a host key changed since this was approved, so the plan is no longer the one approved. Make a new request.';
  }
}

/** The approval message, rendered from the stored request alone (so any replica, after any restart, can redraw it). */
export function renderApprovalMessage(req: ApprovalRequest): ChatMessage {
  const blocks: Block[] = [header(title(req))];
  if (req.breakGlass) {
    blocks.push(
      section(
        `:rotating_light: *Break-glass override* by ${mention(req.breakGlass.user)}: runs without the approvals its policy asks for.`,
      ),
    );
  }
  blocks.push(
    section(
      [
        `*Requested by* ${mention(req.requester)} · *Request* \`${req.id}\``,
        `*Command:* \`${esc(req.command)}\``,
        `*Hosts:* ${renderHosts(req.plan)}`,
        `*Reason:* ${req.reason ? userText(req.reason) : '_none given_'}`,
      ].join('\n'),
    ),
    section(`*Plan*\n${renderPlanSteps(req.plan)}`),
    section(approvalLines(req)),
  );
  if (req.status === 'pending') {
    blocks.push(context(`Expires ${slackDate(req.expiresAt)}. Only the requester may cancel.`));
    const buttons = [
      { text: 'Approve', actionId: APPROVE_ACTION, value: req.id, style: 'primary' as const },
      {
        text: 'Deny',
        actionId: DENY_ACTION,
        value: req.id,
        style: 'danger' as const,
        confirm: {
          title: 'Deny this request?',
          text: 'Denying ends the request.',
          confirm: 'Deny',
          deny: 'Back',
        },
      },
      { text: 'Cancel', actionId: CANCEL_ACTION, value: req.id },
    ];
    if (req.requesterMfa === 'pending' && req.mfaKind === 'code') {
      buttons.push({ text: 'Requester: enter MFA code', actionId: VERIFY_ACTION, value: req.id });
    }
    blocks.push(actions(`approval:${req.id}`, buttons));
  } else {
    blocks.push(section(outcome(req)));
  }
  return { text: `${title(req)} (request ${req.id})`, blocks };
}

/** The loud in-channel announcement of a break-glass override. */
export function renderBreakGlassAnnouncement(req: ApprovalRequest): ChatMessage {
  const who = mention(req.breakGlass?.user ?? req.requester);
  return {
    text: `BREAK-GLASS: ${req.breakGlass?.user ?? req.requester} is overriding the approval policy of ${req.command} (request ${req.id})`,
    blocks: [
      header(`:rotating_light: BREAK-GLASS override: ${req.command}`),
      section(
        `<!here> ${who} is running \`${esc(req.command)}\` on ${renderHosts(req.plan)} *without the ${req.policy.approvals} approval(s)* its policy asks for.\n*Reason:* ${userText(req.breakGlass?.reason ?? '')}`,
      ),
      context(`Request \`${req.id}\`. This override is recorded in the audit log.`),
    ],
  };
}

/** The policy warning posted when an advisory policy lets a command run at once. */
export function renderAdvisoryWarning(req: ApprovalRequest): ChatMessage {
  const asks: string[] = [];
  if (req.policy.approvals > 0)
    asks.push(`${req.policy.approvals} approval(s) from ${roles(req.policy.approvers)}`);
  if (req.policy.mfa !== 'none') asks.push(`MFA (${req.policy.mfa})`);
  return {
    text: `Policy warning: ${req.command} runs without ${asks.join(' and ')} (advisory enforcement)`,
    blocks: [
      section(
        `:warning: *Policy warning:* the policy for \`${esc(req.command)}\` asks for ${asks.join(' and ')}, but its enforcement is *advisory*, so ${mention(req.requester)}'s request \`${req.id}\` runs now. Recorded in the audit log.`,
      ),
    ],
  };
}

/**
 * The modal asking for a TOTP code; private_metadata carries the request id, whose factor this is, and the request
 * message (channel, ts) it belongs to, checked again when the code comes back.
 */
export function renderMfaModal(
  meta: { requestId: string; factor: 'requester' | 'approver'; channel: string; ts: string },
  what: string,
) {
  return {
    type: 'modal',
    callback_id: MFA_CALLBACK_ID,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: 'ward: confirm with MFA' },
    submit: { type: 'plain_text', text: 'Confirm' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      section(
        meta.factor === 'approver'
          ? `Your approval of ${what} counts once you enter the code from your authenticator app.`
          : `Your request ${what} goes ahead once you enter the code from your authenticator app.`,
      ),
      {
        type: 'input',
        block_id: MFA_BLOCK_ID,
        label: { type: 'plain_text', text: '6-digit code' },
        element: {
          type: 'plain_text_input',
          action_id: MFA_INPUT_ID,
          min_length: 6,
          max_length: 8,
          placeholder: { type: 'plain_text', text: '123456' },
        },
      },
    ],
  };
}
