import { describe, expect, it } from 'vitest';
import { ChainedAuditLog } from '../../src/adapters/audit/chained-audit-log.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { AnchorPublisher } from '../../src/audit/anchor.js';
import {
  AUDIT_HEAD_KEY,
  AUDIT_STREAM,
  type AuditKey,
  type ChainAnchor,
  ChainVerifier,
  deriveAuditKey,
  formatHead,
  hashEntry,
  nextLink,
  parseAnchor,
  parseEntry,
  parseHead,
} from '../../src/audit/chain.js';
import { migrateAuditChain, verifyAuditChain } from '../../src/cli/audit.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { systemClock } from '../../src/ports/clock.js';
import type { Store } from '../../src/ports/store.js';

const KEY = deriveAuditKey('ab'.repeat(32));

async function verify(store: Store, key: AuditKey = KEY, anchors: ChainAnchor[] = []) {
  const v = new ChainVerifier(parseHead(await store.get(AUDIT_HEAD_KEY)), { key, anchors });
  for (const e of await store.streamRange(AUDIT_STREAM)) v.add(e.id, e.fields);
  return v.finish();
}

async function filled(n: number, key: AuditKey = KEY) {
  const store = new MemoryStore();
  const audit = new ChainedAuditLog(store, systemClock, key);
  for (let i = 0; i < n; i++) {
    await audit.record({ type: 'execution.started', actor: 'U1', requestId: `r-000${i}`, hosts: ['web1'] });
  }
  return { store, audit };
}

