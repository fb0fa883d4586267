import type { z } from 'zod';
import {
  newErrorRef,
  PermissionDeniedError,
  StoreUnavailableError,
  toUserMessage,
  UserInputError,
  WardError,
} from '../errors.js';
import { commandsTotal } from '../metrics.js';
import { renderPlanPreview } from '../render/plan.js';
import type { AnyCommand, CommandContext, CommonFlags, Invocation, Replier } from './command.js';
import type { Services } from './services.js';
import { splitFlags, tokenize, truncate } from './tokenize.js';

const COMMON_BOOLEAN_FLAGS = ['dry-run', 'break-glass'];
const MAX_REASON = 500;

/** How long ward remembers a trigger id, to drop Slack's retries (at once, after 1 min, after 5 min). */
const DEDUPE_TTL_MS = 60 * 60_000;

/**
 * Whether this is the first delivery of a trigger id: Slack redelivers a slash command or a click with the same
 * trigger_id when the first delivery was not acked in time. `undefined` when the store is unavailable and a retry
 * cannot be recognised; the caller decides what that means.
 */
export async function isFirstDelivery(
  store: Services['store'],
  triggerId: string,
): Promise<boolean | undefined> {
  try {
    return await store.setIfAbsent(`ward:seen:trigger:${triggerId}`, '1', DEDUPE_TTL_MS);
  } catch (err) {
    if (err instanceof StoreUnavailableError) return undefined;
    throw err;
  }
}

/**
 * Parses the text of `/ward …` into a command and validated arguments. Throws UserInputError with the exact
 * problem and the usage line.
 */
export function parseCommandText(
  services: Pick<Services, 'commands'>,
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
  if (positionals.length > command.positionals.length) {
    const extra = positionals[command.positionals.length]!;
    problems.push(`unexpected argument \`${truncate(extra)}\` (quote values that contain spaces)`);
  }
  command.positionals.forEach((key: string, i: number) => {
    if (positionals[i] !== undefined) raw[key] = positionals[i];
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

/**
 * Handles one `/ward …` invocation after it has been acknowledged: dedupe, parse, authorize, then either run a
 * `read` command or build the plan of a `change` command and hand it to the gate. Every error becomes an
 * ephemeral answer; nothing escapes to crash the process. Resolves true when the command was accepted (a read
 * command ran, or a change command's request was opened), false when it was refused or failed.
 */
export async function dispatchCommand(
  services: Services,
  invocation: Invocation,
  reply: Replier,
): Promise<boolean> {
  const log = services.log.child({ requestId: invocation.requestId, user: invocation.user });
  let commandName = 'unknown';
  try {
    if (invocation.triggerId !== undefined && invocation.deduplicated !== true) {
      const first = await isFirstDelivery(services.store, invocation.triggerId);
      // Without the store a retry cannot be recognised; change commands will refuse anyway, since the gate needs it.
      if (first === undefined) log.warn('store unavailable: cannot deduplicate this invocation');
      if (first === false) {
        log.info('duplicate delivery of a slash command (Slack retry): ignored');
        commandsTotal.inc({ command: 'unknown', outcome: 'duplicate' });
        return false;
      }
    }
    const { command, args, flags } = parseCommandText(services, invocation.text);
    commandName = command.name;
    const policy = await services.policy.authorize(invocation.user, command);
    const ctx: CommandContext<unknown> = { args, flags, invocation, reply, services };
    if (flags.breakGlass && policy.enforcement !== 'soft') {
      throw new UserInputError(
        `--break-glass only applies to commands whose policy enforcement is \`soft\`; \`${command.name}\` is \`${policy.enforcement}\`.`,
      );
    }
    if (policy.reason === 'required' && flags.reason === undefined) {
      throw new UserInputError(
        `\`${command.name}\` needs a reason: add --reason "why you are doing this". Usage: \`/ward ${command.usage}\``,
      );
    }
    log.info({ command: command.name }, 'command accepted');
    if (command.kind === 'read') {
      await command.run!(ctx);
      commandsTotal.inc({ command: command.name, outcome: 'ok' });
      return true;
    }
    const plan = await command.plan!(ctx);
    if (flags.dryRun) {
      await services.audit.record({
        type: 'command.dry_run',
        actor: invocation.user,
        command: command.name,
        hosts: plan.hosts.map((h) => h.name),
      });
      await reply.ephemeral(renderPlanPreview(plan, { dryRun: true, reason: flags.reason }));
      commandsTotal.inc({ command: command.name, outcome: 'ok' });
      return false;
    }
    await services.gate.submit({ command, ctx, plan, policy });
    commandsTotal.inc({ command: command.name, outcome: 'ok' });
    return true;
  } catch (err) {
    commandsTotal.inc({ command: commandName, outcome: commandOutcome(err) });
    await answerError(services, log, reply, err, { command: commandName, user: invocation.user });
    return false;
  }
}

/** The `outcome` label of ward_commands_total for a failed command. */
function commandOutcome(err: unknown): string {
  if (err instanceof PermissionDeniedError) return 'refused';
  if (err instanceof UserInputError) return 'invalid';
  if (err instanceof StoreUnavailableError) return 'unavailable';
  if (err instanceof WardError) return 'failed';
  return 'error';
}

/** Sends a failure to the person, ephemerally; logs unexpected errors with a reference. */
export async function answerError(
  services: Pick<Services, 'audit'>,
  log: Services['log'],
  reply: Pick<Replier, 'ephemeral'>,
  err: unknown,
  about: { command: string; user: string },
): Promise<void> {
  const ref = newErrorRef();
  if (err instanceof WardError) {
    log.info({ code: err.code, command: about.command }, 'command refused');
    if (err instanceof PermissionDeniedError) {
      await services.audit
        .record({ type: 'command.refused', actor: about.user, command: about.command, outcome: err.code })
        .catch(() => {});
    }
  } else {
    log.error({ err, ref, command: about.command }, 'command failed unexpectedly');
  }
  try {
    await reply.ephemeral({ text: `:warning: ${toUserMessage(err, ref)}` });
  } catch (replyErr) {
    log.error({ err: replyErr }, 'could not deliver an error reply');
  }
}
