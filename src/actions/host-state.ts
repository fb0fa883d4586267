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

/** An address ward blocked on a host, and which request did it (`ward:host:<name>:blocked`, by address). */
export interface BlockedEntry {
  /** Epoch ms. */
  since: number;
  by: string;
  requestId: string;
  thread: { channel: string; ts: string };
}

export const hostBlockedKey = (host: string): string => `ward:host:${host}:blocked`;

export async function readBlocked(store: Store, host: string): Promise<Record<string, BlockedEntry>> {
  const raw = await store.get(hostBlockedKey(host));
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, BlockedEntry>;
  } catch {
    return {};
  }
}

export async function writeBlocked(
  store: Store,
  host: string,
  blocked: Record<string, BlockedEntry>,
): Promise<void> {
  if (Object.keys(blocked).length === 0) await store.del(hostBlockedKey(host));
  else await store.set(hostBlockedKey(host), JSON.stringify(blocked));
}

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

/** What ward has applied on a host and must hold there (and after a reboot): its lockdown and its blocks. */
export async function desiredContainment(
  store: Store,
  host: { name: string; port: number },
): Promise<{ lockdown?: { managementCidrs: string[]; sshPort: number }; blocked: string[] }> {
  const state = await readHostState(store, host.name);
  const blocked = Object.keys(await readBlocked(store, host.name)).sort();
  return state
    ? { lockdown: { managementCidrs: state.managementCidrs, sshPort: state.sshPort ?? host.port }, blocked }
    : { blocked };
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

export async function writeHostState(store: Store, host: string, state: HostState): Promise<void> {
  await store.set(hostStateKey(host), JSON.stringify(state));
}

export async function clearHostState(store: Store, host: string): Promise<void> {
  await store.del(hostStateKey(host));
}
