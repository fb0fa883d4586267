import {
  AutomationRefusedError,
  NotDurableError,
  newErrorRef,
  PermissionDeniedError,
  StoreUnavailableError,
  toUserMessage,
  UserInputError,
  WardError,
} from '../../errors.js';
import type { AuditLog } from '../../ports/audit.js';
import type { Logger } from '../../ports/logger.js';
import type { Replier } from '../command.js';

/** The audit entry an automation's request is recorded under (`alert.auto_run`, `cloud.watch.opened`). */
export interface AutomationRecord {
  type: string;
  hosts: string[];
  details: Record<string, unknown>;
  /** Said before the error in the channel, e.g. "i-0abc is tagged … but ward could not open a quarantine request". */
  failurePrefix?: string | undefined;
  /**
   * The automation's own pacing, asked once ward may ask for the command (a rule's auto-run at most once per interval
   * per host): an AutomationRefusedError to hold this one back, else undefined.
   */
  throttle?: (() => Promise<AutomationRefusedError | undefined>) | undefined;
}

/** The `outcome` label of ward_commands_total for a failed request. */
export function failureOutcome(err: unknown): string {
  if (err instanceof PermissionDeniedError || err instanceof AutomationRefusedError) return 'refused';
  if (err instanceof UserInputError) return 'invalid';
  if (err instanceof StoreUnavailableError || err instanceof NotDurableError) return 'unavailable';
  if (err instanceof WardError) return 'failed';
  return 'error';
}

/**
 * The one place an error becomes a user message and an audit entry. Only a WardError's userMessage reaches people;
 * anything else becomes "internal error (ref …)" with the same ref in the log. A refusal is audited: a person's as
 * `command.refused`, ward's own under its automation record. Never throws.
 */
export async function answerError(
  services: { audit: AuditLog },
  log: Logger,
  reply: Pick<Replier, 'ephemeral'>,
  err: unknown,
  about: { command: string; user?: string | undefined; automation?: AutomationRecord | undefined },
): Promise<void> {
  const ref = newErrorRef();
  if (err instanceof WardError) {
    log.info({ code: err.code, command: about.command }, 'command refused');
  } else {
    log.error({ err, ref, command: about.command }, 'command failed unexpectedly');
  }
  const audit =
    err instanceof AutomationRefusedError && about.automation
      ? {
          type: about.automation.type,
          command: about.command,
          hosts: about.automation.hosts,
          outcome: err.outcome,
          details: { why: err.why, ...about.automation.details, ...err.details },
        }
      : err instanceof PermissionDeniedError
        ? {
            type: 'command.refused',
            ...(about.user === undefined ? {} : { actor: about.user }),
            command: about.command,
            outcome: err.code,
          }
        : undefined;
  if (audit) await services.audit.record(audit).catch(() => {});
  const text =
    err instanceof AutomationRefusedError
      ? `:information_source: ${err.userMessage}`
      : `:warning: ${about.automation?.failurePrefix ? `${about.automation.failurePrefix}: ` : ''}${toUserMessage(err, ref)}`;
  try {
    await reply.ephemeral({ text });
  } catch (replyErr) {
    log.error({ err: replyErr }, 'could not deliver an error reply');
  }
}
