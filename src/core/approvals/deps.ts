import type { Metrics } from '../../ports/metrics.js';
import type { RequestNotifier } from '../../ports/request-notifier.js';
import type { CommandServices } from '../command.js';
import { deriveRequestKey, TamperedRequestError } from './request-seal.js';
import { RequestStore } from './request-store.js';
import { reportTampered } from './tampered.js';

/** What the approvals core uses: the command services, plus how it counts and how it speaks to people. */
export interface ApprovalDeps extends CommandServices {
  metrics: Metrics;
  notifier: RequestNotifier;
}

/** Work that continues after the chat was answered (an execution after a modal closed): shutdown waits for it. */
export type Track = (work: Promise<unknown>) => void;

/**
 * Redraws a request's message from the stored request. Two processes may redraw at once and the chat keeps the last
 * update, so after each update the version is read again and the message redrawn until it shows the latest.
 */
export async function redraw(deps: ApprovalDeps, requests: RequestStore, id: string): Promise<void> {
  try {
    for (let i = 0; i < 5; i++) {
      const req = await requests.get(id);
      if (!req?.message) return;
      try {
        await deps.notifier.redrawRequest(req);
      } catch (err) {
        deps.log.warn({ err, approvalRequestId: id }, 'could not update the approval message');
        return;
      }
      const after = await requests.get(id);
      if (!after || after.version === req.version) return;
    }
  } catch (err) {
    // Changed outside ward since: reported by the store, and never drawn as if it were ward's.
    if (!(err instanceof TamperedRequestError)) throw err;
  }
}

/**
 * The request store over the deps' store, read lazily (the composition root wires the store after the gate): records
 * sealed with the key derived from WARD_ENCRYPTION_KEY, and a record that fails its check reported once.
 */
export function requestStoreOf(deps: () => ApprovalDeps): RequestStore {
  return new RequestStore(
    () => deps().store,
    () => deriveRequestKey(deps().config.WARD_ENCRYPTION_KEY),
    (record) => reportTampered(deps(), record),
  );
}
