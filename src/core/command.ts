import type { z } from 'zod';
import type { CommandPolicy } from '../config/policy.js';
import type { ChatMessage } from '../ports/chat.js';
import type { Services } from './services.js';

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
  services: Services;
}

/** One step of a plan, described so that a human can approve exactly what will run. */
export interface PlanStep {
  id: string;
  /** One line a human approves, e.g. "Apply nftables table ward_lockdown on web1 (198.51.100.11)". */
  title: string;
  host?: string | undefined;
  /** The exact commands (display form of the argv) this step runs. */
  commands: string[];
}

/** What a `change` command will do. Pure data: hashed when requested, rebuilt and compared before execution. */
export interface Plan {
  command: string;
  /** The command's validated arguments, as shown to approvers. */
  args: Record<string, unknown>;
  hosts: Array<{ name: string; address: string; hostKey: string }>;
  steps: PlanStep[];
}

export interface StepResult {
  id: string;
  status: 'succeeded' | 'failed' | 'skipped' | 'interrupted';
  detail?: string | undefined;
}

/** What an execution did, honestly: what succeeded, what failed, what changed. */
export interface ExecutionReport {
  /** `dry_run`: WARD_DRY_RUN kept the approved plan from running; nothing changed (never reported as `succeeded`). */
  outcome: 'succeeded' | 'failed' | 'partial' | 'dry_run';
  /** One paragraph for the request's message. */
  summary: string;
  steps: StepResult[];
  /** Set when WARD_DRY_RUN kept the plan from running: nothing was changed, every step is `skipped`. */
  dryRun?: boolean;
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
