import type { Metrics } from '../ports/metrics.js';
import type { RequestNotifier } from '../ports/request-notifier.js';
import type { RequestService } from './approvals/request-service.js';
import type { CommandServices } from './command.js';

/**
 * Everything the request pipeline, the approvals core and the entry points may use; built once in src/main.ts (the
 * composition root). Commands see the narrower CommandServices.
 */
export interface Services extends CommandServices {
  metrics: Metrics;
  /** How requests speak to people (src/slack/slack-request-notifier.ts). */
  notifier: RequestNotifier;
  /** Approval requests: create, vote, factor, cancel, expire. */
  approvals: RequestService;
  /** ward's own chat user id (auth.test): the requester of what a rule or a watcher asks for. */
  wardUserId(): Promise<string>;
  /** Frees the host locks an interrupted execution still holds (src/actions/host-lock.ts). */
  hostLocks: { releaseFor(requestId: string, hosts: readonly string[]): Promise<void> };
}
