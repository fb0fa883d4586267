import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import { deriveSubkey } from '../core/key-material.js';
import type { AuditEvent, AuditRecord } from '../ports/audit.js';
import type { Store, StreamEntry } from '../ports/store.js';

/**
 * The audit log's chain, as pure functions shared by the writer (ChainedAuditLog), the verifier (`npm run audit --
 * verify`), the migration and the exporter.
 *
 * Each stream entry has two fields:
 *   entry = canonical JSON of { seq, at, event, prev }
 *   mac   = hex HMAC-SHA256(audit key, prev + entry)         (keyed chain, when WARD_ENCRYPTION_KEY is set)
 *   hash  = hex sha256(prev + entry)                          (unkeyed chain: no key configured, or written by an
 *                                                              earlier ward before `npm run audit -- migrate`)
 * `prev` is the previous entry's mac or hash (GENESIS_HASH for the first), `seq` counts from 1.
 *
 * The audit key is derived from WARD_ENCRYPTION_KEY with HKDF under its own label, and never stored in Redis: who
 * can write Redis but does not hold the key cannot rebuild a chain that verifies. What a MAC cannot show is a chain
 * cut short (newest entries deleted, head moved back) or deleted altogether: for that ward publishes the head as an
 * anchor outside Redis (src/audit/anchor.ts) and `verify --anchor seq:mac` checks the chain still reaches it.
 *
 * An unkeyed prefix is accepted by a keyed verifier only when the first keyed entry after it is the
 * `audit.migrated` entry of `npm run audit -- migrate`, which verified the prefix before sealing it: that entry's
 * `prev` is the prefix's last hash, so rewriting the prefix later breaks the link to a MAC nobody can recompute.
 */

export const AUDIT_STREAM = 'ward:audit';
export const AUDIT_HEAD_KEY = 'ward:audit:head';
export const GENESIS_HASH = '0'.repeat(64);
/** The event type of the entry that seals an unkeyed chain under the key. */
export const MIGRATION_EVENT = 'audit.migrated';
/** HKDF label: the audit key is unrelated to the AES key that seals TOTP secrets, though both come from one secret. */
const AUDIT_KEY_INFO = 'ward audit chain hmac-sha256 v1';

/** The key that MACs the chain; null means an unkeyed chain (no WARD_ENCRYPTION_KEY: dev and sandbox setups). */
export type AuditKey = Buffer | null;

/** Derives the audit chain key from WARD_ENCRYPTION_KEY (64 hex characters or base64 of 32 bytes). */
export function deriveAuditKey(encryptionKey: string | undefined): AuditKey {
  return encryptionKey === undefined ? null : deriveSubkey(encryptionKey, AUDIT_KEY_INFO);
}

/** One link of the chain, as stored (the `entry` field, parsed). */
export interface ChainEntry {
  seq: number;
  at: string;
  event: AuditEvent;
  prev: string;
}

/** The head key's value: the newest entry's seq and link value (its mac, or its hash in an unkeyed chain). */
export interface ChainHead {
  seq: number;
  hash: string;
  keyed: boolean;
}

export function hashEntry(prev: string, entryText: string): string {
  return createHash('sha256').update(prev).update(entryText).digest('hex');
}

export function macEntry(key: Buffer, prev: string, entryText: string): string {
  return createHmac('sha256', key).update(prev).update(entryText).digest('hex');
}

/** Builds the stream fields of the entry that follows `head` (null: the chain is empty). */
export function nextLink(
  head: ChainHead | null,
  at: string,
  event: AuditEvent,
  key: AuditKey,
): { fields: { entry: string; hash: string } | { entry: string; mac: string }; head: ChainHead } {
  const prev = head?.hash ?? GENESIS_HASH;
  const seq = (head?.seq ?? 0) + 1;
  const entry = canonicalJson({ seq, at, event, prev } satisfies ChainEntry);
  if (key === null) {
    const hash = hashEntry(prev, entry);
    return { fields: { entry, hash }, head: { seq, hash, keyed: false } };
  }
  const mac = macEntry(key, prev, entry);
  return { fields: { entry, mac }, head: { seq, hash: mac, keyed: true } };
}

/** `seq:hash` for an unkeyed head, `seq:mac:<mac>` for a keyed one. */
export function formatHead(head: ChainHead): string {
  return head.keyed ? `${head.seq}:mac:${head.hash}` : `${head.seq}:${head.hash}`;
}

export function parseHead(value: string | null): ChainHead | null {
  if (value === null) return null;
  const m = /^(\d+):(mac:)?([0-9a-f]{64})$/.exec(value);
  if (!m) throw new Error(`the audit head key ${AUDIT_HEAD_KEY} holds an unexpected value`);
  return { seq: Number(m[1]), hash: m[3]!, keyed: m[2] !== undefined };
}

