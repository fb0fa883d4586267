import type { ApprovalDeps, Track } from './deps.js';
import { TamperedRequestError } from './request-seal.js';
import type { RequestService } from './request-service.js';
import type { RequestStore } from './request-store.js';
import type { ApprovedRunner } from './run-approved.js';

const DEFAULT_SWEEP_INTERVAL_MS = 15_000;

/**
 * Every few seconds (reading each record through the sealed store: one that fails its check is reported and skipped,
 * never run or expired): marks every pending request whose time is up as expired (clicks enforce expiry too; this makes
 * the message say so), and runs an approved request that no process claimed (a replica died between approval and
 * claim) or whose start failed and could not be given back (an old claim with no execution record).
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly deps: () => ApprovalDeps,
    private readonly requests: RequestStore,
    private readonly service: RequestService,
    private readonly runner: ApprovedRunner,
    private readonly options: { track?: Track | undefined; intervalMs?: number | undefined } = {},
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // One sweep at a time; a slow one (Slack rate limits) is not stacked on.
      if (this.sweeping) return;
      this.sweeping = true;
      const work = this.sweep()
        .catch((err) => this.deps().log.warn({ err }, 'approval sweep failed'))
        .finally(() => {
          this.sweeping = false;
        });
      this.options.track?.(work);
    }, this.options.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass. Returns how many requests it expired. */
  async sweep(): Promise<number> {
    let expired = 0;
    for (const id of await this.requests.ids()) {
      try {
        const req = await this.requests.get(id);
        if (req?.status === 'pending' && this.deps().clock.now() >= req.expiresAt) {
          if (await this.service.expireIfDue(id)) expired++;
        } else if (req?.status === 'approved' || req?.status === 'running') {
          // Approved with no claim, or a start that failed and could not be given back (an old claim, no record).
          await this.runner.recoverUnstarted(req);
        }
      } catch (err) {
        // A record changed outside ward is left alone (the store reported it once); the others are still swept.
        if (!(err instanceof TamperedRequestError)) throw err;
      }
    }
    return expired;
  }
}
