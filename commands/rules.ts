import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import type { AlertsControl } from '../src/ports/alerts-control.js';
import type { ChatClient } from '../src/ports/chat.js';
import { code, context, esc, header, section } from '../src/render/blocks.js';

/**
 * `/ward rules [reload]`: the alert rules in use, or reload them from WARD_RULES (the same as sending ward a
 * SIGHUP). Invalid rules are never swapped in: the rules in use stay and the answer lists each problem with its
 * line number. Admins only by default (`commands.rules.allow` in the policy file changes that).
 */
export default defineCommand({
  name: 'rules',
  summary: 'Show the alert rules in use, or reload them from WARD_RULES',
  usage: 'rules [reload]',
  examples: ['rules', 'rules reload'],
  kind: 'read',
  args: z.object({
    action: z
      .enum(['show', 'reload'], { error: 'must be `reload` (or nothing to show the rules)' })
      .optional(),
  }),
  positionals: ['action'],
  policy: { allow: ['admin'] },
  details:
    'Reloading checks the whole file first; if anything is wrong, nothing changes and you get every problem with its line number. Each reload is recorded in the audit log as `config.reload`.',
  async run({ args, invocation, reply, services }) {
    const alerts = services.alerts;
    if (!alerts) {
      await reply.ephemeral({
        text: 'The alert relay is off: set WARD_ALERT_DEFAULT_CHANNEL (and optionally WARD_RULES) to turn it on.',
      });
      return;
    }
    if (args.action === 'reload') {
      const result = await alerts.reloadRules({ user: invocation.user, trigger: 'command' });
      if (result.ok) {
        await reply.ephemeral({
          text: `:white_check_mark: Reloaded ${result.ruleSet.rules.length} alert rule(s) from ${result.ruleSet.source}.`,
          blocks: [
            section(
              `:white_check_mark: Reloaded ${result.ruleSet.rules.length} alert rule(s) from ${code(result.ruleSet.source)}.`,
            ),
            section(await slackSummary(services.chat, alerts)),
          ],
        });
      } else {
        const problems = result.problems.map((p) => `• ${esc(p)}`).join('\n');
        await reply.ephemeral({
          text: `:warning: Rules not reloaded; the ${result.kept.rules.length} rule(s) in use stay. Problems:\n${result.problems.join('\n')}`,
          blocks: [
            section(
              `:warning: Rules not reloaded; the ${result.kept.rules.length} rule(s) in use stay. Fix these and reload again:`,
            ),
            section(problems),
          ],
        });
      }
      return;
    }
    const ruleSet = alerts.rules.current();
    const names = await channelNames(services.chat, [...alerts.channels(), alerts.rules.fallbackChannel]);
    await reply.ephemeral({
      text: `Alert rules in use (${ruleSet.source}):\n${alerts.summary({ text: (s) => s, channel: (id) => (names.get(id) ? `#${names.get(id)}` : id) }).join('\n')}`,
      blocks: [
        header('Alert rules in use'),
        section(alerts.summary({ text: esc, channel: (id) => channelRef(id, names) }).join('\n')),
        context(
          `From ${code(ruleSet.source)}. Unmatched alerts go to ${channelRef(alerts.rules.fallbackChannel, names)}. \`/ward rules reload\` rereads the file.`,
        ),
      ],
    });
  },
});

/** The rules in use for a Slack section: their words escaped, channels by name where Slack tells ward the name. */
async function slackSummary(chat: ChatClient, alerts: AlertsControl): Promise<string> {
  const names = await channelNames(chat, alerts.channels());
  return alerts.summary({ text: esc, channel: (id) => channelRef(id, names) }).join('\n');
}

/** The names Slack gives these channels (conversations.info, cached by the chat adapter); unknown ones are left out. */
async function channelNames(chat: ChatClient, ids: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  const names = await Promise.all(unique.map((id) => chat.channelName(id).catch(() => undefined)));
  return new Map(unique.flatMap((id, i) => (names[i] ? [[id, names[i]] as [string, string]] : [])));
}

/** `<#C…|name>` (Slack shows `#name`) where the name is known, else the id as it is in the rules file. */
function channelRef(id: string, names: ReadonlyMap<string, string>): string {
  const name = names.get(id);
  return name ? `<#${id}|${esc(name)}>` : code(id);
}
