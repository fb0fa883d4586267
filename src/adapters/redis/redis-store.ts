import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig } from '../../config/env.js';
import { TIMED_OUT, withTimeout } from '../../core/with-timeout.js';
import { NotDurableError, StoreUnavailableError } from '../../errors.js';
import { redisFailoversTotal, redisPrimary } from '../../metrics.js';
import type { LeaseAttempt, Store, StreamEntry } from '../../ports/store.js';

/** SHA1 of each Lua script below, computed on first use (EVALSHA). */
const scriptShas = new Map<string, string>();

/** How long start-up (and `npm run audit`) waits for a first primary before giving up. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Pause before connecting again after ioredis gave a connection up for good (see RedisStore.onEnd). */
const RECONNECT_AFTER_END_MS = 500;

// Atomic compare-and-set: the value is compared and replaced inside Redis, so two replicas (or two clicks)
// can never both win. ARGV[1] is '1' when a value is expected, ARGV[3] '1' when a next value is written.
const CAS = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
else
  if cur then return 0 end
end
if ARGV[3] == '1' then
  if ARGV[5] ~= '' then
    redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
  else
    redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
  end
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

// Appends to a stream only while the guard key holds the expected value (the audit chain's head hash), moving the
// head in the same step: entries can never be appended out of chain order, even from two processes.
const GUARDED_XADD = `
local cur = redis.call('GET', KEYS[2])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return false end
else
  if cur then return false end
end
redis.call('SET', KEYS[2], ARGV[3])
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
`;

// ARGV: guard flag, expected, next, then per entry: its field count ×2, then its field/value pairs.
const GUARDED_XADD_ALL = `
local cur = redis.call('GET', KEYS[2])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return false end
else
  if cur then return false end
end
redis.call('SET', KEYS[2], ARGV[3])
local ids = {}
local i = 4
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, i + n))
  i = i + 1 + n
end
return ids
`;

const INCR_TTL = `
local by = tonumber(ARGV[2])
local n = redis.call('INCRBY', KEYS[1], by)
if n == by and ARGV[1] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

// A fixed-window budget shared by every replica: the amount is added only when the total stays within the limit.
// Returns {taken (0/1), ms left in the window}.
const TAKE_WITHIN = `
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + amount > limit then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then left = tonumber(ARGV[3]) end
  return {0, left}
end
local n = redis.call('INCRBY', KEYS[1], amount)
if n == amount then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  left = tonumber(ARGV[3])
end
return {1, left}
`;

// Bounded appends to several lists (the alert queue's lanes), all or nothing: the length check and the pushes are
// one step, so replicas accepting at the same time cannot overfill the queue together.
// ARGV: number of pushes, then per push: maxTotal, count, values…
const PUSH_BOUNDED = `
local total = 0
for i = 1, #KEYS do total = total + redis.call('LLEN', KEYS[i]) end
local pushes = tonumber(ARGV[1])
local at = 2
for p = 1, pushes do
  local max = tonumber(ARGV[at])
  local count = tonumber(ARGV[at + 1])
  total = total + count
  if count > 0 and total > max then return 0 end
  at = at + 2 + count
end
at = 2
for p = 1, pushes do
  local count = tonumber(ARGV[at + 1])
  if count > 0 then redis.call('RPUSH', KEYS[p], unpack(ARGV, at + 2, at + 1 + count)) end
  at = at + 2 + count
end
return 1
`;

// Reader/writer lease lock (Store.leaseAcquire). KEYS: the exclusive holder (a string with PX), the shared holders (a
// sorted set: member holder, score lease end in ms) and the waiting writer's mark (a string with PX). Time is
// Redis's own (TIME), so replicas with skewed clocks agree on when a lease ends. Expired shared leases are dropped
// first. Returns {granted 0/1, exclusive or '', waiting or '', shared...}.
const LEASE_ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local holder = ARGV[2]
local ttl = tonumber(ARGV[3])
local ex = redis.call('GET', KEYS[1])
local waiting = redis.call('GET', KEYS[3])
local shared = redis.call('ZRANGE', KEYS[2], 0, -1)
local other = waiting
if waiting == holder then other = false end
if ARGV[1] == 'shared' then
  if ex or other then return {0, ex or '', other or '', unpack(shared)} end
  redis.call('ZADD', KEYS[2], now + ttl, holder)
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
  return {1, '', ''}
end
if ex or #shared > 0 then
  if ARGV[4] ~= '' and not other then redis.call('SET', KEYS[3], holder, 'PX', ARGV[4]) end
  return {0, ex or '', other or '', unpack(shared)}
end
redis.call('SET', KEYS[1], holder, 'PX', ttl)
if waiting == holder then redis.call('DEL', KEYS[3]) end
return {1, '', ''}
`;

