import { z } from 'zod';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import { releaseHost, releasePlanSteps } from '../src/actions/release.js';
import { hostNameArg, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/** `/ward release <host>`: undo a lockdown (idempotent: says so when the host was not locked down). */
export default defineCommand({
  name: 'release',
  summary: "Lift a lockdown: remove ward's nftables table and restore what was saved",
  usage: 'release <host> --reason "…" [--dry-run]',
  examples: ['release web1 --reason "INC-42 closed, host rebuilt"'],
  kind: 'change',
  args: z.object({ host: hostNameArg }),
  positionals: ['host'],
  policy: {
    allow: ['admin'],
    approvals: 2,
    approvers: ['approver', 'admin'],
    mfa: 'both',
    enforcement: 'hard',
    reason: 'required',
  },
  async plan({ args, services }) {
    const [host] = resolveHosts(services.inventory(), args.host);
    return {
      command: 'release',
      args: { host: args.host },
      hosts: [planHost(host!)],
      steps: releasePlanSteps(host!),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    return runOnHosts(ctx, (host) => releaseHost(job, host, { reason: ctx.flags.reason }));
  },
});
