import type { AlertRelay } from '../alerts/relay.js';
import { resolveSuggestButton, suggestionText } from '../alerts/suggest.js';
import { openRequest } from '../core/requests/open-request.js';
import type { Services } from '../core/services.js';
import type { InteractionRouter } from './interactions.js';

/**
 * A click on a suggested action (`alert.suggest.<command>`) opens a ward request as the person who clicked, exactly
 * as if they had typed `/ward <command> <host> --reason "alert <title> (<fingerprint>)"` (a hunt: `/ward hunt all
 * <indicators…>`): their roles, the command's
 * approvals and MFA apply unchanged. Replies thread under the alert message.
 */
export function registerAlertButtons(
  router: InteractionRouter,
  services: () => Services,
  /** The alert relay, once alerts are on: the alert's message then says what was asked of it. */
  relay: () => Pick<AlertRelay, 'noteRequest'> | undefined = () => undefined,
): void {
  router.onAction('alert.suggest.', async (event) => {
    const s = services();
    const button = await resolveSuggestButton(s.store, event.actionId, event.value);
    s.log.info(
      { requestId: event.requestId, user: event.user, command: button.command, host: button.host },
      'alert button: opening a request',
    );
    const outcome = await openRequest(s, {
      origin: { kind: 'person', user: event.user },
      ask: { text: suggestionText(button) },
      replyTo: {
        channel: event.channel ?? '',
        threadTs: event.messageTs,
        responseUrl: event.responseUrl,
        triggerId: event.triggerId,
      },
      correlationId: event.requestId,
    });
    // The request itself is in the alert's thread; the alert says it was asked, so the next responder sees it.
    const r = relay();
    if (outcome.status === 'submitted' && button.ref !== undefined && r) {
      await r
        .noteRequest(button.ref, { command: button.command, user: event.user })
        .catch((err) => s.log.warn({ err }, 'could not note the request on the alert message'));
    }
  });
}
