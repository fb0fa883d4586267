import type { ApprovalRequest } from '../core/approvals/request.js';
import type { ExecutionReport } from '../core/plan-types.js';
import type { Block, ChatMessage } from '../ports/chat.js';
import { actions, code, context, esc, header, mention, section } from './blocks.js';
import { outcomeLabel } from './outcome.js';
import { renderHosts, renderPlanTitles } from './plan.js';
import { clockTime } from './time.js';
import { userText } from './user-text.js';

export const APPROVE_ACTION = 'approval.approve';
export const DENY_ACTION = 'approval.deny';
export const CANCEL_ACTION = 'approval.cancel';
/** The requester's "enter my code" button, shown while their second factor is pending. */
export const VERIFY_ACTION = 'approval.verify';

export const MFA_CALLBACK_ID = 'mfa.verify';
export const MFA_BLOCK_ID = 'mfa_code';
export const MFA_INPUT_ID = 'code';

/**
 * A time in a message: `14:32 UTC` (src/render/time.ts). Kept under this name because every renderer imports it;
 * with `now`, a time on another day gets its date and how long ago it was.
 */
export function slackDate(ms: number, now?: number): string {
  return clockTime(ms, now);
}

/** The "Show exact plan" button under every request message. */
export const SHOW_PLAN_ACTION = 'plan.show';

function roles(list: readonly string[]): string {
  return list.map((r) => `*${esc(r)}*`).join(', ') || '(nobody)';
}

function hostNames(req: ApprovalRequest): string {
  return req.plan.hosts.map((h) => h.name).join(', ');
}

