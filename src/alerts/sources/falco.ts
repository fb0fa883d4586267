import { z } from 'zod';
import { optionalString } from '../../config/env-values.js';
import { type Alert, type Severity, stableFingerprint } from '../alert.js';
import { parsePayload, toIsoTime } from '../payload-error.js';
import { defineAlertSource } from './source.js';

/**
 * Falco's priorities, most severe first, and the severity each becomes:
 * Emergency, Alert, Critical → critical; Error → error; Warning → warning; Notice, Informational, Debug → info.
 * Falco writes them capitalized; falcosidekick and hand-written senders often lowercase them, so the match is
 * case-insensitive (`info` is accepted for Informational).
 */
const falcoPriorities: Record<string, Severity> = {
  emergency: 'critical',
  alert: 'critical',
  critical: 'critical',
  error: 'error',
  warning: 'warning',
  notice: 'info',
  informational: 'info',
  info: 'info',
  debug: 'info',
};

/** Falco's JSON output (`json_output: true`), as Falco's http_output and falcosidekick's webhook forward it. */
export const falcoPayloadSchema = z.object({
  output: z.string(),
  priority: z.string().refine((p) => p.toLowerCase() in falcoPriorities, {
    message:
      'expected a Falco priority (Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)',
  }),
  rule: z.string().min(1),
  time: z.string(),
  output_fields: z.record(z.string(), z.unknown()).default({}),
  source: z.string().optional(),
  tags: z.array(z.string()).optional(),
  hostname: z.string().optional(),
  uuid: z.string().optional(),
});

function labelValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Parses one Falco event into one firing Alert (Falco has no "resolved").
 * - title: the rule; summary: the output without Falco's leading `HH:MM:SS.nnnnnnnnn: Priority ` prefix;
 * - host: `hostname` (Falco ≥ 0.31 and falcosidekick add it), else the `hostname` output field;
 * - labels: every output field (stringified), plus `rule`, `priority`, `source` and `tags` (comma-separated);
 * - fingerprint: `stableFingerprint('falco', { rule, host, container })` with container = `container.id`:
 *   the same rule firing again on the same host (and container) is the same problem for dedupe, whatever pid or
 *   file it names this time; the latest output shows in the update.
 */
export function parseFalco(body: unknown): Alert[] {
  const event = parsePayload('falco', falcoPayloadSchema, body);
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.output_fields)) {
    const v = labelValue(value);
    if (v !== undefined) labels[key] = v;
  }
  labels['rule'] = event.rule;
  labels['priority'] = event.priority;
  if (event.source !== undefined) labels['source'] = event.source;
  if (event.tags !== undefined && event.tags.length > 0) labels['tags'] = event.tags.join(',');

  const hostHint = event.hostname ?? labelValue(event.output_fields['hostname']);
  const host = hostHint === undefined || hostHint === '' ? undefined : hostHint;
  const summary = event.output.replace(/^\d{2}:\d{2}:\d{2}\.\d+: [A-Za-z]+ /, '');
  return [
    {
      source: 'falco',
      fingerprint: stableFingerprint('falco', {
        rule: event.rule,
        host,
        container: labelValue(event.output_fields['container.id']),
      }),
      status: 'firing',
      severity: falcoPriorities[event.priority.toLowerCase()] ?? 'warning',
      title: event.rule,
      summary,
      ...(host === undefined ? {} : { host }),
      labels,
      startsAt: toIsoTime('falco', 'time', event.time),
      raw: body,
    },
  ];
}

/** The `falco` alert source (src/alerts/sources/source.ts). */
export const falco = defineAlertSource({
  name: 'falco',
  title: "Falco (http_output or falcosidekick's webhook)",
  env: {
    WARD_ALERT_TOKEN_FALCO: {
      schema: optionalString,
      doc: 'Bearer token for /alerts/falco.',
      secret: true,
    },
  },
  auth: { kind: 'bearer', token: 'WARD_ALERT_TOKEN_FALCO' },
  parse: parseFalco,
});
