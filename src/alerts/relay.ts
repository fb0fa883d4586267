import type { Logger } from 'pino';
import type { AuditLog } from '../ports/audit.js';
import type { ChatClient } from '../ports/chat.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import type { Alert } from './alert.js';
import type { ChannelPacer } from './pacer.js';
import { AlertQueue, type QueuedAlert } from './queue.js';
import {
  type AlertMessageState,
  type RollupState,
  renderAlertMessage,
  renderRollup,
  rollupTitleLimit,
} from './render.js';
import { type MatchedRoute, matchRules, type RuleSet } from './rules.js';

export interface AlertRelayOptions {
  store: Store;
  chat: ChatClient;
  clock: Clock;
  pacer: ChannelPacer;
  log: Logger;
  audit?: AuditLog;
  /** The current rules (reloadable: read on every alert). */
  rules: () => RuleSet;
  /** Where an alert that matches no rule goes: an accepted alert is never dropped. */
  fallbackChannel: string;
  /** Auto-run hook for a rule's `auto` commands on a new alert; wired to the policy-checked request path. */
  onAuto?: (command: string, alert: Alert, message: { channel: string; ts: string }) => Promise<void>;
  /** Entries handled per batch. */
  batchSize?: number;
  /** How often the worker looks at the queue when nothing woke it (entries from before a restart). */
  pollIntervalMs?: number;
}

const msgKey = (channel: string, fingerprint: string) => `ward:alert:msg:${channel}:${fingerprint}`;
const stormKey = (rule: string, minute: number) => `ward:alert:storm:${rule}:${minute}`;
const rollupKey = (rule: string, channel: string, minute: number) =>
  `ward:alert:rollup:${rule}:${channel}:${minute}`;

/**
 * Accepted alerts → Slack. `accept` records alerts durably (the webhook answers after it); the worker delivers
 * them: rules pick the channels, one message per fingerprint per channel within the rule's dedupe window (a
 * repeat updates count and last seen, a resolve marks it resolved), storms beyond the rule's per-minute limit are
 * rolled into one summary message updated in place, and every Slack call goes through the per-channel pacer.
 * An entry leaves the queue only once every route delivered it.
 */
export class AlertRelay {
  readonly queue: AlertQueue;
  private readonly o: AlertRelayOptions;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private draining: Promise<number> | undefined;
  /** Per-channel order of dedupe read-modify-write (the pacer orders Slack calls, this orders the state). */
  private readonly channelTails = new Map<string, Promise<unknown>>();

  constructor(options: AlertRelayOptions) {
    this.o = options;
    this.queue = new AlertQueue(options.store);
  }

  /** Records alerts durably; resolves once all are in the store (then the webhook may answer 2xx). */
  async accept(alerts: readonly Alert[]): Promise<void> {
    const now = this.o.clock.now();
    for (const alert of alerts) {
      await this.queue.enqueue(alert, now);
    }
    for (const alert of alerts) {
      await this.o.audit
        ?.record({
          type: 'alert.received',
          ...(alert.host === undefined ? {} : { hosts: [alert.host] }),
          details: {
            source: alert.source,
            fingerprint: alert.fingerprint,
            status: alert.status,
            raw: alert.raw,
          },
        })
        .catch((err) => this.o.log.warn({ err }, 'could not audit an accepted alert'));
    }
    this.wake?.();
  }

