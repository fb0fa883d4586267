import { z } from 'zod';
import { buildQuarantinePlan, executeQuarantine } from '../src/cloud/quarantine.js';
import { cloudTargetArg, regionArg, resolveCloudTarget } from '../src/cloud/target.js';
import type { CommandServices } from '../src/core/command.js';
import { defineCommand } from '../src/core/command.js';

/**
 * `/ward quarantine <host|instance-id>`: isolate an EC2 instance from the outside. Records its groups and tags,
 * tags it `SecurityStatus=IR` (the IAM tag-deny policy then freezes it for everyone but responders), moves every
 * network interface into a per-VPC isolation group (inbound SSH from management only, no outbound) and, with
 * `--snapshot`, snapshots its EBS volumes as evidence. `unquarantine` undoes it from the recorded state.
 */
const quarantine = defineCommand({
  name: 'quarantine',
  summary:
    'Isolate an EC2 instance: tag it SecurityStatus=IR, move it into an isolation security group, optionally snapshot its volumes',
  usage: 'quarantine <host|instance-id> --reason "…" [--snapshot] [--region <region>] [--dry-run]',
  examples: [
    'quarantine web1 --reason "INC-42: outbound to known C2" --snapshot',
    'quarantine i-0abc12345def67890 --region eu-west-1 --reason "GuardDuty finding" --dry-run',
  ],
  details:
    'The instance keeps running; existing connections may survive the group change until they close (security groups track connections). ' +
    'An instance id outside the inventory needs `allowUnlisted: true` in the policy and --region. `unquarantine` restores exactly the recorded groups.',
  kind: 'change',
  args: z.object({
    target: cloudTargetArg,
    region: regionArg.optional(),
    snapshot: z.boolean().default(false),
  }),
  positionals: ['target'],
  options: { region: { key: 'region' }, snapshot: { key: 'snapshot', boolean: true } },
  policy: {
    allow: ['responder', 'admin'],
    approvals: 1,
    approvers: ['approver', 'admin'],
    mfa: 'requester',
    enforcement: 'hard',
    reason: 'required',
  },
  async plan({ args, services }) {
    const { target, managementCidrs } = resolve(services, args);
    return buildQuarantinePlan('quarantine', target, managementCidrs, { snapshot: args.snapshot });
  },
  async execute(ctx) {
    const { target, managementCidrs } = resolve(ctx.services, ctx.args);
    return executeQuarantine(ctx, target, managementCidrs, { snapshot: ctx.args.snapshot });
  },
});

/** The instance to quarantine, against one read of the inventory (plan and execute resolve it alike). */
function resolve(services: CommandServices, args: { target: string; region?: string | undefined }) {
  const inventory = services.inventory();
  const policy = services.policy.policyFor(quarantine);
  const target = resolveCloudTarget(inventory, policy, 'quarantine', args.target, args.region);
  return { target, managementCidrs: inventory.managementCidrs };
}

export default quarantine;
