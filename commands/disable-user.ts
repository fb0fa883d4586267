import { z } from 'zod';
import { hostNameArg } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';
import { NotAvailableError } from '../src/errors.js';

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
  async plan() {
    throw new NotAvailableError('disable-user');
  },
  async execute() {
    throw new NotAvailableError('disable-user');
  },
});
