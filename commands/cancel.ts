import { z } from 'zod';
import { EVERYONE } from '../src/config/policy.js';
import { defineCommand } from '../src/core/command.js';
import { REQUEST_ID_PATTERN } from '../src/core/ids.js';

/**
 * `/ward cancel <request-id>`: withdraws a pending request. Anyone may type it, but the gate only lets the
 * requester cancel (approvers deny instead); the request's message then shows it was cancelled.
 */
export default defineCommand({
  name: 'cancel',
  summary: 'Withdraw one of your pending requests',
  usage: 'cancel <request-id>',
  examples: ['cancel r-7f3a9c'],
  kind: 'read',
  args: z.object({ id: z.string().regex(REQUEST_ID_PATTERN, 'must be a request id such as r-7f3a9c') }),
  positionals: ['id'],
  policy: { allow: [EVERYONE] },
  async run({ args, invocation, reply, services }) {
    await services.requests.cancel(args.id, invocation.user);
    await reply.ephemeral({ text: `Request \`${args.id}\` is cancelled; nothing was run.` });
  },
});
