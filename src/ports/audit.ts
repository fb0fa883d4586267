/**
 * Every audit event type ward records, and when. Other types may be added; keep this list (and the copy in docs/operations.md)
 * true to the code.
 */
export const AUDIT_EVENT_TYPES = {
  'approval.requested':
    'a change command was asked for: plan built, request stored (plan hash, policy in details)',
  'command.refused': 'a command was refused (role, policy, self-approval…); `outcome` is the error code',
  'command.dry_run': 'a plan was shown with --dry-run; nothing ran',
  'approval.vote': 'an approver approved or denied (`outcome`: approved | denied | refused:<why>)',
  'approval.granted': 'a request got every approval (and MFA) it needs (approvers in details)',
  'approval.denied': 'a request was denied (the denier is the actor)',
  'approval.expired': 'a request timed out waiting for approval',
  'approval.cancelled': 'the requester cancelled a request',
  'policy.override':
    'a soft policy was overridden with --break-glass (reason in details), or the attempt refused',
  'policy.advisory': 'an advisory policy let a command run without the approvals or MFA it asks for',
  'mfa.attempt':
    'a second-factor attempt (`outcome` only: success | invalid | replayed | locked…; never the code)',
  'mfa.enroll': 'someone started or confirmed MFA enrolment',
  'mfa.reset': "an admin reset someone's MFA enrolment",
  'request.tampered':
    'a stored request failed its integrity check (`outcome`: tampered | unsealed | unverifiable): not run, reported in its thread',
  'execution.refused': 'an approved request was not run: its plan rebuilt just before execution differs',
  'execution.started': 'an approved plan began to run',
  'execution.finished':
    'an execution ended (`outcome`: succeeded | dry_run | failed | partial; steps in details)',
  'execution.interrupted': 'an execution was cut short (shutdown grace over, or its ward process died)',
  'execution.rerun_requested': 'someone pressed "Re-run through approval" on an interrupted execution',
  'artifact.collected': 'evidence was stored (bundle name and sha256 in details)',
  'host.locked_down': 'a host was locked down to the management networks',
  'host.released': 'a lockdown was released',
  'host.ip_blocked': 'an address was blocked on a host',
  'host.ip_unblocked':
    'an address ward blocked was removed from its set on a host (wasLive: false when it was already gone)',
  'host.port_blocked': 'an inbound port was closed on a host',
  'host.port_unblocked':
    'a port ward closed was reopened on a host (wasLive: false when it was already gone)',
  'host.process_killed': 'a process was killed on a host (its executable sha256 in details)',
  'host.user_disabled': 'a user account was disabled on a host',
  'containment.drift':
    'a periodic or /ward verify check found a containment ward applied changed (item, kind and differences in details)',
  'containment.drift_resolved':
    'a reported drift is over: the containment matches again, or ward no longer holds it',
  'containment.unverified':
    'a contained host or instance could not be checked WARD_CONTAINMENT_UNVERIFIED_AFTER times in a row',
  'lockdown.not_confirmed': 'a lockdown was not confirmed in time and was reverted (or its state is unknown)',
  'security.host_key_mismatch': 'a host presented a key other than the pinned one: nothing was run there',
  'cloud.step': 'one step of a cloud quarantine ran (step and result in details)',
  'cloud.watch.opened': 'the cloud watcher opened a quarantine request for a tagged instance',
  'config.loaded': 'ward started with these policy, inventory and rules files (their sha256 in details)',
  'config.reload': 'the inventory or the alert rules were reloaded (sha256 of the file in details)',
  'alert.accepted': 'a webhook alert was accepted (source, fingerprint in details)',
  'alert.auto_run':
    "a rule's automatic command was submitted to the gate, refused, or suppressed (ran within the interval)",
  'alert.undeliverable': 'an alert could not be posted to its channel or the fallback',
  'incident.opened': 'an incident was opened (title, severity, linked alert in details)',
  'incident.open_step': 'a step of opening an incident failed (Slack error in `outcome`) or resumed',
  'incident.channel_created': "the incident's channel was created",
  'incident.note': 'a note was added to the timeline (`/ward incident note` or the message shortcut)',
  'incident.role': 'someone was given an incident role (commander, scribe, comms)',
  'incident.severity': "the incident's severity changed",
  'incident.status': "the incident's status changed",
  'incident.update': 'a status update was posted in the channel and the broadcast channel',
  'incident.alert_linked': 'an alert was linked to the incident',
  'incident.contained': 'the first containment action of the incident succeeded (time to contain in details)',
  'incident.closed': 'the incident was resolved and its report drafted (summary in details)',
  'incident.exported': 'the timeline was exported (entries and chain verdict in details)',
  'incident.refused': 'an incident action was refused (role, policy); `outcome` is the error code',
} as const;

export type KnownAuditEventType = keyof typeof AUDIT_EVENT_TYPES;

/** One fact worth proving later: who asked, who approved, what ran, what came in. */
export interface AuditEvent {
  /** One of AUDIT_EVENT_TYPES, e.g. `approval.requested`, `approval.vote`, `execution.finished`. */
  type: KnownAuditEventType | (string & {});
  /** Slack user id of the person behind it, when there is one. */
  actor?: string | undefined;
  requestId?: string | undefined;
  command?: string | undefined;
  hosts?: string[] | undefined;
  outcome?: string | undefined;
  /** The incident (`INC-<n>`) this entry belongs to; set automatically in an incident channel. */
  incident?: string | undefined;
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
