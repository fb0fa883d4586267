import type { Plan } from '../core/plan-types.js';
import type { ChatMessage } from '../ports/chat.js';
import { code, context, esc, header, section } from './blocks.js';
import { userText } from './user-text.js';

/** The plan as a human approves it: every step with the exact commands, on which hosts. */
export function renderPlanSteps(plan: Plan, maxChars = 2800): string {
  const lines: string[] = [];
  plan.steps.forEach((s, i) => {
    lines.push(`${i + 1}. ${esc(s.title)}`);
    for (const c of s.commands) lines.push(`      ${code(c)}`);
  });
  let text = lines.join('\n');
  if (text.length > maxChars)
    text = `${text.slice(0, maxChars)}\n… (plan continues; ${plan.steps.length} steps in all)`;
  return text;
}

export function renderHosts(plan: Plan): string {
  return plan.hosts.length === 0
    ? '(none)'
    : plan.hosts
        .map((h) => `${esc(h.name)} (${esc(h.address)})`)
        .join(', ')
        .slice(0, 1500);
}

/** `--dry-run`: the plan, and a plain statement that nothing ran. */
export function renderPlanPreview(
  plan: Plan,
  opts: { dryRun: boolean; reason?: string | undefined },
): ChatMessage {
  const title = `${opts.dryRun ? 'Dry run: ' : ''}${plan.command} on ${plan.hosts.map((h) => h.name).join(', ') || 'no host'}`;
  return {
    text: `${title}. Nothing was run.`,
    blocks: [
      header(title),
      section(`*Hosts:* ${renderHosts(plan)}${opts.reason ? `\n*Reason:* ${userText(opts.reason)}` : ''}`),
      section(`*Plan*\n${renderPlanSteps(plan)}`),
      context(opts.dryRun ? ':information_source: Dry run: nothing was run and nothing was changed.' : ''),
    ],
  };
}
