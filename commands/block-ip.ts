import { z } from 'zod';
import { blockIpOnHost, blockIpPlanSteps, blockLimits, checkBlockable } from '../src/actions/contain.js';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import { hostSelectorArg, isCidr, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/** `/ward block-ip <host|tag:…> <ip|cidr>`: add an address to ward's nftables block set. */
export default defineCommand({
  name: 'block-ip',
  summary: "Block an IP address or CIDR on hosts (ward's nftables set)",
  usage: 'block-ip <host|tag:selector> <ip|cidr> --reason "…" [--dry-run]',
  examples: ['block-ip web1 203.0.113.7 --reason "scanner"', 'block-ip tag:web 203.0.113.0/24'],
  kind: 'change',
  args: z.object({
    target: hostSelectorArg,
    address: z.string().refine(isCidr, 'must be an IPv4/IPv6 address or CIDR such as 203.0.113.0/24'),
  }),
  positionals: ['target', 'address'],
  policy: { allow: ['responder', 'admin'], approvals: 1, approvers: ['approver', 'admin'], mfa: 'none' },
  async plan({ args, services }) {
    const inventory = services.inventory();
    const hosts = resolveHosts(inventory, args.target);
    const address = checkBlockable(args.address, inventory.managementCidrs, blockLimits(services.config));
    return {
      command: 'block-ip',
      args: { target: args.target, address },
      hosts: hosts.map(planHost),
      steps: hosts.flatMap((h) => blockIpPlanSteps(h, address)),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    const address = checkBlockable(
      ctx.args.address,
      ctx.services.inventory().managementCidrs,
      blockLimits(ctx.services.config),
    );
    return runOnHosts(ctx, (host) => blockIpOnHost(job, host, address));
  },
});
