import { z } from 'zod';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import { lockdownHost, lockdownPlanSteps } from '../src/actions/lockdown.js';
import { hostListArg, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/**
 * `/ward lockdown <host>`: evidence first, then drop all inbound traffic except established flows and SSH from the
 * management CIDRs, commit-confirmed: the host reverts by itself unless ward gets back in over a new connection.
 */
export default defineCommand({
  name: 'lockdown',
  summary: 'Isolate a host with nftables: only management keeps SSH (evidence is collected first)',
  usage: 'lockdown <host|host,host> --reason "…" [--dry-run]',
  examples: ['lockdown web1 --reason "INC-42: outbound to known C2"', 'lockdown web1 --dry-run'],
  kind: 'change',
  // One host, or an explicit list (a hunt's hits): one plan and one approval for all of them. Never a tag: a
  // lockdown names every host it isolates.
  args: z.object({ host: hostListArg }),
  positionals: ['host'],
  policy: {
    allow: ['responder', 'admin'],
    approvals: 1,
    approvers: ['approver', 'admin'],
    mfa: 'requester',
    enforcement: 'hard',
    reason: 'required',
  },
  details:
    'Collects forensics, saves `nft list ruleset`, starts a watchdog on the host that deletes the table after WARD_LOCKDOWN_CONFIRM_SECONDS, applies table inet ward_lockdown atomically, opens a NEW SSH connection and only then cancels the watchdog. If ward cannot get back in, the host reverts by itself and ward says so.',
  async plan({ args, services }) {
    const inventory = services.inventory();
    const hosts = resolveHosts(inventory, args.host);
    return {
      command: 'lockdown',
      args: { host: args.host },
      hosts: hosts.map(planHost),
      steps: hosts.flatMap((host) =>
        lockdownPlanSteps(
          host,
          inventory.managementCidrs,
          inventory.forensicsHashPaths,
          services.config.WARD_LOCKDOWN_CONFIRM_SECONDS,
        ),
      ),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    return runOnHosts(ctx, (host) =>
      lockdownHost(job, host, { reason: ctx.flags.reason, signal: ctx.signal }),
    );
  },
});
