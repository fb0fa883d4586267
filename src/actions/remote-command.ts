import { shellQuote } from '../adapters/ssh/shell-quote.js';
import type { PlanStep } from '../core/plan-types.js';
import { WardError } from '../errors.js';

/**
 * A command ward runs on a host: an argument vector and, optionally, bytes for its stdin. The same object gives
 * the line a plan shows (displayCommand) and what the SSH adapter is sent (argv, stdin): a plan step is built from
 * these commands (hostStep), and an execution may only run a command whose display is in the approved plan
 * (checkApproved, called by the one function that hands commands to a session).
 */
export interface RemoteCommand {
  argv: readonly string[];
  stdin?: string | undefined;
  /**
   * How the stdin is shown in a plan, when it is too long to show whole or only known at run time: a collection
   * script's label carries the sha256 of its fixed body (collect-script.ts builds both from one spec).
   */
  stdinLabel?: string | undefined;
  /**
   * A word known only at run time, printed by an earlier command of the same step (the watchdog's process group
   * id) and validated by the command's builder: the plan shows `shown` in its place.
   */
  runtimeWord?: { index: number; shown: string } | undefined;
}

const PLAIN_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * The display form of a command, as a plan shows it and an approver reads it: plain words as they are, anything
 * else shell-quoted exactly as the SSH adapter quotes it, then the stdin (inline when short, else its label).
 */
export function displayCommand(command: RemoteCommand): string {
  const words = command.argv
    .map((w, i) =>
      command.runtimeWord?.index === i ? command.runtimeWord.shown : PLAIN_WORD.test(w) ? w : shellQuote(w),
    )
    .join(' ');
  if (command.stdinLabel !== undefined) return `${words} < ${command.stdinLabel}`;
  if (command.stdin === undefined) return words;
  return `${words} <<< ${shellQuote(command.stdin)}`;
}

/** A plan step on one host, made from the commands it may run: its `commands` are their display forms. */
export function hostStep(step: {
  id: string;
  title: string;
  host: string;
  run: readonly RemoteCommand[];
}): PlanStep {
  return { id: step.id, title: step.title, host: step.host, commands: step.run.map(displayCommand) };
}

/**
 * What an execution may run on each host: the display form of every command its approved plan shows there. Work
 * that runs outside any plan (the periodic containment check, which only reads) says so explicitly.
 */
export type ApprovedCommands = ReadonlyMap<string, ReadonlySet<string>> | 'unplanned-read';

export function approvedCommands(plan: {
  steps: ReadonlyArray<Pick<PlanStep, 'host' | 'commands'>>;
}): ApprovedCommands {
  const byHost = new Map<string, Set<string>>();
  for (const step of plan.steps) {
    if (step.host === undefined) continue;
    const set = byHost.get(step.host) ?? new Set<string>();
    for (const c of step.commands) set.add(c);
    byHost.set(step.host, set);
  }
  return byHost;
}

/** An execution tried to run a command its approved plan does not show: refused before anything is sent. */
export class PlanMismatchError extends WardError {
  constructor(host: string, shown: string) {
    super(
      'ward_plan_mismatch',
      `ward refused to run \`${shown.slice(0, 200)}\` on ${host}: the approved plan does not show that command. Nothing was sent to the host; this is a bug in ward, please report it.`,
    );
  }
}

/** Throws PlanMismatchError unless the approved plan shows exactly this command on this host. */
export function checkApproved(approved: ApprovedCommands, host: string, command: RemoteCommand): void {
  if (approved === 'unplanned-read') return;
  const shown = displayCommand(command);
  if (!approved.get(host)?.has(shown)) throw new PlanMismatchError(host, shown);
}

/** What a one-host plan showing exactly `commands` approves (hunts run outside a request: tests, bench). */
export function approvedFor(host: string, ...commands: RemoteCommand[]): ApprovedCommands {
  return new Map([[host, new Set(commands.map(displayCommand))]]);
}
