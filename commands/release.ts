import { z } from 'zod';
import { hostNameArg } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';
import { NotAvailableError } from '../src/errors.js';

/** `/ward release <host>`: undo a lockdown, restoring the saved ruleset. */
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
  async plan() {
    throw new NotAvailableError('release');
  },
  async execute() {
    throw new NotAvailableError('release');
  },
});
