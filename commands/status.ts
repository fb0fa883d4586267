import { z } from 'zod';
import { EVERYONE } from '../src/config/policy.js';
import { TamperedRequestError } from '../src/core/approvals/request-seal.js';
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
    const [read, record] = await Promise.all([
      services.requests.get(args.id).then(
        (req) => ({ req, refused: undefined }),
        (err: unknown) => {
          if (err instanceof TamperedRequestError) return { req: undefined, refused: err };
          throw err;
        },
      ),
      services.executions.get(args.id),
    ]);
    const { req, refused } = read;
    // A request record that fails its seal check is never shown as ward's; its execution record, if any, still is.
    if (refused && !record) throw refused;
    if (!req && !record) {
      throw new UserInputError(
        `There is no request \`${args.id}\`: check the id on the request message (requests are kept 30 days after they end).`,
      );
    }
    const shown = renderRequestStatus(args.id, req, record, services.clock.now());
    if (!refused) return reply.ephemeral(shown);
    const warning = `:rotating_light: The stored request \`${args.id}\` fails its seal check (${refused.problem}), so only its execution record is shown.`;
    await reply.ephemeral({
      ...shown,
      text: `${warning} ${shown.text}`,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: warning } }, ...(shown.blocks ?? [])],
    });
  },
});