/** A published head: `<seq>:<mac>` as ward logs and posts it. */
export interface ChainAnchor {
  seq: number;
  mac: string;
}

export function formatAnchor(head: ChainHead): string {
  return `${head.seq}:${head.hash}`;
}

export function parseAnchor(value: string): ChainAnchor | null {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(value.trim());
  return m && Number(m[1]) > 0 ? { seq: Number(m[1]), mac: m[2]! } : null;
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
  | {
      ok: true;
      entries: number;
      head: ChainHead | null;
      /** Entries checked by sha256 only: an unkeyed chain, or the prefix a migration sealed. */
      unkeyed: number;
      /** Anchors the chain was shown to reach, unchanged. */
      anchors: ChainAnchor[];
    }
  | { ok: false; entries: number; break: ChainBreak };

export interface VerifyOptions {
  /** The audit key; null checks an unkeyed chain (and fails on keyed entries, which it cannot check). */
  key: AuditKey;
  /** Published heads the chain must still reach, each entry unchanged. */
  anchors?: readonly ChainAnchor[];
}

/**
 * Checks entries oldest first, incrementally, so that a stream of any length is verified in batches. `head` is
 * the head key as read *before* the walk began: entries appended during the walk extend the chain past it.
 */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private seq = 0;
  private lastId = '';
  private count = 0;
  private unkeyed = 0;
  /** Set once a keyed entry was seen: no unkeyed entry may follow (that would be a downgrade). */
  private keyedSeen = false;
  private failure: ChainBreak | undefined;
  private readonly key: AuditKey;
  private readonly anchors: readonly ChainAnchor[];
  private readonly reached = new Set<ChainAnchor>();

  constructor(
    private readonly head: ChainHead | null,
    options: VerifyOptions,
  ) {
    this.key = options.key;
    this.anchors = options.anchors ?? [];
  }

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
    const link =
      fields['mac'] !== undefined ? this.checkKeyed(id, entry, fields) : this.checkUnkeyed(id, entry, fields);
    if (link === null) return false;
    this.prevHash = link;
    this.seq = entry.seq;
    if (this.head && entry.seq === this.head.seq && link !== this.head.hash) {
      return this.fail({
        id,
        seq: entry.seq,
        problem: 'the chain was rebuilt: this entry is not the one the head key recorded',
        expected: `${this.head.keyed ? 'mac' : 'hash'} ${this.head.hash}`,
        found: `${fields['mac'] !== undefined ? 'mac' : 'hash'} ${link}`,
      });
    }
    for (const anchor of this.anchors) {
      if (anchor.seq !== entry.seq) continue;
      if (!safeEqualHex(anchor.mac, link)) {
        return this.fail({
          id,
          seq: entry.seq,
          problem: 'this entry is not the one the anchor published: the chain was rewritten up to here',
          expected: `mac ${anchor.mac}`,
          found: `${fields['mac'] !== undefined ? 'mac' : 'hash'} ${link}`,
        });
      }
      this.reached.add(anchor);
    }
    return true;
  }

  private checkKeyed(id: string, entry: ChainEntry, fields: Record<string, string>): string | null {
    if (this.key === null) {
      this.fail({
        id,
        seq: entry.seq,
        problem: 'keyed entry: it can only be checked with the audit key (set WARD_ENCRYPTION_KEY)',
        expected: 'the key',
        found: 'no key',
      });
      return null;
    }
    if (!this.keyedSeen && this.unkeyed > 0 && entry.event.type !== MIGRATION_EVENT) {
      // An unkeyed prefix counts only when `migrate` verified it before sealing it with a MAC.
      this.fail({
        id,
        seq: entry.seq,
        problem: `unkeyed entries before this one were never sealed by \`npm run audit -- migrate\` (inserted by someone without the key?)`,
        expected: `event ${MIGRATION_EVENT}`,
        found: `event ${entry.event.type}`,
      });
      return null;
    }
    const computed = macEntry(this.key, entry.prev, fields['entry']!);
    if (!safeEqualHex(fields['mac']!, computed)) {
      this.fail({
        id,
        seq: entry.seq,
        problem: 'content does not match its MAC (the entry was edited, or written without the key)',
        expected: `mac ${computed}`,
        found: `mac ${fields['mac']}`,
      });
      return null;
    }
    this.keyedSeen = true;
    return computed;
  }

  private checkUnkeyed(id: string, entry: ChainEntry, fields: Record<string, string>): string | null {
    if (this.keyedSeen) {
      this.fail({
        id,
        seq: entry.seq,
        problem: 'an unkeyed entry after keyed ones (written by someone without the key)',
        expected: 'mac field',
        found: `hash ${fields['hash'] ?? '(none)'}`,
      });
      return null;
    }
    const computed = hashEntry(entry.prev, fields['entry']!);
    if (fields['hash'] !== computed) {
      this.fail({
        id,
        seq: entry.seq,
        problem: 'content does not match its hash (the entry was edited)',
        expected: `hash ${computed}`,
        found: `hash ${fields['hash'] ?? '(none)'}`,
      });
      return null;
    }
    this.unkeyed++;
    return computed;
  }

  /** Ends the walk: checks that the chain reaches the head recorded before the walk, and every anchor. */
  finish(): ChainVerdict {
    if (this.failure) return { ok: false, entries: this.count, break: this.failure };
    const head = this.head;
    const missed = this.anchors.filter((a) => !this.reached.has(a)).sort((x, y) => y.seq - x.seq)[0];
    if (missed) {
      this.fail({
        id: this.lastId || '(empty stream)',
        seq: this.seq || null,
        problem: `the chain ends before a published anchor: entries up to seq ${missed.seq} were deleted`,
        expected: `anchor seq ${missed.seq} mac ${missed.mac}`,
        found: this.seq ? `last seq ${this.seq}` : 'no entries',
      });
      return { ok: false, entries: this.count, break: this.failure! };
    }
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
    if (this.key !== null && this.count > 0 && !this.keyedSeen) {
      this.fail({
        id: this.lastId,
        seq: this.seq,
        problem:
          'the whole chain is unkeyed: either it predates keyed audit (run `npm run audit -- migrate` once) or it was rewritten by someone without the key',
        expected: 'keyed entries (mac field)',
        found: `${this.count} unkeyed entries`,
      });
      return { ok: false, entries: this.count, break: this.failure! };
    }
    return {
      ok: true,
      entries: this.count,
      head: this.seq ? { seq: this.seq, hash: this.prevHash, keyed: this.keyedSeen } : null,
      unkeyed: this.unkeyed,
      anchors: [...this.reached],
    };
  }

  private fail(b: ChainBreak): false {
    this.failure = b;
    return false;
  }
}

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether the chain holds over `[fromSeq, toSeq]`, and the first problem when it does not. */
export type RangeVerdict = { ok: true } | { ok: false; seq: number | null; problem: string };

