import { z } from 'zod';
import { checkDisablable, disableUserOnHost, disableUserPlanSteps } from '../src/actions/contain.js';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import { hostNameArg, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/** `/ward disable-user <host> <user>`: lock and expire an account and end its sessions. */
export default defineCommand({
  name: 'disable-user',
  summary: 'Lock and expire a local account on a host and end its sessions',
  usage: 'disable-user <host> <user> --reason "…" [--dry-run]',
  examples: ['disable-user web1 deploy --reason "stolen key"'],
  kind: 'change',
  args: z.object({
    host: hostNameArg,
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Unix user name (lowercase, digits, _ and -)'),
  }),
  positionals: ['host', 'user'],
  policy: { allow: ['responder', 'admin'], approvals: 1, approvers: ['approver', 'admin'], mfa: 'requester' },
  async plan({ args, services }) {
    const [host] = resolveHosts(services.inventory(), args.host);
    const user = checkDisablable(args.user, host!);
    return {
      command: 'disable-user',
      args: { host: args.host, user },
      hosts: [planHost(host!)],
      steps: disableUserPlanSteps(host!, user),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    return runOnHosts(ctx, (host) => disableUserOnHost(job, host, ctx.args.user));
  },
});
