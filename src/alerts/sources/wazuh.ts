import { z } from 'zod';
import { optionalString } from '../../config/env-values.js';
import { type Alert, type Severity, stableFingerprint } from '../alert.js';
import { parsePayload, toIsoTime } from '../payload-error.js';
import { defineAlertSource } from './source.js';

/*
 * Wazuh alerts, as the manager writes them to alerts.json and its Integrator hands them to a custom integration
 * (`<integration><name>custom-ward</name>…<alert_format>json</alert_format>`): the script receives the alert file,
 * the api_key and the hook_url, and posts the file unchanged to /alerts/wazuh with `Authorization: Bearer
 * <api_key>` (docs/alerts.md, "Authentication per source").
 */

/** A Wazuh alert; fields ward does not use (compliance mappings, predecoder, previous_output, …) are ignored. */
export const wazuhAlertSchema = z.object({
  /** `2020-04-17T00:25:13.117+0000`. */
  timestamp: z.string(),
  /** The alert's own id, `<epoch seconds>.<offset>`: unique per alert, so not part of the fingerprint. */
  id: z.string().optional(),
  rule: z.object({
    /** 0–15 in the ruleset; the Integrator's `<level>` filter accepts up to 16. */
    level: z.number().int().min(0).max(16),
    description: z.string().min(1),
    /** Wazuh writes it as a string ("5720"); a number is accepted from hand-made senders. */
    id: z.union([z.string().min(1), z.number().int()]).transform(String),
    groups: z.array(z.string()).optional(),
    mitre: z.object({ id: z.array(z.string()).optional() }).optional(),
  }),
  agent: z.object({
    /** "000" is the manager itself. */
    id: z.string().min(1),
    name: z.string().min(1),
    ip: z.string().optional(),
  }),
  manager: z.object({ name: z.string() }).optional(),
  full_log: z.string().optional(),
  decoder: z.object({ name: z.string().optional() }).optional(),
  /** Fields the decoder extracted (srcip, dstuser, …). */
  data: z.record(z.string(), z.unknown()).optional(),
  /** Where the event was read: a log file, `EventChannel`, `journald`, a command's tag. */
  location: z.string().optional(),
});

/**
 * Wazuh rule levels (0–15; see Wazuh's "Rules classification") to ward severities:
 * - 12 and above ("high importance event" up to "severe attack"): critical;
 * - 7 to 11 (bad word matches, first-time-seen events, repeated errors, integrity changes): warning;
 * - 0 to 6 (system notices, low-relevance attacks, single user errors): info.
 */
export function wazuhSeverity(level: number): Severity {
  if (level >= 12) return 'critical';
  if (level >= 7) return 'warning';
  return 'info';
}

function labelValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Parses one Wazuh alert into one firing Alert (Wazuh has no "resolved"):
 * - title: `rule.description`; summary: `full_log` (empty when the alert has none);
 * - severity: `rule.level` through `wazuhSeverity`; host: `agent.name`;
 * - labels: `rule_id`, `rule_level`, `rule_groups` (comma-separated), `mitre` (technique ids), `agent_id`,
 *   `agent_ip`, `manager`, `decoder`, `location`, and each decoded field as `data.<name>`;
 * - fingerprint: `stableFingerprint('wazuh', { rule: rule.id, agent: agent.id, location })`: the same rule firing
 *   again on the same agent for the same log source is the same problem, whatever the log line says this time.
 */
export function parseWazuh(body: unknown): Alert[] {
  const alert = parsePayload('wazuh', wazuhAlertSchema, body);
  const { rule, agent } = alert;
  const labels: Record<string, string> = {
    rule_id: rule.id,
    rule_level: String(rule.level),
    agent_id: agent.id,
  };
  if (rule.groups !== undefined && rule.groups.length > 0) labels['rule_groups'] = rule.groups.join(',');
  if (rule.mitre?.id !== undefined && rule.mitre.id.length > 0) labels['mitre'] = rule.mitre.id.join(',');
  if (agent.ip !== undefined) labels['agent_ip'] = agent.ip;
  if (alert.manager !== undefined) labels['manager'] = alert.manager.name;
  if (alert.decoder?.name !== undefined) labels['decoder'] = alert.decoder.name;
  if (alert.location !== undefined) labels['location'] = alert.location;
  for (const [name, value] of Object.entries(alert.data ?? {})) {
    if (value !== null && value !== undefined) labels[`data.${name}`] = labelValue(value);
  }
  return [
    {
      source: 'wazuh',
      fingerprint: stableFingerprint('wazuh', { rule: rule.id, agent: agent.id, location: alert.location }),
      status: 'firing',
      severity: wazuhSeverity(rule.level),
      title: rule.description,
      summary: alert.full_log ?? '',
      host: agent.name,
      labels,
      startsAt: toIsoTime('wazuh', 'timestamp', alert.timestamp),
      raw: body,
    },
  ];
}

/** The `wazuh` alert source (src/alerts/sources/source.ts). */
export const wazuh = defineAlertSource({
  name: 'wazuh',
  title: "Wazuh (the Integrator's JSON alert, via a custom integration)",
  env: {
    WARD_ALERT_TOKEN_WAZUH: {
      schema: optionalString,
      doc: 'Bearer token for /alerts/wazuh (the api_key of the custom-ward integration).',
      secret: true,
    },
  },
  auth: { kind: 'bearer', token: 'WARD_ALERT_TOKEN_WAZUH' },
  parse: parseWazuh,
});
