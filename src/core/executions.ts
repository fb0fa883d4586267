import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { WardError } from '../errors.js';
import type { Logger } from '../ports/logger.js';
import type { Store } from '../ports/store.js';
import type { StepResult } from './plan-types.js';

/** What a step is doing, as far as ward knows: `running` when an interruption leaves its effect unknown. */
export type StepStatus = 'pending' | 'running' | StepResult['status'];

/**
 * The durable record of one execution (`ward:execution:<requestId>`), kept while it runs and for RECORD_RETENTION_MS
 * after, so that a ward process that did not run it can still say what had and had not been done.
 */
export interface ExecutionRecord {
  requestId: string;
  command: string;
  /** The command text after `/ward`, re-parsed (never replayed) when someone asks for a re-run. */
  text: string;
  requester: string;
  thread: { channel: string; ts: string };
  hosts: string[];
  steps: Array<{ id: string; title: string; status: StepStatus; detail?: string | undefined }>;
  state: 'running' | 'finished' | 'interrupted';
  /** The ward process running it (host:pid:random). */
  owner: string;
  startedAt: string;
  endedAt?: string | undefined;
  outcome?: string | undefined;
  /** Why it was interrupted, in words for the thread. */
  interruption?: string | undefined;
}

export const RECORD_RETENTION_MS = 30 * 24 * 3600_000;
export const executionKey = (requestId: string) => `ward:execution:${requestId}`;
export const leaseKey = (requestId: string) => `ward:lease:${requestId}`;

/** An execution of this request is running or has already run: it is never run twice. */
export class ExecutionAlreadyRanError extends WardError {
  constructor(requestId: string) {
    super(
      'ward_execution_duplicate',
      `Request ${requestId} is already running or has already run; ward runs each approved request once. Nothing more was run.`,
    );
  }
}

/**
 * One execution running in this process: owns the lease, keeps it alive, and writes progress to the durable record.
 * Every write is a compare-and-set against the last version written here, so that once another process has
 * declared it interrupted (its lease having expired), this one can no longer overwrite that.
 */
export class RunningExecution {
  private written: string;
  private queue: Promise<unknown> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  readonly abort = new AbortController();
  private lost = false;

  constructor(
    private readonly ledger: ExecutionLedger,
    public record: ExecutionRecord,
  ) {
    this.written = JSON.stringify(record);
  }

  /** True once this process no longer owns the record (another declared it interrupted). */
  get superseded(): boolean {
    return this.lost;
  }

