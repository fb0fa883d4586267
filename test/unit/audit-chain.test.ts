import { describe, expect, it } from 'vitest';
import { ChainedAuditLog } from '../../src/adapters/audit/chained-audit-log.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { AUDIT_HEAD_KEY, AUDIT_STREAM, ChainVerifier, parseHead } from '../../src/audit/chain.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { systemClock } from '../../src/ports/clock.js';
import type { Store } from '../../src/ports/store.js';

async function verify(store: Store) {
  const v = new ChainVerifier(parseHead(await store.get(AUDIT_HEAD_KEY)));
  for (const e of await store.streamRange(AUDIT_STREAM)) v.add(e.id, e.fields);
  return v.finish();
}

async function filled(n: number) {
  const store = new MemoryStore();
  const audit = new ChainedAuditLog(store, systemClock);
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
    const a = new ChainedAuditLog(store, systemClock);
    const b = new ChainedAuditLog(store, systemClock);
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

  it('deleting the newest entry leaves the chain short of its head', async () => {
    const { store } = await filled(3);
    const entries = await store.streamRange(AUDIT_STREAM);
    await store.del(AUDIT_STREAM);
    for (const e of entries.slice(0, 2)) await store.streamAppend(AUDIT_STREAM, e.fields);
    const verdict = await verify(store);
    expect(verdict).toMatchObject({ ok: false, break: { problem: expect.stringMatching(/newest entries/) } });
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
