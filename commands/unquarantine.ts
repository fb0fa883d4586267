import { z } from 'zod';
import { readRecord } from '../src/cloud/record.js';
import { cloudTargetArg, isInstanceId, regionArg, resolveCloudTarget } from '../src/cloud/target.js';
import { buildUnquarantinePlan, executeUnquarantine, missingRecordError } from '../src/cloud/unquarantine.js';
import type { CommandServices } from '../src/core/command.js';
import { defineCommand } from '../src/core/command.js';

/**
 * `/ward unquarantine <host|instance-id>`: put back exactly the security groups `quarantine` recorded on each
 * network interface and remove the SecurityStatus and ward:request tags. Refuses, saying what a human must check,
 * when there is no recorded state or the instance changed since it was quarantined. Policy mirrors `release`:
 * lifting isolation of a compromised machine is the riskier direction.
 */
const unquarantine = defineCommand({
  name: 'unquarantine',
  summary:
    'Lift a quarantine: restore the recorded security groups of an EC2 instance and remove the IR tags',
  usage: 'unquarantine <host|instance-id> --reason "…" [--region <region>] [--dry-run]',
  examples: ['unquarantine web1 --reason "INC-42 closed, instance rebuilt"'],
  kind: 'change',
  args: z.object({ target: cloudTargetArg, region: regionArg.optional() }),
  positionals: ['target'],
  options: { region: { key: 'region' } },
  policy: {
    allow: ['admin'],
    approvals: 2,
    approvers: ['approver', 'admin'],
    mfa: 'both',
    enforcement: 'hard',
    reason: 'required',
  },
  async plan({ args, services }) {
    const { target, record } = await resolve(services, args);
    return buildUnquarantinePlan('unquarantine', target, record);
  },
  async execute(ctx) {
    const { target, record } = await resolve(ctx.services, ctx.args);
    return executeUnquarantine(ctx, target, record);
  },
});

async function resolve(services: CommandServices, args: { target: string; region?: string | undefined }) {
  const policy = services.policy.policyFor(unquarantine);
  // An unlisted instance's region defaults to the one recorded at quarantine.
  const recorded = isInstanceId(args.target) ? await readRecord(services.store, args.target) : undefined;
  const target = resolveCloudTarget(
    services.inventory(),
    policy,
    'unquarantine',
    args.target,
    args.region,
    recorded?.region,
  );
  const record = recorded ?? (await readRecord(services.store, target.instanceId));
  if (!record) throw missingRecordError(target);
  return { target, record };
}

export default unquarantine;
