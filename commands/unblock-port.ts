import { z } from 'zod';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import { parsePortSpec, portText, unblockPortOnHost, unblockPortPlanSteps } from '../src/actions/ports.js';
import { hostSelectorArg, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/** `/ward unblock-port <host|tag:…> <port>[/tcp|/udp]`: undo `block-port` (ward's own table only). */
export default defineCommand({
  name: 'unblock-port',
  summary: 'Reopen a port that block-port closed on hosts',
  usage: 'unblock-port <host|host,host|tag:selector> <port>[/tcp|/udp] --reason "…" [--dry-run]',
  examples: ['unblock-port web1 8080 --reason "INC-42 cleaned"'],
  kind: 'change',
  args: z.object({
    target: hostSelectorArg,
    port: z.string().transform((v, ctx) => {
      try {
        return portText(parsePortSpec(v));
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a port 1-65535, optionally /tcp or /udp (e.g. 8080 or 53/udp)',
        });
        return z.NEVER;
      }
    }),
  }),
  positionals: ['target', 'port'],
  policy: {
    allow: ['responder', 'admin'],
    approvals: 1,
    approvers: ['approver', 'admin'],
    mfa: 'none',
    reason: 'required',
  },
  details:
    'Deletes the port from table inet ward_ports; a port ward had not closed is reported, not an error.',
  async plan({ args, services }) {
    const hosts = resolveHosts(services.inventory(), args.target);
    const spec = parsePortSpec(args.port);
    return {
      command: 'unblock-port',
      args: { target: args.target, port: portText(spec) },
      hosts: hosts.map(planHost),
      steps: hosts.flatMap((h) => unblockPortPlanSteps(h, spec)),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    const spec = parsePortSpec(ctx.args.port);
    return runOnHosts(ctx, (host) => unblockPortOnHost(job, host, spec));
  },
});
