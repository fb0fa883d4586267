import { randomBytes } from 'node:crypto';
import { WardError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';

/** Another remediation holds the host. */
export class HostBusyError extends WardError {
  constructor(host: string, holder: HostLockHolder | undefined) {
    super(
      'ward_host_busy',
      holder
        ? `${host} is busy with request ${holder.requestId} (${holder.command}) since ${new Date(holder.since).toISOString()}. Nothing was run on ${host}; try again when it has finished.`
        : `${host} is busy with another remediation. Nothing was run on ${host}; try again when it has finished.`,
    );
  }
}

export interface HostLockHolder {
  token: string;
  requestId: string;
  command: string;
  /** Epoch ms. */
  since: number;
}

export interface HostLock {
  readonly holder: HostLockHolder;
  /** Releases the lock if this holder still owns it (a lock that expired and was taken by another is left alone). */
  release(): Promise<void>;
}

export const hostLockKey = (host: string): string => `ward:lock:host:${host}`;

/**
 * Takes the per-host lock (`ward:lock:host:<name>`), atomically in the store, so that two remediations never
 * run on one host at once, across ward replicas too. The TTL frees the host if ward dies while holding it.
 */
export async function acquireHostLock(
  store: Store,
  clock: Clock,
  host: string,
  owner: { requestId: string; command: string; ttlMs: number },
): Promise<HostLock> {
  const holder: HostLockHolder = {
    token: randomBytes(12).toString('hex'),
    requestId: owner.requestId,
    command: owner.command,
    since: clock.now(),
  };
  const value = JSON.stringify(holder);
  const key = hostLockKey(host);
  if (!(await store.setIfAbsent(key, value, owner.ttlMs))) {
    const current = await store.get(key);
    let parsed: HostLockHolder | undefined;
    try {
      parsed = current ? (JSON.parse(current) as HostLockHolder) : undefined;
    } catch {
      parsed = undefined;
    }
    throw new HostBusyError(host, parsed);
  }
  return {
    holder,
    async release() {
      await store.compareAndSet(key, value, null);
    },
  };
}
