/**
 * Every audit event type ward records, and when. Other types may be added; keep this list (and the README's copy)
 * true to the code.
 */
export const AUDIT_EVENT_TYPES = {
  'command.requested': 'a change command was asked for (plan built, handed to the approval gate)',
  'command.refused': 'a command was refused (role, policy, self-approval…); `outcome` is the error code',
  'command.dry_run': 'a plan was shown with --dry-run; nothing ran',
  'approval.vote': 'an approver approved or denied (`outcome`: approve | deny)',
  'approval.granted': 'a request got every approval (and MFA) it needs',
  'approval.denied': 'a request was denied',
  'approval.expired': 'a request timed out waiting for approval',
  'approval.cancelled': 'the requester (or an admin) cancelled a request',
  'approval.override': 'a soft policy was overridden with --break-glass (reason in details)',
  'mfa.attempt': 'a second-factor attempt (`outcome` only: ok | failed | locked; never the code)',
  'execution.started': 'an approved plan began to run',
  'execution.finished': 'an execution ended (`outcome`: succeeded | failed | partial; steps in details)',
  'execution.interrupted': 'an execution was cut short (shutdown grace over, or its ward process died)',
  'execution.rerun_requested': 'someone pressed "Re-run through approval" on an interrupted execution',
  'artifact.collected': 'evidence was stored (file name and sha256 in details)',
  'config.loaded': 'ward started with these policy and inventory files (their sha256 in details)',
  'config.reload': 'the policy, inventory or rules were reloaded (their sha256 in details)',
  'alert.accepted': 'a webhook alert was accepted (source, fingerprint in details)',
} as const;

export type KnownAuditEventType = keyof typeof AUDIT_EVENT_TYPES;

/** One fact worth proving later: who asked, who approved, what ran, what came in. */
export interface AuditEvent {
  /** One of AUDIT_EVENT_TYPES, e.g. `command.requested`, `approval.vote`, `execution.finished`. */
  type: KnownAuditEventType | (string & {});
  /** Slack user id of the person behind it, when there is one. */
  actor?: string | undefined;
  requestId?: string | undefined;
  command?: string | undefined;
  hosts?: string[] | undefined;
  outcome?: string | undefined;
  /** Anything else, JSON-serialisable; never secrets or MFA codes. */
  details?: Record<string, unknown> | undefined;
}

export interface AuditRecord extends AuditEvent {
  /** Stream entry id. */
  id: string;
  /** ISO time of recording. */
  at: string;
  /** Position in the hash chain, from 1. */
  seq?: number | undefined;
}

/** What `/ward audit` filters by; every given field must match. */
export interface AuditFilter {
  requestId?: string | undefined;
  actor?: string | undefined;
  host?: string | undefined;
}

/**
 * The append-only audit log: a hash-chained Redis stream (src/adapters/audit/chained-audit-log.ts). `record()`
 * rejects (StoreUnavailableError) when the entry could not be written: callers that must not act unrecorded
 * (execution start) let that stop them.
 */
export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
  /** Most recent first. */
  recent(filter: AuditFilter, limit: number): Promise<AuditRecord[]>;
}
