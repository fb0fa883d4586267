import { z } from 'zod';
import { EVERYONE } from '../src/config/policy.js';
import { RequestStore } from '../src/core/approvals/request-store.js';
import { defineCommand } from '../src/core/command.js';
import { REQUEST_ID_PATTERN } from '../src/core/ids.js';
import { UserInputError } from '../src/errors.js';
import { renderRequestStatus } from '../src/render/status.js';

/**
 * `/ward status <request-id>`: where one request stands, from the stored request (state, votes with who and when,
 * MFA) and its execution record (outcome and every step). Answered ephemerally.
 */
export default defineCommand({
  name: 'status',
  summary: 'Show the state of one request (votes, MFA, execution)',
  usage: 'status <request-id>',
  examples: ['status r-7f3a9c'],
  kind: 'read',
  args: z.object({ id: z.string().regex(REQUEST_ID_PATTERN, 'must be a request id such as r-7f3a9c') }),
  positionals: ['id'],
  policy: { allow: [EVERYONE] },
  async run({ args, reply, services }) {
    const [req, record] = await Promise.all([
      new RequestStore(() => services.store).get(args.id),
      services.executions.get(args.id),
    ]);
    if (!req && !record) {
      throw new UserInputError(
        `There is no request \`${args.id}\`: check the id on the request message (requests are kept 30 days after they end).`,
      );
    }
    await reply.ephemeral(renderRequestStatus(args.id, req, record, services.clock.now()));
  },
});
