import type { ExecutionRecord } from './executions.js';
import type { Services } from './services.js';
import { withTimeout } from './with-timeout.js';

/** How long telling the thread may take at shutdown before ward gives up on it (Slack may itself be down). */
const NOTICE_TIMEOUT_MS = 5_000;

/** Tells an execution's thread (and the audit log) that it was interrupted, with what had and had not been done. */
export async function reportInterrupted(services: Services, record: ExecutionRecord): Promise<void> {
  services.metrics.executionInterrupted(record.command);
  await services.hostLocks.releaseFor(record.requestId, record.hosts);
  await services.audit
    .record({
      type: 'execution.interrupted',
      requestId: record.requestId,
      command: record.command,
      hosts: record.hosts,
      actor: record.requester,
      outcome: 'interrupted',
      details: {
        reason: record.interruption,
        steps: record.steps.map((s) => ({ id: s.id, status: s.status })),
      },
    })
    .catch((err) =>
      services.log.error({ err, approvalRequestId: record.requestId }, 'could not audit an interruption'),
    );
  // The request message ends as interrupted too (it said "running"); the notice in the thread carries the re-run.
  await Promise.all([
    services.notifier
      .interrupted(record)
      .catch((err) =>
        services.log.error(
          { err, approvalRequestId: record.requestId },
          'could not post an interruption notice',
        ),
      ),
    services.approvals
      .interrupted(record.requestId, record.interruption ?? 'ward stopped')
      .catch((err) =>
        services.log.error(
          { err, approvalRequestId: record.requestId },
          'could not mark the request interrupted',
        ),
      ),
  ]);
}

/**
 * Shutdown after the grace period: every execution still running here is declared interrupted, its thread told,
 * and its step told to stop (abort signal).
 */
export async function interruptRunning(services: Services, reason: string): Promise<number> {
  const running = services.executions.list();
  await Promise.all(
    running.map(async (execution) => {
      if (await execution.interrupt(reason)) {
        services.log.warn(
          { approvalRequestId: execution.record.requestId },
          'execution interrupted by shutdown',
        );
        await withTimeout(reportInterrupted(services, execution.record), NOTICE_TIMEOUT_MS);
      }
    }),
  );
  return running.length;
}

/**
 * Looks for executions whose ward process died (record `running`, lease expired), at start and then every lease
 * period, and reports each once, whichever replica gets there first.
 */
export class RecoveryScanner {
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  constructor(private readonly services: Services) {}

  start(): void {
    void this.scan();
    this.timer = setInterval(() => void this.scan(), this.services.executions.leaseMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.scanning;
  }

  /** One pass; resolves when every abandoned execution found has been reported. */
  scan(): Promise<void> {
    this.scanning ??= (async () => {
      try {
        const claimed = await this.services.executions.claimAbandoned(
          'the ward process running it stopped without finishing it (crash or kill)',
        );
        this.services.log.debug({ claimed: claimed.length }, 'scanned for interrupted executions');
        for (const record of claimed) {
          this.services.log.warn(
            { approvalRequestId: record.requestId, command: record.command, owner: record.owner },
            'found an execution left running by a ward process that died: reporting it interrupted',
          );
          await reportInterrupted(this.services, record);
        }
      } catch (err) {
        this.services.log.warn({ err }, 'could not scan for interrupted executions (will retry)');
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }
}
