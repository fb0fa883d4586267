import { createHash, randomUUID } from 'node:crypto';
import { withTimeout } from '../core/with-timeout.js';
import type { AuditLog } from '../ports/audit.js';
import type { ChatClient, ChatMessage } from '../ports/chat.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Store } from '../ports/store.js';
import type { Alert, AlertSource } from './alert.js';
import { DrainerLock } from './drainer-lock.js';
import { KeyedLanes } from './keyed-lanes.js';
import type { ChannelPacer } from './pacer.js';
import { AlertQueue, laneOf, type PeekedEntry, type QueuedAlert, type QueueLane } from './queue.js';
import {
  type AlertMessageState,
  type RollupState,
  renderAlertMessage,
  renderAlertPlain,
  renderRollup,
  rollupEntryLimit,
} from './render.js';
import { type MatchedRoute, matchRules, type RuleSet } from './rules.js';

/**
 * What became of an alert (`ward_alerts_total{outcome}`); `rejected` and `redelivered` (an SNS MessageId received
 * again) are counted by the webhook (src/alerts/http.ts).
 */
export type AlertOutcome = 'accepted' | 'deduplicated' | 'rolled_up' | 'rejected' | 'redelivered';

/** An auto-run the relay asks for: a rule's `auto` command, on a new alert whose host is in the inventory. */
export interface AutoRunRequest {
  command: string;
  /** The rule whose `auto` asked for it. */
  rule: string;
  alert: Alert;
  /** Inventory host name. */
  host: string;
  /** The alert's message, where the request's replies are threaded. */
  channel: string;
  ts: string;
}

export interface AlertRelayOptions {
  store: Store;
  chat: ChatClient;
  clock: Clock;
  pacer: ChannelPacer;
  log: Logger;
  audit?: AuditLog;
  /** The current rules (reloadable: read on every alert). */
  rules: () => RuleSet;
  /**
   * Where an alert that matches no rule goes, and where an alert goes when Slack permanently refuses its own
   * channel (channel_not_found, not_in_channel, is_archived, invalid_blocks…): an accepted alert is never dropped.
   */
  fallbackChannel: string;
  /** The inventory host name for an alert's host hint; undefined when ward does not know the host. */
  resolveHost?: (hint: string) => string | undefined;
  /** A rule with `incident: auto` matched a new alert: open an incident for it (once per fingerprint). */
  onIncident?: (request: {
    alert: Alert;
    channel: string;
    ts: string;
    firstSeen: string;
    host?: string | undefined;
  }) => Promise<void>;
  /** A rule's `auto` command on a new alert; wired to the policy-checked request path (src/alerts/install.ts). */
  onAuto?: (request: AutoRunRequest) => Promise<void>;
  /** Counts outcomes (hook for the ops metrics: `ward_alerts_total{source,outcome}`). */
  onOutcome?: (source: AlertSource, outcome: AlertOutcome) => void;
  /** Queue entries in flight at most (their Slack calls are paced and coalesced per message). */
  maxInFlight?: number;
  /** How often the worker looks at the queue when nothing woke it (entries from before a restart, retries). */
  pollIntervalMs?: number;
  /** The drainer lock's lease; another replica takes over this long after this one died. */
  lockTtlMs?: number;
  /** Most alerts queued at once (WARD_ALERT_QUEUE_MAX); beyond it `accept` throws AlertQueueFullError. */
  queueMax?: number;
}

/**
 * What the audit log keeps of an alert's payload: its sha256 and size, not the payload (a flood of large payloads
 * must not grow Redis by their size). The digest is over the payload as JSON, exactly as ward parsed it.
 */
export function payloadDigest(raw: unknown): { sha256: string; bytes: number } {
  const text = JSON.stringify(raw ?? null);
  return { sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text) };
}

const pointerKey = (channel: string, fingerprint: string) => `ward:alert:msg:${channel}:${fingerprint}`;
/** An alert's message record; its id is what the message's buttons refer to (render.ts SuggestButtonValue). */
export const messageKey = (id: string) => `ward:alert:message:${id}`;
const stormKey = (rule: string, minute: number) => `ward:alert:storm:${rule}:${minute}`;
const rollupPartKey = (rule: string, channel: string, minute: number) =>
  `ward:alert:rollup:${rule}:${channel}:${minute}`;