const LEASE_RELEASE = `
local n = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); n = n + 1 end
n = n + redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]); n = n + 1 end
return n
`;

const LEASE_HOLDERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ex = redis.call('GET', KEYS[1])
local waiting = redis.call('GET', KEYS[3])
return {0, ex or '', waiting or '', unpack(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf'))}
`;

const leaseKeys = (key: string): [string, string, string] => [key, `${key}:shared`, `${key}:waiting`];

function toLeaseAttempt(reply: unknown): LeaseAttempt {
  const [granted, exclusive, waiting, ...shared] = (reply as Array<string | number>).map(String);
  return {
    acquired: granted === '1',
    holders: { exclusive: exclusive || null, shared, waiting: waiting || null },
  };
}

/**
 * Store on Redis (ioredis), either one URL or a Sentinel group (ioredis asks the sentinels for the primary and,
 * subscribed to `+switch-master`, reconnects to the new one after a failover: ward has no failover logic of its
 * own). Connection errors become StoreUnavailableError; ioredis reconnects by itself.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly client: Redis;
  private readonly minReplicas: number;
  private readonly durableTimeoutMs: number;
  /** Bumped on every new connection: a write and the WAIT for it must go over the same one. */
  private connectionSerial = 0;
  /** host:port of the primary currently connected to (undefined before the first connection). */
  private primaryAddress: string | undefined;
  /** Set once connect() succeeded and until close(): only then does a connection ioredis gave up get replaced. */
  private keepConnected = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    target: string | RedisConfig,
    private readonly log?: Logger,
  ) {
    const config: RedisConfig =
      typeof target === 'string'
        ? { mode: 'url', url: target, password: undefined, minReplicas: 0, durableTimeoutMs: 1000 }
        : target;
    this.minReplicas = config.minReplicas;
    this.durableTimeoutMs = config.durableTimeoutMs;
    const common: RedisOptions = {
      lazyConnect: true,
      // Commands issued in the same tick go out as one pipeline: under a burst (an alert storm: a rate-limit
      // check, a queue push and an audit append per request) that is one write and one read for many requests.
      // Each command keeps its own reply and error; ordering per connection is unchanged.
      enableAutoPipelining: true,
      // Fail fast while Redis is down instead of queueing commands that would run much later, out of context.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // A Redis that accepts the connection but stops answering (paused, overloaded) must not hang a command; a
      // WAIT legitimately takes up to its own timeout.
      commandTimeout: Math.max(5000, config.durableTimeoutMs + 2000),
      retryStrategy: (times) => Math.min(100 * times, 2000),
      // A primary demoted under us (it came back after a failover and is now a replica) answers READONLY: the write
      // was not made; reconnect, which asks the sentinels for the current primary. The command itself fails.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
      ...(config.password === undefined ? {} : { password: config.password }),
    };
    this.client =
      config.mode === 'url'
        ? new Redis(config.url, common)
        : new Redis({
            ...common,
            sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
            name: config.name,
            role: 'master',
            failoverDetector: true,
            sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
            ...(config.sentinelPassword === undefined ? {} : { sentinelPassword: config.sentinelPassword }),
            ...(config.tls ? { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
          });
    // Errors are reported through the failing commands; without a listener ioredis would log each one.
    this.client.on('error', () => {});
    this.client.on('ready', () => this.onReady());
    this.client.on('end', () => this.onEnd());
  }

  /**
   * ioredis gave the connection up for good ("Connection is closed." on every command from then on). Its Sentinel
   * failover detector does this when `+switch-master` arrives while it is still asking the sentinels for the primary
   * after losing the old one: the disconnect it sends aborts that reconnection, and the client ends instead of
   * retrying. That is exactly a failover, so ward connects again (asking the sentinels afresh) until closed.
   */
  private onEnd(): void {
    if (!this.keepConnected || this.reconnectTimer !== undefined) return;
    this.log?.warn(
      'the Redis connection ended; connecting again through the configured Redis address or sentinels',
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.keepConnected || this.client.status !== 'end') return;
      // A failed attempt ends the client again, which schedules the next one.
      this.client.connect().catch(() => {});
    }, RECONNECT_AFTER_END_MS);
    this.reconnectTimer.unref();
  }

  /** A new connection is ready: notes it, and says so when the primary is not the one it was. */
  private onReady(): void {
    this.connectionSerial++;
    const stream = this.client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
    if (stream?.remoteAddress === undefined || stream.remotePort === undefined) return;
    const address = `${stream.remoteAddress}:${stream.remotePort}`;
    const previous = this.primaryAddress;
    if (previous === address) return;
    this.primaryAddress = address;
    if (previous !== undefined) {
      redisPrimary.remove({ address: previous });
      redisFailoversTotal.inc();
      this.log?.warn({ previous, primary: address }, `Redis primary changed from ${previous} to ${address}`);
    } else {
      this.log?.info({ primary: address }, `connected to the Redis primary at ${address}`);
    }
    redisPrimary.set({ address }, 1);
  }

  /** The primary's host:port once connected. */
  get primary(): string | undefined {
    return this.primaryAddress;
  }

  /** Connects; rejects with StoreUnavailableError when no Redis primary can be reached. */
  async connect(): Promise<void> {
    try {
      // With Sentinel, ioredis keeps asking the sentinels until one names a primary: bound that wait.
      if ((await withTimeout(this.client.connect(), CONNECT_TIMEOUT_MS)) === TIMED_OUT) {
        throw new Error(`no Redis primary within ${CONNECT_TIMEOUT_MS} ms`);
      }
    } catch (err) {
      this.client.disconnect();
      throw new StoreUnavailableError(err);
    }
    this.keepConnected = true;
  }

  async durable<T>(write: () => Promise<T>): Promise<T> {
    if (this.minReplicas === 0) return write();
    const connection = this.connectionSerial;
    const result = await write();
    // WAIT counts the writes of its own connection only: after a reconnect it would vouch for nothing.
    if (this.connectionSerial !== connection) throw new NotDurableError(0, this.minReplicas);
    const acknowledged = await this.run(() => this.client.wait(this.minReplicas, this.durableTimeoutMs));
    if (acknowledged < this.minReplicas) {
      this.log?.warn(
        { acknowledged, wanted: this.minReplicas, timeoutMs: this.durableTimeoutMs },
        'a write was not acknowledged by enough Redis replicas in time: reported as not durable',
      );
      throw new NotDurableError(acknowledged, this.minReplicas);
    }
    return result;
  }

  /**
   * Runs a Lua script by its SHA1 (EVALSHA), sending its text (EVAL) only when Redis does not know it yet (first use,
   * after a restart or SCRIPT FLUSH): under an alert storm every request runs two scripts, and their text was most
   * of the bytes sent.
   */
  private evalScript(lua: string, numKeys: number, ...args: Array<string | number>): Promise<unknown> {
    let sha = scriptShas.get(lua);
    if (sha === undefined) {
      sha = createHash('sha1').update(lua).digest('hex');
      scriptShas.set(lua, sha);
    }
    return this.client.evalsha(sha, numKeys, ...args).catch((err: unknown) => {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return this.client.eval(lua, numKeys, ...args);
      }
      throw err;
    });
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/WRONGTYPE|ERR|NOSCRIPT/.test(message) && !/Connection|connect|writeable|closed/i.test(message)) {
        throw err;
      }
      throw new StoreUnavailableError(err);
    }
  }

  get(key: string) {
    return this.run(() => this.client.get(key));
  }

  getMany(keys: readonly string[]) {
    return this.run(() => this.client.mget(...keys));
  }

  async set(key: string, value: string, ttlMs?: number) {
    await this.run(() =>
      ttlMs === undefined
        ? this.client.set(key, value)
        : this.client.set(key, value, 'PX', Math.max(1, ttlMs)),
    );
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number) {
    const r = await this.run(() =>
      ttlMs === undefined
        ? this.client.set(key, value, 'NX')
        : this.client.set(key, value, 'PX', Math.max(1, ttlMs), 'NX'),
    );
    return r === 'OK';
  }

  async del(key: string) {
    return (await this.run(() => this.client.del(key))) > 0;
  }

  async compareAndSet(key: string, expected: string | null, next: string | null, ttlMs?: number) {
    const r = await this.run(() =>
      this.evalScript(
        CAS,
        1,
        key,
        expected === null ? '0' : '1',
        expected ?? '',
        next === null ? '0' : '1',
        next ?? '',
        ttlMs === undefined ? '' : String(Math.max(1, ttlMs)),
      ),
    );
    return r === 1;
  }

  async incr(key: string, ttlMs?: number, by = 1) {
    return Number(
      await this.run(() =>
        this.evalScript(INCR_TTL, 1, key, ttlMs === undefined ? '' : String(ttlMs), String(by)),
      ),
    );
  }

  async takeWithin(key: string, amount: number, limit: number, windowMs: number) {
    const [taken, left] = (await this.run(() =>
      this.evalScript(TAKE_WITHIN, 1, key, String(amount), String(limit), String(Math.max(1, windowMs))),
    )) as [number, number];
    return { taken: taken === 1, resetMs: Number(left) };
  }

  async ttlMs(key: string) {
    const r = await this.run(() => this.client.pttl(key));
    return r < 0 ? null : r;
  }

  async keys(prefix: string) {
    const found: string[] = [];
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, batch] = await this.run(() => this.client.scan(cursor, 'MATCH', pattern, 'COUNT', 500));
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return [...new Set(found)];
  }

  async leaseAcquire(
    key: string,
    mode: 'shared' | 'exclusive',
    holder: string,
    ttlMs: number,
    waitMarkMs?: number,
  ) {
    const r = await this.run(() =>
      this.evalScript(
        LEASE_ACQUIRE,
        3,
        ...leaseKeys(key),
        mode,
        holder,
        String(Math.max(1, Math.round(ttlMs))),
        waitMarkMs === undefined ? '' : String(Math.max(1, Math.round(waitMarkMs))),
      ),
    );
    return toLeaseAttempt(r);
  }

  async leaseRelease(key: string, holder: string) {
    return Number(await this.run(() => this.evalScript(LEASE_RELEASE, 3, ...leaseKeys(key), holder))) > 0;
  }

  async leaseHolders(key: string) {
    return toLeaseAttempt(await this.run(() => this.evalScript(LEASE_HOLDERS, 3, ...leaseKeys(key)))).holders;
  }

  listPush(key: string, value: string) {
    return this.run(() => this.client.rpush(key, value));
  }

  listRange(key: string, start: number, stop: number) {
    return this.run(() => this.client.lrange(key, start, stop));
  }

  listRemove(key: string, value: string) {
    return this.run(() => this.client.lrem(key, 0, value));
  }

  async listPushBounded(pushes: ReadonlyArray<{ key: string; values: readonly string[]; maxTotal: number }>) {
    const args: string[] = [String(pushes.length)];
    for (const p of pushes) args.push(String(p.maxTotal), String(p.values.length), ...p.values);
    const r = await this.run(() =>
      this.evalScript(PUSH_BOUNDED, pushes.length, ...pushes.map((p) => p.key), ...args),
    );
    return r === 1;
  }

  async streamAppend(key: string, fields: Record<string, string>) {
    const id = await this.run(() => this.client.xadd(key, '*', ...Object.entries(fields).flat()));
    return id as string;
  }

  async streamAppendGuarded(
    key: string,
    fields: Record<string, string>,
    guard: { key: string; expected: string | null; next: string },
  ) {
    const r = await this.run(() =>
      this.evalScript(
        GUARDED_XADD,
        2,
        key,
        guard.key,
        guard.expected === null ? '0' : '1',
        guard.expected ?? '',
        guard.next,
        ...Object.entries(fields).flat(),
      ),
    );
    return r === null ? null : String(r);
  }

  async streamAppendGuardedAll(
    key: string,
    entries: ReadonlyArray<Record<string, string>>,
    guard: { key: string; expected: string | null; next: string },
  ) {
    const args: string[] = [guard.expected === null ? '0' : '1', guard.expected ?? '', guard.next];
    for (const fields of entries) {
      const flat = Object.entries(fields).flat();
      args.push(String(flat.length), ...flat);
    }
    const r = await this.run(() => this.evalScript(GUARDED_XADD_ALL, 2, key, guard.key, ...args));
    return r === null ? null : (r as unknown[]).map(String);
  }

  async streamRange(key: string, start = '-', end = '+', count?: number) {
    const r = await this.run(() =>
      count === undefined
        ? this.client.xrange(key, start, end)
        : this.client.xrange(key, start, end, 'COUNT', count),
    );
    return r.map(toEntry);
  }

  async streamRevRange(key: string, count: number) {
    const r = await this.run(() => this.client.xrevrange(key, '+', '-', 'COUNT', count));
    return r.map(toEntry);
  }

  async ping() {
    await this.run(() => this.client.ping());
  }

  async close() {
    this.keepConnected = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.client.disconnect();
    if (this.primaryAddress !== undefined) redisPrimary.remove({ address: this.primaryAddress });
  }
}

/** The one way ward (src/main.ts) and its tools (src/cli/audit.ts) build their Redis store from configuration. */
export function createRedisStore(config: RedisConfig, log?: Logger): RedisStore {
  return new RedisStore(config, log);
}

function toEntry([id, flat]: [string, string[]]): StreamEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { id, fields };
}