  startHeartbeat(): void {
    const { store, leaseMs, owner, log } = this.ledger;
    this.heartbeat = setInterval(() => {
      void (async () => {
        const requestId = this.record.requestId;
        let ok = await store.compareAndSet(leaseKey(requestId), owner, owner, leaseMs);
        // The lease can vanish while this process lives (Redis restarted without it, or was down longer than the
        // lease): take it back, unless another process has meanwhile declared the execution interrupted.
        if (!ok && (await store.get(executionKey(requestId))) === this.written) {
          ok = await store.setIfAbsent(leaseKey(requestId), owner, leaseMs);
        }
        if (!ok) {
          log.error(
            { approvalRequestId: requestId },
            'lost the lease of a running execution: stopping it at the next safe point',
          );
          this.lost = true;
          this.abort.abort(new Error('lease lost'));
          this.stopHeartbeat();
        }
      })().catch((err) =>
        log.warn({ err, approvalRequestId: this.record.requestId }, 'lease heartbeat failed'),
      );
    }, this.ledger.heartbeatMs);
    this.heartbeat.unref();
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Records a step's progress (serialised; never throws: progress must not break the step it describes). */
  progress(stepId: string, status: StepStatus, detail?: string): Promise<void> {
    return this.update((r) => {
      const step = r.steps.find((s) => s.id === stepId);
      if (step) {
        step.status = status;
        step.detail = detail;
      } else {
        r.steps.push({ id: stepId, title: stepId, status, detail });
      }
    }).then(
      () => {},
      (err: unknown) => this.ledger.log.warn({ err, stepId }, 'could not record step progress'),
    );
  }

  /**
   * Applies a change to the record and writes it if this process still owns it. Resolves false when another process
   * has taken the record over (nothing written).
   */
  update(change: (r: ExecutionRecord) => void, ttlMs?: number): Promise<boolean> {
    const run = this.queue.then(async () => {
      if (this.lost) return false;
      const next = structuredClone(this.record);
      change(next);
      const text = JSON.stringify(next);
      const ok = await this.ledger.store.compareAndSet(
        executionKey(next.requestId),
        this.written,
        text,
        ttlMs,
      );
      if (!ok) {
        this.lost = true;
        return false;
      }
      this.record = next;
      this.written = text;
      return true;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Ends the execution: final step states and outcome written, lease released. False when superseded. */
  async finish(outcome: string, steps: StepResult[]): Promise<boolean> {
    this.stopHeartbeat();
    const ok = await this.update((r) => {
      r.state = 'finished';
      r.outcome = outcome;
      r.endedAt = new Date(this.ledger.now()).toISOString();
      for (const s of steps) {
        const step = r.steps.find((x) => x.id === s.id);
        if (step) {
          step.status = s.status;
          step.detail = s.detail;
        }
      }
    }, RECORD_RETENTION_MS);
    await this.release();
    return ok;
  }

  /** Removes the record and lease of an execution that never started (its start could not be audited). */
  async withdraw(): Promise<void> {
    this.stopHeartbeat();
    this.lost = true;
    this.ledger.forget(this);
    await this.ledger.store.compareAndSet(executionKey(this.record.requestId), this.written, null);
    await this.ledger.store.compareAndSet(leaseKey(this.record.requestId), this.ledger.owner, null);
  }

  /** Declares it interrupted (shutdown grace over): false when another process already did. */
  async interrupt(reason: string): Promise<boolean> {
    this.stopHeartbeat();
    const ok = await this.update((r) => {
      r.state = 'interrupted';
      r.interruption = reason;
      r.endedAt = new Date(this.ledger.now()).toISOString();
    }, RECORD_RETENTION_MS);
    this.abort.abort(new Error(reason));
    await this.release();
    return ok;
  }

  private async release(): Promise<void> {
    this.ledger.forget(this);
    await this.ledger.store
      .compareAndSet(leaseKey(this.record.requestId), this.ledger.owner, null)
      .catch((err) => this.ledger.log.warn({ err }, 'could not release an execution lease'));
  }
}

/**
 * Leases and durable records of executions. A running execution holds `ward:lease:<requestId>` (this process's
 * owner id, expiring after leaseMs unless renewed every heartbeatMs); a record whose state is `running` and whose
 * lease is gone belongs to a process that died: `findAbandoned()` finds those and lets exactly one process claim
 * each (compare-and-set), so that it is reported once.
 */
export class ExecutionLedger {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly heartbeatMs: number;
  private readonly running = new Set<RunningExecution>();

  constructor(
    readonly store: Store,
    readonly log: Logger,
    readonly leaseMs: number,
    readonly now: () => number = Date.now,
  ) {
    this.heartbeatMs = Math.max(200, Math.floor(leaseMs / 3));
  }

  /** Executions running in this process. */
  list(): RunningExecution[] {
    return [...this.running];
  }

  forget(execution: RunningExecution): void {
    this.running.delete(execution);
  }

  /**
   * Takes the lease and writes the record. Throws ExecutionAlreadyRanError when this request runs or ran already,
   * StoreUnavailableError when the store is down: in both cases nothing may run.
   */
  async begin(record: Omit<ExecutionRecord, 'state' | 'owner' | 'startedAt'>): Promise<RunningExecution> {
    const full: ExecutionRecord = {
      ...record,
      state: 'running',
      owner: this.owner,
      startedAt: new Date(this.now()).toISOString(),
    };
    if (!(await this.store.setIfAbsent(leaseKey(record.requestId), this.owner, this.leaseMs))) {
      throw new ExecutionAlreadyRanError(record.requestId);
    }
    // The record is what proves an execution started (nothing runs before it is durable): after a failover that lost
    // the claim, a second begin() finds it, or else the first never got past this point and never ran.
    const text = JSON.stringify(full);
    const write = { created: false };
    try {
      await this.store.durable(async () => {
        write.created = await this.store.setIfAbsent(executionKey(record.requestId), text);
      });
    } catch (err) {
      // Not durable (or the store failed): nothing ran; take back what may have reached the primary so that a retry
      // is not refused as a duplicate.
      if (write.created)
        await this.store.compareAndSet(executionKey(record.requestId), text, null).catch(() => {});
      write.created = false;
      throw err;
    } finally {
      if (!write.created) {
        await this.store.compareAndSet(leaseKey(record.requestId), this.owner, null).catch(() => {});
      }
    }
    if (!write.created) throw new ExecutionAlreadyRanError(record.requestId);
    const execution = new RunningExecution(this, full);
    this.running.add(execution);
    execution.startHeartbeat();
    return execution;
  }

  /**
   * Records left `running` by a process whose lease expired, each claimed for this process (state set to
   * `interrupted`). Only the process whose claim succeeds gets a record back, so each is reported once.
   */
  async claimAbandoned(reason: string): Promise<ExecutionRecord[]> {
    const mine = new Set([...this.running].map((e) => e.record.requestId));
    const claimed: ExecutionRecord[] = [];
    for (const key of await this.store.keys('ward:execution:')) {
      const text = await this.store.get(key);
      if (text === null) continue;
      let record: ExecutionRecord;
      try {
        record = JSON.parse(text) as ExecutionRecord;
      } catch {
        this.log.warn({ key }, 'unreadable execution record skipped');
        continue;
      }
      if (record.state !== 'running' || mine.has(record.requestId)) continue;
      if ((await this.store.get(leaseKey(record.requestId))) !== null) continue;
      const next: ExecutionRecord = {
        ...record,
        state: 'interrupted',
        interruption: reason,
        endedAt: new Date(this.now()).toISOString(),
      };
      if (await this.store.compareAndSet(key, text, JSON.stringify(next), RECORD_RETENTION_MS)) {
        claimed.push(next);
      }
    }
    return claimed;
  }

  async get(requestId: string): Promise<ExecutionRecord | null> {
    const text = await this.store.get(executionKey(requestId));
    return text === null ? null : (JSON.parse(text) as ExecutionRecord);
  }
}
