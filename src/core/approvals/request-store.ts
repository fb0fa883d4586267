import type { Store } from '../../ports/store.js';
import { REQUEST_ID_PATTERN } from '../ids.js';
import { type ApprovalRequest, requestKey, type Transition, type TransitionResult } from './request.js';

/** Requests are kept this long after they expire, for `/ward status` and the audit trail. */
const KEEP_AFTER_EXPIRY_MS = 30 * 24 * 60 * 60_000;
/** Enough for 50 concurrent clicks: each round of conflicting writers lets at least one through. */
const MAX_ATTEMPTS = 500;

export class RequestContentionError extends Error {}

/**
 * Approval requests in the store. Every transition is a compare-and-set loop: read the JSON, compute the next state
 * in Node (pure functions in request.ts), write it only if the stored value is still the one that was read,
 * otherwise read again. Two clicks, two replicas or a click and the sweep can never both win the same transition.
 */
export class RequestStore {
  /** `store` is a getter: the gate is built before the composition root has finished wiring services. */
  constructor(private readonly storeOf: () => Store) {}

  private get store(): Store {
    return this.storeOf();
  }

  /** Creates the request; durable (a failover cannot lose it) once this resolves, else NotDurableError. */
  async create(req: ApprovalRequest): Promise<boolean> {
    return this.store.durable(() =>
      this.store.compareAndSet(
        requestKey(req.id),
        null,
        JSON.stringify(req),
        req.expiresAt - req.createdAt + KEEP_AFTER_EXPIRY_MS,
      ),
    );
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    const raw = await this.store.get(requestKey(id));
    return raw === null ? undefined : (JSON.parse(raw) as ApprovalRequest);
  }

  /**
   * Applies a transition atomically. Returns the request as stored afterwards (changed or not), whether this call
   * changed it, and the transition's verdict. A change is durable once this resolves (else NotDurableError: the
   * change may have been made, and a retry of the same transition is refused or a no-op by the state machine).
   */
  async update(
    id: string,
    transition: (req: ApprovalRequest) => Transition,
  ): Promise<{ req: ApprovalRequest; changed: boolean; result: TransitionResult } | undefined> {
    const key = requestKey(id);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.store.get(key);
      if (raw === null) return undefined;
      const req = JSON.parse(raw) as ApprovalRequest;
      const { next, result } = transition(req);
      if (next === null) return { req, changed: false, result };
      const written: ApprovalRequest = { ...next, version: req.version + 1 };
      if (await this.store.durable(() => this.store.compareAndSet(key, raw, JSON.stringify(written)))) {
        return { req: written, changed: true, result };
      }
    }
    throw new RequestContentionError(`request ${id}: too much contention`);
  }

  /** Ids of every stored request (for the expiry sweep). */
  async ids(): Promise<string[]> {
    const keys = await this.store.keys('ward:request:');
    return keys.map((k) => k.slice('ward:request:'.length)).filter((id) => REQUEST_ID_PATTERN.test(id));
  }
}
