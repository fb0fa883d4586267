import { z } from 'zod';
import { hostSelectorArg } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';
import { NotAvailableError } from '../src/errors.js';

/** `/ward forensics <host|tag:…>`: collect evidence from hosts without changing them. */
export default defineCommand({
  name: 'forensics',
  summary: 'Collect evidence (users, processes, sockets, files, hashes, logs) from hosts, changing nothing',
  usage: 'forensics <host|tag:selector> [--reason "…"]',
  examples: ['forensics web1', 'forensics tag:web --reason "INC-42 beaconing"'],
  kind: 'change',
  args: z.object({ target: hostSelectorArg }),
  positionals: ['target'],
  policy: { allow: ['responder', 'approver', 'admin'], approvals: 0, mfa: 'none', auto: true },
  async plan() {
    throw new NotAvailableError('forensics');
  },
  async execute() {
    throw new NotAvailableError('forensics');
  },
});
