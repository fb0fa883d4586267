import type { z } from 'zod';
import type { Config } from '../config/env.js';
import type { Inventory } from '../config/inventory.js';
import type { CommandPolicy } from '../config/policy.js';
import type { IncidentService } from '../incidents/incident-service.js';
import type { AlertsControl } from '../ports/alerts-control.js';
import type { AuditLog } from '../ports/audit.js';
import type { ChatClient, ChatMessage } from '../ports/chat.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Mailer } from '../ports/mailer.js';
import type { MfaProvider } from '../ports/mfa.js';
import type { RemoteShell } from '../ports/remote-shell.js';
import type { Store } from '../ports/store.js';
import type { ApprovalRequest } from './approvals/request.js';
import type { ExecutionLedger } from './executions.js';
import type { ExecutionReport, Plan, StepResult } from './plan-types.js';
import type { PolicyEngine } from './policy-engine.js';

export type { ExecutionReport, Plan, PlanStep, StepResult } from './plan-types.js';

/** The commands ward knows (src/core/registry.ts). */
export interface CommandCatalog {
  all(): AnyCommand[];
  find(name: string): AnyCommand | undefined;
  /** The command, or a UserInputError with "did you mean …". */
  get(name: string): AnyCommand;
}

/**
 * What a command (and the actions it builds on) may use: ports and read-only views of ward's state. The approval
 * machinery, the notifier and the request pipeline are not here: a command declares, it does not decide.
 */
export interface CommandServices {
  config: Config;
  log: Logger;
  store: Store;
  chat: ChatClient;
  clock: Clock;
  audit: AuditLog;
  policy: PolicyEngine;
  commands: CommandCatalog;
  /** The current inventory (reloadable). */
  inventory(): Inventory;
  shell: RemoteShell;
  /** Email to admins (forensic summaries, lockdowns); `enabled` is false when Mailgun is not configured. */
  mailer: Mailer;
  /** Leases and durable records of executions (`/ward status`). */
  executions: ExecutionLedger;
  /** The second factor (TOTP or Duo push, WARD_MFA_PROVIDER). */
  mfa: MfaProvider;
  /** The alert relay's rules, when alerts are enabled. */
  alerts?: AlertsControl | undefined;
  /** `/ward cancel`: withdraws a pending request. Throws a WardError explaining a refusal (only the requester may). */
  requests: {
    /**
     * A stored approval request, its integrity checked (src/core/approvals/request-seal.ts); undefined when there is
     * none. Throws TamperedRequestError (a WardError saying so) for a record changed outside ward, after reporting it.
     */
    get(requestId: string): Promise<ApprovalRequest | undefined>;
    cancel(requestId: string, user: string): Promise<void>;
    /**
     * Opens a request as a person, through the one pipeline (src/core/requests/open-request.ts), as if they had
     * typed `/ward <text>`: a hunt's buttons and its `--then-unblock-port` follow-up. Never throws: refusals are
     * answered to the person.
     */
    openAs(request: PersonRequest): Promise<void>;
  };
  /** Incidents: channels, roles, timeline, report (src/incidents/). */
  incidents: IncidentService;
}

/** A request a person makes through a button (or a follow-up of theirs): who, what as `/ward` text, where. */
export interface PersonRequest {
  user: string;
  text: string;
  channel: string;
  threadTs?: string | undefined;
  responseUrl?: string | undefined;
  triggerId?: string | undefined;
  correlationId: string;
}

/** Who ran a command, where, and how to answer them. */
export interface Invocation {
  /** Slack user id. */
  user: string;
  channel: string;
  /** The full text after `/ward`. */
  text: string;
  /** Slack's trigger id: unique per invocation (ward deduplicates retries by it), valid 3 s for views.open. */
  triggerId?: string | undefined;
  responseUrl?: string | undefined;
  /** Thread to answer in, when the command came from a button under a message. */
  threadTs?: string | undefined;
  /** Correlates every log line and audit entry of this request. */
  requestId: string;
  /** The caller already dropped Slack's redeliveries of `triggerId` (a button click): do not drop it again. */
  deduplicated?: boolean | undefined;
}