describe('hash-chained audit log', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('a healthy log verifies, with the head at the last entry', async () => {
    const { store } = await filled(5);
    const verdict = await verify(store);
    expect(verdict).toMatchObject({ ok: true, entries: 5, head: { seq: 5 } });
  });

  it('concurrent writers (two replicas on one store) never fork the chain', async () => {
    const store = new MemoryStore();
    const a = new ChainedAuditLog(store, systemClock, KEY);
    const b = new ChainedAuditLog(store, systemClock, KEY);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).record({ type: 'alert.accepted', outcome: `${i}` }),
      ),
    );
    expect(await verify(store)).toMatchObject({ ok: true, entries: 40 });
  });

  it('an edited entry is named, with the expected and found hash', async () => {
    const { store } = await filled(4);
    const entries = await store.streamRange(AUDIT_STREAM);
    const victim = entries[1]!;
    // Rewrite the stream with entry 2's actor changed but its stored hash kept.
    const forged = victim.fields['entry']!.replace('"actor":"U1"', '"actor":"U9"');
    await store.del(AUDIT_STREAM);
    for (const e of entries) {
      await store.streamAppend(AUDIT_STREAM, e === victim ? { ...e.fields, entry: forged } : e.fields);
    }
    const verdict = await verify(store);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.break.seq).toBe(2);
    expect(verdict.break.problem).toMatch(/edited/);
    expect(verdict.break.expected).not.toBe(verdict.break.found);
  });

  it('a deleted entry breaks the link of the one after it', async () => {
    const { store } = await filled(4);
    const entries = await store.streamRange(AUDIT_STREAM);
    await store.del(AUDIT_STREAM);
    for (const e of entries) if (e !== entries[2]) await store.streamAppend(AUDIT_STREAM, e.fields);
    const verdict = await verify(store);
    expect(verdict).toMatchObject({ ok: false, break: { seq: 4, expected: 'seq 3', found: 'seq 4' } });
  });

  it('deleting the newest entries with the head left alone leaves the chain short of its head', async () => {
    const { store } = await filled(3);
    const entries = await store.streamRange(AUDIT_STREAM);
    await store.del(AUDIT_STREAM);
    for (const e of entries.slice(0, 2)) await store.streamAppend(AUDIT_STREAM, e.fields);
    const verdict = await verify(store);
    expect(verdict).toMatchObject({ ok: false, break: { problem: expect.stringMatching(/newest entries/) } });
  });

  it('a consistent rewrite (a deny and its vote deleted, a reason edited, all re-linked) fails without the key', async () => {
    const { store } = await filled(5);
    const entries = await store.streamRange(AUDIT_STREAM);
    // What someone with Redis write access does: re-link every kept entry with sha256 or with a guessed key, and
    // move the head. Both were accepted by the unkeyed chain.
    for (const forger of [null, deriveAuditKey('cd'.repeat(32))] as AuditKey[]) {
      await store.del(AUDIT_STREAM);
      let head = null as ReturnType<typeof parseHead>;
      for (const e of entries.filter((_, i) => i !== 2)) {
        const old = parseEntry(e.fields['entry'])!;
        const event = { ...old.event, details: { reason: 'routine maintenance' } };
        const link = nextLink(head, old.at, event, forger);
        await store.streamAppend(AUDIT_STREAM, link.fields);
        head = link.head;
      }
      await store.set(AUDIT_HEAD_KEY, formatHead(head!));
      const verdict = await verify(store);
      expect(verdict.ok).toBe(false);
      if (verdict.ok) return;
      expect(verdict.break.seq).toBe(forger === null ? 4 : 1);
      expect(verdict.break.problem).toMatch(forger === null ? /whole chain is unkeyed/ : /MAC/);
    }
  });

  it('entries deleted after an anchor, with the head moved back, fail against that anchor', async () => {
    const { store } = await filled(6);
    const anchor = parseAnchor(`6:${parseHead(await store.get(AUDIT_HEAD_KEY))!.hash}`)!;
    const entries = await store.streamRange(AUDIT_STREAM);
    await store.del(AUDIT_STREAM);
    for (const e of entries.slice(0, 4)) await store.streamAppend(AUDIT_STREAM, e.fields);
    const fourth = parseEntry(entries[4]!.fields['entry'])!.prev;
    await store.set(AUDIT_HEAD_KEY, formatHead({ seq: 4, hash: fourth, keyed: true }));
    // Without the anchor, the truncated chain is indistinguishable from an intact one.
    expect(await verify(store)).toMatchObject({ ok: true, entries: 4 });
    expect(await verify(store, KEY, [anchor])).toMatchObject({
      ok: false,
      break: { problem: expect.stringMatching(/ends before a published anchor: entries up to seq 6/) },
    });
  });

  it('an anchor whose entry was replaced fails, and an intact anchor is reported as reached', async () => {
    const { store } = await filled(3);
    const head = parseHead(await store.get(AUDIT_HEAD_KEY))!;
    expect(await verify(store, KEY, [{ seq: 3, mac: head.hash }])).toMatchObject({
      ok: true,
      anchors: [{ seq: 3 }],
    });
    expect(await verify(store, KEY, [{ seq: 2, mac: 'f'.repeat(64) }])).toMatchObject({
      ok: false,
      break: { seq: 2, problem: expect.stringMatching(/not the one the anchor published/) },
    });
  });

  it('an emptied log (stream and head deleted) fails against a known anchor', async () => {
    const { store } = await filled(3);
    const anchor = { seq: 3, mac: parseHead(await store.get(AUDIT_HEAD_KEY))!.hash };
    await store.del(AUDIT_STREAM);
    await store.del(AUDIT_HEAD_KEY);
    const lines: string[] = [];
    const io = { out: async (t: string) => void lines.push(t), err: (t: string) => void lines.push(t) };
    expect(await verifyAuditChain(store, io, { key: KEY, anchors: [] })).toBe(0);
    expect(lines.join('')).toMatch(/the log is empty[\s\S]*no --anchor given/);
    expect(await verifyAuditChain(store, io, { key: KEY, anchors: [anchor] })).toBe(1);
    expect(lines.join('')).toMatch(/BROKEN at entry \(empty stream\).*entries up to seq 3 were deleted/);
  });

  it('migrate verifies an unkeyed chain, seals it, and a later rewrite of the old part is caught', async () => {
    const { store } = await filled(3, null);
    const lines: string[] = [];
    const io = { out: async (t: string) => void lines.push(t), err: (t: string) => void lines.push(t) };
    // Before migration a keyed ward refuses to extend it, and a keyed verify says why.
    await expect(new ChainedAuditLog(store, systemClock, KEY).record({ type: 'x' })).rejects.toThrow(
      /migrate/,
    );
    expect(await verify(store)).toMatchObject({
      ok: false,
      break: { problem: expect.stringMatching(/migrate/) },
    });

    expect(await migrateAuditChain(store, io, KEY!, systemClock)).toBe(0);
    expect(lines.join('')).toMatch(/3 unkeyed entries verified and sealed by entry 4/);
    await new ChainedAuditLog(store, systemClock, KEY).record({ type: 'execution.started', actor: 'U2' });
    expect(await verify(store)).toMatchObject({ ok: true, entries: 5, unkeyed: 3 });
    expect((await store.streamRange(AUDIT_STREAM))[3]!.fields['entry']).toContain('"type":"audit.migrated"');
    // A second run changes nothing.
    expect(await migrateAuditChain(store, io, KEY!, systemClock)).toBe(0);
    expect(await verify(store)).toMatchObject({ ok: true, entries: 5 });

    // Rewriting the unkeyed prefix consistently (sha256 needs no key) no longer links to the sealing entry.
    const entries = await store.streamRange(AUDIT_STREAM);
    await store.del(AUDIT_STREAM);
    let prev = '0'.repeat(64);
    for (const [i, e] of entries.entries()) {
      if (i < 3) {
        const old = parseEntry(e.fields['entry'])!;
        const entry = canonicalJson({ ...old, prev, event: { ...old.event, actor: 'U9' } });
        prev = hashEntry(prev, entry);
        await store.streamAppend(AUDIT_STREAM, { entry, hash: prev });
      } else await store.streamAppend(AUDIT_STREAM, e.fields);
    }
    expect(await verify(store)).toMatchObject({
      ok: false,
      break: { seq: 4, problem: expect.stringMatching(/link/) },
    });
  });

  it('migrate refuses to seal an unkeyed chain that does not verify', async () => {
    const { store } = await filled(3, null);
    const entries = await store.streamRange(AUDIT_STREAM);
    await store.del(AUDIT_STREAM);
    for (const e of entries) if (e !== entries[1]) await store.streamAppend(AUDIT_STREAM, e.fields);
    const err: string[] = [];
    const io = { out: async () => {}, err: (t: string) => void err.push(t) };
    expect(await migrateAuditChain(store, io, KEY!, systemClock)).toBe(1);
    expect(err.join('')).toMatch(/was not sealed[\s\S]*BROKEN/);
    expect(parseHead(await store.get(AUDIT_HEAD_KEY))).toMatchObject({ seq: 3, keyed: false });
  });

  it('keyed entries cannot be checked, or extended, without the key', async () => {
    const { store } = await filled(2);
    expect(await verify(store, null)).toMatchObject({
      ok: false,
      break: { problem: expect.stringMatching(/WARD_ENCRYPTION_KEY/) },
    });
    await expect(new ChainedAuditLog(store, systemClock, null).record({ type: 'x' })).rejects.toThrow(
      /WARD_ENCRYPTION_KEY/,
    );
  });

  it('the anchor publisher logs each new head once and posts it to the channel', async () => {
    const { store, audit } = await filled(2);
    const logged: string[] = [];
    const posted: string[] = [];
    const publisher = new AnchorPublisher({
      head: () => audit.head(),
      log: { info: (_o: unknown, msg: string) => void logged.push(msg), warn: () => {} } as never,
      chat: {
        postMessage: async (_c, m) => {
          posted.push(m.text);
          return { channel: 'C0AUDIT', ts: '1.1' };
        },
      },
      store,
      channel: 'C0AUDIT',
    });
    const first = await publisher.publish();
    expect(first).toMatch(/^2:[0-9a-f]{64}$/);
    expect(await publisher.publish()).toBe(first);
    await audit.record({ type: 'execution.started' });
    const second = await publisher.publish();
    expect(posted).toEqual([`ward audit anchor: ${first}`, `ward audit anchor: ${second}`]);
    expect(logged).toHaveLength(2);
    expect(await verify(store, KEY, [parseAnchor(first!)!, parseAnchor(second!)!])).toMatchObject({
      ok: true,
    });
  });

  it('recent() filters by request, actor and host, newest first', async () => {
    const { audit } = await filled(3);
    await audit.record({ type: 'execution.finished', actor: 'U2', requestId: 'r-0001', hosts: ['db1'] });
    expect((await audit.recent({ requestId: 'r-0001' }, 10)).map((r) => r.type)).toEqual([
      'execution.finished',
      'execution.started',
    ]);
    expect((await audit.recent({ actor: 'U2' }, 10)).length).toBe(1);
    expect((await audit.recent({ host: 'web1' }, 2)).map((r) => r.requestId)).toEqual(['r-0002', 'r-0001']);
  });
});
