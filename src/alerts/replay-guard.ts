import type { Store } from '../ports/store.js';

/*
 * Replay protection for signed webhooks. A signature proves who wrote a message, not that this is the first time
 * it arrives: anyone who captures a signed SNS message or a signed generic request (a proxy log, a leaked
 * capture) could post it again and again. Two checks stop that: the message's own signed timestamp must be
 * recent, and each message (SNS MessageId) or signature (generic HMAC) is accepted once within that window,
 * recorded in the shared store with SET NX so that every replica agrees on "once".
 */

/** How far in the future an SNS message's Timestamp may be (clock skew between AWS and ward): 5 minutes. */
export const snsMaxFutureSkewMs = 5 * 60_000;

export type FreshnessCheck =
  | { ok: true }
  | { ok: false; reason: 'stale' | 'future' | 'malformed'; detail: string };

/**
 * Whether an SNS message's `Timestamp` (signed by SNS: when it was published; SNS's retries keep it) is within
 * the window: at most `maxAgeMs` old and at most `maxFutureMs` ahead of ward's clock.
 */
export function checkSnsTimestamp(
  timestamp: string,
  nowMs: number,
  maxAgeMs: number,
  maxFutureMs: number = snsMaxFutureSkewMs,
): FreshnessCheck {
  const sentMs = Date.parse(timestamp);
  if (Number.isNaN(sentMs)) {
    return { ok: false, reason: 'malformed', detail: `Timestamp ${JSON.stringify(timestamp)} is not a time` };
  }
  const ageSeconds = Math.round((nowMs - sentMs) / 1000);
  if (nowMs - sentMs > maxAgeMs) {
    return {
      ok: false,
      reason: 'stale',
      detail: `Timestamp ${timestamp} is ${ageSeconds} s old (at most ${maxAgeMs / 1000} s accepted)`,
    };
  }
  if (sentMs - nowMs > maxFutureMs) {
    return {
      ok: false,
      reason: 'future',
      detail: `Timestamp ${timestamp} is ${-ageSeconds} s ahead of ward's clock (at most ${maxFutureMs / 1000} s accepted)`,
    };
  }
  return { ok: true };
}

/** A one-time claim on a message. */
export interface OnceClaim {
  /**
   * Gives the claim back, for when the request it guarded could not be recorded (503): the sender's retry of the
   * same message must then be processed, not taken for a replay.
   */
  release(): Promise<void>;
}

/**
 * Claims `key` for `ttlMs` (SET NX PX: atomic, so two replicas receiving the same message at once cannot both
 * win). Resolves with the claim, or null when the key was already claimed. Rejects when the store is unavailable:
 * without the record, "once" cannot be promised, so the caller answers 503 and the sender retries.
 */
export async function claimOnce(
  store: Pick<Store, 'setIfAbsent' | 'del'>,
  key: string,
  ttlMs: number,
): Promise<OnceClaim | null> {
  const won = await store.setIfAbsent(key, '1', ttlMs);
  if (!won) return null;
  return {
    release: async () => {
      await store.del(key).catch(() => {});
    },
  };
}

/** SNS MessageIds seen within the freshness window. */
export const snsMessageKey = (messageId: string) => `ward:alert:sns-seen:${messageId}`;

/** Generic HMAC signatures (lowercase hex) used within their timestamp window. */
export const hmacSignatureKey = (signatureHex: string) => `ward:alert:hmac-seen:${signatureHex}`;
