import { StoreUnavailableError } from '../errors.js';
import type { Store } from '../ports/store.js';

/** How long ward remembers a trigger id, to drop Slack's retries (at once, after 1 min, after 5 min). */
const DEDUPE_TTL_MS = 60 * 60_000;

/**
 * Whether this is the first delivery of a trigger id: Slack redelivers a slash command or a click with the same
 * trigger_id when the first delivery was not acked in time. `undefined` when the store is unavailable and a retry
 * cannot be recognised; the caller decides what that means.
 */
export async function isFirstDelivery(store: Store, triggerId: string): Promise<boolean | undefined> {
  try {
    return await store.setIfAbsent(`ward:seen:trigger:${triggerId}`, '1', DEDUPE_TTL_MS);
  } catch (err) {
    if (err instanceof StoreUnavailableError) return undefined;
    throw err;
  }
}
