import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import type { AuditEvent, AuditRecord } from '../ports/audit.js';
import type { Store, StreamEntry } from '../ports/store.js';

/**
 * The audit log's hash chain, as pure functions shared by the writer (ChainedAuditLog), the verifier (`npm run
 * audit -- verify`) and the exporter.
 *
 * Each stream entry has two fields:
 *   entry = canonical JSON of { seq, at, event, prev }
 *   hash  = sha256 hex of (prev + entry)
 * `prev` is the previous entry's hash (GENESIS_HASH for the first), `seq` counts from 1. Editing an entry changes
 * its hash (or leaves a hash that no longer matches its content); deleting one breaks the next entry's `prev` and
 * `seq`; deleting the newest ones leaves the head key (`ward:audit:head`) pointing past the end of the stream.
 *
 * sha256 is unkeyed: someone able to write to Redis could rebuild the whole chain and move the head. Anchor the
 * head elsewhere (the SIEM export carries every hash; `verify` prints the head) to make that detectable too.
 */

export const AUDIT_STREAM = 'ward:audit';
export const AUDIT_HEAD_KEY = 'ward:audit:head';
export const GENESIS_HASH = '0'.repeat(64);

/** One link of the chain, as stored (the `entry` field, parsed). */
export interface ChainEntry {
  seq: number;
  at: string;
  event: AuditEvent;
  prev: string;
}

/** The head key's value: the newest entry's seq and hash. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export function hashEntry(prev: string, entryText: string): string {
  return createHash('sha256').update(prev).update(entryText).digest('hex');
}

/** Builds the stream fields of the entry that follows `head` (null: the chain is empty). */
export function nextLink(
  head: ChainHead | null,
  at: string,
  event: AuditEvent,
): { fields: { entry: string; hash: string }; head: ChainHead } {
  const prev = head?.hash ?? GENESIS_HASH;
  const seq = (head?.seq ?? 0) + 1;
  const entry = canonicalJson({ seq, at, event, prev } satisfies ChainEntry);
  const hash = hashEntry(prev, entry);
  return { fields: { entry, hash }, head: { seq, hash } };
}

export function formatHead(head: ChainHead): string {
  return `${head.seq}:${head.hash}`;
}

export function parseHead(value: string | null): ChainHead | null {
  if (value === null) return null;
  const m = /^(\d+):([0-9a-f]{64})$/.exec(value);
  if (!m) throw new Error(`the audit head key ${AUDIT_HEAD_KEY} holds an unexpected value`);
  return { seq: Number(m[1]), hash: m[2]! };
}

/** Parses a stored entry's `entry` field; null when it is not a chain entry at all. */
export function parseEntry(text: string | undefined): ChainEntry | null {
  if (text === undefined) return null;
  try {
    const v = JSON.parse(text) as Partial<ChainEntry>;
    if (
      typeof v.seq !== 'number' ||
      typeof v.at !== 'string' ||
      typeof v.prev !== 'string' ||
      v.event === null ||
      typeof v.event !== 'object'
    ) {
      return null;
    }
    return v as ChainEntry;
  } catch {
    return null;
  }
}

/**
 * The one decoder of stored audit entries: the event with its stream id, time and position in the chain; null when
 * the stream entry is not a chain entry at all. Everything that reads the log (`/ward audit`, tests) goes through it.
 */
export function decodeAuditEntry(entry: StreamEntry): AuditRecord | null {
  const parsed = parseEntry(entry.fields['entry']);
  if (!parsed) return null;
  return { ...parsed.event, id: entry.id, at: parsed.at, seq: parsed.seq };
}

/** Every readable audit entry, oldest first (entries that are not chain entries are skipped; `verify` names them). */
export async function readAuditEvents(store: Pick<Store, 'streamRange'>): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (const e of await store.streamRange(AUDIT_STREAM)) {
    const record = decodeAuditEntry(e);
    if (record) out.push(record);
  }
  return out;
}

/** The first problem found in the chain: which entry, what was expected there and what was found. */
export interface ChainBreak {
  /** Stream id of the offending entry (or of the last entry, when the end of the chain is missing). */
  id: string;
  seq: number | null;
  problem: string;
  expected: string;
  found: string;
}

export type ChainVerdict =
  | { ok: true; entries: number; head: ChainHead | null }
  | { ok: false; entries: number; break: ChainBreak };

