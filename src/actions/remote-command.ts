import { shellQuote } from '../adapters/ssh/shell-quote.js';

/** A command ward runs on a host: an argument vector and, optionally, bytes for its stdin. */
export interface RemoteCommand {
  argv: readonly string[];
  stdin?: string | undefined;
  /** How the stdin is shown in a plan, when it is too long to show whole (e.g. a script and its hash). */
  stdinLabel?: string | undefined;
}

const PLAIN_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * The display form of a command, as a plan shows it and an approver reads it: plain words as they are, anything
 * else shell-quoted exactly as the SSH adapter quotes it, then the stdin (inline when short, else its label).
 */
export function displayCommand(command: RemoteCommand): string {
  const words = command.argv.map((w) => (PLAIN_WORD.test(w) ? w : shellQuote(w))).join(' ');
  if (command.stdin === undefined) return words;
  if (command.stdinLabel !== undefined) return `${words} < ${command.stdinLabel}`;
  return `${words} <<< ${shellQuote(command.stdin)}`;
}
