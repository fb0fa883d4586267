import { createHash } from 'node:crypto';
import type { ApprovalDeps } from './deps.js';
import { type ClaimedPlace, claimsFinal } from './request-seal.js';
import type { TamperedRecord } from './request-store.js';

/** How long ward remembers that it reported a record's content (as long as a request is kept). */
const REPORTED_TTL_MS = 31 * 24 * 60 * 60_000;

/** Slack ids, so that a record's claims can only name a channel and a message, never inject text. */
const CHANNEL_ID = /^[CDG][A-Z0-9]{2,30}$/;
const MESSAGE_TS = /^\d{1,12}\.\d{1,8}$/;

/**
 * Where to report a record that failed its check: the thread it claims to live in. The claims are unverified, so
 * they only pick a place (ids of the right shape); the words are ward's own and name nothing but the request id.
 */
function placeOf(claimed: ClaimedPlace): { channel: string; ts: string | undefined } | undefined {
  const channel = [claimed.message?.channel, claimed.channel].find((c) => c && CHANNEL_ID.test(c));
  if (channel === undefined) return undefined;
  const ts = [claimed.thread, claimed.message?.ts].find((t) => t && MESSAGE_TS.test(t));
  return { channel, ts };
}

/**
 * A stored request failed its seal check (RequestStore threw or is about to throw TamperedRequestError): nothing
 * acts on it. This reports it once per distinct stored content (a marker in the store holds a digest of what was
 * reported, swapped atomically, so that replicas and the sweep report it once): an error log line, the
 * `ward_requests_tampered_total` metric, a `request.tampered` audit entry and a message in the request's thread.
 *
 * An unsealed record whose claimed status is final is history from before records were sealed: nothing would act on
 * it anyway, so it is not reported (it is still refused). Never throws.
 */
export async function reportTampered(deps: ApprovalDeps, t: TamperedRecord): Promise<void> {
  try {
    if (t.problem === 'unsealed' && claimsFinal(t.claimed)) return;
    const digest = createHash('sha256').update(t.raw).digest('hex');
    const marker = `ward:request:${t.id}:tampered`;
    const reported = await deps.store.get(marker);
    if (reported === digest) return;
    if (!(await deps.store.compareAndSet(marker, reported, digest, REPORTED_TTL_MS))) return;
    deps.log.error(
      { approvalRequestId: t.id, problem: t.problem, claimedStatus: t.claimed.status?.slice(0, 40) },
      `stored request ${t.id} failed its integrity check (${t.problem}): ward will not act on it`,
    );
    deps.metrics.requestTampered(t.problem);
    // The audit entry and the thread notice are independent: one failing does not keep the other back.
    const audited = deps.audit.record({
      type: 'request.tampered',
      requestId: t.id,
      outcome: t.problem,
      // What the record claims, unverified and clipped (it is a stranger's text): for whoever investigates.
      details: {
        claimedStatus: t.claimed.status?.slice(0, 40),
        claimedCommand: t.claimed.command?.slice(0, 80),
        claimedChannel: t.claimed.channel?.slice(0, 40),
        sha256: digest,
      },
    });
    const place = placeOf(t.claimed);
    const posted = place === undefined ? undefined : deps.notifier.tampered(place, t.id, t.problem);
    const [audit, post] = await Promise.allSettled([audited, posted]);
    for (const r of [audit, post]) {
      if (r.status === 'rejected') {
        deps.log.warn(
          { err: r.reason, approvalRequestId: t.id },
          'could not report a request that failed its integrity check',
        );
      }
    }
  } catch (err) {
    deps.log.warn(
      { err, approvalRequestId: t.id },
      'could not report a request that failed its integrity check',
    );
  }
}
