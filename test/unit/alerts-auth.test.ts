import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkBearer, checkHmacSignature, signHmac } from '../../src/alerts/auth.js';

describe('checkBearer', () => {
  it('accepts the configured token, with the scheme in any case', () => {
    expect(checkBearer('Bearer s3cret-token', 's3cret-token')).toBe(true);
    expect(checkBearer('bearer s3cret-token', 's3cret-token')).toBe(true);
  });

  it('refuses a wrong, missing, prefixed or differently-schemed token', () => {
    expect(checkBearer('Bearer s3cret-tokem', 's3cret-token')).toBe(false);
    expect(checkBearer('Bearer s3cret-token-and-more', 's3cret-token')).toBe(false);
    expect(checkBearer('Bearer s3cret', 's3cret-token')).toBe(false);
    expect(checkBearer(undefined, 's3cret-token')).toBe(false);
    expect(checkBearer('s3cret-token', 's3cret-token')).toBe(false);
    expect(checkBearer('Basic s3cret-token', 's3cret-token')).toBe(false);
    expect(checkBearer('Bearer ', 's3cret-token')).toBe(false);
  });

  it('keeps a source with no configured token closed', () => {
    expect(checkBearer('Bearer ', '')).toBe(false);
    expect(checkBearer('Bearer anything', '')).toBe(false);
  });
});

describe('checkHmacSignature', () => {
  const secret = 'hmac-secret';
  const body = Buffer.from('{"title":"Disk full","host":"web1"}');
  const nowMs = 1_714_564_800_000; // 2024-05-01T12:00:00Z
  const ts = nowMs / 1000;

  function headers(h: { 'X-Ward-Timestamp': string; 'X-Ward-Signature': string }) {
    return { timestamp: h['X-Ward-Timestamp'], signature: h['X-Ward-Signature'] };
  }

  it('accepts a body signed as documented: sha256=hex(HMAC(secret, "<ts>.<body>"))', () => {
    const hex = createHmac('sha256', secret).update(`${ts}.${body.toString()}`).digest('hex');
    // The verified signature comes back in lowercase hex: the key of its one use, whatever case was sent.
    expect(
      checkHmacSignature(
        body,
        { signature: `sha256=${hex.toUpperCase()}`, timestamp: String(ts) },
        secret,
        nowMs,
      ),
    ).toEqual({ ok: true, signature: hex });
    expect(checkHmacSignature(body, headers(signHmac(body, secret, ts - 299)), secret, nowMs).ok).toBe(true);
  });

  it('refuses a changed body, a changed timestamp and a wrong secret', () => {
    const h = headers(signHmac(body, secret, ts));
    expect(checkHmacSignature(Buffer.from(`${body} `), h, secret, nowMs)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(checkHmacSignature(body, { ...h, timestamp: String(ts - 1) }, secret, nowMs)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(checkHmacSignature(body, h, 'other-secret', nowMs)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a replay older than 5 minutes, and a timestamp too far ahead', () => {
    expect(checkHmacSignature(body, headers(signHmac(body, secret, ts - 301)), secret, nowMs)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(checkHmacSignature(body, headers(signHmac(body, secret, ts + 301)), secret, nowMs)).toEqual({
      ok: false,
      reason: 'stale',
    });
  });

  it('refuses a timestamp outside a configured window either way (4 min ahead passes ±5 min, not ±3 min)', () => {
    const fourMinutesAhead = headers(signHmac(body, secret, ts + 240));
    expect(checkHmacSignature(body, fourMinutesAhead, secret, nowMs).ok).toBe(true);
    expect(checkHmacSignature(body, fourMinutesAhead, secret, nowMs, 180_000)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(
      checkHmacSignature(body, headers(signHmac(body, secret, ts - 181)), secret, nowMs, 180_000),
    ).toEqual({ ok: false, reason: 'stale' });
    expect(
      checkHmacSignature(body, headers(signHmac(body, secret, ts - 179)), secret, nowMs, 180_000).ok,
    ).toBe(true);
  });

  it('refuses missing or malformed headers, and is closed without a secret', () => {
    const h = headers(signHmac(body, secret, ts));
    expect(checkHmacSignature(body, { ...h, signature: undefined }, secret, nowMs).ok).toBe(false);
    expect(checkHmacSignature(body, { ...h, timestamp: undefined }, secret, nowMs)).toEqual({
      ok: false,
      reason: 'missing',
    });
    expect(
      checkHmacSignature(body, { ...h, signature: h.signature.replace('sha256=', 'sha1=') }, secret, nowMs),
    ).toEqual({ ok: false, reason: 'malformed' });
    expect(checkHmacSignature(body, { ...h, timestamp: '2024-05-01T12:00:00Z' }, secret, nowMs)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(checkHmacSignature(body, h, '', nowMs)).toEqual({ ok: false, reason: 'disabled' });
  });
});
