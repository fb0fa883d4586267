import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditEvent, AuditFilter, AuditLog, AuditRecord } from '../ports/audit.js';
import type { Store } from '../ports/store.js';
import { incidentRequestKey } from './incident.js';

const incidentContext = new AsyncLocalStorage<{ incident: string }>();

/**
 * Runs `fn` as part of an incident: every audit entry recorded inside it, down to the last awaited call (the plan,
 * the approval request, an execution started by a click), is attached to the incident. The Slack listeners call it
 * for anything that happens in an incident channel.
 */
export function withIncident<T>(incident: string | undefined, fn: () => T): T {
  return incident === undefined ? fn() : incidentContext.run({ incident }, fn);
}

export function currentIncident(): string | undefined {
  return incidentContext.getStore()?.incident;
}

/** Request ids stay attached as long as requests and their records are kept (30 days) and then some. */
const REQUEST_LINK_TTL_MS = 90 * 24 * 3600_000;

/**
 * Whether an entry records a containment that took effect: a lockdown, a block, or a cloud quarantine's interfaces
 * moved into the isolation group. The first one attached to an incident is its time to contain.
 */
export function isContainment(event: AuditEvent): boolean {
  if (event.type === 'host.locked_down' || event.type === 'host.ip_blocked') return true;
  return (
    event.type === 'cloud.step' &&
    event.command === 'quarantine' &&
    event.outcome === 'succeeded' &&
    event.details?.['step'] === 'replace-groups'
  );
}

/**
 * The audit log, attaching entries to incidents: an entry recorded in an incident's context carries `incident`, and
 * its request id is remembered, so that later entries about the same request (votes, the execution, evidence, even
 * when a click or a recovery runs them outside the channel) are attached too. The tag is part of the hashed entry.
 */
export class IncidentAuditLog implements AuditLog {
  constructor(
    private readonly inner: AuditLog,
    private readonly store: () => Store,
    private readonly onAttached?: (incident: string, event: AuditEvent) => Promise<void>,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    let incident = event.incident ?? currentIncident();
    try {
      if (incident === undefined && event.requestId !== undefined) {
        incident = (await this.store().get(incidentRequestKey(event.requestId))) ?? undefined;
      } else if (incident !== undefined && event.requestId !== undefined) {
        await this.store().setIfAbsent(incidentRequestKey(event.requestId), incident, REQUEST_LINK_TTL_MS);
      }
    } catch {
      // The store is down: the entry is recorded without its incident, or (more likely) not at all below.
    }
    const tagged = incident === undefined ? event : { ...event, incident };
    await this.inner.record(tagged);
    if (incident !== undefined && this.onAttached) await this.onAttached(incident, tagged).catch(() => {});
  }

  recent(filter: AuditFilter, limit: number): Promise<AuditRecord[]> {
    return this.inner.recent(filter, limit);
  }
}
