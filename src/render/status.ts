import type { ApprovalRequest } from '../core/approvals/request.js';
import type { ExecutionRecord, StepStatus } from '../core/executions.js';
import type { ChatMessage } from '../ports/chat.js';
import { slackDate } from './approval.js';
import { clip, code, context, esc, header, mention, section } from './blocks.js';
import { outcomeLabel } from './outcome.js';
import { userText } from './user-text.js';

const MAX_STEPS = 40;

const STEP_MARK: Record<StepStatus, string> = {
  pending: '⚪ not started',
  running: '❔ in progress',
  succeeded: '✅ done',
  failed: '❌ failed',
  skipped: '⚪ skipped',
  interrupted: '❔ interrupted (may have partly run)',
};

/**
 * Where a request stands overall. An interruption ends the stored request as `interrupted` too, but the execution
 * record is written first and is the authority: a request stored before that transition existed, or whose
 * transition has not been written yet, still says `running`.
 */
export function overallState(req: ApprovalRequest | undefined, record: ExecutionRecord | null): string {
  if (record?.state === 'interrupted') return 'interrupted';
  // A dry run stored before `dry_run` was an outcome of its own says `succeeded` with result.dryRun.
  if (req) return req.result?.dryRun ? 'dry_run' : req.status;
  if (record?.state === 'finished') return record.outcome ?? 'finished';
  return record?.state ?? 'unknown';
}

function votes(req: ApprovalRequest): string {
  const lines: string[] = [];
  if (req.breakGlass) {
    lines.push(
      `*Approvals:* overridden with break-glass by ${mention(req.breakGlass.user)} (policy asks for ${req.policy.approvals}); reason: ${userText(req.breakGlass.reason)}`,
    );
  } else if (req.advisory) {
    lines.push(`*Approvals:* not enforced (advisory policy asks for ${req.policy.approvals})`);
  } else if (req.approvalsNeeded === 0) {
    lines.push('*Approvals:* none needed');
  } else {
    lines.push(`*Approvals:* ${req.approvals.length} of ${req.approvalsNeeded}`);
  }
  for (const v of req.approvals)
    lines.push(`:white_check_mark: ${mention(v.user)} approved ${slackDate(v.at)}`);
  if (req.deniedBy)
    lines.push(`:no_entry: ${mention(req.deniedBy.user)} denied ${slackDate(req.deniedBy.at)}`);
  return lines.join('\n');
}

function mfa(req: ApprovalRequest): string {
  const requester =
    req.requesterMfa === 'not_required'
      ? 'not required'
      : req.requesterMfa === 'pending'
        ? `waiting for ${mention(req.requester)}`
        : `confirmed by ${mention(req.requester)}`;
  return `*MFA:* requester: ${requester}; approvers: ${req.approverMfa ? 'each vote needs MFA' : 'not required'}`;
}

function timeline(req: ApprovalRequest): string {
  switch (req.status) {
    case 'pending':
      return `Waiting; expires ${slackDate(req.expiresAt)}.`;
    case 'cancelled':
      return `Cancelled by the requester ${slackDate(req.cancelledAt ?? req.createdAt)}. Nothing was run.`;
    case 'expired':
      return `Expired ${slackDate(req.expiredAt ?? req.expiresAt)}. Nothing was run.`;
    case 'denied':
      return 'Denied. Nothing was run.';
    case 'plan_changed':
      return 'Not run: the plan rebuilt before execution differed from the one approved.';
    default:
      return '';
  }
}

function execution(record: ExecutionRecord, dryRun: boolean, now: number | undefined): string[] {
  const o = outcomeLabel(record.outcome ?? 'finished', dryRun);
  const head =
    record.state === 'running'
      ? `*Execution:* running since ${slackDate(Date.parse(record.startedAt), now)}`
      : record.state === 'interrupted'
        ? `*Execution:* interrupted ${record.endedAt ? slackDate(Date.parse(record.endedAt), now) : ''}: ${esc(record.interruption ?? 'ward stopped')}`
        : `*Execution:* ${o.icon} ${esc(o.label)}, ${slackDate(Date.parse(record.startedAt))} to ${record.endedAt ? slackDate(Date.parse(record.endedAt), now) : '?'}`;
  const steps = record.steps
    .slice(0, MAX_STEPS)
    .map(
      (s) =>
        `${STEP_MARK[s.status] ?? esc(s.status)}: ${esc(s.title)}${s.detail ? ` (${userText(s.detail, 200)})` : ''}`,
    );
  if (record.steps.length > MAX_STEPS) steps.push(`… and ${record.steps.length - MAX_STEPS} more`);
  return [head, steps.join('\n') || '_No steps._'];
}

/** `/ward status <id>`: one request as stored (state, votes, MFA) and its execution record (outcome, steps). */
export function renderRequestStatus(
  id: string,
  req: ApprovalRequest | undefined,
  record: ExecutionRecord | null,
  /** The clock, for "3 min ago"; absent in golden tests. */
  now?: number,
): ChatMessage {
  const key = overallState(req, record);
  const o = outcomeLabel(key);
  const state = o.label;
  const dryRun = key === 'dry_run';
  const command = req?.command ?? record?.command ?? '?';
  const requester = req?.requester ?? record?.requester;
  const text = req?.text ?? record?.text;
  const hosts = req?.plan.hosts.map((h) => h.name) ?? record?.hosts ?? [];
  const blocks = [
    header(clip(`${id}: ${command}: ${state}`, 150)),
    section(
      [
        `*State:* ${o.icon} ${esc(state)}`,
        `*Command:* ${text ? userText(`/ward ${text}`) : code(command)}${requester ? ` requested by ${mention(requester)}` : ''}${req ? ` ${slackDate(req.createdAt, now)}` : ''}`,
        `*Hosts:* ${hosts.map(esc).join(', ') || '_none_'}`,
        ...(req ? [`*Reason:* ${req.reason ? userText(req.reason) : '_none given_'}`] : []),
      ].join('\n'),
    ),
  ];
  if (req) {
    blocks.push(section(`${votes(req)}\n${mfa(req)}`));
    const when = timeline(req);
    if (when) blocks.push(section(when));
  }
  if (record) {
    for (const part of execution(record, dryRun, now)) blocks.push(section(part));
  } else if (req && ['approved', 'running'].includes(req.status)) {
    blocks.push(section('*Execution:* starting; no execution record yet.'));
  } else if (req && req.status === 'pending') {
    blocks.push(section('*Execution:* not started (waiting for approval).'));
  }
  if (!req) blocks.push(context('The request itself is no longer stored; this is its execution record.'));
  const votesText = req
    ? ` Approvals ${req.approvals.length}/${req.approvalsNeeded}${req.deniedBy ? `, denied by <@${req.deniedBy.user}>` : ''}; requester MFA ${req.requesterMfa}.`
    : '';
  const execText = record
    ? ` Execution ${record.state === 'finished' ? outcomeLabel(record.outcome ?? 'finished', dryRun).label : record.state}: ${record.steps.map((s) => `${s.title}: ${s.status}`).join('; ')}.`
    : '';
  return { text: `Request ${id} (${command}): ${state}.${votesText}${execText}`, blocks };
}
