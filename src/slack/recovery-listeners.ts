import { REQUEST_ID_PATTERN } from '../core/approvals/request.js';
import { newCorrelationId } from '../core/ids.js';
import { openRequest } from '../core/requests/open-request.js';
import type { Services } from '../core/services.js';
import { UserInputError } from '../errors.js';
import { withRequestId } from '../log.js';
import type { InteractionRouter } from './interactions.js';

/**
 * `recovery.rerun`: asks for an interrupted command again, as a new request from the person who clicked, through the
 * request pipeline (parse, permission, plan, approvals). The old request is never re-run; its sealed record must be
 * intact and name the same command text as the execution record.
 */
export function registerRecoveryListeners(router: InteractionRouter, services: () => Services): void {
  router.onAction('recovery.', async (event) => {
    if (event.actionId !== 'recovery.rerun') return;
    const s = services();
    if (!REQUEST_ID_PATTERN.test(event.value))
      throw new UserInputError('That button does not name a request.');
    const record = await s.executions.get(event.value);
    if (!record) {
      throw new UserInputError(
        `Request ${event.value} is no longer on record (records are kept 30 days); run the command again with /ward.`,
      );
    }
    if (record.state !== 'interrupted') {
      throw new UserInputError(
        `Request ${record.requestId} was not interrupted; there is nothing to re-run.`,
      );
    }
    // The request it came from, checked (a record changed outside ward throws, answered and reported): what is asked
    // again must be what was approved then, not text someone put in the execution record since.
    const req = await s.requests.get(record.requestId);
    if (req && (req.text ?? req.command) !== record.text) {
      throw new UserInputError(
        `The execution record of ${record.requestId} no longer matches its approved request, so ward will not ask for it again. Nothing was run; run the command again with /ward.`,
      );
    }
    const correlationId = newCorrelationId();
    await s.audit.record({
      type: 'execution.rerun_requested',
      actor: event.user,
      requestId: record.requestId,
      command: record.command,
      hosts: record.hosts,
      details: { newRequest: correlationId },
    });
    s.log.info(
      { interrupted: record.requestId, newRequest: correlationId },
      're-run asked for: a new request goes through the gate',
    );
    await s.chat
      .postMessage(
        record.thread.channel,
        { text: `<@${event.user}> asked to run this again: it goes through approval as a new request.` },
        { threadTs: record.thread.ts },
      )
      .catch((err) => s.log.warn({ err }, 'could not note the re-run in the thread'));
    await withRequestId(correlationId, () =>
      openRequest(s, {
        origin: { kind: 'person', user: event.user },
        ask: { text: record.text },
        replyTo: { channel: record.thread.channel, responseUrl: event.responseUrl },
        correlationId,
      }),
    );
  });
}
