import { randomBytes } from 'node:crypto';

/**
 * The ids ward hands out, in one place.
 *
 * - A correlation id ties together every log line and audit entry of one Slack request or automation (`requestId`
 *   in logs, `slackRequestId` in audit details): 12 hex characters.
 * - An approval request id names a ward request (`r-7f3a9c`): in buttons, `/ward cancel`, `/ward status`, the audit
 *   log and the store keys `ward:request:<id>` and `ward:execution:<id>`.
 */
export function newCorrelationId(): string {
  return randomBytes(6).toString('hex');
}

/** What an approval request id looks like; anything else from a button or a command is refused before any lookup. */
export const REQUEST_ID_PATTERN = /^r-[0-9a-f]{6,16}$/;

export function newApprovalRequestId(): string {
  return `r-${randomBytes(3).toString('hex')}`;
}
