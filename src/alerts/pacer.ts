import type { Clock } from '../ports/clock.js';
import { KeyedLanes } from './keyed-lanes.js';

/**
 * Spaces Slack calls per channel: Slack allows about one chat.postMessage per second per channel (short bursts
 * are tolerated, sustained ones get 429). Calls on one channel run one at a time, at least `minIntervalMs` apart;
 * channels do not wait for each other. A rate-limit error (`retryAfter` seconds, as @slack/web-api's
 * RateLimitedError carries) pauses that channel for as long as Slack asked and then retries the same call, so a
 * 429 delays a message but never loses it. An urgent call (a critical alert) goes ahead of every call still waiting
 * in its channel; it still honours the interval and any 429 pause.
 */
export interface PacerOptions {
  clock: Clock;
  /** Waits; injectable so that unit tests run without real time. */
  sleep?: (ms: number) => Promise<void>;
  minIntervalMs?: number;
  /** Give up (rethrow) after this many consecutive rate-limit answers for one call. */
  maxRateLimitRetries?: number;
}

export function retryAfterSeconds(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; retryAfter?: unknown };
  if (e.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number') return e.retryAfter;
  return undefined;
}

export class ChannelPacer {
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly minIntervalMs: number;
  private readonly maxRetries: number;
  private readonly lanes = new KeyedLanes();
  private readonly nextAt = new Map<string, number>();

  constructor(options: PacerOptions) {
    this.clock = options.clock;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.minIntervalMs = options.minIntervalMs ?? 1100;
    this.maxRetries = options.maxRateLimitRetries ?? 10;
  }

  /**
   * Runs `call` in `channel`'s turn (`urgent`: before every call still waiting there). Resolves or rejects with
   * the call's own result.
   */
  run<T>(channel: string, call: () => Promise<T>, options: { urgent?: boolean } = {}): Promise<T> {
    return this.lanes.run(channel, () => this.execute(channel, call), options.urgent === true);
  }

  private async execute<T>(channel: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const wait = (this.nextAt.get(channel) ?? 0) - this.clock.now();
      if (wait > 0) await this.sleep(wait);
      try {
        const result = await call();
        this.nextAt.set(channel, this.clock.now() + this.minIntervalMs);
        return result;
      } catch (err) {
        const retryAfter = retryAfterSeconds(err);
        if (retryAfter === undefined || attempt >= this.maxRetries) {
          this.nextAt.set(channel, this.clock.now() + this.minIntervalMs);
          throw err;
        }
        this.nextAt.set(channel, this.clock.now() + Math.max(retryAfter * 1000, this.minIntervalMs));
      }
    }
  }
}
