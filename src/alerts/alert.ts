import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AlertSource } from './sources/registry.js';

/*
 * The one shape every alert source is normalized into. The sources' parsers (src/alerts/sources/) produce it; the
 * rules engine, dedupe and the Slack renderer only ever see this.
 */

/** A source's name; the list is src/alerts/sources/index.ts. */
export type { AlertSource };

export const alertStatuses = ['firing', 'resolved'] as const;
export type AlertStatus = (typeof alertStatuses)[number];

/** Ordered from least to most severe: rules compare severities by this order (`severity: { gte: warning }`). */
export const severities = ['info', 'warning', 'error', 'critical'] as const;
export type Severity = (typeof severities)[number];

export const alertSchema = z.object({
  /**
   * One of the sources in src/alerts/sources/index.ts. Checked here as a non-empty string only: a runtime import of
   * the list into this file would be an import cycle (every source imports alert.ts).
   */
  source: z.custom<AlertSource>((v) => typeof v === 'string' && v !== '', 'expected an alert source name'),
  /**
   * What makes two deliveries "the same problem" for dedupe: the source's own fingerprint when it has one
   * (Alertmanager and Grafana send `fingerprint`), else `stableFingerprint(source, identifying fields)`; each
   * parser documents its identifying fields.
   */
  fingerprint: z.string().min(1),
  status: z.enum(alertStatuses),
  severity: z.enum(severities),
  title: z.string(),
  summary: z.string(),
  /**
   * The raw host hint from the payload (an `instance` label without its port, a hostname, Falco's hostname, an
   * EC2 instance id). Matching it to the inventory happens later, outside the parsers.
   */
  host: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()),
  /** ISO 8601, UTC. */
  startsAt: z.string(),
  endsAt: z.string().optional(),
  /** A link back to the alert in its source (generator URL, console link, …). */
  link: z.string().optional(),
  /** The payload this alert came from, kept untouched for the audit log. */
  raw: z.unknown(),
});

/**
 * An alert, as `alertSchema` describes it. Written out rather than inferred from the schema: the sources' types
 * (which name AlertSource) mention Alert, and an inferred type would make that a circular definition.
 */
export interface Alert {
  source: AlertSource;
  fingerprint: string;
  status: AlertStatus;
  severity: Severity;
  title: string;
  summary: string;
  host?: string | undefined;
  labels: Record<string, string>;
  startsAt: string;
  endsAt?: string | undefined;
  link?: string | undefined;
  raw: unknown;
}

// The schema and the interface describe the same shape (a compile-time check, both ways).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const alertSchemaMatchesAlert: Same<z.infer<typeof alertSchema>, Alert> = true;
void alertSchemaMatchesAlert;

/** Position of a severity in `severities` (info 0 … critical 3). */
export function severityRank(severity: Severity): number {
  return severities.indexOf(severity);
}

export function isSeverity(value: string): value is Severity {
  return (severities as readonly string[]).includes(value);
}

/**
 * A stable fingerprint for sources that do not send one: sha256 over the source and the identifying fields,
 * hex, first 32 characters (128 bits: collisions are not a concern at alert volumes). Field order does not
 * matter (keys are sorted) and an absent field differs from an empty one, so `{host: undefined}` and
 * `{host: ''}` do not collide.
 */