/** Per queue entry and channel: which Slack message it was applied to (so that a replay does not count it again). */
const deliveredKey = (entryId: string, channel: string) => `ward:alert:delivered:${entryId}:${channel}`;

const dayMs = 24 * 3_600_000;
/** How long recording a posted message is retried (a Sentinel failover takes seconds) before the entry is retried. */
const POSTED_COMMIT_DEADLINE_MS = 120_000;
const POSTED_COMMIT_RETRY_MS = 500;

/**
 * Slack errors that retrying cannot fix for this channel or message: the alert goes to the fallback channel with
 * a note instead of being retried forever. Token problems (invalid_auth, token_revoked) are not here: they affect
 * every channel, so the alerts stay queued until the token is fixed.
 */
const permanentErrors = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'msg_too_long',
  'no_text',
  'restricted_action',
  'restricted_action_read_only_channel',
  'restricted_action_thread_only_channel',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'team_access_not_granted',
]);

/** The Slack `error` of a platform error that will not go away by retrying, else undefined. */
export function permanentSlackError(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; data?: { error?: unknown } };
  if (e.code !== 'slack_webapi_platform_error') return undefined;
  const code = typeof e.data?.error === 'string' ? e.data.error : undefined;
  return code !== undefined && permanentErrors.has(code) ? code : undefined;
}

/** Fields every Slack message record has: where it lives and whether Slack shows the latest state. */
interface SyncedRecord {
  /** The channel the rule routed to. */
  channel: string;
  /** Where the message actually is: the fallback channel after a permanent error. */
  postedChannel?: string;
  ts?: string;
  /** Bumped on every change; Slack shows revision `syncedRev`. */
  rev: number;
  syncedRev: number;
  /** Render text only (the fallback channel refused the blocks too). */
  plain?: boolean;
  /** Slack refused it everywhere; logged and audited, never retried. */
  failed?: boolean;
}

interface MessageRecord extends SyncedRecord {
  kind: 'message';
  alert: Omit<Alert, 'raw'>;
  route: {
    rule: string;
    mention?: string | undefined;
    suggest: string[];
    auto: string[];
    incident?: 'auto' | undefined;
  };
  state: AlertMessageState;
  /** The rule's auto commands still to start once the message exists. */
  autoPending: boolean;
}

interface RollupRecord extends SyncedRecord {
  kind: 'rollup';
  rule: string;
  minuteStart: string;
  state: RollupState;
}

type SlackRecord = MessageRecord | RollupRecord;

/** What `ward:alert:msg:<channel>:<fingerprint>` points at while the fingerprint is within its dedupe window. */
type Pointer = { kind: 'message'; key: string } | { kind: 'rollup'; key: string };

/**
 * Accepted alerts → Slack. `accept` records alerts durably (the webhook answers after it); the worker delivers
 * them. Rules pick the channels; there is one message per fingerprint per channel within the rule's dedupe
 * window (a repeat updates count and last seen, a resolve marks it resolved); a storm beyond the rule's
 * per-minute limit is rolled into summary messages updated in place, every alert listed.
 *
 * Delivery works in two steps per route: the alert is *applied* to the Slack message's record in Redis (fast,
 * ordered per channel), then the message is *synced* to Slack through the per-channel pacer. Syncs of one message
 * coalesce: however many alerts changed it while it waited for its turn, one chat.update carries them all, so a
 * storm costs a few calls per message rather than one per alert. An entry leaves the queue only once every route
 * is synced; a marker per (entry, channel) written with the apply makes a replay (after a crash or a failure on
 * another route) sync without counting again. The one window left: a crash between the apply and its marker
 * counts that alert twice (the message still appears once).
 *
 * Floods: critical alerts wait in their own queue lane, drained first; their record changes and Slack calls go ahead
 * of everything waiting in their channel, and they are never rolled into a storm summary. Alerts flagged at intake
 * as over their host's rate limit join the summary directly.
 */
