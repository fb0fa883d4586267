import { z } from 'zod';
import { optionalString } from '../../config/env-values.js';
import {
  type Alert,
  type AlertSource,
  hostFromInstance,
  severityFromLabel,
  stableFingerprint,
} from '../alert.js';
import { optionalEndTime, parsePayload, toIsoTime } from '../payload-error.js';
import { defineAlertSource } from './source.js';

const stringMap = z.record(z.string(), z.string());

/** One alert of an Alertmanager-style group notification (shared with Grafana, which extends it). */
export const alertmanagerAlertSchema = z.object({
  /** Absent in some older senders: the group's status applies. */
  status: z.enum(['firing', 'resolved']).optional(),
  labels: stringMap,
  annotations: stringMap.default({}),
  startsAt: z.string(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  /** Since Alertmanager 0.19 (2019); the captured 2019 sample predates it. */
  fingerprint: z.string().min(1).optional(),
});

/** Alertmanager webhook body, version "4" (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export const alertmanagerPayloadSchema = z.object({
  version: z.literal('4'),
  groupKey: z.string().optional(),
  /** Since Alertmanager 0.22; how many alerts `max_alerts` cut off. */
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupLabels: stringMap.optional(),
  commonLabels: stringMap.optional(),
  commonAnnotations: stringMap.optional(),
  externalURL: z.string().optional(),
  alerts: z.array(alertmanagerAlertSchema),
});

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayloadSchema>;
type GroupAlert = z.infer<typeof alertmanagerAlertSchema>;

/**
 * Normalizes one alert of an Alertmanager-style group. Shared by Alertmanager and Grafana:
 * - title: the `alertname` label; summary: the `summary` annotation (or label) and the `description`
 *   annotation, one per line;
 * - severity: the `severity` label through `severityFromLabel` (critical/error/warning/info and common
 *   synonyms such as major/minor), warning when absent;
 * - host: the `host`, `hostname` or `nodename` label, else the `instance` label without its port;
 * - fingerprint: the alert's own `fingerprint`, else `stableFingerprint(source, labels)` (Alertmanager's own
 *   fingerprint is also a hash of the label set, so the identity is the same).
 */
export function normalizeGroupAlert(
  source: AlertSource,
  alert: GroupAlert,
  groupStatus: 'firing' | 'resolved',
  index: number,
  link: string | undefined,
): Alert {
  const { labels, annotations } = alert;
  const summaryLine = annotations['summary'] ?? labels['summary'];
  const description = annotations['description'];
  const summary = [summaryLine, description]
    .filter((s): s is string => s !== undefined && s !== '')
    .filter((s, i, all) => all.indexOf(s) === i)
    .join('\n');
  const host =
    labels['host'] ?? labels['hostname'] ?? labels['nodename'] ?? hostFromInstance(labels['instance']);
  const endsAt = optionalEndTime(source, `alerts[${index}].endsAt`, alert.endsAt);
  return {
    source,
    fingerprint: alert.fingerprint ?? stableFingerprint(source, labels),
    status: alert.status ?? groupStatus,
    severity: severityFromLabel(labels['severity']),
    title: labels['alertname'] ?? 'Unnamed alert',
    summary,
    ...(host === undefined || host === '' ? {} : { host }),
    labels: { ...labels },
    startsAt: toIsoTime(source, `alerts[${index}].startsAt`, alert.startsAt),
    ...(endsAt === undefined ? {} : { endsAt }),
    ...(link === undefined || link === '' ? {} : { link }),
    raw: alert,
  };
}

/** Parses an Alertmanager webhook body into one Alert per entry of `alerts`. Throws PayloadError. */
export function parseAlertmanager(body: unknown): Alert[] {
  const payload = parsePayload('alertmanager', alertmanagerPayloadSchema, body);
  return payload.alerts.map((alert, i) =>
    normalizeGroupAlert('alertmanager', alert, payload.status, i, alert.generatorURL),
  );
}

/** The `alertmanager` alert source (src/alerts/sources/source.ts). */
export const alertmanager = defineAlertSource({
  name: 'alertmanager',
  title: 'Prometheus Alertmanager (webhook, version 4)',
  env: {
    WARD_ALERT_TOKEN_ALERTMANAGER: {
      schema: optionalString,
      doc: 'Bearer token for /alerts/alertmanager. Each source has its own; a source without a token is disabled.',
      secret: true,
    },
  },
  auth: { kind: 'bearer', token: 'WARD_ALERT_TOKEN_ALERTMANAGER' },
  parse: parseAlertmanager,
});
