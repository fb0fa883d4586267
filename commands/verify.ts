import { z } from 'zod';
import { hostSelectorArg, resolveHosts } from '../src/config/inventory.js';
import { checkAll, describeCheck } from '../src/containment/checker.js';
import { defineCommand } from '../src/core/command.js';
import { esc, header, section } from '../src/render/blocks.js';
import { userText } from '../src/render/user-text.js';

/**
 * `/ward verify <host|tag:…>`: checks now, read-only, every containment ward holds on those hosts (lockdown table,
 * blocked addresses, closed ports, boot-time persistence, and the quarantine of their cloud instance) and answers. A drift found
 * here is reported in the request's thread like one found by the periodic check.
 */
export default defineCommand({
  name: 'verify',
  summary: 'Check now that the containment ward applied on hosts still holds (read-only, no approval)',
  usage: 'verify <host|tag:selector>',
  examples: ['verify web1', 'verify tag:web'],
  kind: 'read',
  args: z.object({ target: hostSelectorArg }),
  positionals: ['target'],
  policy: { allow: ['responder', 'approver', 'admin'] },
  details:
    "Runs the same read-only checks as the periodic one (WARD_CONTAINMENT_CHECK_SECONDS): `nft list table inet ward_lockdown` against what ward applied, ward's block and closed-ports sets, the boot-time ruleset file and ward-containment.service, and the instance's security groups and tags. A host that cannot be reached is unverified, never ok.",
  async run({ args, reply, services }) {
    const hosts = resolveHosts(services.inventory(), args.target);
    const names = new Set(hosts.map((h) => h.name));
    const instances = new Set(hosts.flatMap((h) => (h.cloud ? [h.cloud.instanceId] : [])));
    const verdicts = await checkAll(services, (t) =>
      t.quarantine ? instances.has(t.quarantine.instanceId) : names.has(t.name),
    );
    const lines = hosts.map((h) => {
      const mine = verdicts.filter((v) => v.target.name === h.name);
      if (mine.length === 0) return `• *${esc(h.name)}*: ward holds no containment here; nothing to verify.`;
      return mine
        .map((v) => {
          const what = v.target.items.map((i) => i.label).join(', ');
          if (v.outcome.status === 'busy')
            return `• *${esc(h.name)}* (${esc(what)}): not checked, ${userText(v.outcome.reason, 300)}`;
          const differences =
            v.outcome.status === 'checked'
              ? v.outcome.findings
                  .flatMap((f) => f.differences.map((d) => `\n    ◦ ${userText(d, 500)}`))
                  .join('')
              : '';
          return `• *${esc(h.name)}* (${esc(what)}): ${describeCheck(v.state, services.clock.now())}${differences}`;
        })
        .join('\n');
    });
    const summary = verdicts
      .map((v) => `${v.target.name}: ${v.state?.result ?? v.outcome.status}`)
      .join(', ');
    await reply.ephemeral({
      text: `Verified ${verdicts.length} containment target(s)${summary ? `: ${summary}` : ''}`,
      blocks: [header(`Containment on ${args.target}`), section(lines.join('\n'))],
    });
  },
});
