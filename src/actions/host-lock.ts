import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WardError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { LeaseHolders, Store } from '../ports/store.js';
import { clockTime } from '../render/time.js';

/**
 * How a job uses a host: `read` (collection that changes nothing, e.g. forensics) shares the host with other reads;
 * `change` has it to itself.
 */
export type HostAccess = 'read' | 'change';

export interface HostLockHolder {
  token: string;
  requestId: string;
  command: string;
  access: HostAccess;
  /** Epoch ms. */
  since: number;
}

/** Another remediation held the host for longer than ward waits (WARD_HOST_LOCK_WAIT_SECONDS). */
export class HostBusyError extends WardError {
  constructor(host: string, holders: LeaseHolders, waitedMs: number) {
    const waited =
      waitedMs >= 1000
        ? ` ward waited ${Math.round(waitedMs / 1000)} s for it (WARD_HOST_LOCK_WAIT_SECONDS).`
        : '';
    super(
      'ward_host_busy',
      `${describeHolders(host, holders)}.${waited} Nothing was run on ${host}; try again when it has finished.`,
    );
  }
}

export interface HostLock {
  readonly holder: HostLockHolder;
  /** Ends this holder's lease (a lease that already expired is left alone, whoever holds the host now). */
  release(): Promise<void>;
}

export const hostLockKey = (host: string): string => `ward:lock:host:${host}`;

export function parseHolder(value: string): HostLockHolder | undefined {
  try {
    const h = JSON.parse(value) as Partial<HostLockHolder>;
    return typeof h.requestId === 'string' && typeof h.command === 'string'
      ? {
          token: String(h.token),
          requestId: h.requestId,
          command: h.command,
          access: h.access ?? 'change',
          since: Number(h.since),
        }
      : undefined;
  } catch {
    return undefined;
  }
}

function describeOne(h: HostLockHolder | undefined): string {
  if (!h) return 'another remediation';
  const since = Number.isFinite(h.since) ? ` since ${clockTime(h.since)}` : '';
  return `request ${h.requestId} (${h.command}${h.access === 'read' ? ', read-only' : ''})${since}`;
}

/** "web1 is busy with request r-… (kill-process) since …": who is in the way, the change first. */
export function describeHolders(host: string, holders: LeaseHolders): string {
  if (holders.exclusive !== null)
    return `${host} is busy with ${describeOne(parseHolder(holders.exclusive))}`;
  if (holders.waiting !== null) {
    return `${host} is reserved for ${describeOne(parseHolder(holders.waiting))}, which is waiting for reads to finish`;
  }
  const [first, ...rest] = holders.shared;
  if (first === undefined) return `${host} is busy with another remediation`;
  const more = rest.length > 0 ? ` and ${rest.length} other read-only collection(s)` : '';
  return `${host} is busy with ${describeOne(parseHolder(first))}${more}`;
}

/** How often a waiting job asks again; jittered so that replicas do not ask in step. */
const POLL_MS = 200;
/** A waiting change keeps new reads out this long after its last attempt: a change that died stops blocking soon. */
const WAIT_MARK_MS = 3_000;

/**
 * Takes the per-host lock (`ward:lock:host:<name>` and its `:shared`, `:waiting` companions) atomically in the store,
 * so that a change never runs on a host while anything else does, across ward replicas too; reads share the host.
 * A busy host is waited for, up to `waitMs`, then refused with HostBusyError naming who holds it. A waiting change
 * keeps new reads out, so an alert storm's forensics cannot starve a containment. Each grant is a lease of `ttlMs`:
 * a ward process that dies frees the host when it ends.
 */
export async function acquireHostLock(
  store: Store,
  clock: Clock,
  host: string,
  owner: {
    requestId: string;
    command: string;
    access: HostAccess;
    ttlMs: number;
    waitMs: number;
    /** Called once, when the host is found busy and ward starts waiting. */
    onWait?: (holders: LeaseHolders) => Promise<void> | void;
  },
): Promise<HostLock> {
  const holder: HostLockHolder = {
    token: randomBytes(12).toString('hex'),
    requestId: owner.requestId,
    command: owner.command,
    access: owner.access,
    since: clock.now(),
  };
  const value = JSON.stringify(holder);
  const key = hostLockKey(host);
  const mode = owner.access === 'read' ? 'shared' : 'exclusive';
  // Real elapsed time: waiting is sleeping, whatever the injected clock says.
  const started = performance.now();
  let told = false;
  for (;;) {
    const attempt = await store.leaseAcquire(key, mode, value, owner.ttlMs, WAIT_MARK_MS);
    if (attempt.acquired) break;
    const waited = performance.now() - started;
    if (waited >= owner.waitMs) {
      // Drop this change's wait mark at once, so reads are not kept out by a change that gave up.
      await store.leaseRelease(key, value).catch(() => {});
      throw new HostBusyError(host, attempt.holders, waited);
    }
    if (!told) {
      told = true;
      try {
        await owner.onWait?.(attempt.holders);
      } catch {
        // Telling people is a courtesy; the wait goes on.
      }
    }
    await sleep(Math.min(POLL_MS / 2 + Math.random() * POLL_MS, owner.waitMs - waited + 1));
  }
  return {
    holder,
    async release() {
      await store.leaseRelease(key, value);
    },
  };
}

/**
 * Frees the per-host locks an interrupted execution still holds (a change's, a read's, or a change's wait mark), so
 * that its hosts do not stay busy until the leases end: its process is dead (lease expired) or is about to exit
 * (shutdown). Only holders naming this request are released, each atomically by its exact value. Never throws.
 */
export async function releaseHostLocksOf(
  store: Store,
  log: Logger,
  requestId: string,
  hosts: readonly string[],
): Promise<void> {
  for (const host of hosts) {
    const key = hostLockKey(host);
    try {
      const h = await store.leaseHolders(key);
      const mine = [h.exclusive, h.waiting, ...h.shared].filter(
        (v): v is string => v !== null && parseHolder(v)?.requestId === requestId,
      );
      for (const value of mine) {
        if (await store.leaseRelease(key, value)) {
          log.info(
            { host, approvalRequestId: requestId },
            'released the host lock of an interrupted execution',
          );
        }
      }
    } catch (err) {
      log.warn({ err, host }, 'could not release the host lock of an interrupted execution');
    }
  }
}
