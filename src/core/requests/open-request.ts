import type { z } from 'zod';
import type { CommandPolicy } from '../../config/policy.js';
import { AutomationRefusedError, PermissionDeniedError, UserInputError } from '../../errors.js';
import type { RequestStatus } from '../approvals/request.js';
import { asksRequesterFactor, type Requirements, requirementsFor } from '../approvals/rules.js';
import type {
  AnyCommand,
  CommandContext,
  CommandServices,
  CommonFlags,
  Invocation,
  PersonRequest,
} from '../command.js';
import type { Services } from '../services.js';
import { describeOrigin, type Origin } from './origin.js';
import { parseCommandText } from './parse-command.js';
import { replierFor } from './replier.js';
import { type AutomationRecord, answerError, failureOutcome } from './report-failure.js';

/** What is asked for: the text after `/ward` (parsed here), or a command with arguments (validated here). */
export type Ask =
  | { text: string }
  | {
      command: string;
      args: Record<string, unknown>;
      reason?: string | undefined;
      /** The same request as `/ward` text: kept on the request for a re-run after an interruption. */
      text: string;
    };

/** One request for a command, from any entry point: who asks, what, and where answers go. Nothing else. */
export interface RequestInput {
  origin: Origin;
  ask: Ask;
  replyTo: {
    channel: string;
    threadTs?: string | undefined;
    responseUrl?: string | undefined;
    /** Slack's trigger id (valid 3 s): lets the requester's code window open at once. */
    triggerId?: string | undefined;
  };
  /** Correlates every log line and audit entry of this request. */
  correlationId: string;
  /** ward's own requests: the audit entry the decision is recorded under. */
  automation?: AutomationRecord | undefined;
}

/** What became of a request: answered (read command), previewed (dry run), submitted to approvals, or refused. */
export type RequestOutcome =
  | { status: 'answered'; command: string }
  | { status: 'dry_run'; command: string }
  | { status: 'submitted'; command: string; requestId: string; requestStatus: RequestStatus }
  | { status: 'failed'; command: string; outcome: string; code: string };

/**
 * The one request pipeline. Every way in (slash command, alert button, rule auto-run, cloud tag watcher, "Re-run
 * through approval", and whatever comes next) calls this, and nothing else decides:
 *
 *   parse or validate → authorize by origin → reason and break-glass rules → plan → dry run, or approvals
 *
 * Never throws: a refusal or failure is answered once (answerError) and returned as `failed`.
 */
export async function openRequest(services: Services, input: RequestInput): Promise<RequestOutcome> {
  const { origin, replyTo } = input;
  const log = services.log.child({ requestId: input.correlationId, origin: describeOrigin(origin) });
  const person = origin.kind === 'person' ? origin.user : undefined;
  const reply = replierFor(services.chat, { ...replyTo, person });
  let commandName = 'command' in input.ask ? input.ask.command : 'unknown';
  let user = person;
  try {
    const { command, args, flags, text } = understand(services, input.ask);
    commandName = command.name;
    user ??= await services.wardUserId();
    const policy = await authorize(services, origin, user, command);
    checkFlags(origin, command, policy, flags);
    const invocation: Invocation = {
      user,
      channel: replyTo.channel,
      text,
      triggerId: replyTo.triggerId,
      responseUrl: replyTo.responseUrl,
      threadTs: replyTo.threadTs,
      requestId: input.correlationId,
    };
    const ctx: CommandContext<unknown> = { args, flags, invocation, reply, services };
    const held = await input.automation?.throttle?.();
    if (held) throw held;
    log.info({ command: command.name }, 'command accepted');
    if (input.automation) {
      await services.audit
        .record({
          type: input.automation.type,
          actor: user,
          requestId: input.correlationId,
          command: command.name,
          hosts: input.automation.hosts,
          outcome: 'submitted',
          details: { ...input.automation.details, approvals: policy.approvals },
        })
        .catch((err) => log.warn({ err }, 'could not audit an automated request'));
    }

    if (command.kind === 'read') {
      await command.run!(ctx);
      services.metrics.commandFinished(command.name, 'ok');
      return { status: 'answered', command: command.name };
    }
    const plan = await command.plan!(ctx);
    if (flags.dryRun) {
      await services.audit.record({
        type: 'command.dry_run',
        actor: user,
        command: command.name,
        hosts: plan.hosts.map((h) => h.name),
      });
      await services.notifier.dryRun(reply, plan, flags.reason);
      services.metrics.commandFinished(command.name, 'ok');
      return { status: 'dry_run', command: command.name };
    }
    const breakGlass = flags.breakGlass
      ? await checkBreakGlass(services, user, command, policy, flags, plan.hosts)
      : undefined;
    const requirements = requirementsFor(policy, { breakGlass: breakGlass !== undefined });
    await checkFactorsUsable(services, user, command, requirements);
    const req = await services.approvals.create({
      command: command.name,
      args: args as Record<string, unknown>,
      text,
      reason: flags.reason,
      requester: user,
      channel: replyTo.channel,
      plan,
      policy,
      requirements,
      breakGlass,
      correlationId: input.correlationId,
      // A request asked from under a message (an alert's button) lives in that message's thread.
      thread: replyTo.threadTs,
      requesterAt: { user, channel: replyTo.channel, responseUrl: replyTo.responseUrl },
      triggerId: replyTo.triggerId,
    });
    services.metrics.commandFinished(command.name, 'ok');
    return { status: 'submitted', command: command.name, requestId: req.id, requestStatus: req.status };
  } catch (err) {
    const outcome = failureOutcome(err);
    services.metrics.commandFinished(commandName, outcome);
    await answerError(services, log, reply, err, {
      command: commandName,
      user,
      automation: input.automation,
    });
    const code = err && typeof err === 'object' && 'code' in err ? String(err.code) : 'internal';
    return { status: 'failed', command: commandName, outcome, code };
  }
}

