import type { Store } from '../ports/store.js';

/** What ward remembers about a host between requests (`ward:host:<name>:state`). */
export interface HostState {
  status: 'locked';
  /** Epoch ms. */
  since: number;
  /** Slack user id of the requester. */
  by: string;
  requestId: string;
  reason?: string | undefined;
  managementCidrs: string[];
  /** Where the pre-lockdown ruleset was saved. */
  rulesetEvidence?: string | undefined;
  /** The thread of the request that applied it: drift is reported there. */
  thread?: { channel: string; ts: string } | undefined;
  /** The SSH port the lockdown keeps open from the management CIDRs. */
  sshPort?: number | undefined;
  /** `nft list table inet ward_lockdown` as ward saw it right after applying, normalized (normalizeNft). */
  appliedTable?: string | undefined;
}

/** An address (or port) ward blocked on a host, and which request did it. */
export interface BlockedEntry {
  /** Epoch ms. */
  since: number;
  by: string;
  requestId: string;
  thread: { channel: string; ts: string };
}

/**
 * The elements ward holds in its own nftables sets on a host, by kind: `blocked` (block-ip: addresses and CIDRs,
 * `ward:host:<name>:blocked`) and `ports` (block-port: `8080/tcp`, `ward:host:<name>:ports`), each keyed by element.
 */
export type HeldKind = 'blocked' | 'ports';

export const hostHeldKey = (host: string, kind: HeldKind): string => `ward:host:${host}:${kind}`;
export const hostBlockedKey = (host: string): string => hostHeldKey(host, 'blocked');

export async function readHeld(
  store: Store,
  host: string,
  kind: HeldKind,
): Promise<Record<string, BlockedEntry>> {
  const raw = await store.get(hostHeldKey(host, kind));
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, BlockedEntry>;
  } catch {
    return {};
  }
}

/**
 * What ward believes it holds is a promise (the checker verifies it, the boot file restores it): written durably, so
 * that a Redis failover cannot make ward forget a containment it reported done (docs/redis-ha.md).
 */
export async function writeHeld(
  store: Store,
  host: string,
  kind: HeldKind,
  held: Record<string, BlockedEntry>,
): Promise<void> {
  const key = hostHeldKey(host, kind);
  await store.durable(async () => {
    if (Object.keys(held).length === 0) await store.del(key);
    else await store.set(key, JSON.stringify(held));
  });
}

export const readBlocked = (store: Store, host: string): Promise<Record<string, BlockedEntry>> =>
  readHeld(store, host, 'blocked');

/**
 * nft's listing with what does not matter for equality taken out: indentation, blank lines, trailing spaces. Two
 * listings of the same rules normalize to the same text; an added, removed or changed rule does not.
 */
export function normalizeNft(listing: string): string {
  return listing
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '')
    .join('\n');
}

/** What ward has applied on a host and must hold there (and after a reboot): its lockdown, blocks and closed ports. */
export async function desiredContainment(
  store: Store,
  host: { name: string; port: number },
): Promise<{
  lockdown?: { managementCidrs: string[]; sshPort: number };
  blocked: string[];
  ports: string[];
}> {
  const state = await readHostState(store, host.name);
  const blocked = Object.keys(await readHeld(store, host.name, 'blocked')).sort();
  const ports = Object.keys(await readHeld(store, host.name, 'ports')).sort();
  return state
    ? {
        lockdown: { managementCidrs: state.managementCidrs, sshPort: state.sshPort ?? host.port },
        blocked,
        ports,
      }
    : { blocked, ports };
}

export const hostStateKey = (host: string): string => `ward:host:${host}:state`;
/** The `nft list ruleset` output saved before the last lockdown. */
export const hostRulesetKey = (host: string): string => `ward:host:${host}:ruleset`;

export async function readHostState(store: Store, host: string): Promise<HostState | undefined> {
  const raw = await store.get(hostStateKey(host));
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as HostState;
  } catch {
    return undefined;
  }
}

/** Durable, like every record of what ward holds (see writeHeld). */
export async function writeHostState(store: Store, host: string, state: HostState): Promise<void> {
  await store.durable(() => store.set(hostStateKey(host), JSON.stringify(state)));
}

export async function clearHostState(store: Store, host: string): Promise<void> {
  await store.durable(() => store.del(hostStateKey(host)));
}
