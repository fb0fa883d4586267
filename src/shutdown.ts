import type { Server } from 'node:http';
import type { ExpirySweeper } from './core/approvals/sweeper.js';
import { interruptRunning, type RecoveryScanner } from './core/recovery.js';
import type { Services } from './core/services.js';
import type { WorkTracker } from './core/work-tracker.js';
import type { Store } from './ports/store.js';

/** What a graceful stop stops, in order. */
export interface Stoppable {
  services: Services;
  /** Periodic work that stops with the watcher (audit anchors, the enrolment DM sweep). */
  timers?: Array<() => void> | undefined;
  watcher?: { stop(): Promise<void> } | undefined;
  sweeper: ExpirySweeper;
  work: WorkTracker;
  recovery: RecoveryScanner;
  slack: { stop(): Promise<void> };
  alerts?: { stop(): Promise<void> } | undefined;
  server: Server;
  store: Store;
  graceMs: number;
}

/**
 * The shutdown sequence, run once however often it is asked for: no new work (watcher, sweep), running work gets
 * `graceMs` to finish, what is still running is declared interrupted (its thread told), then Slack, the alert
 * relay, HTTP and the store close.
 */
export function shutdownSequence(p: Stoppable): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const log = p.services.log;
  return () =>
    (stopping ??= (async () => {
      await p.watcher?.stop();
      for (const stop of p.timers ?? []) stop();
      p.sweeper.stop();
      const left = await p.work.drain(p.graceMs);
      if (left > 0) log.warn({ left }, 'shutdown grace period over with work still running');
      const interrupted = await interruptRunning(
        p.services,
        `ward was shut down and the executions still running after the ${p.graceMs / 1000} s grace period were stopped`,
      );
      if (interrupted > 0) log.warn({ interrupted }, 'executions interrupted by shutdown');
      await p.recovery.stop();
      await p.slack.stop().catch(() => {});
      await p.alerts?.stop().catch((err) => log.warn({ err }, 'alert relay did not stop cleanly'));
      await new Promise<void>((r) => p.server.close(() => r()));
      p.server.closeAllConnections();
      await p.store.close();
      log.info('ward stopped');
    })());
}