export function stableFingerprint(source: AlertSource, fields: Record<string, string | undefined>): string {
  const entries = Object.keys(fields)
    .sort()
    .map((k) => [k, fields[k] ?? null]);
  return createHash('sha256')
    .update(JSON.stringify([source, entries]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Severity from a free-form severity label (Alertmanager's and Grafana's `severity` label, generic alerts):
 * - critical: critical, crit, fatal, emergency, emerg, alert, page, disaster, p1
 * - error:    error, err, major, high, p2
 * - warning:  warning, warn, minor, medium, average, p3
 * - info:     info, informational, notice, low, debug, none, ok, p4, p5
 * Matching is case-insensitive. Anything else, or no label, is `fallback` (warning by default: an alert nobody
 * graded is still worth a look).
 */
export function severityFromLabel(value: string | undefined, fallback: Severity = 'warning'): Severity {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (['critical', 'crit', 'fatal', 'emergency', 'emerg', 'alert', 'page', 'disaster', 'p1'].includes(v)) {
    return 'critical';
  }
  if (['error', 'err', 'major', 'high', 'p2'].includes(v)) return 'error';
  if (['warning', 'warn', 'minor', 'medium', 'average', 'p3'].includes(v)) return 'warning';
  if (['info', 'informational', 'notice', 'low', 'debug', 'none', 'ok', 'p4', 'p5'].includes(v))
    return 'info';
  return fallback;
}

/**
 * A host hint from an `instance`-like value: `10.0.0.5:9100` → `10.0.0.5`, `[2001:db8::1]:9100` → `2001:db8::1`,
 * `https://web1.example.com/health` → `web1.example.com` (blackbox probes), `web1` → `web1`. Empty → undefined.
 */
export function hostFromInstance(instance: string | undefined): string | undefined {
  if (instance === undefined) return undefined;
  const value = instance.trim();
  if (value === '') return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const hostname = new URL(value).hostname;
      return hostname.replace(/^\[(.*)\]$/, '$1') || undefined;
    } catch {
      return value;
    }
  }
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) return bracketed[1];
  // Exactly one colon followed by digits is host:port; more colons is a bare IPv6 address, kept whole.
  const hostPort = /^([^:]+):\d+$/.exec(value);
  if (hostPort) return hostPort[1];
  return value;
}

/**
 * Longest value of each alert field that reaches rules, dedupe records and Slack. Every source is capped here, in
 * one place, after parsing: a 100 KB title would otherwise be stored per message, scanned by every rule and sent
 * to Slack on every update. Longer text is cut with `truncationMarker` at the end, so a reader sees it was cut.
 */
export const alertFieldCaps = {
  title: 300,
  summary: 3000,
  /** A DNS name is at most 253 characters; a longer hint cannot name an inventory host anyway. */
  host: 253,
  fingerprint: 200,
  labelName: 100,
  labelValue: 1000,
  labels: 100,
  /** A longer link is dropped, not cut: a cut URL leads somewhere else. */
  link: 2000,
} as const;

export const truncationMarker = '…[truncated]';

/** `text` cut to at most `max` characters, ending in the truncation marker when it was cut. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - truncationMarker.length;
  // Do not leave half of a surrogate pair (an emoji) before the marker.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${truncationMarker}`;
}

/**
 * The alert with every field within `alertFieldCaps`. A fingerprint over the cap keeps its start and gains a hash
 * of the whole (two long fingerprints sharing a prefix stay two problems). Labels beyond the 100th are dropped and
 * counted in the label `ward_labels_dropped`. `raw` is left as received: it goes to the audit log only.
 */
export function capAlertFields(alert: Alert): Alert {
  const c = alertFieldCaps;
  const labels: Record<string, string> = {};
  const entries = Object.entries(alert.labels);
  for (const [name, value] of entries.slice(0, c.labels)) {
    labels[truncateText(name, c.labelName)] = truncateText(value, c.labelValue);
  }
  if (entries.length > c.labels) labels['ward_labels_dropped'] = String(entries.length - c.labels);
  const fingerprint =
    alert.fingerprint.length <= c.fingerprint
      ? alert.fingerprint
      : `${alert.fingerprint.slice(0, c.fingerprint - 33)}~${createHash('sha256').update(alert.fingerprint).digest('hex').slice(0, 32)}`;
  const { link, host, ...rest } = alert;
  return {
    ...rest,
    fingerprint,
    title: truncateText(alert.title, c.title),
    summary: truncateText(alert.summary, c.summary),
    ...(host === undefined ? {} : { host: truncateText(host, c.host) }),
    labels,
    ...(link === undefined || link.length > c.link ? {} : { link }),
  };
}