/** Flags every command understands, parsed before the command's own arguments. */
export interface CommonFlags {
  reason?: string | undefined;
  /** Show the plan and run nothing (commands of kind `change`). */
  dryRun: boolean;
  /** Ask to override a `soft` policy (break-glass roles only; needs --reason). */
  breakGlass: boolean;
}

/** How a command answers the person who ran it. */
export interface Replier {
  /** Only the invoking user sees it. */
  ephemeral(message: ChatMessage): Promise<void>;
  /** Everyone in the channel sees it; returns the message ts so that threads can hang off it. */
  inChannel(message: ChatMessage, options?: { threadTs?: string }): Promise<{ ts: string; channel: string }>;
}

export interface CommandContext<A> {
  args: A;
  flags: CommonFlags;
  invocation: Invocation;
  reply: Replier;
  services: CommandServices;
}

export interface ExecutionContext<A> extends CommandContext<A> {
  plan: Plan;
  /** The approved request this execution belongs to (`direct` when no approval was needed). */
  approvalRequestId: string;
  /** The thread where progress and results go. */
  thread: { channel: string; ts: string };
  /** Set when ward is shutting down: long steps should stop at the next safe point. */
  signal: AbortSignal;
  /**
   * Records a step's progress in the durable execution record (`running` before it starts, then its result), so
   * that if this ward process dies, the next one can say what had and had not been done. Never throws.
   */
  progress?: (stepId: string, status: StepResult['status'] | 'running', detail?: string) => Promise<void>;
}

export type CommandKind = 'read' | 'change';

/** Arguments by name: positionals first (in `positionals` order), then `--flag value` options. */
export interface CommandDefinition<S extends z.ZodObject = z.ZodObject> {
  name: string;
  /** One line for `/ward help`. */
  summary: string;
  /** e.g. `lockdown <host> --reason "…" [--dry-run]` */
  usage: string;
  examples: string[];
  /** `read` commands answer at once; `change` commands build a plan that goes through approvals. */
  kind: CommandKind;
  /**
   * A `change` command (plan, policy, approvals) whose steps only read from hosts and change nothing there, such
   * as forensics: it still runs under WARD_DRY_RUN.
   */
  readOnly?: boolean;
  args: S;
  /** Names of the schema's keys filled from positional words, in order. */
  positionals: readonly (keyof z.output<S> & string)[];
  /** The last positional takes every remaining word, as an array (e.g. a hunt's indicators). */
  variadic?: boolean;
  /** Schema keys given as options, by their kebab-case flag name (e.g. `{ 'since': 'since' }`). */
  options?: Readonly<Record<string, { key: keyof z.output<S> & string; boolean?: boolean }>>;
  /** Defaults; the policy file overrides them field by field. */
  policy: Partial<CommandPolicy>;
  /** Longer help shown by `/ward help <command>`. */
  details?: string;
  /** `read` commands: do the work and answer. */
  run?: (ctx: CommandContext<z.output<S>>) => Promise<void>;
  /** `change` commands: describe what will run. Must be deterministic for the same inputs and inventory. */
  plan?: (ctx: CommandContext<z.output<S>>) => Promise<Plan>;
  /** `change` commands: carry out an approved plan. */
  execute?: (ctx: ExecutionContext<z.output<S>>) => Promise<ExecutionReport>;
}

/** Typed identity: lets the args schema's type flow into run/plan/execute. */
export function defineCommand<S extends z.ZodObject>(definition: CommandDefinition<S>): CommandDefinition<S> {
  if (definition.kind === 'read' && !definition.run)
    throw new Error(`${definition.name}: read commands need run()`);
  if (definition.kind === 'change' && (!definition.plan || !definition.execute)) {
    throw new Error(`${definition.name}: change commands need plan() and execute()`);
  }
  return definition;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds commands of every argument type.
export type AnyCommand = CommandDefinition<any>;
