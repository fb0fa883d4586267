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
 * read the head, build the next link, append only if the head is still the one read (atomically, in the store),
 * else read again. Two replicas therefore never fork the chain.
 */
export class ChainedAuditLog implements AuditLog {
  /**
   * Appends from this process go one at a time: with many requests in flight, optimistic retries alone would make
   * them collide with each other until they gave up. Only other replicas can still move the head in between.
   */
  private tail: Promise<unknown> = Promise.resolve();

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
    const append = this.tail.then(() => this.append(event));
    this.tail = append.catch(() => {});
    return append;
  }

  private async append(event: AuditEvent): Promise<void> {
    const content = stripUndefined(event);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.store.get(AUDIT_HEAD_KEY);
      const head = parseHead(current);
      const problem = chainModeProblem(head, this.key);
      if (problem !== null)
        throw new WardError('ward_audit_chain_mode', `The audit log cannot be written: ${problem}`);
      const link = nextLink(head, new Date(this.clock.now()).toISOString(), content, this.key);
      const id = await this.store.durable(() =>
        this.store.streamAppendGuarded(AUDIT_STREAM, link.fields, {
          key: AUDIT_HEAD_KEY,
          expected: current,
          next: formatHead(link.head),
        }),
      );
      if (id !== null) return;
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
