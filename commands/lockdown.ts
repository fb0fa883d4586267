import { z } from 'zod';
import { hostNameArg } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';
import { NotAvailableError } from '../src/errors.js';

/** `/ward lockdown <host>`: evidence first, then drop all inbound traffic except management SSH. */
export default defineCommand({
  name: 'lockdown',
  summary: 'Isolate a host with nftables: only management keeps SSH (evidence is collected first)',
  usage: 'lockdown <host> --reason "…" [--dry-run]',
  examples: ['lockdown web1 --reason "INC-42: outbound to known C2"', 'lockdown web1 --dry-run'],
  kind: 'change',
  args: z.object({ host: hostNameArg }),
  positionals: ['host'],
  policy: {
    allow: ['responder', 'admin'],
    approvals: 1,
    approvers: ['approver', 'admin'],
    mfa: 'requester',
    enforcement: 'hard',
    reason: 'required',
  },
  async plan() {
    throw new NotAvailableError('lockdown');
  },
  async execute() {
    throw new NotAvailableError('lockdown');
  },
});
