import type { CommandPolicy } from '../config/policy.js';
import type { AnyCommand, CommandContext, Plan } from './command.js';

/**
 * What happens to a `change` command once its plan is built and the requester is allowed to ask for it:
 * approvals, a second factor, then exactly one execution.
 */
export interface ChangeGate {
  submit(request: {
    command: AnyCommand;
    ctx: CommandContext<unknown>;
    plan: Plan;
    policy: CommandPolicy;
  }): Promise<void>;
  /** `/ward cancel <id>`: only the requester may cancel a pending request. Throws a WardError explaining a refusal. */
  cancel(requestId: string, user: string): Promise<void>;
  /**
   * The execution of this request was declared interrupted (src/core/recovery.ts): the request ends as
   * `interrupted` and its message is redrawn. Does nothing to a request that is not running.
   */
  interrupted(requestId: string, reason: string): Promise<void>;
}
