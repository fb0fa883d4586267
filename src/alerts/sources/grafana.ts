import { z } from 'zod';
import { optionalString } from '../../config/env-values.js';
import type { Alert } from '../alert.js';
import { parsePayload } from '../payload-error.js';
import { alertmanagerAlertSchema, normalizeGroupAlert } from './alertmanager.js';
import { defineAlertSource } from './source.js';

const stringMap = z.record(z.string(), z.string());

/**
 * Grafana-managed alerting webhook body, `"version": "1"` (Grafana 8+ unified alerting; see the webhook
 * notifier page of Grafana's docs). The alerts are Alertmanager's with a few links and the query values added.
 */
export const grafanaPayloadSchema = z.object({
  version: z.literal('1'),
  receiver: z.string().optional(),
  status: z.enum(['firing', 'resolved']),
  orgId: z.number().optional(),
  groupKey: z.string().optional(),
  groupLabels: stringMap.optional(),
  commonLabels: stringMap.optional(),
  commonAnnotations: stringMap.optional(),
  externalURL: z.string().optional(),
  truncatedAlerts: z.number().int().min(0).optional(),
  title: z.string().optional(),
  state: z.string().optional(),
  message: z.string().optional(),
  alerts: z.array(
    alertmanagerAlertSchema.extend({
      silenceURL: z.string().optional(),
      dashboardURL: z.string().optional(),
      panelURL: z.string().optional(),
      values: z.record(z.string(), z.number()).nullable().optional(),
    }),
  ),
});

/**
 * Parses a Grafana alerting webhook body into one Alert per entry of `alerts`; normalized as Alertmanager alerts
 * are (see `normalizeGroupAlert`). The link is the panel, else the dashboard, else the alert rule (Grafana sends
 * empty strings for links it does not have).
 */
export function parseGrafana(body: unknown): Alert[] {
  const payload = parsePayload('grafana', grafanaPayloadSchema, body);
  return payload.alerts.map((alert, i) => {
    const link = [alert.panelURL, alert.dashboardURL, alert.generatorURL].find(
      (u) => u !== undefined && u !== '',
    );
    return normalizeGroupAlert('grafana', alert, payload.status, i, link);
  });
}

/** The `grafana` alert source (src/alerts/sources/source.ts). */
export const grafana = defineAlertSource({
  name: 'grafana',
  title: 'Grafana alerting (webhook contact point)',
  env: {
    WARD_ALERT_TOKEN_GRAFANA: {
      schema: optionalString,
      doc: 'Bearer token for /alerts/grafana.',
      secret: true,
    },
  },
  auth: { kind: 'bearer', token: 'WARD_ALERT_TOKEN_GRAFANA' },
  parse: parseGrafana,
});
