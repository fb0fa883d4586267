import { z } from 'zod';
import { TAG_PATTERN } from '../src/config/inventory.js';
import { EVERYONE } from '../src/config/policy.js';
import { defineCommand } from '../src/core/command.js';
import { code, esc, header, section } from '../src/render/blocks.js';

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
    const lines = hosts.map(
      (h) => `• *${esc(h.name)}* ${code(h.address)} ${h.tags.map((t) => code(t)).join(' ')}: normal`,
    );
    await reply.ephemeral({
      text: `${hosts.length} host(s): ${hosts.map((h) => h.name).join(', ')}`,
      blocks: [header(`Hosts${args.tag ? ` tagged ${args.tag}` : ''}`), section(lines.join('\n'))],
    });
  },
});
