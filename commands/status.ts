import { z } from 'zod';
import { EVERYONE } from '../src/config/policy.js';
import { defineCommand } from '../src/core/command.js';
import { NotAvailableError } from '../src/errors.js';

/** `/ward status <request-id>`: where one request stands. */
export default defineCommand({
  name: 'status',
  summary: 'Show the state of one request (votes, MFA, execution)',
  usage: 'status <request-id>',
  examples: ['status r-7f3a9c'],
  kind: 'read',
  args: z.object({ id: z.string().regex(/^r-[a-z0-9]{4,16}$/, 'must be a request id such as r-7f3a9c') }),
  positionals: ['id'],
  policy: { allow: [EVERYONE] },
  async run() {
    throw new NotAvailableError('status');
  },
});
