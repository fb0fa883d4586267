import { z } from 'zod';
import { hostNameArg } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';
import { NotAvailableError } from '../src/errors.js';

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
  async plan() {
    throw new NotAvailableError('kill-process');
  },
  async execute() {
    throw new NotAvailableError('kill-process');
  },
});