/**
 * A request a person makes through a button or a follow-up of theirs (a hunt's buttons, `--then-unblock-port`,
 * containment's Re-apply), as if they had typed `/ward <text>`.
 */
export function personRequest(r: PersonRequest): RequestInput {
  return {
    origin: { kind: 'person', user: r.user },
    ask: { text: r.text },
    replyTo: { channel: r.channel, threadTs: r.threadTs, responseUrl: r.responseUrl, triggerId: r.triggerId },
    correlationId: r.correlationId,
  };
}

/** `CommandServices.requests`: cancel through the approvals core, openAs through this pipeline. */
export function requestsPort(services: () => Services): CommandServices['requests'] {
  return {
    get: (requestId) => services().approvals.requests.get(requestId),
    cancel: (requestId, user) => services().approvals.cancel(requestId, user),
    openAs: async (r) => {
      await openRequest(services(), personRequest(r));
    },
  };
}

/** The command, its validated arguments and flags, and the request as `/ward` text. */
function understand(
  services: Services,
  ask: Ask,
): { command: AnyCommand; args: unknown; flags: CommonFlags; text: string } {
  if ('command' in ask) {
    const command = services.commands.get(ask.command);
    const parsed = (command.args as z.ZodObject).safeParse(ask.args);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `\`${i.path.join('.') || 'arguments'}\`: ${i.message}`);
      throw new UserInputError(`${problems.join('; ')}. Usage: \`/ward ${command.usage}\``);
    }
    return {
      command,
      args: parsed.data,
      flags: { reason: ask.reason, dryRun: false, breakGlass: false },
      text: ask.text,
    };
  }
  const { command, args, flags } = parseCommandText(services, ask.text);
  return { command, args, flags, text: ask.text };
}

/**
 * Who may ask. A person: the roles the policy allows. ward itself: only commands whose policy says `auto: true`, and
 * never one that needs the requester's second factor (ward has none to give; the request would hang).
 */
async function authorize(
  services: Services,
  origin: Origin,
  user: string,
  command: AnyCommand,
): Promise<CommandPolicy> {
  if (origin.kind === 'person') return services.policy.authorize(user, command);
  const policy = services.policy.policyFor(command);
  const refusal = wardMayNotAsk(command.name, policy);
  if (refusal) throw new AutomationRefusedError(refusal);
  return policy;
}

/**
 * Why ward itself may not ask for a command, or undefined when it may. Also checked when a watcher starts, so that
 * a watcher that could never open a request refuses to start instead.
 */
export function wardMayNotAsk(
  command: string,
  policy: Pick<CommandPolicy, 'auto' | 'mfa'>,
): string | undefined {
  if (!policy.auto) return `\`${command}\` is not marked \`auto: true\` in ward's policy.`;
  if (asksRequesterFactor(policy)) {
    return `\`${command}\` needs the requester's second factor, which ward cannot give; use the button instead.`;
  }
  return undefined;
}

/** --break-glass only on soft policies, never by ward itself; a reason when the policy requires one. */
function checkFlags(origin: Origin, command: AnyCommand, policy: CommandPolicy, flags: CommonFlags): void {
  if (flags.breakGlass && origin.kind === 'ward') {
    throw new AutomationRefusedError('ward never overrides a policy with --break-glass.');
  }
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
}

/** A break-glass override: with a reason, by someone holding a break-glass role now. Refusals are audited. */
async function checkBreakGlass(
  services: Services,
  user: string,
  command: AnyCommand,
  policy: CommandPolicy,
  flags: CommonFlags,
  hosts: Array<{ name: string }>,
): Promise<{ user: string; reason: string }> {
  if (flags.reason === undefined) {
    throw new UserInputError('--break-glass needs --reason "…": an override must say why. Nothing was run.');
  }
  if (!(await services.policy.holdsAny(user, policy.breakGlass, { fresh: true }))) {
    await services.audit.record({
      type: 'policy.override',
      actor: user,
      command: command.name,
      outcome: 'refused',
      hosts: hosts.map((h) => h.name),
    });
    throw new PermissionDeniedError(
      policy.breakGlass.length === 0
        ? `\`${command.name}\` has no break-glass role in its policy, so nobody may override it. Nothing was run.`
        : `Only the break-glass role${policy.breakGlass.length > 1 ? 's' : ''} ${policy.breakGlass.map((r) => `*${r}*`).join(', ')} may override \`${command.name}\`. Nothing was run.`,
    );
  }
  return { user, reason: flags.reason };
}

/** A second factor the request will need must be possible: MFA configured, and the requester enrolled. */
async function checkFactorsUsable(
  services: Services,
  user: string,
  command: AnyCommand,
  needs: Requirements,
): Promise<void> {
  if (needs.requesterMfa || needs.approverMfa) services.mfa.assertUsable();
  if (needs.requesterMfa && services.mfa.kind === 'code' && !(await services.mfa.status(user)).enrolled) {
    throw new UserInputError(
      `\`${command.name}\` needs your second factor, and you have no MFA enrolled yet: run \`/ward mfa enroll\` first. Nothing was run.`,
    );
  }
}
