import { hostLockKey, parseHolder } from '../actions/host-lock.js';
import { UserInputError } from '../errors.js';
import { newRequestId, withRequestId } from '../log.js';
import { executionsTotal } from '../metrics.js';
import { renderInterrupted } from '../render/recovery.js';
import type { Invocation, Replier } from './command.js';
import { dispatchCommand } from './dispatcher.js';
import type { ExecutionRecord } from './executions.js';
import type { Services } from './services.js';

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** How long telling the thread may take at shutdown before ward gives up on it (Slack may itself be down). */
const NOTICE_TIMEOUT_MS = 5_000;

/** Tells an execution's thread (and the audit log) that it was interrupted, with what had and had not been done. */
export async function reportInterrupted(services: Services, record: ExecutionRecord): Promise<void> {
  executionsTotal.inc({ command: record.command, outcome: 'interrupted' });
  await releaseHostLocks(services, record);
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
    services.chat
      .postMessage(record.thread.channel, renderInterrupted(record), { threadTs: record.thread.ts })
      .catch((err) =>
        services.log.error(
          { err, approvalRequestId: record.requestId },
          'could not post an interruption notice',
        ),
      ),
    services.gate
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
 * Frees the per-host locks an interrupted execution still holds (a change's, a read's, or a change's wait mark), so
 * that its hosts do not stay busy until the leases end: its process is dead (lease expired) or is about to exit
 * (shutdown). Only holders naming this request are released, each atomically by its exact value.
 */
async function releaseHostLocks(services: Services, record: ExecutionRecord): Promise<void> {
  for (const host of record.hosts) {
    const key = hostLockKey(host);
    try {
      const h = await services.store.leaseHolders(key);
      const mine = [h.exclusive, h.waiting, ...h.shared].filter(
        (v): v is string => v !== null && parseHolder(v)?.requestId === record.requestId,
      );
      for (const value of mine) {
        if (await services.store.leaseRelease(key, value)) {
          services.log.info(
            { host, approvalRequestId: record.requestId },
            'released the host lock of an interrupted execution',
          );
        }
      }
    } catch (err) {
      services.log.warn({ err, host }, 'could not release the host lock of an interrupted execution');
    }
  }
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

/**
 * `recovery.rerun`: asks for an interrupted command again, as a new request from the person who clicked, through
 * the normal path (parse, permission, plan, approval gate). The old request is never re-run.
 */
export function registerRecoveryActions(services: Services, replierFor: (inv: Invocation) => Replier): void {
  services.interactions.onAction('recovery.', async (event) => {
    if (event.actionId !== 'recovery.rerun') return;
    if (!REQUEST_ID.test(event.value)) throw new UserInputError('That button does not name a request.');
    const record = await services.executions.get(event.value);
    if (!record) {
      throw new UserInputError(
        `Request ${event.value} is no longer on record (records are kept 30 days); run the command again with /ward.`,
      );
    }
    if (record.state !== 'interrupted') {
      throw new UserInputError(
        `Request ${record.requestId} was not interrupted; there is nothing to re-run.`,
      );
    }
    const inv: Invocation = {
      user: event.user,
      channel: record.thread.channel,
      text: record.text,
      responseUrl: event.responseUrl,
      requestId: newRequestId(),
    };
    await services.audit.record({
      type: 'execution.rerun_requested',
      actor: event.user,
      requestId: record.requestId,
      command: record.command,
      hosts: record.hosts,
      details: { newRequest: inv.requestId },
    });
    services.log.info(
      { interrupted: record.requestId, newRequest: inv.requestId },
      're-run asked for: a new request goes through the gate',
    );
    await services.chat
      .postMessage(
        record.thread.channel,
        { text: `<@${event.user}> asked to run this again: it goes through approval as a new request.` },
        { threadTs: record.thread.ts },
      )
      .catch((err) => services.log.warn({ err }, 'could not note the re-run in the thread'));
    await withRequestId(inv.requestId, () => dispatchCommand(services, inv, replierFor(inv)));
  });
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  if (timer) clearTimeout(timer);
}
