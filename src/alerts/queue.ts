import { randomUUID } from 'node:crypto';
import type { Store } from '../ports/store.js';
import type { Alert } from './alert.js';

/** Redis list holding accepted alerts until they have reached Slack. */
export const alertQueueKey = 'ward:alerts:queue';

export interface QueuedAlert {
  id: string;
  receivedAt: string;
  alert: Alert;
}

/** An entry as read from the queue: `entry` is the exact stored text, needed to remove it once delivered. */
export interface QueueEntry {
  entry: string;
  item: QueuedAlert;
}

/**
 * The durable hand-off between the webhook and Slack. The webhook answers 2xx only after `enqueue` resolved, so
 * an accepted alert survives a crash or restart; the relay removes an entry (`ack`) only after every route
 * delivered it. Delivery is therefore at-least-once: a crash between Slack's answer and `ack` replays the entry,
 * and the dedupe record (written before `ack`) turns the replay into an update of the same message.
 */
export class AlertQueue {
  constructor(private readonly store: Store) {}

  async enqueue(alert: Alert, receivedAtMs: number): Promise<string> {
    const item: QueuedAlert = { id: randomUUID(), receivedAt: new Date(receivedAtMs).toISOString(), alert };
    await this.store.durable(() => this.store.listPush(alertQueueKey, JSON.stringify(item)));
    return item.id;
  }

  /** The oldest `max` entries, without removing them. An unreadable entry is returned with `item` null. */
  async peek(max: number): Promise<Array<QueueEntry | { entry: string; item: null }>> {
    const entries = await this.store.listRange(alertQueueKey, 0, max - 1);
    return entries.map((entry) => {
      try {
        return { entry, item: JSON.parse(entry) as QueuedAlert };
      } catch {
        return { entry, item: null };
      }
    });
  }

  async ack(entry: string): Promise<void> {
    await this.store.listRemove(alertQueueKey, entry);
  }

  async depth(): Promise<number> {
    return (await this.store.listRange(alertQueueKey, 0, -1)).length;
  }
}
