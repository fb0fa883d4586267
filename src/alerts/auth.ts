import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook authentication helpers. Every comparison of a secret is constant-time: both sides are hashed to a fixed
 * length first, so neither the content nor the length of the expected value leaks through timing.
 */

function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The digest of the configured secret last compared against: it is the same on every request of a storm. */
let expectedDigest: { value: string; digest: Buffer } | undefined;

function equalsExpected(given: string, expected: string): boolean {
  if (expectedDigest?.value !== expected) expectedDigest = { value: expected, digest: digest(expected) };
  return timingSafeEqual(digest(given), expectedDigest.digest);
}

/**
 * `Authorization: Bearer <token>` (scheme case-insensitive, as RFC 6750 allows). False when the header is missing
 * or malformed, and always false when `expected` is empty: a source without a configured token is disabled, never
 * open.
 */
export function checkBearer(headerValue: string | undefined, expected: string): boolean {
  if (expected === '' || headerValue === undefined) return false;
  const m = /^Bearer +(\S+) *$/i.exec(headerValue);
  if (!m?.[1]) return false;
  return equalsExpected(m[1], expected);
}

/**
 * How far a signed request's timestamp may be from ward's clock, either way, by default: 5 minutes
 * (WARD_ALERT_HMAC_WINDOW_SECONDS).
 */
export const hmacMaxSkewMs = 5 * 60 * 1000;

export type HmacCheck =
  /** `signature`: the verified signature as lowercase hex, the key of its one use (src/alerts/replay-guard.ts). */
  | { ok: true; signature: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' | 'disabled' };

/**
 * HMAC signature for `/alerts/generic`, for senders that can sign but not send a bearer token:
 *
 * - `X-Ward-Timestamp: <unix seconds>`
 * - `X-Ward-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
 *
 * The signature covers the exact bytes received (verify before parsing JSON) and the timestamp, which must be
 * within `maxSkewMs` (5 minutes by default) of ward's clock either way, so that a captured request cannot be
 * replayed later; within the window the caller allows each signature once (http.ts). Example sender:
 * `ts=$(date +%s); sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)`.
 */
export function checkHmacSignature(
  rawBody: Buffer,
  headers: { signature: string | undefined; timestamp: string | undefined },
  secret: string,
  nowMs: number = Date.now(),
  maxSkewMs: number = hmacMaxSkewMs,
): HmacCheck {
  const pre = checkHmacHeaders(headers, secret, nowMs, maxSkewMs);
  if (!pre.ok) return pre;
  const expected = createHmac('sha256', secret).update(`${pre.timestamp}.`).update(rawBody).digest();
  return timingSafeEqual(pre.signature, expected)
    ? { ok: true, signature: expected.toString('hex') }
    : { ok: false, reason: 'mismatch' };
}

/**
 * The part of `checkHmacSignature` that needs no body: both headers present, well formed, and the timestamp
 * fresh. The webhook checks this before it reads (and holds) a body an attacker may have sent.
 */
export function checkHmacHeaders(
  headers: { signature: string | undefined; timestamp: string | undefined },
  secret: string,
  nowMs: number = Date.now(),
  maxSkewMs: number = hmacMaxSkewMs,
): { ok: true; signature: Buffer; timestamp: string } | Exclude<HmacCheck, { ok: true }> {
  if (secret === '') return { ok: false, reason: 'disabled' };
  if (headers.signature === undefined || headers.timestamp === undefined)
    return { ok: false, reason: 'missing' };
  const sig = /^sha256=([0-9a-f]{64})$/i.exec(headers.signature.trim());
  const ts = headers.timestamp.trim();
  if (!sig?.[1] || !/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowMs - Number(ts) * 1000) > maxSkewMs) return { ok: false, reason: 'stale' };
  return { ok: true, signature: Buffer.from(sig[1], 'hex'), timestamp: ts };
}

/** Signs a body as `checkHmacSignature` expects (for senders written in TypeScript, and for tests). */
export function signHmac(
  rawBody: Buffer | string,
  secret: string,
  timestampSeconds: number,
): {
  'X-Ward-Timestamp': string;
  'X-Ward-Signature': string;
} {
  const ts = String(timestampSeconds);
  const hex = createHmac('sha256', secret).update(`${ts}.`).update(rawBody).digest('hex');
  return { 'X-Ward-Timestamp': ts, 'X-Ward-Signature': `sha256=${hex}` };
}
