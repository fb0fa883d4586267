import { createHash } from 'node:crypto';
import type { Store } from '../ports/store.js';
import type { Alert, AlertSource } from './alert.js';
import { laneOf, type QueueLane } from './queue.js';

/** The flood limits of the alert webhook (docs/security.md, "Alert floods"). */
export interface AlertLimits {
  /** WARD_ALERT_MAX_PER_REQUEST: more alerts in one body → 413. */
  maxPerRequest: number;
  /** WARD_ALERT_RATE_PER_SOURCE: alerts per minute per source, critical and other alerts counted apart → 429. */
  ratePerSourcePerMinute: number;
  /** WARD_ALERT_RATE_PER_HOST: non-critical alerts per minute per host before they join the storm summary. */
  ratePerHostPerMinute: number;
}

export type Admission =
  | { ok: true; overHostLimit: boolean[] }
  | { ok: false; lane: QueueLane; limit: number; retryAfterSeconds: number };

const windowMs = 60_000;
const sourceKey = (source: AlertSource, lane: QueueLane) => `ward:alerts:rate:source:${source}:${lane}`;
// The host hint is sender-controlled text: hashed, so that it cannot shape the key.
const hostKey = (host: string) =>
  `ward:alerts:rate:host:${createHash('sha256').update(host).digest('hex').slice(0, 32)}`;

/** How many alerts a parsed body says it carries (`alerts: [...]`), before the (costly) parse; else undefined. */
export function declaredAlertCount(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const alerts = (body as { alerts?: unknown }).alerts;
  return Array.isArray(alerts) ? alerts.length : undefined;
}

/**
 * The per-source and per-host rate limits, counted in Redis so that they hold across replicas (fixed windows of
 * one minute, starting with the first alert counted).
 *
 * Per source: a request is admitted whole or refused whole (429, retry after the window): a 2xx must mean every
 * alert in it was recorded, and a partly accepted batch would come back whole on retry. Critical alerts have a
 * budget of their own, so a flood of warnings from a source never refuses its critical alerts.
 *
 * Per host: never refused (one Alertmanager batch carries many hosts; refusing it for one noisy host would delay
 * the others, and the retry would be refused again). A host's non-critical alerts beyond the limit are accepted but
 * flagged: they are listed in the rule's storm summary instead of getting a message each. Critical alerts are not
 * counted and never flagged.
 */
export class AlertIntakeLimits {
  constructor(
    private readonly store: Pick<Store, 'takeWithin' | 'incr'>,
    readonly limits: AlertLimits,
  ) {}

  /** Counts the request's alerts against their source's budgets; flags those over their host's limit. */
  async admit(source: AlertSource, alerts: readonly Alert[]): Promise<Admission> {
    const perLane: Record<QueueLane, number> = { urgent: 0, normal: 0 };
    for (const a of alerts) perLane[laneOf(a)] += 1;
    const limit = this.limits.ratePerSourcePerMinute;
    const taken: QueueLane[] = [];
    for (const lane of ['urgent', 'normal'] as const) {
      if (perLane[lane] === 0) continue;
      const r = await this.store.takeWithin(sourceKey(source, lane), perLane[lane], limit, windowMs);
      if (!r.taken) {
        // All or nothing: give back what this request already took from the other lane.
        for (const t of taken) await this.store.incr(sourceKey(source, t), windowMs, -perLane[t]);
        return { ok: false, lane, limit, retryAfterSeconds: Math.max(1, Math.ceil(r.resetMs / 1000)) };
      }
      taken.push(lane);
    }

    const perHost = new Map<string, number[]>();
    alerts.forEach((a, i) => {
      if (a.host === undefined || laneOf(a) === 'urgent') return;
      const list = perHost.get(a.host) ?? [];
      list.push(i);
      perHost.set(a.host, list);
    });
    const overHostLimit = alerts.map(() => false);
    await Promise.all(
      [...perHost].map(async ([host, indexes]) => {
        const after = await this.store.incr(hostKey(host), windowMs, indexes.length);
        const before = after - indexes.length;
        indexes.forEach((index, k) => {
          if (before + k + 1 > this.limits.ratePerHostPerMinute) overHostLimit[index] = true;
        });
      }),
    );
    return { ok: true, overHostLimit };
  }
}
