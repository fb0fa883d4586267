/**
 * What a `change` command will do and what it did, as plain data. This module imports nothing, so that renderers,
 * ports, actions and the approval state machine can all speak of plans without depending on each other.
 */

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
