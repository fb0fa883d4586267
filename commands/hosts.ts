import { z } from 'zod';
import { readHostState } from '../src/actions/host-state.js';
import { TAG_PATTERN } from '../src/config/inventory.js';
import { EVERYONE } from '../src/config/policy.js';
import { defineCommand } from '../src/core/command.js';
import type { Services } from '../src/core/services.js';
import type { AuditRecord } from '../src/ports/audit.js';
import { code, esc, header, mention, section } from '../src/render/blocks.js';
import { outcomeText } from '../src/render/outcome.js';
import { clockTime } from '../src/render/time.js';

/**
 * The latest finished execution per host, from the audit log's recent entries: so that a host a dry run "locked
 * down" reads `dry run: nothing changed` here too, and not merely "normal" with no word of the request.
 */
async function lastExecutions(services: Services, names: Set<string>): Promise<Map<string, AuditRecord>> {
  const found = new Map<string, AuditRecord>();
  const records = await services.audit.recent({}, 500).catch(() => [] as AuditRecord[]);
  for (const r of records) {
    if (r.type !== 'execution.finished') continue;
    for (const h of r.hosts ?? []) if (names.has(h) && !found.has(h)) found.set(h, r);
  }
  return found;
}

/** `/ward hosts [tag]`: the inventory, with each host's state. */
export default defineCommand({
  name: 'hosts',
  summary: 'List the hosts ward knows, optionally by tag, with their state',
  usage: 'hosts [tag]',
  examples: ['hosts', 'hosts web'],
  kind: 'read',
  args: z.object({ tag: z.string().regex(TAG_PATTERN, 'must be a tag such as web').optional() }),
  positionals: ['tag'],
  policy: { allow: [EVERYONE] },
  async run({ args, reply, services }) {
    const hosts = [...services.inventory().hosts.values()]
      .filter((h) => args.tag === undefined || h.tags.includes(args.tag))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (hosts.length === 0) {
      await reply.ephemeral({
        text:
          services.inventory().hosts.size === 0
            ? 'The inventory is empty: set WARD_INVENTORY to an inventory file.'
            : `No host has the tag ${args.tag}.`,
      });
      return;
    }
    const states = await Promise.all(hosts.map((h) => readHostState(services.store, h.name)));
    const last = await lastExecutions(services, new Set(hosts.map((h) => h.name)));
    const now = services.clock.now();
    const lines = hosts.map((h, i) => {
      const s = states[i];
      const state = s
        ? `🔒 *locked down* since ${clockTime(s.since, now)} by ${mention(s.by)} (request ${code(s.requestId)})`
        : 'normal';
      const l = last.get(h.name);
      const lastText = l
        ? ` · last: ${code(l.command ?? '?')} ${outcomeText(l.outcome, (l.details as { dryRun?: unknown } | undefined)?.dryRun === true)} ${clockTime(Date.parse(l.at), now)}${l.requestId ? ` (${code(l.requestId)})` : ''}`
        : '';
      return `• *${esc(h.name)}* ${code(h.address)} ${h.tags.map((t) => code(t)).join(' ')}: ${state}${lastText}`;
    });
    await reply.ephemeral({
      text: `${hosts.length} host(s): ${hosts.map((h, i) => `${h.name} (${states[i] ? 'locked down' : 'normal'})`).join(', ')}`,
      blocks: [header(`Hosts${args.tag ? ` tagged ${args.tag}` : ''}`), section(lines.join('\n'))],
    });
  },
});
