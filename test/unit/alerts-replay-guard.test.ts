import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import {
  checkSnsTimestamp,
  claimOnce,
  hmacSignatureKey,
  snsMaxFutureSkewMs,
  snsMessageKey,
} from '../../src/alerts/replay-guard.js';

const nowMs = Date.parse('2024-05-01T12:00:00.000Z');
const hourMs = 3_600_000;

describe('SNS freshness window', () => {
  it('accepts a message from within the last hour and one slightly ahead of ward’s clock', () => {
    expect(checkSnsTimestamp('2024-05-01T11:00:01.000Z', nowMs, hourMs)).toEqual({ ok: true });
    expect(checkSnsTimestamp('2024-05-01T12:04:59.000Z', nowMs, hourMs)).toEqual({ ok: true });
  });

  it('refuses a message dated 2015, or older than the configured age, saying how old it is', () => {
    const old = checkSnsTimestamp('2015-06-01T00:00:00.000Z', nowMs, hourMs);
    expect(old).toMatchObject({ ok: false, reason: 'stale' });
    expect(!old.ok && old.detail).toMatch(/s old \(at most 3600 s accepted\)/);
    expect(checkSnsTimestamp('2024-05-01T10:59:59.000Z', nowMs, hourMs)).toMatchObject({
      ok: false,
      reason: 'stale',
    });
    expect(checkSnsTimestamp('2024-05-01T11:58:59.000Z', nowMs, 60_000)).toMatchObject({ reason: 'stale' });
  });

  it('refuses a message more than 5 minutes in the future, and a Timestamp that is not a time', () => {
    expect(snsMaxFutureSkewMs).toBe(300_000);
    expect(checkSnsTimestamp('2024-05-01T12:05:01.000Z', nowMs, hourMs)).toMatchObject({
      ok: false,
      reason: 'future',
    });
    expect(checkSnsTimestamp('yesterday', nowMs, hourMs)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('one use per SNS MessageId or HMAC signature', () => {
  it('the first claim wins, a second is refused until the window has passed', async () => {
    let now = nowMs;
    const store = new MemoryStore({ now: () => now });
    const key = snsMessageKey('22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324');
    expect(await claimOnce(store, key, hourMs)).not.toBeNull();
    expect(await claimOnce(store, key, hourMs)).toBeNull();
    now += hourMs - 1;
    expect(await claimOnce(store, key, hourMs)).toBeNull();
    // Past the window the freshness check refuses the message anyway; the record may go.
    now += 2;
    expect(await claimOnce(store, key, hourMs)).not.toBeNull();
  });

  it('a released claim (the alerts could not be recorded) lets the sender’s retry through', async () => {
    const store = new MemoryStore();
    const key = hmacSignatureKey('ab'.repeat(32));
    const claim = await claimOnce(store, key, 600_000);
    expect(claim).not.toBeNull();
    await claim!.release();
    expect(await claimOnce(store, key, 600_000)).not.toBeNull();
    expect(await claimOnce(store, key, 600_000)).toBeNull();
  });

  it('keeps MessageIds and signatures apart, under ward:alert:*', () => {
    expect(snsMessageKey('x')).toBe('ward:alert:sns-seen:x');
    expect(hmacSignatureKey('x')).toBe('ward:alert:hmac-seen:x');
  });
});
