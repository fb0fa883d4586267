import { z } from 'zod';
import { killProcessOnHost, killProcessPlanSteps } from '../src/actions/contain.js';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import { hostNameArg, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/** `/ward kill-process <host> <pid>`: record the process as evidence, then kill it. */
export default defineCommand({
  name: 'kill-process',
  summary: 'Record a process (command line, executable hash, open files) as evidence, then kill it',
  usage: 'kill-process <host> <pid> --reason "…" [--dry-run]',
  examples: ['kill-process web1 4242 --reason "cryptominer"'],
  kind: 'change',
  args: z.object({
    host: hostNameArg,
    pid: z
      .string()
      .regex(/^[1-9][0-9]{0,6}$/, 'must be a process id (a positive whole number)')
      .transform(Number)
      .refine((n) => n > 1 && n <= 4_194_304, 'must be a process id between 2 and 4194304'),
  }),
  positionals: ['host', 'pid'],
  policy: { allow: ['responder', 'admin'], approvals: 1, approvers: ['approver', 'admin'], mfa: 'requester' },
  async plan({ args, services }) {
    const [host] = resolveHosts(services.inventory(), args.host);
    return {
      command: 'kill-process',
      args: { host: args.host, pid: args.pid },
      hosts: [planHost(host!)],
      steps: killProcessPlanSteps(host!, String(args.pid)),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    return runOnHosts(ctx, (host) => killProcessOnHost(job, host, ctx.args.pid));
  },
});
