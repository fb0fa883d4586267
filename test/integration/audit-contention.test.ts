import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChainedAuditLog } from '../../src/adapters/audit/chained-audit-log.js';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import {
  AUDIT_HEAD_KEY,
  AUDIT_STREAM,
  ChainVerifier,
  deriveAuditKey,
  parseHead,
} from '../../src/audit/chain.js';

const KEY = deriveAuditKey('5e'.repeat(32));

import { systemClock } from '../../src/ports/clock.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';

let redis: RedisProcess;
let store: RedisStore;

beforeAll(async () => {
  redis = await startRedis();
  store = new RedisStore(redis.url);
  await store.connect();
});

// Tests run shuffled: each starts from an empty log.
beforeEach(async () => {
  await store.del(AUDIT_HEAD_KEY);
  await store.del(AUDIT_STREAM);
});

afterAll(async () => {
  await store?.close();
  await redis?.stop();
});

describe('audit log under load (real Redis)', () => {
  it('a thousand requests in flight in one ward all get their entry, in one unbroken chain', async () => {
    const audit = new ChainedAuditLog(store, systemClock, KEY);
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) =>
        audit.record({ type: 'approval.requested', requestId: `r-${i}` }),
      ),
    );
    // Before appends were queued per process, concurrent requests collided on the chain head until they gave up
    // ("the audit log is too busy"), and the command they belonged to failed.
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const verifier = new ChainVerifier(parseHead(await store.get(AUDIT_HEAD_KEY)), { key: KEY });
    for (const e of await store.streamRange(AUDIT_STREAM)) verifier.add(e.id, e.fields);
    expect(verifier.finish()).toMatchObject({ ok: true, entries: 1000 });
  });

  it('two replicas writing bursts at once keep one unbroken chain with every entry exactly once', async () => {
    const a = new ChainedAuditLog(store, systemClock, KEY);
    const b = new ChainedAuditLog(store, systemClock, KEY);
    // Each replica batches what it is given in a tick into one guarded append; the two collide on the head and retry.
    const results = await Promise.allSettled(
      Array.from({ length: 600 }, (_, i) =>
        (i % 2 === 0 ? a : b).record({ type: 'alert.accepted', requestId: `burst-${i}` }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const entries = await store.streamRange(AUDIT_STREAM);
    const verifier = new ChainVerifier(parseHead(await store.get(AUDIT_HEAD_KEY)), { key: KEY });
    for (const e of entries) verifier.add(e.id, e.fields);
    expect(verifier.finish()).toMatchObject({ ok: true, entries: 600 });
    const ids = entries.map(
      (e) => (JSON.parse(e.fields['entry']!) as { event: { requestId: string } }).event.requestId,
    );
    expect(new Set(ids).size).toBe(600);
  });
});
