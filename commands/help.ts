import { z } from 'zod';
import { EVERYONE } from '../src/config/policy.js';
import type { AnyCommand } from '../src/core/command.js';
import { defineCommand } from '../src/core/command.js';
import type { PolicyEngine } from '../src/core/policy-engine.js';
import { code, context, divider, esc, header, section } from '../src/render/blocks.js';

/** Commands that act on a cloud provider's instances: pointless (and confusing) where no cloud is configured. */
const CLOUD_COMMANDS = new Set(['quarantine', 'unquarantine']);

/** `/ward help [command]`: the commands this user may run, or one command's usage, examples and policy. */
export default defineCommand({
  name: 'help',
  summary: 'List the commands you may run, or show how to use one',
  usage: 'help [command]',
  examples: ['help', 'help lockdown'],
  kind: 'read',
  args: z.object({
    topic: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a command name, e.g. lockdown')
      .optional(),
  }),
  positionals: ['topic'],
  policy: { allow: [EVERYONE] },
  async run({ args, invocation, reply, services }) {
    if (args.topic !== undefined) {
      const command = services.commands.get(args.topic);
      await reply.ephemeral(describeCommand(command, services.policy));
      return;
    }
    const mine: AnyCommand[] = [];
    const notMine: AnyCommand[] = [];
    // Cloud commands are offered only where a cloud is: an inventory host with a cloud instance, or an EC2 endpoint.
    const cloud =
      [...services.inventory().hosts.values()].some((h) => h.cloud !== undefined) ||
      services.config.AWS_ENDPOINT_URL !== undefined;
    for (const c of services.commands.all()) {
      if (!cloud && CLOUD_COMMANDS.has(c.name)) continue;
      const p = services.policy.policyFor(c);
      const available = services.policy.hasPolicyFile || p.allow.includes(EVERYONE);
      if (available && (await services.policy.holdsAny(invocation.user, p.allow))) mine.push(c);
      else notMine.push(c);
    }
    const lines = mine.map((c) => `• ${code(`/ward ${c.usage}`)}: ${esc(c.summary)}`);
    const others = notMine.length;
    const named = notMine.map((c) => code(c.name)).join(', ');
    await reply.ephemeral({
      text: `ward commands you may run: ${mine.map((c) => c.name).join(', ')}`,
      blocks: [
        header('ward: commands you may run'),
        section(lines.join('\n')),
        divider(),
        context(
          `\`/ward help <command>\` shows usage and examples.${others > 0 ? ` ${named} need${others === 1 ? 's' : ''} a role you do not hold.` : ''}${cloud ? '' : ' Cloud commands (quarantine) are hidden: no cloud is configured.'}${services.policy.hasPolicyFile ? '' : ' No policy file is configured, so only read-only commands are available.'}`,
        ),
      ],
    });
  },
});

function describeCommand(command: AnyCommand, policy: PolicyEngine) {
  const p = policy.policyFor(command);
  const who = p.allow.includes(EVERYONE) ? 'everyone' : p.allow.map((r) => `*${r}*`).join(', ');
  const rules: string[] = [`*Who may run it:* ${who}`];
  if (command.kind === 'change') {
    rules.push(
      `*Approvals:* ${p.approvals === 0 ? 'none' : `${p.approvals} from ${p.approvers.map((r) => `*${r}*`).join(', ')} (never the requester)`}`,
      `*Second factor:* ${p.mfa}`,
      `*Enforcement:* ${p.enforcement}; *reason:* ${p.reason}; requests expire after ${Math.round(p.expiresMs / 60_000)} min`,
      'Add `--dry-run` to see the plan without running anything.',
    );
  }
  return {
    text: `/ward ${command.usage}: ${command.summary}`,
    blocks: [
      header(`/ward ${command.name}`),
      section(`${esc(command.summary)}\n\n*Usage:* ${code(`/ward ${command.usage}`)}`),
      ...(command.details ? [section(esc(command.details))] : []),
      section(`*Examples*\n${command.examples.map((e: string) => `• ${code(`/ward ${e}`)}`).join('\n')}`),
      context(rules.join('\n')),
    ],
  };
}
