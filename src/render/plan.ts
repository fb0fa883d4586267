import { canonicalJson } from '../core/canonical-json.js';
import type { Plan } from '../core/plan-types.js';
import type { Block, ChatMessage } from '../ports/chat.js';
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

/** The plan as step titles only, numbered: what the approver reads under the buttons. */
export function renderPlanTitles(plan: Plan, maxChars = 2800): string {
  const text = plan.steps.map((s, i) => `${i + 1}. ${esc(s.title)}`).join('\n') || '_no steps_';
  return text.length > maxChars
    ? `${text.slice(0, maxChars)}\n… (${plan.steps.length} steps in all: see the exact plan)`
    : text;
}

/** Slack's limits on a modal: 100 blocks, and 3000 characters in a section. Beyond them, the plan goes to the thread. */
const MODAL_MAX_BLOCKS = 100;
const SECTION_MAX_CHARS = 3000;

/**
 * The exact plan, as hashed: every host with its address and pinned key, every step with its host and its exact
 * commands (an nftables script included), under the sha256 the approvers approved. Returned as sections; `fits`
 * is false when Slack would not take them in a modal (a section over 3000 characters, or over 100 blocks), so the
 * caller sends the plan as a file instead of cutting it: a plan shown in part is not the plan that was approved.
 */
export function renderExactPlanBlocks(plan: Plan, hash: string): { blocks: Block[]; fits: boolean } {
  const blocks: Block[] = [
    section(
      `*sha256* ${code(hash)}\nThe hash covers exactly what is below: the command, its arguments, the hosts with their pinned keys and every step's commands.`,
    ),
    section(
      `*${esc(plan.command)}* ${code(canonicalJson(plan.args))}\n${plan.hosts.map((h) => `• ${esc(h.name)} (${esc(h.address)}) key ${code(h.hostKey)}`).join('\n') || '_no host_'}`,
    ),
  ];
  let fits = true;
  plan.steps.forEach((s, i) => {
    const text = `*${i + 1}. ${esc(s.title)}*${s.host ? ` · on ${esc(s.host)}` : ''}\n${s.commands.map((c) => `\`\`\`${esc(c).replace(/```/g, "'''")}\`\`\``).join('\n')}`;
    if (text.length > SECTION_MAX_CHARS) fits = false;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
  });
  if (blocks.length > MODAL_MAX_BLOCKS) fits = false;
  return { blocks, fits };
}

/** The same plan as plain text, for a file in the thread when it is larger than a modal allows. */
export function renderExactPlanText(plan: Plan, hash: string): string {
  const lines = [
    `ward plan for ${plan.command} ${canonicalJson(plan.args)}`,
    `sha256 ${hash} (of the canonical JSON of this plan)`,
    '',
    ...plan.hosts.map((h) => `host ${h.name} ${h.address} key ${h.hostKey}`),
    '',
  ];
  plan.steps.forEach((s, i) => {
    lines.push(`${i + 1}. ${s.title}${s.host ? ` (on ${s.host})` : ''}`);
    for (const c of s.commands) lines.push(...c.split('\n').map((l) => `    ${l}`));
    lines.push('');
  });
  lines.push('canonical JSON:', canonicalJson(plan));
  return lines.join('\n');
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
