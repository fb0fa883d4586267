import type { MfaProvider } from '../../ports/mfa.js';
import { type ApprovalDeps, requestStoreOf, type Track } from './deps.js';
import { RequestService } from './request-service.js';
import { ApprovedRunner } from './run-approved.js';
import { ExpirySweeper } from './sweeper.js';

/** The approvals core, assembled: the request service, the single execution path and the expiry sweeper. */
export interface Approvals {
  service: RequestService;
  runner: ApprovedRunner;
  sweeper: ExpirySweeper;
}

export function createApprovals(
  deps: () => ApprovalDeps,
  options: {
    mfa: MfaProvider;
    track?: Track;
    sweepIntervalMs?: number;
    /** How old a claim without an execution record must be before the sweep gives it back (default 60 s). */
    unstartedGraceMs?: number;
  },
): Approvals {
  const requests = requestStoreOf(deps);
  const runner = new ApprovedRunner(deps, requests, { unstartedGraceMs: options.unstartedGraceMs });
  const service = new RequestService(deps, requests, runner, () => options.mfa, options.track);
  const sweeper = new ExpirySweeper(deps, requests, service, runner, {
    track: options.track,
    intervalMs: options.sweepIntervalMs,
  });
  return { service, runner, sweeper };
}
