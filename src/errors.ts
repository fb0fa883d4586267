import { randomBytes } from 'node:crypto';

/**
 * Base class of every error ward raises on purpose. `code` is stable (for logs, metrics and tests);
 * `userMessage` is the only text that may reach Slack. Anything that is not a WardError is unexpected and
 * reaches the user as "internal error (ref …)" with the same ref in the log.
 */
export class WardError extends Error {
  readonly code: string;
  readonly userMessage: string;

  constructor(code: string, userMessage: string, options?: { cause?: unknown; message?: string }) {
    super(
      options?.message ?? userMessage,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.userMessage = userMessage;
  }
}

/** Bad input from a person: unknown command, bad argument, missing reason. Answered ephemerally. */
export class UserInputError extends WardError {
  constructor(userMessage: string, code = 'ward_user_input') {
    super(code, userMessage);
  }
}

/** The person may not do this (role, self-approval, ineligible approver). Answered ephemerally. */
export class PermissionDeniedError extends WardError {
  constructor(userMessage: string, code = 'ward_permission_denied') {
    super(code, userMessage);
  }
}

/** The state store (Redis) cannot be reached: nothing that needs it runs. */
export class StoreUnavailableError extends WardError {
  constructor(cause?: unknown) {
    super(
      'ward_store_unavailable',
      'The state store is unavailable right now, so ward cannot safely record or approve anything. Nothing was run. Try again in a moment.',
      { cause },
    );
  }
}

/**
 * A write that carries a promise reached the Redis primary, but not enough replicas acknowledged it in time
 * (WARD_REDIS_MIN_REPLICAS within WARD_REDIS_DURABLE_TIMEOUT_MS): if the primary failed now, the write could be lost
 * in the failover. ward therefore does not report it done: the person is told to retry, a webhook sender gets 503.
 */
export class NotDurableError extends WardError {
  constructor(acknowledged: number, wanted: number) {
    super(
      'ward_store_not_durable',
      'ward could not confirm that this was safely recorded (the standby Redis did not acknowledge it in time), so it is not done yet. Nothing was run. Retry in a moment.',
      { message: `${acknowledged} of ${wanted} Redis replicas acknowledged the write in time` },
    );
  }
}

/** Configuration (env, policy, inventory, rules) is invalid. `problems` lists every problem, never a secret value. */
export class ConfigError extends WardError {
  readonly problems: string[];

  constructor(what: string, problems: string[]) {
    super('ward_config_invalid', `${what} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** A short random reference that ties an "internal error" reply to its log line. */
export function newErrorRef(): string {
  return randomBytes(4).toString('hex');
}

/** What a person sees for an error: the userMessage of a WardError, else a reference into the logs. */
export function toUserMessage(err: unknown, ref: string): string {
  if (err instanceof WardError) return err.userMessage;
  return `Internal error (ref ${ref}). Nothing further was done; the details are in ward's log under that ref.`;
}

/** A second factor is needed but ward's MFA cannot work (no WARD_ENCRYPTION_KEY, Duo unreachable…). */
export class MfaUnavailableError extends WardError {
  constructor(userMessage: string, cause?: unknown) {
    super('ward_mfa_unavailable', userMessage, cause === undefined ? undefined : { cause });
  }
}

/**
 * ward itself (a rule's auto-run, a watcher) asked for something its policy does not let it ask for: the command is
 * not `auto: true`, needs the requester's second factor, or would need a break-glass override. `why` is the reason
 * alone, for the audit log.
 */
export class AutomationRefusedError extends WardError {
  readonly why: string;
  /** The audit outcome: `refused`, or `suppressed` when a rule's pacing held it back. */
  readonly outcome: string;
  /** More for the audit entry (the earlier run a suppressed one defers to). */
  readonly details: Record<string, unknown>;

  constructor(
    why: string,
    options: { outcome?: string; details?: Record<string, unknown>; hint?: string } = {},
  ) {
    super('ward_auto_refused', `Not run automatically: ${why}${options.hint ? ` ${options.hint}` : ''}`);
    this.why = why;
    this.outcome = options.outcome ?? 'refused';
    this.details = options.details ?? {};
  }
}
