import { randomInt } from 'node:crypto';
import {
  AUDIT_HEAD_KEY,
  AUDIT_STREAM,
  type AuditKey,
  type ChainHead,
  decodeAuditEntry,
  formatHead,
  nextLink,
  parseHead,
} from '../../audit/chain.js';
import { WardError } from '../../errors.js';
import type { AuditEvent, AuditFilter, AuditLog, AuditRecord } from '../../ports/audit.js';
import type { Clock } from '../../ports/clock.js';
import type { Store } from '../../ports/store.js';

/** How many times an append is retried when another writer moved the head in between. */
const MAX_ATTEMPTS = 50;
/** How far back `recent()` looks. */
const RECENT_WINDOW = 5000;
/** Most entries written in one guarded append (one Redis round trip); more wait for the next. */
const MAX_BATCH = 256;

interface Pending {
  event: AuditEvent;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Why this log cannot extend the chain in the store: a keyed chain without the key (that would downgrade it), or an
 * unkeyed chain from an earlier ward with the key (it must be verified and sealed by `npm run audit -- migrate`
 * first). Null when it can.
 */
export function chainModeProblem(head: ChainHead | null, key: AuditKey): string | null {
  if (head === null) return null;
  if (head.keyed && key === null) {
    return 'the audit chain in Redis is keyed, but WARD_ENCRYPTION_KEY is not set: set the key it was written with.';
  }
  if (!head.keyed && key !== null) {
    return 'the audit chain in Redis is unkeyed (written by an earlier ward, or without WARD_ENCRYPTION_KEY): verify and seal it once with `npm run audit -- migrate`, then start ward.';
  }
  return null;
}

/**
 * The audit log as an HMAC-chained Redis stream (see src/audit/chain.ts). Appends are guarded by the head key:
 * read the head, build the next links, append only if the head is still the one read (atomically, in the store),
 * else read again. Two replicas therefore never fork the chain.
 *
 * Events recorded while a write is in flight (or in the same tick) are chained one after the other and written
 * together in one guarded append: under a burst (an alert storm audits every alert) the log costs two round trips
 * per batch instead of two per event, and the chain is exactly what one-at-a-time appends would have built. Each
 * `record()` still resolves only once its own entry is in the store, and a batch is all or nothing.
 */
export class ChainedAuditLog implements AuditLog {
  /** Events waiting for the next write, in the order `record()` was called. */
  private queue: Pending[] = [];
  /**
   * Writes from this process go one at a time: with many requests in flight, optimistic retries alone would make
   * them collide with each other until they gave up. Only other replicas can still move the head in between.
   */
  private writing = false;
  /**
   * The head this process last wrote: the next append guards on it without reading it first (one round trip per
   * batch instead of two). When another writer moved the head meanwhile, the guard refuses and the head is read.
   */
  private lastHead: string | null | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** The audit key (deriveAuditKey); null: an unkeyed chain, for setups without WARD_ENCRYPTION_KEY. */
    private readonly key: AuditKey,
  ) {}

  /** The newest entry's seq and link value (what an anchor publishes); null while the log is empty. */
  async head(): Promise<ChainHead | null> {
    return parseHead(await this.store.get(AUDIT_HEAD_KEY));
  }

  record(event: AuditEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // Copied now (a throw here rejects): the caller may change its objects after this returns.
      this.queue.push({ event: stripUndefined(event), resolve, reject });
      if (!this.writing) {
        this.writing = true;
        // The rest of this tick's records join the first write.
        queueMicrotask(() => void this.writeQueued());
      }
    });
  }

  /** Writes what is queued, batch after batch, until the queue is empty. */
  private async writeQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.append(batch.map((p) => p.event));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.writing = false;
  }

  private async append(events: readonly AuditEvent[]): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const cached = this.lastHead;
      this.lastHead = undefined;
      const current = cached ?? (await this.store.get(AUDIT_HEAD_KEY));
      let head = parseHead(current);
      const problem = chainModeProblem(head, this.key);
      if (problem !== null)
        throw new WardError('ward_audit_chain_mode', `The audit log cannot be written: ${problem}`);
      const at = new Date(this.clock.now()).toISOString();
      const entries: Array<Record<string, string>> = [];
      for (const event of events) {
        const link = nextLink(head, at, event, this.key);
        entries.push(link.fields);
        head = link.head;
      }
      const guard = { key: AUDIT_HEAD_KEY, expected: current, next: formatHead(head!) };
      // Durable: with Sentinel, the append is confirmed by a replica before any caller hears it is recorded.
      const ids = await this.store.durable<string | string[] | null>(() =>
        entries.length === 1
          ? this.store.streamAppendGuarded(AUDIT_STREAM, entries[0]!, guard)
          : this.store.streamAppendGuardedAll(AUDIT_STREAM, entries, guard),
      );
      if (ids !== null) {
        this.lastHead = guard.next;
        return;
      }
      // Only the head read from the store tells whether someone else is writing: a stale cache is no collision.
      if (cached !== undefined) continue;
      // Another writer appended first: back off a little so that two replicas do not keep colliding.
      await new Promise((r) => setTimeout(r, randomInt(1, 5 + attempt * 2)));
    }
    throw new WardError(
      'ward_audit_contention',
      'The audit log is too busy to record this right now, so nothing was done. Try again in a moment.',
    );
  }

  async recent(filter: AuditFilter, limit: number): Promise<AuditRecord[]> {
    const entries = await this.store.streamRevRange(AUDIT_STREAM, RECENT_WINDOW);
    const out: AuditRecord[] = [];
    for (const e of entries) {
      const record = decodeAuditEntry(e);
      if (!record) continue;
      if (filter.requestId && record.requestId !== filter.requestId) continue;
      if (filter.actor && record.actor !== filter.actor) continue;
      if (filter.host && !(record.hosts ?? []).includes(filter.host)) continue;
      out.push(record);
      if (out.length >= limit) break;
    }
    return out;
  }
}

function stripUndefined(event: AuditEvent): AuditEvent {
  return JSON.parse(JSON.stringify(event)) as AuditEvent;
}
