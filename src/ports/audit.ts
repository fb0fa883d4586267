/** One fact worth proving later: who asked, who approved, what ran, what came in. */
export interface AuditEvent {
  /** e.g. `command.requested`, `command.refused`, `approval.vote`, `mfa.attempt`, `execution.finished`. */
  type: string;
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
  id: string;
  at: string;
}

/** The append-only audit log (a Redis stream; hash-chained). */
export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
  /** Most recent first. */
  recent(
    filter: { requestId?: string; actor?: string; host?: string },
    limit: number,
  ): Promise<AuditRecord[]>;
}