export class AlertRelay {
  readonly queue: AlertQueue;
  private readonly o: AlertRelayOptions;
  private readonly lock: DrainerLock;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Queue entries being delivered now, by their stored text. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  /** How many of `inFlight` came from each lane: each lane has its own budget, so warnings never fill it for all. */
  private readonly inFlightByLane: Record<QueueLane, number> = { urgent: 0, normal: 0 };
  /**
   * Per lane, how many of this replica's entries (in flight or waiting for a retry) are still in the queue: they are
   * the oldest of their lane, so a look for new entries starts after them instead of reading them all again (in a
   * storm thousands wait for their Slack turn, and reading them on every wake-up cost more than the rest).
   */
  private readonly listed: Record<QueueLane, number> = { urgent: 0, normal: 0 };
  /** When the queue was last read from its head (see freshEntries). */
  private lastFullLookAt = Number.NEGATIVE_INFINITY;
  /** Entries whose delivery failed: not retried before this time, with a growing delay. */
  private readonly retryAt = new Map<string, { at: number; delayMs: number; lane: QueueLane }>();
  /** Per-channel order of record read-modify-write (the pacer orders Slack calls, this orders the state). */
  private readonly channelOrder = new KeyedLanes();
  /** Pending syncs per record: a sync that has not read its record yet is joined, not repeated. */
  private readonly syncs = new Map<string, { started: boolean; urgent: boolean; promise: Promise<void> }>();

  constructor(options: AlertRelayOptions) {
    this.o = options;
    this.queue = new AlertQueue(options.store, {
      ...(options.queueMax === undefined ? {} : { max: options.queueMax }),
    });
    this.lock = new DrainerLock(options.store, options.lockTtlMs);
  }

  /**
   * Records alerts durably, all or none; resolves once all are in the store (then the webhook may answer 2xx).
   * Throws AlertQueueFullError (nothing recorded) when the queue has no room for them. `overHostLimit[i]` marks
   * alert i as beyond its host's rate limit (it joins the storm summary).
   */
  async accept(
    alerts: readonly Alert[],
    options: { overHostLimit?: readonly boolean[] } = {},
  ): Promise<void> {
    const now = this.o.clock.now();
    await this.queue.enqueueAll(
      alerts.map((alert, i) => ({ alert, overHostLimit: options.overHostLimit?.[i] === true })),
      now,
    );
    for (const alert of alerts) this.o.onOutcome?.(alert.source, 'accepted');
    // Recorded together: the audit log writes records made in the same tick in one append.
    await Promise.all(
      alerts.map((alert) =>
        this.o.audit
          ?.record({
            type: 'alert.accepted',
            ...(alert.host === undefined ? {} : { hosts: [alert.host] }),
            details: {
              source: alert.source,
              fingerprint: alert.fingerprint,
              status: alert.status,
              severity: alert.severity,
              payload: payloadDigest(alert.raw),
            },
          })
          .catch((err) => this.o.log.warn({ err }, 'could not audit an accepted alert')),
      ),
    );
    this.wake?.();
  }

