import type { Services } from '../core/services.js';
import { UserInputError } from '../errors.js';
import { replierFor } from '../slack/app.js';
import { TITLE_MAX } from './incident.js';

/** What the **Open incident** button under an alert carries (`incident.open_alert`). */
export interface OpenIncidentButtonValue {
  fingerprint: string;
  title: string;
  severity?: string | undefined;
  host?: string | undefined;
  source?: string | undefined;
  /** ISO time the alert was first seen: the incident's detection time. */
  firstSeen?: string | undefined;
}

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

function parseValue(value: string): OpenIncidentButtonValue {
  let v: Partial<OpenIncidentButtonValue> | undefined;
  try {
    v = JSON.parse(value) as Partial<OpenIncidentButtonValue>;
  } catch {
    v = undefined;
  }
  if (!v || typeof v.fingerprint !== 'string' || v.fingerprint === '' || typeof v.title !== 'string') {
    throw new UserInputError('That incident button is malformed, so nothing was opened.');
  }
  return v as OpenIncidentButtonValue;
}

/**
 * The incident buttons: **Open incident** under an alert (the clicker's roles decide, as for `/ward incident open`;
 * one alert opens one incident however often it is clicked) and **Retry** under a part-way open.
 */
export function registerIncidentInteractions(services: Services): void {
  const command = () => services.commands.get('incident');
  services.interactions.onAction('incident.open_alert', async (event) => {
    const reply = replierFor(services, {
      user: event.user,
      channel: event.channel ?? '',
      text: '',
      requestId: event.requestId,
      responseUrl: event.responseUrl,
      threadTs: event.messageTs,
    });
    await services.policy.authorize(event.user, command());
    const b = parseValue(event.value);
    const firstSeenMs = b.firstSeen === undefined ? undefined : Date.parse(b.firstSeen);
    const outcome = await services.incidents.openFromAlert({
      requester: event.user,
      title: b.title.slice(0, TITLE_MAX),
      severity: incidentSeverityFor(b.severity),
      originChannel: event.channel ?? '',
      alert: {
        fingerprint: b.fingerprint,
        title: b.title,
        severity: b.severity,
        host: b.host,
        source: b.source,
        channel: event.channel,
        ts: event.messageTs,
        firstSeenMs: Number.isFinite(firstSeenMs) ? firstSeenMs : undefined,
      },
    });
    await services.incidents.reportOpen(outcome, reply);
  });
  services.interactions.onAction('incident.resume', async (event) => {
    const reply = replierFor(services, {
      user: event.user,
      channel: event.channel ?? '',
      text: '',
      requestId: event.requestId,
      responseUrl: event.responseUrl,
    });
    await services.policy.authorize(event.user, command());
    await services.incidents.reportOpen(await services.incidents.resume(event.value), reply);
  });
}