/**
 * Checks entries oldest first, incrementally, so that a stream of any length is verified in batches. `head` is
 * the head key as read *before* the walk began: entries appended during the walk extend the chain past it.
 */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private seq = 0;
  private lastId = '';
  private count = 0;
  private failure: ChainBreak | undefined;

  constructor(private readonly head: ChainHead | null) {}

  /** Feeds the next entry; returns false once the chain is broken (further entries are ignored). */
  add(id: string, fields: Record<string, string>): boolean {
    if (this.failure) return false;
    this.count++;
    this.lastId = id;
    const entry = parseEntry(fields['entry']);
    const expectedSeq = this.seq + 1;
    if (!entry) {
      return this.fail({
        id,
        seq: null,
        problem: 'not a chain entry (missing or unreadable `entry` field)',
        expected: `entry #${expectedSeq} with prev ${this.prevHash}`,
        found: JSON.stringify(fields).slice(0, 200),
      });
    }
    if (entry.seq !== expectedSeq) {
      return this.fail({
        id,
        seq: entry.seq,
        problem:
          entry.seq > expectedSeq
            ? `entries are missing before this one (deleted?)`
            : 'sequence number repeats or goes back (inserted or replayed entry?)',
        expected: `seq ${expectedSeq}`,
        found: `seq ${entry.seq}`,
      });
    }
    if (entry.prev !== this.prevHash) {
      return this.fail({
        id,
        seq: entry.seq,
        problem: 'does not link to the entry before it (that entry was edited, replaced or deleted)',
        expected: `prev ${this.prevHash}`,
        found: `prev ${entry.prev}`,
      });
    }
    const computed = hashEntry(entry.prev, fields['entry']!);
    if (fields['hash'] !== computed) {
      return this.fail({
        id,
        seq: entry.seq,
        problem: 'content does not match its hash (the entry was edited)',
        expected: `hash ${computed}`,
        found: `hash ${fields['hash'] ?? '(none)'}`,
      });
    }
    this.prevHash = computed;
    this.seq = entry.seq;
    if (this.head && entry.seq === this.head.seq && computed !== this.head.hash) {
      return this.fail({
        id,
        seq: entry.seq,
        problem: 'the chain was rebuilt: this entry is not the one the head key recorded',
        expected: `hash ${this.head.hash}`,
        found: `hash ${computed}`,
      });
    }
    return true;
  }

  /** Ends the walk: checks that the chain reaches the head recorded before the walk. */
  finish(): ChainVerdict {
    if (this.failure) return { ok: false, entries: this.count, break: this.failure };
    const head = this.head;
    if (head && this.seq < head.seq) {
      this.fail({
        id: this.lastId || '(empty stream)',
        seq: this.seq || null,
        problem: 'the newest entries are missing: the chain ends before the recorded head (deleted?)',
        expected: `head seq ${head.seq} hash ${head.hash}`,
        found: this.seq ? `last seq ${this.seq} hash ${this.prevHash}` : 'no entries',
      });
      return { ok: false, entries: this.count, break: this.failure! };
    }
    if (!head && this.count > 0) {
      this.fail({
        id: this.lastId,
        seq: this.seq,
        problem: `entries exist but the head key ${AUDIT_HEAD_KEY} is missing (deleted?)`,
        expected: `head seq ${this.seq}`,
        found: 'no head',
      });
      return { ok: false, entries: this.count, break: this.failure! };
    }
    return { ok: true, entries: this.count, head: this.seq ? { seq: this.seq, hash: this.prevHash } : null };
  }

  private fail(b: ChainBreak): false {
    this.failure = b;
    return false;
  }
}

/** Whether the chain holds over `[fromSeq, toSeq]`, and the first problem when it does not. */
export type RangeVerdict = { ok: true } | { ok: false; seq: number | null; problem: string };

/**
 * Verifies a stretch of the chain (an incident's entries) without trusting anything inside it: every entry from
 * `fromSeq` to `toSeq` must be readable, numbered in order, link to the hash before it and match its own hash, and
 * the entry after `toSeq` (or the head key, when `toSeq` is the newest) must link to the last one, so that an
 * entry edited along with its hash is caught too. The entry before `fromSeq` is the anchor. `entries` is the stream,
 * oldest first (it may hold more than the range).
 */
export function verifyRange(
  entries: readonly StreamEntry[],
  fromSeq: number,
  toSeq: number,
  head: ChainHead | null,
): RangeVerdict {
  let prevHash: string | undefined = fromSeq === 1 ? GENESIS_HASH : undefined;
  let expected = fromSeq;
  let closed = false;
  for (const e of entries) {
    const entry = parseEntry(e.fields['entry']);
    if (!entry) {
      if (expected > fromSeq && expected <= toSeq + 1) {
        return { ok: false, seq: null, problem: `entry ${e.id} is not a readable chain entry (edited?)` };
      }
      continue;
    }
    if (entry.seq === fromSeq - 1) {
      prevHash = e.fields['hash'];
      continue;
    }
    if (entry.seq < fromSeq) continue;
    if (prevHash === undefined)
      return { ok: false, seq: fromSeq - 1, problem: 'the entry before the range is missing' };
    if (entry.seq !== expected) {
      return {
        ok: false,
        seq: entry.seq,
        problem: `expected seq ${expected}, found ${entry.seq} (entries deleted or inserted)`,
      };
    }
    if (entry.prev !== prevHash) {
      return {
        ok: false,
        seq: entry.seq,
        problem: 'does not link to the entry before it (that entry was edited)',
      };
    }
    if (entry.seq === toSeq + 1) {
      closed = true;
      break;
    }
    if (hashEntry(entry.prev, e.fields['entry']!) !== e.fields['hash']) {
      return { ok: false, seq: entry.seq, problem: 'content does not match its hash (the entry was edited)' };
    }
    prevHash = e.fields['hash'];
    expected++;
  }
  if (expected <= toSeq) return { ok: false, seq: expected, problem: 'entries of the range are missing' };
  if (!closed) {
    if (head === null || head.seq !== toSeq || head.hash !== prevHash) {
      return {
        ok: false,
        seq: toSeq,
        problem: 'the newest entry does not match the head key (edited or rebuilt?)',
      };
    }
  }
  return { ok: true };
}