  /** Starts the background worker (delivers what is already queued, e.g. from before a restart, first). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        let started = 0;
        try {
          if (await this.lock.hold()) started = await this.startEntries();
        } catch (err) {
          this.o.log.error({ err }, 'alert delivery failed; the alerts stay queued and are retried');
        }
        if (!this.running) break;
        if (started === 0) await this.idle();
      }
    })();
  }

  /**
   * Stops taking entries and waits up to `graceMs` for those in flight; what is left stays queued (and is synced,
   * not counted again, by the next drainer).
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await withTimeout(Promise.allSettled([...this.inFlight.values()]), graceMs);
    await this.lock.release();
  }

  /**
   * Delivers up to `max` queued entries not already in flight and waits for them; returns how many left the
   * queue. For tests and tools; the worker started by `start()` does the same continuously.
   */
  async drain(max = 500): Promise<number> {
    if (!(await this.lock.hold())) return 0;
    const urgent = await this.freshEntries('urgent', max);
    const entries = [...urgent, ...(await this.freshEntries('normal', max - urgent.length))];
    const results = await Promise.all(entries.map((e) => this.track(e)));
    return results.filter(Boolean).length;
  }

  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.o.pollIntervalMs ?? 1000);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** Starts entries from the urgent lane first; each lane may have up to maxInFlight entries in flight. */
  private async startEntries(): Promise<number> {
    let started = 0;
    for (const lane of ['urgent', 'normal'] as const) {
      const room = (this.o.maxInFlight ?? 5000) - this.inFlightByLane[lane];
      if (room <= 0) continue;
      const entries = await this.freshEntries(lane, Math.min(room, 1000));
      for (const e of entries) void this.track(e);
      started += entries.length;
    }
    return started;
  }

  /**
   * The oldest queued entries of a lane that are neither in flight nor waiting for a retry. New entries are pushed
   * behind this replica's own, so the look starts after those; it starts from the head when a retry is due (that
   * entry sits among them), and at least once per poll interval (a safety net should the count ever be off).
   */
  private async freshEntries(lane: QueueLane, max: number): Promise<PeekedEntry[]> {
    if (max <= 0) return [];
    const now = this.o.clock.now();
    const mine = (entry: string) => this.inFlight.has(entry) || (this.retryAt.get(entry)?.at ?? 0) > now;
    let waiting = 0;
    let due = false;
    for (const r of this.retryAt.values()) {
      if (r.lane !== lane) continue;
      if (r.at > now) waiting += 1;
      else due = true;
    }
    // Real time, not the injected clock: this bounds how stale the count may get, it is not a business rule.
    const fromHead = due || Date.now() - this.lastFullLookAt >= (this.o.pollIntervalMs ?? 1000);
    if (fromHead) this.lastFullLookAt = Date.now();
    const fresh = fromHead
      ? await this.queue.peek(lane, this.inFlightByLane[lane] + waiting + max, mine)
      : await this.queue.peek(lane, max, mine, this.listed[lane]);
    return fresh.slice(0, max);
  }

  private track(e: PeekedEntry): Promise<boolean> {
    const existing = this.inFlight.get(e.entry);
    if (existing) return existing;
    if (!this.retryAt.has(e.entry)) this.listed[e.lane] += 1;
    this.inFlightByLane[e.lane] += 1;
    const p = this.handle(e).finally(() => {
      this.inFlight.delete(e.entry);
      this.inFlightByLane[e.lane] -= 1;
      this.wake?.();
    });
    this.inFlight.set(e.entry, p);
    return p;
  }

  /** Delivers one entry to every route and removes it from the queue; false (and a later retry) on failure. */
  private async handle(e: PeekedEntry): Promise<boolean> {
    const { entry, item } = e;
    if (item === null) {
      this.o.log.error({ entry: entry.slice(0, 200) }, 'unreadable entry in the alert queue, removed');
      this.unlist(e.lane);
      await this.queue.ack(e);
      return true;
    }
    try {
      await this.deliver({ ...item, alert: { ...item.alert, raw: null } }, e.lane === 'urgent');
      // Counted out before the removal is sent: a later look (same connection, so after the removal) starts 1 earlier.
      this.unlist(e.lane);
      await this.queue.ack(e);
      this.retryAt.delete(entry);
      return true;
    } catch (err) {
      const delayMs = Math.min((this.retryAt.get(entry)?.delayMs ?? 500) * 2, 60_000);
      this.retryAt.set(entry, { at: this.o.clock.now() + delayMs, delayMs, lane: e.lane });
      this.o.log.error(
        { err, fingerprint: item.alert.fingerprint, source: item.alert.source, retryInMs: delayMs },
        'could not deliver an alert to Slack; it stays queued',
      );
      return false;
    }
  }

  private unlist(lane: QueueLane): void {
    this.listed[lane] = Math.max(0, this.listed[lane] - 1);
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

  private async deliver(item: QueuedAlert, urgent: boolean): Promise<void> {
    const deliveries: Promise<void>[] = [];
    const seen = new Set<string>();
    for (const route of this.routesFor(item.alert)) {
      for (const channel of route.channels) {
        // Two matching rules routing to one channel still make one message there.
        if (seen.has(channel)) continue;
        seen.add(channel);
        deliveries.push(this.deliverTo(channel, route, item, urgent));
      }
    }
    const outcomes = await Promise.allSettled(deliveries);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async deliverTo(
    channel: string,
    route: MatchedRoute,
    item: QueuedAlert,
    urgent: boolean,
  ): Promise<void> {
    const marker = deliveredKey(item.id, channel);
    const recordKey = await this.inChannelOrder(
      channel,
      async () => {
        // The marker (already applied: a replay) and the dedupe pointer, in one request.
        const [applied, pointer] = await this.o.store.getMany([
          marker,
          pointerKey(channel, item.alert.fingerprint),
        ]);
        if (applied != null) return applied;
        const key = await this.apply(
          channel,
          route,
          item.alert,
          item.overHostLimit === true,
          pointer == null ? null : (JSON.parse(pointer) as Pointer),
        );
        await this.o.store.set(marker, key, dayMs);
        return key;
      },
      urgent,
    );
    await this.sync(recordKey, urgent);
  }

  /**
   * Runs a read-modify-write of a channel's records one at a time. `urgent` (a critical alert, or bookkeeping after
   * a Slack call) goes ahead of queued alerts: only mutual exclusion matters for correctness, and order only
   * between alerts of one fingerprint, which share a lane unless their severity changed.
   */
  private inChannelOrder<T>(channel: string, fn: () => Promise<T>, urgent = false): Promise<T> {
    return this.channelOrder.run(channel, fn, urgent);
  }

  private async getJson<T>(key: string): Promise<T | null> {
    const text = await this.o.store.get(key);
    return text === null ? null : (JSON.parse(text) as T);
  }

  /** Applies one alert to the record of its Slack message in `channel` (called in channel order). */
  private async apply(
    channel: string,
    route: MatchedRoute,
    alert: Alert,
    overHostLimit: boolean,
    /** The alert's dedupe pointer in this channel, read by the caller in channel order. */
    pointer: Pointer | null,
  ): Promise<string> {
    const { store } = this.o;
    const pKey = pointerKey(channel, alert.fingerprint);
    const now = new Date(this.o.clock.now()).toISOString();
    // A critical alert is never part of a summary: not even when its fingerprint was rolled up as a warning.
    const critical = laneOf(alert) === 'urgent';

    if (pointer?.kind === 'rollup' && !critical) {
      const rollup = await this.getJson<RollupRecord>(pointer.key);
      if (rollup !== null) {
        this.addToRollup(rollup, alert);
        await store.set(pointer.key, JSON.stringify(rollup), dayMs);
        if (alert.status === 'resolved') await store.del(pKey);
        this.o.onOutcome?.(alert.source, 'rolled_up');
        return pointer.key;
      }
    }

    if (pointer?.kind === 'message') {
      const record = await this.getJson<MessageRecord>(pointer.key);
      if (record !== null && record.state.status === 'firing') {
        const { raw: _raw, ...content } = alert;
        record.alert = content;
        record.state = {
          ...record.state,
          count: record.state.count + (alert.status === 'firing' ? 1 : 0),
          lastSeen: now,
          status: alert.status,
        };
        record.rev += 1;
        await store.set(pointer.key, JSON.stringify(record), route.dedupeWindowMs + dayMs);
        if (alert.status === 'resolved') await store.del(pKey);
        else await store.set(pKey, JSON.stringify(pointer), route.dedupeWindowMs);
        this.o.onOutcome?.(alert.source, 'deduplicated');
        return pointer.key;
      }
    }

    // A new problem (or a resolve ward never saw firing, which is still posted: nothing accepted is dropped).
    // Beyond the rule's storm limit, or from a host over its rate limit, it joins the minute's summary; a critical
    // one never does (it is posted alone, with its buttons).
    if (!critical && (alert.status === 'firing' || overHostLimit)) {
      const minute = Math.floor(this.o.clock.now() / 60_000);
      const rollUp =
        overHostLimit || (await store.incr(stormKey(route.rule, minute), 120_000)) > route.stormPerMinute;
      if (rollUp) {
        const key = await this.rollupFor(route.rule, channel, minute, alert);
        if (alert.status === 'firing') {
          await store.set(
            pKey,
            JSON.stringify({ kind: 'rollup', key } satisfies Pointer),
            route.dedupeWindowMs,
          );
        }
        this.o.onOutcome?.(alert.source, 'rolled_up');
        return key;
      }
    }
    const key = messageKey(randomUUID());
    const { raw: _raw, ...content } = alert;
    const inventoryHost = alert.host === undefined ? undefined : this.o.resolveHost?.(alert.host);
    const record: MessageRecord = {
      kind: 'message',
      channel,
      rev: 1,
      syncedRev: 0,
      alert: content,
      route: {
        rule: route.rule,
        ...(route.mention === undefined ? {} : { mention: route.mention }),
        suggest: route.suggest,
        auto: route.auto,
        ...(route.incident === undefined ? {} : { incident: route.incident }),
      },
      state: {
        count: 1,
        firstSeen: now,
        lastSeen: now,
        status: alert.status,
        ...(inventoryHost === undefined ? {} : { inventoryHost }),
      },
      autoPending: alert.status === 'firing' && (route.auto.length > 0 || route.incident === 'auto'),
    };
    // Confirmed by a replica before anything is posted: a failover that lost the pointer would let a retried copy
    // of this alert (a sender that got 503) post a second message instead of updating this one.
    await store.durable(async () => {
      await store.set(key, JSON.stringify(record), route.dedupeWindowMs + dayMs);
      if (alert.status === 'firing') {
        await store.set(
          pKey,
          JSON.stringify({ kind: 'message', key } satisfies Pointer),
          route.dedupeWindowMs,
        );
      }
    });
    return key;
  }

  /** The storm summary this alert joins: the minute's current part, or a new part when that one is full. */
  private async rollupFor(rule: string, channel: string, minute: number, alert: Alert): Promise<string> {
    const { store } = this.o;
    const partKey = rollupPartKey(rule, channel, minute);
    let part = Number((await store.get(partKey)) ?? '1');
    let key = `${partKey}:${part}`;
    let record = await this.getJson<RollupRecord>(key);
    if (record !== null && record.state.entries.length >= rollupEntryLimit) {
      part += 1;
      key = `${partKey}:${part}`;
      record = null;
    }
    await store.set(partKey, String(part), dayMs);
    record ??= {
      kind: 'rollup',
      channel,
      rev: 0,
      syncedRev: 0,
      rule,
      minuteStart: new Date(minute * 60_000).toISOString(),
      state: { count: 0, resolved: 0, entries: [], part },
    };
    this.addToRollup(record, alert);
    await store.set(key, JSON.stringify(record), dayMs);
    return key;
  }

  private addToRollup(record: RollupRecord, alert: Alert): void {
    const firing = alert.status === 'firing';
    const entry = record.state.entries.find((e) => e.fingerprint === alert.fingerprint);
    if (entry) {
      entry.count += firing ? 1 : 0;
      entry.status = alert.status;
    } else {
      record.state.entries.push({
        fingerprint: alert.fingerprint,
        title: alert.title,
        count: firing ? 1 : 0,
        status: alert.status,
      });
    }
    record.state.count += firing ? 1 : 0;
    record.state.resolved += firing ? 0 : 1;
    record.rev += 1;
  }

  /**
   * Resolves once Slack shows a revision of the record at least as new as the one present when this was called.
   * A sync waiting for its turn is joined rather than repeated.
   */
  private sync(recordKey: string, urgent = false): Promise<void> {
    const pending = this.syncs.get(recordKey);
    if (pending && !pending.started && (pending.urgent || !urgent)) return pending.promise;
    const job = { started: false, urgent, promise: Promise.resolve() };
    // An urgent sync does not queue behind a normal one: syncs of one record are idempotent (each reads the record
    // inside its paced call) and the pacer runs one call per channel at a time, so they cannot post twice.
    job.promise = (urgent ? Promise.resolve() : (pending?.promise ?? Promise.resolve()))
      .catch(() => {})
      .then(() => this.syncNow(recordKey, job))
      .finally(() => {
        if (this.syncs.get(recordKey) === job) this.syncs.delete(recordKey);
      });
    this.syncs.set(recordKey, job);
    return job.promise;
  }

  private async syncNow(recordKey: string, job: { started: boolean; urgent: boolean }): Promise<void> {
    // A permanent refusal moves the message to the fallback channel (then to plain text): at most 3 attempts.
    for (let attempt = 0; attempt < 3; attempt++) {
      const peek = await this.getJson<SlackRecord>(recordKey);
      if (peek === null || peek.failed || (peek.syncedRev >= peek.rev && peek.ts !== undefined)) {
        job.started = true;
        return;
      }
      const target = peek.postedChannel ?? peek.channel;
      const outcome = await this.o.pacer.run(
        target,
        async () => {
          // Everything written before this point is in this call; later writers start a new sync.
          job.started = true;
          const record = await this.getJson<SlackRecord>(recordKey);
          if (record === null || record.failed) return 'done' as const;
          if (record.syncedRev >= record.rev && record.ts !== undefined) return 'done' as const;
          const message = this.render(record, recordKey);
          try {
            if (record.ts === undefined) {
              const posted = await this.o.chat.postMessage(target, message);
              await this.commitPosted(record.channel, recordKey, (r) => {
                r.ts = posted.ts;
                r.syncedRev = Math.max(r.syncedRev, record.rev);
              });
              return { posted: { channel: target, ts: posted.ts } };
            }
            await this.o.chat.update(target, record.ts, message);
            await this.commit(record.channel, recordKey, (r) => {
              r.syncedRev = Math.max(r.syncedRev, record.rev);
            });
            return 'done' as const;
          } catch (err) {
            const code = permanentSlackError(err);
            if (code === undefined) throw err;
            await this.onPermanentError(recordKey, record, target, code);
            return 'retry' as const;
          }
        },
        { urgent: job.urgent },
      );
      if (outcome === 'retry') continue;
      if (outcome !== 'done') await this.startAuto(recordKey, outcome.posted);
      return;
    }
  }

  /**
   * Notes on an alert's message that someone opened a request from its button (the request itself is in the
   * message's thread). Kept in the record, so the next redraw (a repeat, a resolve) keeps the line.
   */
  async noteRequest(ref: string, request: { command: string; user: string }): Promise<void> {
    const key = messageKey(ref);
    const record = await this.getJson<SlackRecord>(key);
    if (record === null || record.kind !== 'message') return;
    await this.commit(record.channel, key, (r) => {
      if (r.kind !== 'message') return;
      r.state.requested = [...(r.state.requested ?? []), request].slice(-5);
      r.rev += 1;
    });
    await this.sync(key, true);
  }

  private render(record: SlackRecord, key: string): ChatMessage {
    if (record.kind === 'rollup') {
      const message = renderRollup(record.rule, record.minuteStart, record.state);
      return record.plain ? { text: message.text } : message;
    }
    const alert = { ...record.alert, raw: null };
    if (record.plain) return renderAlertPlain(alert, record.state, record.state.note ?? '');
    return renderAlertMessage(alert, record.state, record.route, key.slice(messageKey('').length));
  }

  /**
   * Records that a message was posted. Slack cannot take a post back, so this must not be lost: a record without its
   * ts is posted again when the entry is retried, a second message for one alert. The write waits for a replica
   * (a failover must not lose it) and is retried here, through a failover window, before giving up.
   */
  private async commitPosted(channel: string, key: string, change: (r: SlackRecord) => void): Promise<void> {
    // Real time, not the injected clock: this bounds a wait, it is not a business rule.
    const deadline = Date.now() + POSTED_COMMIT_DEADLINE_MS;
    for (;;) {
      try {
        await this.commit(channel, key, change);
        return;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        this.o.log.warn({ err, key }, 'could not record a posted alert message yet; retrying');
        await new Promise((r) => setTimeout(r, POSTED_COMMIT_RETRY_MS));
      }
    }
  }

  /**
   * Read-modify-write of a record in its channel's order, ahead of queued alerts: it runs inside a paced Slack call
   * (after a post), and waiting behind a storm's queued alerts there would stall the whole channel's pacing.
   */
  private commit(channel: string, key: string, change: (r: SlackRecord) => void): Promise<void> {
    return this.inChannelOrder(
      channel,
      async () => {
        const record = await this.getJson<SlackRecord>(key);
        if (record === null) return;
        change(record);
        const ttl = await this.o.store.ttlMs(key);
        await this.o.store.durable(() => this.o.store.set(key, JSON.stringify(record), ttl ?? dayMs));
      },
      true,
    );
  }

  /** Slack refused the message for good: post it to the fallback channel with a note, else as plain text, else give up. */
  private async onPermanentError(
    key: string,
    record: SlackRecord,
    target: string,
    code: string,
  ): Promise<void> {
    const fallback = this.o.fallbackChannel;
    const about =
      record.kind === 'message'
        ? { fingerprint: record.alert.fingerprint, source: record.alert.source, title: record.alert.title }
        : { rule: record.rule, rollup: key };
    if (target !== fallback) {
      const note = `Posted here because Slack refused channel ${target} (${code}).`;
      this.o.log.warn(
        { ...about, channel: target, code, fallback },
        'Slack refused an alert channel; using the fallback',
      );
      await this.commit(record.channel, key, (r) => {
        r.postedChannel = fallback;
        delete r.ts;
        r.rev += 1;
        r.state.note = note;
      });
      return;
    }
    if (!record.plain) {
      this.o.log.warn(
        { ...about, channel: target, code },
        'Slack refused an alert message; sending it as plain text',
      );
      await this.commit(record.channel, key, (r) => {
        r.plain = true;
        if (r.ts !== undefined && code !== 'invalid_blocks' && code !== 'invalid_blocks_format') delete r.ts;
        r.rev += 1;
        r.state.note = `${r.state.note ? `${r.state.note} ` : ''}Shown as text because Slack refused the formatted message (${code}).`;
      });
      return;
    }
    this.o.log.error(
      { ...about, channel: target, code },
      'Slack refused an alert even as text in the fallback channel; giving up on it',
    );
    await this.commit(record.channel, key, (r) => {
      r.failed = true;
    });
    await this.o.audit
      ?.record({ type: 'alert.undeliverable', outcome: code, details: about })
      .catch(() => {});
  }

  /** Starts a new message's auto-run commands once, right after its first post. */
  private async startAuto(key: string, posted: { channel: string; ts: string }): Promise<void> {
    let record: MessageRecord | null = null;
    await this.commit(await this.channelOf(key), key, (r) => {
      if (r.kind === 'message' && r.autoPending) {
        record = { ...r };
        r.autoPending = false;
      }
    });
    const found = record as MessageRecord | null;
    if (found !== null && found.route.incident === 'auto' && this.o.onIncident !== undefined) {
      await this.o
        .onIncident({
          alert: { ...found.alert, raw: null },
          channel: posted.channel,
          ts: posted.ts,
          firstSeen: found.state.firstSeen,
          host: found.state.inventoryHost,
        })
        .catch((err) =>
          this.o.log.error(
            { err, fingerprint: found.alert.fingerprint },
            'opening an incident for an alert failed',
          ),
        );
    }
    if (found === null || this.o.onAuto === undefined) return;
    const host = found.state.inventoryHost;
    if (host === undefined) {
      this.o.log.info(
        { fingerprint: found.alert.fingerprint, commands: found.route.auto, host: found.alert.host },
        'auto-run skipped: the alert host is not in the inventory',
      );
      return;
    }
    for (const command of found.route.auto) {
      await this.o
        .onAuto({
          command,
          rule: found.route.rule,
          alert: { ...found.alert, raw: null },
          host,
          channel: posted.channel,
          ts: posted.ts,
        })
        .catch((err) =>
          this.o.log.error(
            { err, command, fingerprint: found.alert.fingerprint },
            'auto-run of an alert command failed',
          ),
        );
    }
  }

  private async channelOf(key: string): Promise<string> {
    return (await this.getJson<SlackRecord>(key))?.channel ?? this.o.fallbackChannel;
  }
}
