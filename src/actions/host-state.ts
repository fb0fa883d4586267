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
