import { z } from 'zod';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import {
  blockPortOnHost,
  blockPortPlanSteps,
  checkClosable,
  parsePortSpec,
  portText,
} from '../src/actions/ports.js';
import { hostSelectorArg, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/** `/ward block-port <host|tag:…> <port>[/tcp|/udp]`: drop inbound traffic to a port in ward's own nftables table. */
export default defineCommand({
  name: 'block-port',
  summary:
    "Close an inbound port on hosts (ward's nftables table inet ward_ports); never the SSH port ward uses",
  usage: 'block-port <host|host,host|tag:selector> <port>[/tcp|/udp] --reason "…" [--dry-run]',
  examples: [
    'block-port web1 8080 --reason "INC-42 implant listener"',
    'block-port tag:web 53/udp --reason "…"',
  ],
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
    "Adds the port to a set of table inet ward_ports (created if missing), whose input chain drops it; the SSH port ward manages a host through is refused. `unblock-port` removes it again. ward never edits anyone else's rules.",
  async plan({ args, services }) {
    const hosts = resolveHosts(services.inventory(), args.target);
    const spec = parsePortSpec(args.port);
    checkClosable(spec, hosts);
    return {
      command: 'block-port',
      args: { target: args.target, port: portText(spec) },
      hosts: hosts.map(planHost),
      steps: hosts.flatMap((h) => blockPortPlanSteps(h, spec)),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    const spec = parsePortSpec(ctx.args.port);
    return runOnHosts(ctx, (host) => {
      checkClosable(spec, [host]);
      return blockPortOnHost(job, host, spec);
    });
  },
});
