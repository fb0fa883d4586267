import type { AuditEvent, AuditLog, AuditRecord } from '../../ports/audit.js';
import type { Clock } from '../../ports/clock.js';
import type { Store } from '../../ports/store.js';

export const AUDIT_STREAM = 'ward:audit';

/** Audit log as an append-only stream in the store. */
export class StoreAuditLog implements AuditLog {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    await this.store.streamAppend(AUDIT_STREAM, {
      at: new Date(this.clock.now()).toISOString(),
      event: JSON.stringify(event),
    });
  }

  async recent(
    filter: { requestId?: string; actor?: string; host?: string },
    limit: number,
  ): Promise<AuditRecord[]> {
    const entries = await this.store.streamRevRange(AUDIT_STREAM, 5000);
    const out: AuditRecord[] = [];
    for (const e of entries) {
      const ev = JSON.parse(e.fields['event'] ?? '{}') as AuditEvent;
      if (filter.requestId && ev.requestId !== filter.requestId) continue;
      if (filter.actor && ev.actor !== filter.actor) continue;
      if (filter.host && !(ev.hosts ?? []).includes(filter.host)) continue;
      out.push({ ...ev, id: e.id, at: e.fields['at'] ?? '' });
      if (out.length >= limit) break;
    }
    return out;
  }
}
