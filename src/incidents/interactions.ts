import { openRequest, type RequestInput } from '../core/requests/open-request.js';
import type { Services } from '../core/services.js';
import { UserInputError } from '../errors.js';
import type { ActionEvent, InteractionRouter } from '../slack/interactions.js';
import { ALERT_REF_PATTERN } from './from-alert.js';

/** The alert reference an **Open incident** button carries (`{ ref }`); a malformed one opens nothing. */
function refOfButton(value: string): string {
  let ref: unknown;
  try {
    ref = (JSON.parse(value) as { ref?: unknown }).ref;
  } catch {
    ref = undefined;
  }
  if (typeof ref !== 'string' || !ALERT_REF_PATTERN.test(ref)) {
    throw new UserInputError('That incident button is malformed, so nothing was opened.');
  }
  return ref;
}

/**
 * What an incident button asks for, through the one pipeline, as the person who clicked: **Open incident** under
 * an alert is `incident open --alert <ref>` (answered in the alert's thread), **Retry** under a part-way open is
 * `incident resume INC-<n>`. Their roles decide, as for the typed command.
 */
export function incidentButtonRequest(event: ActionEvent): RequestInput {
  // Arguments as data, never re-parsed from text: a button's value cannot smuggle flags in.
  const open = event.actionId === 'incident.open_alert';
  const args = open
    ? { action: 'open', alert: refOfButton(event.value) }
    : { action: 'resume', subject: event.value };
  return {
    origin: { kind: 'person', user: event.user },
    ask: {
      command: 'incident',
      args,
      text: open ? `incident open --alert ${args.alert}` : `incident resume ${event.value}`,
    },
    replyTo: {
      channel: event.channel ?? '',
      threadTs: open ? event.messageTs : undefined,
      responseUrl: event.responseUrl,
      triggerId: event.triggerId,
    },
    correlationId: event.requestId,
  };
}

/**
 * The incident buttons: **Open incident** under an alert (one alert opens one incident however often it is clicked)
 * and **Retry** under a part-way open. Neither decides anything: both ask the pipeline for the `incident` command.
 */
export function registerIncidentInteractions(router: InteractionRouter, deps: () => Services): void {
  for (const actionId of ['incident.open_alert', 'incident.resume']) {
    router.onAction(actionId, async (event) => {
      await openRequest(deps(), incidentButtonRequest(event));
    });
  }
}