function title(req: ApprovalRequest): string {
  const hosts = hostNames(req);
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
    case 'dry_run':
      return `Dry run: ${what}`;
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

/** What the policy asks of the requester's and approvers' second factors, in a few words. */
function mfaWords(req: ApprovalRequest): string {
  if (req.advisory) return 'not enforced';
  const parts: string[] = [];
  if (req.requesterMfa === 'pending') parts.push('requester (waiting)');
  else if (req.requesterMfa === 'verified') parts.push('requester ✓');
  if (req.approverMfa) parts.push('each approver');
  return parts.join(' and ') || 'none';
}

/**
 * The third line: what the request needs (or got), as the policy says it. Pending:
 * "needs 2 of approver, admin (1 so far) · MFA: requester (waiting) · expires 14:32 UTC".
 */
function requirementLine(req: ApprovalRequest): string {
  const mfa = `*MFA:* ${mfaWords(req)}`;
  if (req.breakGlass)
    return `*Approvals:* overridden by break-glass (policy asks for ${req.policy.approvals}) · ${mfa}`;
  if (req.advisory) return `*Approvals:* not enforced (advisory policy asks for ${req.policy.approvals})`;
  if (req.approvalsNeeded === 0) return `*Approvals:* none needed · ${mfa}`;
  if (req.status === 'pending') {
    return `*Needs* ${req.approvalsNeeded} of ${roles(req.policy.approvers)} (${req.approvals.length} so far) · ${mfa} · *expires* ${slackDate(req.expiresAt)}`;
  }
  return `*Approvals:* ${req.approvals.length} of ${req.approvalsNeeded} from ${roles(req.policy.approvers)} · ${mfa}`;
}

/** Who voted and who still has to confirm: a context line under the buttons, empty when nothing happened yet. */
function progressLine(req: ApprovalRequest): string {
  const parts = req.approvals.map((v) => `✅ ${mention(v.user)} approved ${slackDate(v.at)}`);
  if (req.requesterMfa === 'pending' && req.status === 'pending')
    parts.push(`⏳ Waiting for ${mention(req.requester)} to confirm with MFA`);
  else if (req.requesterMfa === 'verified') parts.push(`🔐 ${mention(req.requester)} confirmed with MFA`);
  return parts.join(' · ');
}

function outcome(req: ApprovalRequest): string {
  const o = outcomeLabel(req.status, req.result?.dryRun === true);
  switch (req.status) {
    case 'pending':
      return '';
    case 'approved':
      return `${o.icon} Approved: starting.`;
    case 'running':
      return `${o.icon} Approved and running since ${slackDate(req.startedAt ?? req.createdAt)}. Progress in the thread.`;
    case 'dry_run':
    case 'succeeded':
    case 'failed':
    case 'partial': {
      // A dry run "ran" nothing: it must never read as done or succeeded.
      if (o.key === 'dry_run') {
        return `${o.icon} *Dry run: nothing changed* (WARD_DRY_RUN=1). The plan was approved; none of its ${req.plan.steps.length} step(s) ran.`;
      }
      return `${o.icon} *${o.label[0]!.toUpperCase()}${o.label.slice(1)}:* ${esc(req.result?.summary ?? '')}`;
    }
    case 'interrupted':
      return `${o.icon} Interrupted ${slackDate(req.finishedAt ?? req.startedAt ?? req.createdAt)}: ${esc(req.interruption ?? 'ward stopped')}. It may have partly run: see the thread for what was done, and to ask for it again.`;
    case 'denied':
      return `${o.icon} Denied by ${mention(req.deniedBy?.user ?? '')} ${slackDate(req.deniedBy?.at ?? req.createdAt)}. Nothing was run.`;
    case 'cancelled':
      return `${o.icon} Cancelled by the requester ${slackDate(req.cancelledAt ?? req.createdAt)}. Nothing was run.`;
    case 'expired':
      return `${o.icon} Expired ${slackDate(req.expiredAt ?? req.expiresAt)} with ${req.approvals.length} of ${req.approvalsNeeded} approvals. Nothing was run.`;
    case 'plan_changed':
      return `${o.icon} Nothing was run: the inventory or a host key changed since this was approved, so the plan is no longer the one approved. Make a new request.`;
  }
}

/**
 * The approval message, rendered from the stored request alone (so any replica, after any restart, can redraw it).
 *
 * Read at 2 a.m. on a small screen, top to bottom: three lines that say who asks for what on which hosts, why, and
 * what the policy needs; then the buttons; then the plan as step titles. The exact commands (which can run to a
 * 12-line nftables script) sit behind "Show exact plan", which shows the very plan whose sha256 was approved.
 */
export function renderApprovalMessage(req: ApprovalRequest): ChatMessage {
  const blocks: Block[] = [header(title(req))];
  if (req.breakGlass) {
    blocks.push(
      section(
        `🚨 *Break-glass override* by ${mention(req.breakGlass.user)}: runs without the approvals its policy asks for.`,
      ),
    );
  }
  blocks.push(
    section(
      [
        `*Requested by* ${mention(req.requester)}: ${code(req.command)} on ${renderHosts(req.plan)}`,
        `*Why:* ${req.reason ? userText(req.reason) : '_no reason given_'}`,
        requirementLine(req),
      ].join('\n'),
    ),
  );
  const progress = progressLine(req);
  if (req.status === 'pending') {
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
    if (progress) blocks.push(context(progress));
  } else {
    if (progress) blocks.push(context(progress));
    blocks.push(section(outcome(req)));
  }
  blocks.push(
    section(
      `*Plan* (${req.plan.steps.length} step${req.plan.steps.length === 1 ? '' : 's'})\n${renderPlanTitles(req.plan)}`,
    ),
    actions(`plan:${req.id}`, [{ text: 'Show exact plan', actionId: SHOW_PLAN_ACTION, value: req.id }]),
    context(
      `Request ${code(req.id)} · plan sha256 ${code(req.planHash.slice(0, 12))}${req.status === 'pending' ? ' · only the requester may cancel' : ''}`,
    ),
  );
  const o = outcomeLabel(req.status, req.result?.dryRun === true);
  const fallback = o.key === 'dry_run' ? `${title(req)}: nothing changed` : title(req);
  return { text: `${fallback} (request ${req.id})`, blocks };
}

/** The thread's "started" line. Never posted for a dry run: nothing runs. */
export function renderRunningNotice(req: ApprovalRequest, hosts: readonly string[]): ChatMessage {
  return {
    text: `Running ${req.command} (${req.id}) on ${hosts.join(', ') || 'no host'}`,
    blocks: [
      section(
        `${outcomeLabel('running').icon} Running ${code(req.command)} (${code(req.id)}) on ${hosts.map((h) => esc(h)).join(', ') || 'no host'}.`,
      ),
    ],
  };
}

/** The thread's last word on an execution: its summary and its outcome, labelled by src/render/outcome.ts. */
export function renderResultNotice(report: ExecutionReport, requestId?: string): ChatMessage {
  const o = outcomeLabel(report.outcome, report.dryRun === true);
  return {
    // The summary opens with the command ("lockdown: ✓ web1: …") and says what happened per host; a dry run is
    // named first, so that no notification preview of one can be read as a change.
    text: report.dryRun === true ? `${o.label}: ${report.summary}` : report.summary,
    blocks: [
      section(esc(report.summary)),
      context(`Outcome: ${o.icon} *${o.label}*${requestId ? ` · request ${code(requestId)}` : ''}`),
    ],
  };
}

/** The loud in-channel announcement of a break-glass override. */
export function renderBreakGlassAnnouncement(req: ApprovalRequest): ChatMessage {
  const who = mention(req.breakGlass?.user ?? req.requester);
  return {
    text: `BREAK-GLASS: ${req.breakGlass?.user ?? req.requester} is overriding the approval policy of ${req.command} (request ${req.id})`,
    blocks: [
      header(`🚨 BREAK-GLASS override: ${req.command}`),
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
        `⚠️ *Policy warning:* the policy for \`${esc(req.command)}\` asks for ${asks.join(' and ')}, but its enforcement is *advisory*, so ${mention(req.requester)}'s request \`${req.id}\` runs now. Recorded in the audit log.`,
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
