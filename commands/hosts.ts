import { z } from 'zod';
import { readHostState } from '../src/actions/host-state.js';
import { TAG_PATTERN } from '../src/config/inventory.js';
import { EVERYONE } from '../src/config/policy.js';
import { defineCommand } from '../src/core/command.js';
import { code, esc, header, mention, section } from '../src/render/blocks.js';

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
    const lines = hosts.map((h, i) => {
      const s = states[i];
      const state = s
        ? `:lock: *locked down* since ${new Date(s.since).toISOString().replace(/\.\d{3}Z$/, 'Z')} by ${mention(s.by)} (request ${code(s.requestId)})`
        : 'normal';
      return `• *${esc(h.name)}* ${code(h.address)} ${h.tags.map((t) => code(t)).join(' ')}: ${state}`;
    });
    await reply.ephemeral({
      text: `${hosts.length} host(s): ${hosts.map((h, i) => `${h.name} (${states[i] ? 'locked down' : 'normal'})`).join(', ')}`,
      blocks: [header(`Hosts${args.tag ? ` tagged ${args.tag}` : ''}`), section(lines.join('\n'))],
    });
  },
});
