import { randomUUID } from 'node:crypto';
import { WardError } from '../errors.js';
import type { Store } from '../ports/store.js';
import type { Alert } from './alert.js';

/** Redis list holding accepted non-critical alerts until they have reached Slack (the key predates priorities). */
export const alertQueueKey = 'ward:alerts:queue';
/** Redis list holding accepted critical alerts: drained before `alertQueueKey`. */
export const alertUrgentQueueKey = 'ward:alerts:queue:urgent';

/** `urgent`: critical alerts, drained first; `normal`: everything else. */
export type QueueLane = 'urgent' | 'normal';

const laneKey = (lane: QueueLane) => (lane === 'urgent' ? alertUrgentQueueKey : alertQueueKey);

/** Which lane an alert waits in: only `critical` is urgent (a page-worthy alert must never wait for warnings). */
export function laneOf(alert: Pick<Alert, 'severity'>): QueueLane {
  return alert.severity === 'critical' ? 'urgent' : 'normal';
}

export interface QueuedAlert {
  id: string;
  receivedAt: string;
  /**
   * The alert without its raw payload: the relay never reads it, and the audit log keeps its digest. (Entries
   * queued by older versions may still carry `raw`; it is ignored.)
   */
  alert: Alert;
  /** Its host sent more than WARD_ALERT_RATE_PER_HOST alerts that minute: it joins the storm summary. */
  overHostLimit?: true;
}

/** An entry as read from the queue: `entry` is the exact stored text, needed to remove it once delivered. */
export interface QueueEntry {
  entry: string;
  lane: QueueLane;
  item: QueuedAlert;
}

export type PeekedEntry = QueueEntry | { entry: string; lane: QueueLane; item: null };

/** Thrown by `enqueueAll` when the alerts do not fit: nothing was queued, the sender should retry later. */
export class AlertQueueFullError extends WardError {
  constructor(readonly max: number) {
    super(
      'ward_alert_queue_full',
      `ward's alert queue is full (WARD_ALERT_QUEUE_MAX ${max}); nothing was recorded, retry later`,
    );
  }
}

export interface AlertQueueOptions {
  /** Most alerts waiting at once (both lanes together). */
  max?: number;
  /** Of `max`, how many only critical alerts may use, so that a flood of warnings cannot lock out a critical one. */
  urgentReserve?: number;
}

/**
 * The durable hand-off between the webhook and Slack. The webhook answers 2xx only after `enqueueAll` resolved, so
 * an accepted alert survives a crash or restart; the relay removes an entry (`ack`) only after every route
 * delivered it. Delivery is therefore at-least-once: a crash between Slack's answer and `ack` replays the entry,
 * and the dedupe record (written before `ack`) turns the replay into an update of the same message.
 *
 * Two lanes: critical alerts wait in their own list, read first. The queue is bounded: a request whose alerts do
 * not all fit is refused as a whole (the check and the push are one atomic step in Redis), never half-queued.
 */
export class AlertQueue {
  readonly max: number;
  private readonly urgentReserve: number;

  constructor(
    private readonly store: Store,
    options: AlertQueueOptions = {},
  ) {
    this.max = options.max ?? 10_000;
    this.urgentReserve = Math.min(options.urgentReserve ?? Math.floor(this.max / 10), this.max - 1);
  }

  /** Queues every alert or none: throws AlertQueueFullError when they do not fit. Returns the entry ids. */
  async enqueueAll(
    alerts: ReadonlyArray<{ alert: Alert; overHostLimit?: boolean }>,
    receivedAtMs: number,
  ): Promise<string[]> {
    const receivedAt = new Date(receivedAtMs).toISOString();
    const ids: string[] = [];
    const values: Record<QueueLane, string[]> = { urgent: [], normal: [] };
    for (const { alert, overHostLimit } of alerts) {
      const { raw: _raw, ...content } = alert;
      const item: QueuedAlert = {
        id: randomUUID(),
        receivedAt,
        alert: content as Alert,
        ...(overHostLimit === true ? { overHostLimit: true } : {}),
      };
      ids.push(item.id);
      values[laneOf(alert)].push(JSON.stringify(item));
    }
    // Normal first: warnings may fill the queue only up to max - reserve; critical alerts up to max.
    const ok = await this.store.durable(() =>
      this.store.listPushBounded([
        { key: alertQueueKey, values: values.normal, maxTotal: this.max - this.urgentReserve },
        { key: alertUrgentQueueKey, values: values.urgent, maxTotal: this.max },
      ]),
    );
    if (!ok) throw new AlertQueueFullError(this.max);
    return ids;
  }

  /**
   * The oldest `max` entries of a lane, without removing them. An unreadable entry is returned with `item` null.
   * Entries `skip` says true for are left out before they are parsed (the relay skips those it is already
   * delivering). `from` skips that many entries at the head (the relay's own, which it need not read again).
   */
  async peek(
    lane: QueueLane,
    max: number,
    skip?: (entry: string) => boolean,
    from = 0,
  ): Promise<PeekedEntry[]> {
    if (max <= 0) return [];
    const all = await this.store.listRange(laneKey(lane), from, from + max - 1);
    const entries = skip === undefined ? all : all.filter((entry) => !skip(entry));
    return entries.map((entry) => {
      try {
        return { entry, lane, item: JSON.parse(entry) as QueuedAlert };
      } catch {
        return { entry, lane, item: null };
      }
    });
  }

  async ack(entry: { entry: string; lane: QueueLane }): Promise<void> {
    await this.store.listRemove(laneKey(entry.lane), entry.entry);
  }

  /** Alerts waiting in both lanes. */
  async depth(): Promise<number> {
    const [urgent, normal] = await Promise.all([
      this.store.listRange(alertUrgentQueueKey, 0, -1),
      this.store.listRange(alertQueueKey, 0, -1),
    ]);
    return urgent.length + normal.length;
  }
}
