import type { Store } from '../../ports/store.js';
import { REQUEST_ID_PATTERN } from '../ids.js';
import { type ApprovalRequest, requestKey, type Transition, type TransitionResult } from './request.js';
import {
  type ClaimedPlace,
  openRecord,
  type RequestKey,
  type SealProblem,
  sealRecord,
  TamperedRequestError,
} from './request-seal.js';

/** Requests are kept this long after they expire, for `/ward status` and the audit trail. */
const KEEP_AFTER_EXPIRY_MS = 30 * 24 * 60 * 60_000;
/** Enough for 50 concurrent clicks: each round of conflicting writers lets at least one through. */
const MAX_ATTEMPTS = 500;

export class RequestContentionError extends Error {}

/** A stored record that failed its check, as handed to whoever reports it (src/core/approvals/tampered.ts). */
export interface TamperedRecord {
  id: string;
  problem: SealProblem;
  /** The stored text as read (to report each distinct tampering once). */
  raw: string;
  /** Where the record claims to live: where to report it, never a basis for a decision. */
  claimed: ClaimedPlace;
}

/**
 * Approval requests in the store, sealed (src/core/approvals/request-seal.ts). Every transition is a
 * compare-and-set loop: read the JSON, check its seal, compute the next state in Node (pure functions in
 * request.ts), seal it, write it only if the stored text is still exactly the one that was read, otherwise read
 * again. Two clicks, two replicas or a click and the sweep can never both win the same transition, and a record
 * changed by anyone else between the read and the write makes the write fail and the next read refuse it: no write
 * of ward's ever carries a seal over content it did not check.
 *
 * Every read checks the seal; a record that fails is reported (once per distinct content, by `onTampered`) and
 * TamperedRequestError is thrown, so that no caller can act on it by mistake.
 */
export class RequestStore {
  /**
   * `store` and `key` are getters: the gate is built before the composition root has finished wiring services.
   * `onTampered` must not throw.
   */
  constructor(
    private readonly storeOf: () => Store,
    private readonly keyOf: () => RequestKey,
    private readonly onTampered?: (record: TamperedRecord) => Promise<void>,
  ) {}

  private get store(): Store {
    return this.storeOf();
  }

  /** Creates the request; durable (a failover cannot lose it) once this resolves, else NotDurableError. */
  async create(req: ApprovalRequest): Promise<boolean> {
    return this.store.durable(() =>
      this.store.compareAndSet(
        requestKey(req.id),
        null,
        sealRecord(this.keyOf(), req),
        req.expiresAt - req.createdAt + KEEP_AFTER_EXPIRY_MS,
      ),
    );
  }

  /** The request, checked; undefined when there is none. Throws TamperedRequestError when its check fails. */
  async get(id: string): Promise<ApprovalRequest | undefined> {
    const raw = await this.store.get(requestKey(id));
    return raw === null ? undefined : this.open(id, raw);
  }

  private async open(id: string, raw: string): Promise<ApprovalRequest> {
    const opened = openRecord(this.keyOf(), id, raw);
    if (opened.ok) return opened.req;
    await this.onTampered?.({ id, problem: opened.problem, raw, claimed: opened.claimed });
    throw new TamperedRequestError(id, opened.problem);
  }

  /**
   * Applies a transition atomically. Returns the request as stored afterwards (changed or not), whether this call
   * changed it, and the transition's verdict. A change is durable once this resolves (else NotDurableError: the
   * change may have been made, and a retry of the same transition is refused or a no-op by the state machine).
   * Throws TamperedRequestError (and changes nothing) when the stored record fails its check.
   */
  async update(
    id: string,
    transition: (req: ApprovalRequest) => Transition,
  ): Promise<{ req: ApprovalRequest; changed: boolean; result: TransitionResult } | undefined> {
    const key = requestKey(id);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.store.get(key);
      if (raw === null) return undefined;
      const req = await this.open(id, raw);
      const { next, result } = transition(req);
      if (next === null) return { req, changed: false, result };
      const written: ApprovalRequest = { ...next, version: req.version + 1 };
      const sealed = sealRecord(this.keyOf(), written);
      if (await this.store.durable(() => this.store.compareAndSet(key, raw, sealed))) {
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
