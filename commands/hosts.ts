import { z } from 'zod';
import { readHeld, readHostState } from '../src/actions/host-state.js';
import { readRecord } from '../src/cloud/record.js';
import { TAG_PATTERN } from '../src/config/inventory.js';
import { EVERYONE } from '../src/config/policy.js';
import { describeCheck, readCheckState } from '../src/containment/checker.js';
import type { CommandServices } from '../src/core/command.js';
import { defineCommand } from '../src/core/command.js';
import type { AuditRecord } from '../src/ports/audit.js';
import { code, esc, header, mention, section } from '../src/render/blocks.js';
import { outcomeText } from '../src/render/outcome.js';
import { clockTime } from '../src/render/time.js';

/**
 * The latest finished execution per host, from the audit log's recent entries: so that a host a dry run "locked
 * down" reads `dry run: nothing changed` here too, and not merely "normal" with no word of the request.
 */
async function lastExecutions(
  services: Pick<CommandServices, 'audit'>,
  names: Set<string>,
): Promise<Map<string, AuditRecord>> {
  const found = new Map<string, AuditRecord>();
  const records = await services.audit.recent({}, 500).catch(() => [] as AuditRecord[]);
  for (const r of records) {
    if (r.type !== 'execution.finished') continue;
    for (const h of r.hosts ?? []) if (names.has(h) && !found.has(h)) found.set(h, r);
  }
  return found;
}

/**
 * `/ward hosts [tag]`: the inventory, with each host's state: what ward holds there (since when, by which request)
 * and what its last check found (ok, drift or unverified), so that "locked down" is never just ward's belief.
 */
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
    const when = (ms: number) => clockTime(ms, now);
    const lines = await Promise.all(
      hosts.map(async (h, i) => {
        const s = states[i];
        const held: string[] = [];
        if (s) {
          held.push(
            `🔒 *locked down* since ${when(s.since)} by ${mention(s.by)} (request ${code(s.requestId)})`,
          );
        }
        for (const [kind, what] of [
          ['blocked', '⛔ blocks'],
          ['ports', '🚪 closed ports'],
        ] as const) {
          const list = Object.entries(await readHeld(services.store, h.name, kind));
          if (list.length === 0) continue;
          held.push(
            `${what} ${list
              .slice(0, 5)
              .map(([a, e]) => `${code(a)} since ${when(e.since)} (request ${code(e.requestId)})`)
              .join(', ')}${list.length > 5 ? ` and ${list.length - 5} more` : ''}`,
          );
        }
        const hostCheck = held.length > 0 ? await readCheckState(services, `host:${h.name}`) : undefined;
        if (held.length > 0) held.push(`_${describeCheck(hostCheck, now)}_`);
        const record = h.cloud
          ? await readRecord(services.store, h.cloud.instanceId).catch(() => undefined)
          : undefined;
        if (record?.confirmed) {
          const cloudCheck = await readCheckState(services, `cloud:${record.instanceId}`);
          held.push(
            `☁️ *quarantined* since ${when(Date.parse(record.recordedAt))} (request ${code(record.confirmed.requestId)}); _${describeCheck(cloudCheck, now)}_`,
          );
        }
        const state = held.length > 0 ? held.join('\n    ') : 'normal';
        const l = last.get(h.name);
        const lastText = l
          ? ` · last: ${code(l.command ?? '?')} ${outcomeText(l.outcome, (l.details as { dryRun?: unknown } | undefined)?.dryRun === true)} ${when(Date.parse(l.at))}${l.requestId ? ` (${code(l.requestId)})` : ''}`
          : '';
        return `• *${esc(h.name)}* ${code(h.address)} ${h.tags.map((t) => code(t)).join(' ')}: ${state}${lastText}`;
      }),
    );
    await reply.ephemeral({
      text: `${hosts.length} host(s): ${hosts.map((h, i) => `${h.name} (${states[i] ? 'locked down' : 'normal'})`).join(', ')}`,
      blocks: [header(`Hosts${args.tag ? ` tagged ${args.tag}` : ''}`), section(lines.join('\n'))],
    });
  },
});
