import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { deriveAuditKey } from '../../src/audit/chain.js';
import { approve, requestKey } from '../../src/core/approvals/request.js';
import {
  deriveRequestKey,
  openRecord,
  sealRecord,
  TamperedRequestError,
} from '../../src/core/approvals/request-seal.js';
import { RequestStore, type TamperedRecord } from '../../src/core/approvals/request-store.js';
import { sampleRequest } from '../helpers/sample-request.js';

const KEY = deriveRequestKey('b2'.repeat(32));

function reseal(raw: string, change: Record<string, unknown>): string {
  return JSON.stringify({ ...(JSON.parse(raw) as object), ...change });
}

describe('request seals', () => {
  const req = sampleRequest({ id: 'r-5ea1ed' });
  const raw = sealRecord(KEY, req);

  it('a record ward sealed opens as it was written', () => {
    const opened = openRecord(KEY, req.id, raw);
    expect(opened.ok && opened.req).toEqual(JSON.parse(JSON.stringify(req)));
  });

  it.each([
    ['status', { status: 'approved' }],
    ['votes', { approvals: [{ user: 'U0FORGED', at: 1 }] }],
    ['requester factor', { requesterMfa: 'verified' }],
    ['plan hash', { planHash: 'f'.repeat(64) }],
    ['policy', { approvalsNeeded: 0 }],
    ['command args', { args: { host: 'db1' } }],
    ['requester', { requester: 'U0SOMEONE' }],
    ['channel', { channel: 'C0ELSEWHERE' }],
    ['version', { version: 99 }],
  ])('any change to the %s fails the check', (_what, change) => {
    expect(openRecord(KEY, req.id, reseal(raw, change))).toMatchObject({ ok: false, problem: 'tampered' });
  });

  it("another request's valid record copied under this id fails", () => {
    expect(openRecord(KEY, 'r-0the40', raw)).toMatchObject({ ok: false, problem: 'tampered' });
  });

  it('another key (a rotated WARD_ENCRYPTION_KEY) fails; no seal, an unkeyed digest or no key to check with are named', () => {
    expect(openRecord(deriveRequestKey('c3'.repeat(32)), req.id, raw)).toMatchObject({ problem: 'tampered' });
    expect(openRecord(KEY, req.id, reseal(raw, { seal: undefined }))).toMatchObject({ problem: 'unsealed' });
    expect(openRecord(KEY, req.id, sealRecord(null, req))).toMatchObject({ problem: 'unsealed' });
    expect(openRecord(null, req.id, raw)).toMatchObject({ problem: 'unverifiable' });
    expect(openRecord(null, req.id, sealRecord(null, req)).ok).toBe(true);
    expect(openRecord(KEY, req.id, 'not json')).toMatchObject({ problem: 'tampered' });
  });

  it('the request key is not the audit key, though both come from WARD_ENCRYPTION_KEY', () => {
    expect(KEY?.equals(deriveAuditKey('b2'.repeat(32))!)).toBe(false);
  });
});

describe('RequestStore', () => {
  it('every transition is resealed; a record edited in between is refused and reported, never overwritten', async () => {
    const store = new MemoryStore();
    const reported: TamperedRecord[] = [];
    const requests = new RequestStore(
      () => store,
      () => KEY,
      async (t) => {
        reported.push(t);
      },
    );
    const req = sampleRequest({
      id: 'r-5ea1ed',
      approvalsNeeded: 2,
      requesterMfa: 'not_required',
      createdAt: Date.now(),
      expiresAt: Date.now() + 600_000,
    });
    expect(await requests.create(req)).toBe(true);
    const voted = await requests.update(req.id, (r) => approve(r, 'U0APPROVE1', Date.now()));
    expect(voted?.result).toBe('ok');
    expect(voted?.changed).toBe(true);
    expect((await requests.get(req.id))?.approvals.map((v) => v.user)).toEqual(['U0APPROVE1']);

    const edited = reseal((await store.get(requestKey(req.id)))!, { status: 'approved' });
    await store.set(requestKey(req.id), edited);
    await expect(requests.update(req.id, (r) => approve(r, 'U0APPROVE2', Date.now()))).rejects.toThrow(
      TamperedRequestError,
    );
    await expect(requests.get(req.id)).rejects.toMatchObject({
      userMessage: expect.stringContaining('was modified outside ward; nothing was run'),
    });
    expect(await store.get(requestKey(req.id))).toBe(edited);
    expect(reported.map((t) => [t.id, t.problem, t.claimed.status])).toEqual([
      [req.id, 'tampered', 'approved'],
      [req.id, 'tampered', 'approved'],
    ]);
  });

  it('concurrent votes all land, each write resealed over what it read; an outside write in between is refused, not sealed', async () => {
    const store = new MemoryStore();
    let outsideWrite: (() => Promise<void>) | undefined;
    // A store that lets an outsider write right after ward has read the record (before ward's compare-and-set).
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'get') return Reflect.get(target, prop, receiver);
        return async (key: string) => {
          const value = await target.get(key);
          const write = outsideWrite;
          outsideWrite = undefined;
          await write?.();
          return value;
        };
      },
    });
    const reported: TamperedRecord[] = [];
    const requests = new RequestStore(
      () => racing,
      () => KEY,
      async (t) => {
        reported.push(t);
      },
    );
    const req = sampleRequest({
      id: 'r-c0ffee',
      approvalsNeeded: 50,
      requesterMfa: 'not_required',
      createdAt: Date.now(),
      expiresAt: Date.now() + 600_000,
    });
    await requests.create(req);
    const voters = Array.from({ length: 20 }, (_, i) => `U0VOTER${i}`);
    await Promise.all(voters.map((u) => requests.update(req.id, (r) => approve(r, u, Date.now()))));
    expect((await requests.get(req.id))?.approvals.map((v) => v.user).sort()).toEqual([...voters].sort());

    // Between ward's read and its write, someone adds a vote in Redis (keeping the seal they found).
    outsideWrite = async () => {
      const raw = (await store.get(requestKey(req.id)))!;
      const record = JSON.parse(raw) as { approvals: unknown[] };
      await store.set(
        requestKey(req.id),
        JSON.stringify({ ...record, approvals: [...record.approvals, { user: 'U0FORGED', at: 1 }] }),
      );
    };
    await expect(requests.update(req.id, (r) => approve(r, 'U0LATE', Date.now()))).rejects.toThrow(
      TamperedRequestError,
    );
    const stored = JSON.parse((await store.get(requestKey(req.id)))!) as {
      approvals: Array<{ user: string }>;
    };
    expect(stored.approvals.map((v) => v.user)).toContain('U0FORGED');
    expect(stored.approvals.map((v) => v.user)).not.toContain('U0LATE');
    expect(reported).toHaveLength(1);
  });
});
