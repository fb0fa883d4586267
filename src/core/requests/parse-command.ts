import type { z } from 'zod';
import { UserInputError } from '../../errors.js';
import type { AnyCommand, CommandCatalog, CommonFlags } from '../command.js';
import { splitFlags, tokenize, truncate } from '../tokenize.js';

const COMMON_BOOLEAN_FLAGS = ['dry-run', 'break-glass'];
const MAX_REASON = 500;

/**
 * Parses the text of `/ward …` into a command and validated arguments. Throws UserInputError with the exact
 * problem and the usage line.
 */
export function parseCommandText(
  services: { commands: CommandCatalog },
  text: string,
): { command: AnyCommand; args: Record<string, unknown>; flags: CommonFlags } {
  const tokens = tokenize(text);
  const name = tokens[0] ?? 'help';
  const command = services.commands.get(name);
  const optionEntries = Object.entries(command.options ?? {}) as Array<
    [string, { key: string; boolean?: boolean }]
  >;
  const booleanFlags = new Set([
    ...COMMON_BOOLEAN_FLAGS,
    ...optionEntries.filter(([, o]) => o.boolean).map(([flag]) => flag),
  ]);
  const valueFlags = new Set([
    'reason',
    ...optionEntries.filter(([, o]) => !o.boolean).map(([flag]) => flag),
  ]);
  const { positionals, flags } = splitFlags(tokens.slice(1), booleanFlags, valueFlags);
  const usage = `Usage: \`/ward ${command.usage}\``;

  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  if (positionals.length > command.positionals.length && command.variadic !== true) {
    const extra = positionals[command.positionals.length]!;
    problems.push(`unexpected argument \`${truncate(extra)}\` (quote values that contain spaces)`);
  }
  command.positionals.forEach((key: string, i: number) => {
    // A variadic command's last positional takes every remaining word (e.g. `hunt <kind> <value…>`).
    const last = i === command.positionals.length - 1;
    if (last && command.variadic === true) raw[key] = positionals.slice(i);
    else if (positionals[i] !== undefined) raw[key] = positionals[i];
  });

  const common: CommonFlags = { dryRun: false, breakGlass: false };
  for (const [flag, value] of flags) {
    if (flag === 'reason') {
      if (value === true || value.trim() === '') throw new UserInputError(`--reason needs text. ${usage}`);
      if (value.length > MAX_REASON) {
        throw new UserInputError(`--reason is ${value.length} characters long; keep it under ${MAX_REASON}.`);
      }
      common.reason = value.trim();
    } else if (flag === 'dry-run') {
      if (command.kind !== 'change')
        throw new UserInputError(`\`${command.name}\` changes nothing, so --dry-run does not apply.`);
      common.dryRun = true;
    } else if (flag === 'break-glass') {
      common.breakGlass = true;
    } else {
      const option = optionEntries.find(([f]) => f === flag)?.[1];
      if (!option) {
        const known = [
          'reason',
          ...(command.kind === 'change' ? ['dry-run'] : []),
          ...optionEntries.map(([f]) => f),
        ];
        throw new UserInputError(
          `Unknown option \`--${truncate(flag, 30)}\` for \`${command.name}\`. Options: ${known.map((k) => `--${k}`).join(', ')}. ${usage}`,
        );
      }
      raw[option.key] = value;
    }
  }

  const parsed = command.args.safeParse(raw);
  if (!parsed.success) {
    problems.unshift(
      ...parsed.error.issues.map((issue: z.core.$ZodIssue) => {
        const field = issue.path.join('.') || 'arguments';
        const missing = issue.code === 'invalid_type' && raw[field] === undefined;
        return `\`${field}\`: ${missing ? 'is required' : issue.message}`;
      }),
    );
  }
  if (problems.length > 0 || !parsed.success) {
    const text = problems.join('; ');
    throw new UserInputError(`${text.charAt(0).toUpperCase()}${text.slice(1)}. ${usage}`);
  }
  return { command, args: parsed.data as Record<string, unknown>, flags: common };
}
