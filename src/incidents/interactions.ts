import { messageKey } from '../alerts/relay.js';
import type { CommandServices } from '../core/command.js';
import { replierFor } from '../core/requests/replier.js';
import { UserInputError } from '../errors.js';
import type { InteractionRouter } from '../slack/interactions.js';
import { TITLE_MAX } from './incident.js';

/** Alert severities mapped onto incident severities (a person can change it at once with `/ward incident severity`). */
export function incidentSeverityFor(alertSeverity: string | undefined): 'sev1' | 'sev2' | 'sev3' | 'sev4' {
  switch (alertSeverity) {
    case 'critical':
      return 'sev1';
    case 'error':
      return 'sev2';
    case 'warning':
      return 'sev3';
    default:
      return 'sev4';
  }
}

const REF_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The alert behind an **Open incident** button (`{ ref }`), read from the relay's own record of it. */
async function alertOfButton(services: CommandServices, value: string) {
  let ref: unknown;
  try {
    ref = (JSON.parse(value) as { ref?: unknown }).ref;
  } catch {
    ref = undefined;
  }
  if (typeof ref !== 'string' || !REF_PATTERN.test(ref)) {
    throw new UserInputError('That incident button is malformed, so nothing was opened.');
  }
  const raw = await services.store.get(messageKey(ref));
  const record = (raw === null ? null : JSON.parse(raw)) as {
    kind?: string;
    alert?: { fingerprint?: unknown; title?: unknown; severity?: string; source?: string; host?: string };
    state?: { inventoryHost?: string; firstSeen?: string };
  } | null;
  const alert = record?.alert;
  if (
    record?.kind !== 'message' ||
    typeof alert?.fingerprint !== 'string' ||
    typeof alert.title !== 'string'
  ) {
    throw new UserInputError(
      'ward no longer keeps this alert (alerts are kept for their rule\'s dedupe window plus a day), so nothing was opened. Type `/ward incident open "…"` instead.',
    );
  }
  return { ...alert, fingerprint: alert.fingerprint, title: alert.title, state: record.state ?? {} };
}

/**
 * The incident buttons: **Open incident** under an alert (the clicker's roles decide, as for `/ward incident open`;
 * one alert opens one incident however often it is clicked) and **Retry** under a part-way open.
 */
export function registerIncidentInteractions(router: InteractionRouter, deps: () => CommandServices): void {
  const command = () => deps().commands.get('incident');
  router.onAction('incident.open_alert', async (event) => {
    const services = deps();
    const reply = replierFor(services.chat, {
      person: event.user,
      channel: event.channel ?? '',
      responseUrl: event.responseUrl,
      threadTs: event.messageTs,
    });
    await services.policy.authorize(event.user, command());
    const b = await alertOfButton(services, event.value);
    const firstSeenMs = b.state.firstSeen === undefined ? undefined : Date.parse(b.state.firstSeen);
    const outcome = await services.incidents.openFromAlert({
      requester: event.user,
      title: b.title.slice(0, TITLE_MAX),
      severity: incidentSeverityFor(b.severity),
      originChannel: event.channel ?? '',
      alert: {
        fingerprint: b.fingerprint,
        title: b.title,
        severity: b.severity,
        host: b.state.inventoryHost ?? b.host,
        source: b.source,
        channel: event.channel,
        ts: event.messageTs,
        firstSeenMs: Number.isFinite(firstSeenMs) ? firstSeenMs : undefined,
      },
    });
    await services.incidents.reportOpen(outcome, reply);
  });
  router.onAction('incident.resume', async (event) => {
    const services = deps();
    const reply = replierFor(services.chat, {
      person: event.user,
      channel: event.channel ?? '',
      responseUrl: event.responseUrl,
    });
    await services.policy.authorize(event.user, command());
    await services.incidents.reportOpen(await services.incidents.resume(event.value), reply);
  });
}