/** An entry's link value: its MAC in a keyed chain, its hash in an unkeyed one. */
export function linkOf(fields: Record<string, string>): string | undefined {
  return fields['mac'] ?? fields['hash'];
}

/**
 * Verifies a stretch of the chain (an incident's entries) without trusting anything inside it: every entry from
 * `fromSeq` to `toSeq` must be readable, numbered in order, link to the one before it and match its own MAC (with
 * `key`; an unkeyed entry is refused when a key is given) or hash (unkeyed chains), and the entry after `toSeq` (or
 * the head key, when `toSeq` is the newest) must link to the last one, so that an entry edited along with its link is
 * caught too. The entry before `fromSeq` is the anchor. `entries` is the stream, oldest first.
 */
export function verifyRange(
  entries: readonly StreamEntry[],
  fromSeq: number,
  toSeq: number,
  head: ChainHead | null,
  key: AuditKey,
): RangeVerdict {
  let prev: string | undefined = fromSeq === 1 ? GENESIS_HASH : undefined;
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
      prev = linkOf(e.fields);
      continue;
    }
    if (entry.seq < fromSeq) continue;
    if (prev === undefined)
      return { ok: false, seq: fromSeq - 1, problem: 'the entry before the range is missing' };
    if (entry.seq !== expected) {
      return {
        ok: false,
        seq: entry.seq,
        problem: `expected seq ${expected}, found ${entry.seq} (deleted or inserted)`,
      };
    }
    if (entry.prev !== prev) {
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
    const text = e.fields['entry']!;
    const mac = e.fields['mac'];
    if (key !== null && mac === undefined) {
      return { ok: false, seq: entry.seq, problem: 'an unkeyed entry where the chain is keyed (rewritten?)' };
    }
    const good =
      mac !== undefined
        ? key !== null && safeEqualHex(macEntry(key, entry.prev, text), mac)
        : hashEntry(entry.prev, text) === e.fields['hash'];
    if (!good) {
      return {
        ok: false,
        seq: entry.seq,
        problem: 'content does not match its MAC or hash (the entry was edited)',
      };
    }
    prev = linkOf(e.fields);
    expected++;
  }
  if (expected <= toSeq) return { ok: false, seq: expected, problem: 'entries of the range are missing' };
  if (!closed && (head === null || head.seq !== toSeq || head.hash !== prev)) {
    return {
      ok: false,
      seq: toSeq,
      problem: 'the newest entry does not match the head key (edited or rebuilt?)',
    };
  }
  return { ok: true };
}