  /** Starts the background worker (delivers what is already queued, e.g. from before a restart, first). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        let handled = 0;
        try {
          handled = await this.drain();
        } catch (err) {
          this.o.log.error({ err }, 'alert delivery failed; the alerts stay queued and are retried');
        }
        if (!this.running) break;
        if (handled === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.o.pollIntervalMs ?? 1000);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.wake = undefined;
        }
      }
    })();
  }

  /** Stops the worker after its current batch; what is left stays queued for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Delivers one batch of queued alerts; returns how many entries left the queue. */
  drain(): Promise<number> {
    this.draining ??= this.drainBatch().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drainBatch(): Promise<number> {
    const batch = await this.queue.peek(this.o.batchSize ?? 200);
    const results = await Promise.all(
      batch.map(async ({ entry, item }) => {
        if (item === null) {
          this.o.log.error({ entry: entry.slice(0, 200) }, 'unreadable entry in the alert queue, removed');
          await this.queue.ack(entry);
          return 1;
        }
        try {
          await this.deliver(item);
          await this.queue.ack(entry);
          return 1;
        } catch (err) {
          this.o.log.error(
            { err, fingerprint: item.alert.fingerprint, source: item.alert.source },
            'could not deliver an alert to Slack; it stays queued',
          );
          return 0;
        }
      }),
    );
    return results.reduce<number>((a, b) => a + b, 0);
  }

  private routesFor(alert: Alert): MatchedRoute[] {
    const ruleSet = this.o.rules();
    const routes = matchRules(ruleSet, alert);
    if (routes.length > 0) return routes;
    return [
      {
        rule: '(no rule matched)',
        channels: [this.o.fallbackChannel],
        suggest: [],
        auto: [],
        dedupeWindowMs: ruleSet.defaults.dedupeWindowMs,
        stormPerMinute: ruleSet.defaults.stormPerMinute,
      },
    ];
  }

  private async deliver(item: QueuedAlert): Promise<void> {
    const deliveries: Promise<void>[] = [];
    for (const route of this.routesFor(item.alert)) {
      for (const channel of route.channels) {
        deliveries.push(this.inChannelOrder(channel, () => this.deliverTo(channel, route, item)));
      }
    }
    const outcomes = await Promise.allSettled(deliveries);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private inChannelOrder<T>(channel: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.channelTails.get(channel) ?? Promise.resolve();
    const mine = previous.then(fn, fn);
    const tail = mine.catch(() => {});
    this.channelTails.set(channel, tail);
    void tail.then(() => {
      if (this.channelTails.get(channel) === tail) this.channelTails.delete(channel);
    });
    return mine;
  }

  private async deliverTo(channel: string, route: MatchedRoute, item: QueuedAlert): Promise<void> {
    const { store, chat, pacer } = this.o;
    const alert = item.alert;
    const key = msgKey(channel, alert.fingerprint);
    const now = new Date(this.o.clock.now()).toISOString();
    const existingText = await store.get(key);
    const existing = existingText === null ? null : (JSON.parse(existingText) as StoredMessage);

    if (existing?.kind === 'rollup') {
      // Part of a storm summary: count it there.
      await this.bumpRollup(existing.rollupKey, route.rule, channel, alert, existing.minuteStart);
      if (alert.status === 'resolved') await store.del(key);
      return;
    }

    if (existing?.kind === 'message' && existing.state.status === 'firing') {
      const state: AlertMessageState = {
        ...existing.state,
        count: existing.state.count + (alert.status === 'firing' ? 1 : 0),
        lastSeen: now,
        status: alert.status,
      };
      await pacer.run(channel, () => chat.update(channel, state.ts, renderAlertMessage(alert, state, route)));
      if (alert.status === 'resolved') await store.del(key);
      else await store.set(key, JSON.stringify({ kind: 'message', state }), route.dedupeWindowMs);
      return;
    }

    // A new problem (or a resolve ward never saw firing, which is still posted: nothing accepted is dropped).
    if (alert.status === 'firing') {
      const minute = Math.floor(this.o.clock.now() / 60_000);
      const newThisMinute = await store.incr(stormKey(route.rule, minute), 120_000);
      if (newThisMinute > route.stormPerMinute) {
        const rk = rollupKey(route.rule, channel, minute);
        const minuteStart = new Date(minute * 60_000).toISOString();
        await this.bumpRollup(rk, route.rule, channel, alert, minuteStart);
        const marker: StoredMessage = { kind: 'rollup', rollupKey: rk, minuteStart };
        await store.set(key, JSON.stringify(marker), route.dedupeWindowMs);
        return;
      }
    }
    const state: Omit<AlertMessageState, 'ts'> = {
      count: 1,
      firstSeen: now,
      lastSeen: now,
      status: alert.status,
    };
    const posted = await pacer.run(channel, () =>
      chat.postMessage(channel, renderAlertMessage(alert, state, route)),
    );
    if (alert.status === 'firing') {
      await store.set(
        key,
        JSON.stringify({ kind: 'message', state: { ...state, ts: posted.ts } }),
        route.dedupeWindowMs,
      );
      for (const command of route.auto) {
        await this.o
          .onAuto?.(command, alert, { channel, ts: posted.ts })
          .catch((err) =>
            this.o.log.error(
              { err, command, fingerprint: alert.fingerprint },
              'auto-run of an alert command failed',
            ),
          );
      }
    }
  }

  /** Adds an alert to a storm summary, posting the summary the first time. */
  private async bumpRollup(
    key: string,
    rule: string,
    channel: string,
    alert: Alert,
    minuteStart: string,
  ): Promise<void> {
    const { store, chat, pacer } = this.o;
    const text = await store.get(key);
    const previous: RollupState | null = text === null ? null : (JSON.parse(text) as RollupState);
    const next: Omit<RollupState, 'ts'> = {
      count: (previous?.count ?? 0) + (alert.status === 'firing' ? 1 : 0),
      resolved: (previous?.resolved ?? 0) + (alert.status === 'resolved' ? 1 : 0),
      titles:
        previous === null
          ? [alert.title]
          : previous.titles.length < rollupTitleLimit && alert.status === 'firing'
            ? [...previous.titles, alert.title]
            : previous.titles,
    };
    const message = renderRollup(rule, minuteStart, next);
    let ts: string;
    if (previous === null) {
      ts = (await pacer.run(channel, () => chat.postMessage(channel, message))).ts;
    } else {
      ts = previous.ts;
      await pacer.run(channel, () => chat.update(channel, ts, message));
    }
    await store.set(key, JSON.stringify({ ...next, ts }), 24 * 3_600_000);
  }
}

type StoredMessage =
  | { kind: 'message'; state: AlertMessageState }
  | { kind: 'rollup'; rollupKey: string; minuteStart: string };
