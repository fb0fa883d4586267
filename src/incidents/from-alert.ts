import { messageKey } from '../alerts/relay.js';
import type { CommandServices } from '../core/command.js';
import { UserInputError } from '../errors.js';
import { TITLE_MAX } from './incident.js';
import type { OpenOutcome } from './incident-service.js';

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

/** The reference of an alert ward relayed (the relay's message record), as the **Open incident** button carries it. */
export const ALERT_REF_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The alert behind a reference, read from the relay's own record of it. */
async function relayedAlert(services: CommandServices, ref: string) {
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
 * `incident open --alert <ref>` (what the **Open incident** button asks for): one alert opens one incident however
 * often it is asked, titled and graded after the alert, linked to its message (`at`: where the alert was posted).
 */
export async function openFromAlertRef(
  services: CommandServices,
  input: { requester: string; ref: string; at: { channel: string; ts?: string | undefined } },
): Promise<OpenOutcome> {
  const b = await relayedAlert(services, input.ref);
  const firstSeenMs = b.state.firstSeen === undefined ? undefined : Date.parse(b.state.firstSeen);
  return services.incidents.openFromAlert({
    requester: input.requester,
    title: b.title.slice(0, TITLE_MAX),
    severity: incidentSeverityFor(b.severity),
    originChannel: input.at.channel,
    alert: {
      fingerprint: b.fingerprint,
      title: b.title,
      severity: b.severity,
      host: b.state.inventoryHost ?? b.host,
      source: b.source,
      channel: input.at.channel,
      ts: input.at.ts,
      firstSeenMs: Number.isFinite(firstSeenMs) ? firstSeenMs : undefined,
    },
  });
}
