import { z } from 'zod';
import { optionalString } from '../../config/env-values.js';
import { type Alert, alertStatuses, severities, stableFingerprint } from '../alert.js';
import { parsePayload, toIsoTime } from '../payload-error.js';
import { defineAlertSource } from './source.js';

/**
 * ward's own alert shape, for senders with no native integration (scripts, cron jobs, other tools). POST to
 * `/alerts/generic` either one alert or `{ "alerts": [ … ] }` (at most 100):
 *
 * ```jsonc
 * {
 *   "title": "sshd: 200 failed logins in 1 minute",       // required; over 300 characters is cut
 *   "status": "firing",                                     // firing (default) | resolved
 *   "severity": "warning",                                  // info | warning (default) | error | critical
 *   "summary": "Source 198.51.100.7, users root, admin",   // optional; over 3000 characters is cut
 *   "host": "web1",                                         // optional: a host hint matched to the inventory
 *   "fingerprint": "sshd-bruteforce-web1",                  // optional: same value = same problem (dedupe)
 *   "labels": { "team": "secops" },                         // optional: string values, usable in rules
 *   "link": "https://grafana.example.com/d/abc",            // optional: http(s) link back
 *   "startsAt": "2024-05-01T12:00:00Z"                      // optional: ISO 8601, default when received
 * }
 * ```
 * Without `fingerprint`, it is `stableFingerprint('generic', { title, host, labels })`: repeats of the same title
 * on the same host with the same labels are one problem; send the same `fingerprint` with `"status": "resolved"`
 * (or the same title/host/labels) to resolve it.
 */
export const genericAlertSchema = z
  .object({
    // Lengths are not refused here: an over-long alert is still an alert. capAlertFields (alert.ts) cuts every
    // source's fields to the same caps, with a visible marker.
    title: z.string().trim().min(1),
    status: z.enum(alertStatuses).default('firing'),
    severity: z.enum(severities).default('warning'),
    summary: z.string().default(''),
    host: z.string().trim().min(1).optional(),
    fingerprint: z.string().trim().min(1).optional(),
    labels: z.record(z.string().min(1), z.string()).default({}),
    link: z
      .string()
      .refine((u) => /^https?:\/\//.test(u), { message: 'expected an http(s) URL' })
      .optional(),
    startsAt: z.string().optional(),
  })
  .strict();

export const genericBatchSchema = z.object({ alerts: z.array(genericAlertSchema).min(1).max(100) }).strict();

/**
 * Parses a generic alert body. `now` supplies the receive time for alerts without `startsAt` (injectable for
 * tests). Throws PayloadError naming the failing field.
 */
export function parseGeneric(body: unknown, now: () => Date = () => new Date()): Alert[] {
  // A union's error would name neither branch's field; choose the branch from the body's shape instead.
  const isBatch = typeof body === 'object' && body !== null && 'alerts' in body;
  const items = isBatch
    ? parsePayload('generic', genericBatchSchema, body).alerts
    : [parsePayload('generic', genericAlertSchema, body)];
  return items.map((item, i) => {
    const prefix = isBatch ? `alerts[${i}].` : '';
    return {
      source: 'generic',
      fingerprint:
        item.fingerprint ??
        stableFingerprint('generic', {
          title: item.title,
          host: item.host,
          labels: JSON.stringify(
            Object.entries(item.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
          ),
        }),
      status: item.status,
      severity: item.severity,
      title: item.title,
      summary: item.summary,
      ...(item.host === undefined ? {} : { host: item.host }),
      labels: item.labels,
      startsAt:
        item.startsAt === undefined
          ? now().toISOString()
          : toIsoTime('generic', `${prefix}startsAt`, item.startsAt),
      ...(item.link === undefined ? {} : { link: item.link }),
      raw: isBatch ? item : body,
    } satisfies Alert;
  });
}

/** The `generic` alert source (src/alerts/sources/source.ts). */
export const generic = defineAlertSource({
  name: 'generic',
  title: "Anything else, in ward's own JSON shape",
  env: {
    WARD_ALERT_TOKEN_GENERIC: {
      schema: optionalString,
      doc: 'Bearer token for /alerts/generic.',
      secret: true,
    },
    WARD_ALERT_HMAC_SECRET_GENERIC: {
      schema: optionalString,
      doc: 'HMAC-SHA256 secret the generic endpoint also accepts (X-Ward-Signature).',
      secret: true,
    },
  },
  auth: {
    kind: 'bearer-or-hmac',
    token: 'WARD_ALERT_TOKEN_GENERIC',
    hmacSecret: 'WARD_ALERT_HMAC_SECRET_GENERIC',
  },
  parse: (body) => parseGeneric(body),
});
