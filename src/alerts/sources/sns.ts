import { type KeyObject, verify, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { optionalString } from '../../config/env-values.js';
import { WardError } from '../../errors.js';
import { type Alert, type Severity, stableFingerprint } from '../alert.js';
import { parsePayload, toIsoTime } from '../payload-error.js';
import { defineAlertSource } from './source.js';

/*
 * Amazon SNS HTTP/HTTPS endpoint messages (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
 * The body is JSON whatever the Content-Type header says (SNS sends text/plain).
 */

const signed = {
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Message: z.string(),
  Timestamp: z.string().min(1),
  /** 1: SHA1withRSA; 2: SHA256withRSA. */
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
};

export const snsNotificationSchema = z.object({
  Type: z.literal('Notification'),
  ...signed,
  Subject: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
  MessageAttributes: z.record(z.string(), z.unknown()).optional(),
});

export const snsConfirmationSchema = z.object({
  Type: z.enum(['SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  ...signed,
  Token: z.string().min(1),
  SubscribeURL: z.string().min(1),
});

export const snsMessageSchema = z.discriminatedUnion('Type', [snsNotificationSchema, snsConfirmationSchema]);

export type SnsNotification = z.infer<typeof snsNotificationSchema>;
export type SnsConfirmation = z.infer<typeof snsConfirmationSchema>;
export type SnsMessage = z.infer<typeof snsMessageSchema>;

/** Parses the SNS envelope (any Type). Throws PayloadError naming the failing field. */
export function parseSnsEnvelope(body: unknown): SnsMessage {
  return parsePayload('sns', snsMessageSchema, body);
}

// ---------------------------------------------------------------------------------------------------------------
// Signature verification

export type SnsVerificationFailure =
  | 'cert_url'
  | 'cert_fetch'
  | 'cert_invalid'
  | 'signature_version'
  | 'signature_mismatch';

/**
 * An SNS message whose signature could not be verified. The HTTP layer answers 401 (`reason` says why, for the
 * log and the test; the sender only learns that it was refused).
 */
export class SnsVerificationError extends WardError {
  readonly reason: SnsVerificationFailure;

  constructor(reason: SnsVerificationFailure, detail: string, cause?: unknown) {
    super(`ward_sns_${reason}`, `SNS message refused: ${detail}`, { cause });
    this.reason = reason;
  }
}

/**
 * Only certificates served by SNS itself over HTTPS are trusted (the same host pattern the AWS SDKs use): a
 * message carries its own certificate URL, so without this check anyone could sign a message with their own key
 * and point at their own certificate. TLS authenticates the host; the certificate's chain is not checked further.
 */
const snsHost = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** True for `https://sns.<region>.amazonaws.com[.cn]/…` with no port or credentials. Also for SubscribeURL. */
export function isSnsUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    url.protocol === 'https:' &&
    snsHost.test(url.hostname) &&
    url.port === '' &&
    url.username === '' &&
    url.password === ''
  );
}

/**
 * The canonical string SNS signs: for each field in this order, when present, its name, a newline, its value and
 * a newline. Notification: Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type.
 * SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token,
 * TopicArn, Type. (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html)
 */
export function snsStringToSign(msg: SnsMessage): string {
  const fields: [string, string | undefined][] =
    msg.Type === 'Notification'
      ? [
          ['Message', msg.Message],
          ['MessageId', msg.MessageId],
          ['Subject', msg.Subject],
          ['Timestamp', msg.Timestamp],
          ['TopicArn', msg.TopicArn],
          ['Type', msg.Type],
        ]
      : [
          ['Message', msg.Message],
          ['MessageId', msg.MessageId],
          ['SubscribeURL', msg.SubscribeURL],
          ['Timestamp', msg.Timestamp],
          ['Token', msg.Token],
          ['TopicArn', msg.TopicArn],
          ['Type', msg.Type],
        ];
  return fields
    .filter((f): f is [string, string] => f[1] !== undefined)
    .map(([k, v]) => `${k}\n${v}\n`)
    .join('');
}

/** Fetches a PEM certificate by URL. Injected so that tests (and a proxying deployment) control the fetch. */
export type CertFetcher = (url: string) => Promise<string>;

/** Public keys per fetcher, per certificate URL. SNS rotates certificates rarely; a handful of URLs at most. */
const keyCache = new WeakMap<CertFetcher, Map<string, Promise<KeyObject>>>();
const maxCachedCerts = 32;

function publicKeyFor(url: string, fetchCert: CertFetcher): Promise<KeyObject> {
  let cache = keyCache.get(fetchCert);
  if (cache === undefined) {
    cache = new Map();
    keyCache.set(fetchCert, cache);
  }
  const cached = cache.get(url);
  if (cached !== undefined) return cached;
  const loading = (async () => {
    let pem: string;
    try {
      pem = await fetchCert(url);
    } catch (err) {
      throw new SnsVerificationError('cert_fetch', `could not fetch the signing certificate ${url}`, err);
    }
    try {
      return new X509Certificate(pem).publicKey;
    } catch (err) {
      throw new SnsVerificationError(
        'cert_invalid',
        `the signing certificate at ${url} is not a PEM certificate`,
        err,
      );
    }
  })();
  if (cache.size >= maxCachedCerts) cache.clear();
  cache.set(url, loading);
  // A failed fetch is not cached: the next message retries.
  loading.catch(() => cache.delete(url));
  return loading;
}

/**
 * Verifies an SNS message's signature as AWS documents: the certificate URL must be an SNS host over HTTPS
 * (checked before anything is fetched), the certificate is fetched through `fetchCert` (cached by URL), and the
 * signature must be SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2) over `snsStringToSign(msg)`.
 * Resolves when valid; rejects with an SnsVerificationError naming the failure otherwise.
 */
export async function verifySnsSignature(msg: SnsMessage, fetchCert: CertFetcher): Promise<void> {
  const algorithm = { '1': 'sha1', '2': 'sha256' }[msg.SignatureVersion];
  if (algorithm === undefined) {
    throw new SnsVerificationError(
      'signature_version',
      `unsupported SignatureVersion ${String(msg.SignatureVersion)}`,
    );
  }
  if (!isSnsUrl(msg.SigningCertURL)) {
    throw new SnsVerificationError(
      'cert_url',
      `SigningCertURL ${JSON.stringify(msg.SigningCertURL)} is not an https://sns.<region>.amazonaws.com URL`,
    );
  }
  const key = await publicKeyFor(msg.SigningCertURL, fetchCert);
  const ok = verify(
    algorithm,
    Buffer.from(snsStringToSign(msg), 'utf8'),
    key,
    Buffer.from(msg.Signature, 'base64'),
  );
  if (!ok) throw new SnsVerificationError('signature_mismatch', 'the signature does not match the message');
}

// ---------------------------------------------------------------------------------------------------------------
// Alerts inside notifications

const awsRegion = /^[a-z]{2}(-[a-z]+)+-\d+$/;

const guardDutyEventSchema = z.object({
  'detail-type': z.literal('GuardDuty Finding'),
  account: z.string().optional(),
  region: z.string().optional(),
  time: z.string().optional(),
  detail: z.object({
    id: z.string().min(1),
    type: z.string(),
    severity: z.number().min(0).max(10),
    title: z.string(),
    description: z.string().optional(),
    accountId: z.string().optional(),
    region: z.string().optional(),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
    resource: z
      .object({
        resourceType: z.string().optional(),
        instanceDetails: z.object({ instanceId: z.string().optional() }).optional(),
      })
      .optional(),
    service: z.object({ count: z.number().optional(), archived: z.boolean().optional() }).optional(),
  }),
});

const dimensionsSchema = z.array(z.object({ name: z.string(), value: z.string() }));

const cloudWatchAlarmSchema = z.object({
  AlarmName: z.string().min(1),
  AlarmDescription: z.string().nullable().optional(),
  AWSAccountId: z.string().optional(),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  NewStateReason: z.string().optional(),
  StateChangeTime: z.string().optional(),
  /** The region's display name ("US East (N. Virginia)"), not its code: the code comes from AlarmArn. */
  Region: z.string().optional(),
  AlarmArn: z.string().optional(),
  OldStateValue: z.string().optional(),
  Trigger: z
    .object({
      MetricName: z.string().optional(),
      Namespace: z.string().optional(),
      Dimensions: dimensionsSchema.optional(),
      Metrics: z
        .array(
          z.object({
            MetricStat: z
              .object({
                Metric: z
                  .object({
                    MetricName: z.string().optional(),
                    Namespace: z.string().optional(),
                    Dimensions: dimensionsSchema.optional(),
                  })
                  .optional(),
              })
              .optional(),
          }),
        )
        .optional(),
    })
    .optional(),
});

/**
 * GuardDuty severity (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html):
 * Low 1.0–3.9 → info, Medium 4.0–6.9 → warning, High 7.0–8.9 and Critical 9.0–10.0 → critical (a High finding
 * means a resource is likely compromised: that is an incident, not an error to fix later).
 */
export function guardDutySeverity(score: number): {
  severity: Severity;
  level: 'low' | 'medium' | 'high' | 'critical';
} {
  if (score >= 9) return { severity: 'critical', level: 'critical' };
  if (score >= 7) return { severity: 'critical', level: 'high' };
  if (score >= 4) return { severity: 'warning', level: 'medium' };
  return { severity: 'info', level: 'low' };
}

function guardDutyAlert(msg: SnsNotification, inner: unknown): Alert {
  const event = parsePayload('sns', z.object({ Message: guardDutyEventSchema }), { Message: inner }).Message;
  const d = event.detail;
  const region = d.region ?? event.region;
  const account = d.accountId ?? event.account;
  const { severity, level } = guardDutySeverity(d.severity);
  const host = d.resource?.instanceDetails?.instanceId;
  const labels: Record<string, string> = {
    kind: 'guardduty',
    topic: msg.TopicArn,
    type: d.type,
    guardduty_severity: level,
    guardduty_score: String(d.severity),
  };
  if (account !== undefined) labels['account'] = account;
  if (region !== undefined) labels['region'] = region;
  if (d.resource?.resourceType !== undefined) labels['resource_type'] = d.resource.resourceType;
  if (d.service?.count !== undefined) labels['count'] = String(d.service.count);
  const link =
    region !== undefined && awsRegion.test(region)
      ? `https://${region}.console.aws.amazon.com/guardduty/home?region=${region}#/findings?macros=current&fId=${encodeURIComponent(d.id)}`
      : undefined;
  return {
    source: 'sns',
    // The finding id is stable across GuardDuty's repeated notifications of the same finding.
    fingerprint: stableFingerprint('sns', { kind: 'guardduty', account, region, id: d.id }),
    status: d.service?.archived === true ? 'resolved' : 'firing',
    severity,
    title: d.title,
    summary: d.description ?? '',
    ...(host === undefined || host === '' ? {} : { host }),
    labels,
    startsAt: toIsoTime('sns', 'Message.detail.createdAt', d.createdAt ?? event.time ?? msg.Timestamp),
    ...(link === undefined ? {} : { link }),
    raw: msg,
  };
}

/**
 * CloudWatch alarm state changes: ALARM → firing/error, INSUFFICIENT_DATA → firing/warning, OK → resolved/error
 * (the resolve keeps the alarm's severity so that rules route it where the alarm went).
 */
function cloudWatchAlert(msg: SnsNotification, inner: unknown): Alert {
  const alarm = parsePayload('sns', z.object({ Message: cloudWatchAlarmSchema }), { Message: inner }).Message;
  const dimensions = [
    ...(alarm.Trigger?.Dimensions ?? []),
    ...(alarm.Trigger?.Metrics ?? []).flatMap((m) => m.MetricStat?.Metric?.Dimensions ?? []),
  ];
  const metric =
    alarm.Trigger?.Metrics?.find((m) => m.MetricStat?.Metric !== undefined)?.MetricStat?.Metric ??
    alarm.Trigger;
  const regionCode = alarm.AlarmArn?.split(':')[3];
  const labels: Record<string, string> = { kind: 'cloudwatch', topic: msg.TopicArn, alarm: alarm.AlarmName };
  if (alarm.AWSAccountId !== undefined) labels['account'] = alarm.AWSAccountId;
  if (regionCode !== undefined && regionCode !== '') labels['region'] = regionCode;
  if (metric?.Namespace !== undefined) labels['namespace'] = metric.Namespace;
  if (metric?.MetricName !== undefined) labels['metric'] = metric.MetricName;
  for (const d of dimensions) labels[d.name] = d.value;
  const host = dimensions.find((d) => d.name === 'InstanceId')?.value;
  const changedAt = toIsoTime('sns', 'Message.StateChangeTime', alarm.StateChangeTime ?? msg.Timestamp);
  const resolved = alarm.NewStateValue === 'OK';
  const link =
    regionCode !== undefined && awsRegion.test(regionCode)
      ? `https://${regionCode}.console.aws.amazon.com/cloudwatch/home?region=${regionCode}#alarmsV2:alarm/${encodeURIComponent(alarm.AlarmName)}`
      : undefined;
  const summary = [alarm.AlarmDescription, alarm.NewStateReason]
    .filter((s): s is string => typeof s === 'string' && s !== '')
    .join('\n');
  return {
    source: 'sns',
    fingerprint: stableFingerprint('sns', {
      kind: 'cloudwatch',
      alarm: alarm.AlarmArn ?? `${alarm.AWSAccountId ?? ''}/${alarm.AlarmName}`,
    }),
    status: resolved ? 'resolved' : 'firing',
    severity: alarm.NewStateValue === 'INSUFFICIENT_DATA' ? 'warning' : 'error',
    title: alarm.AlarmName,
    summary,
    ...(host === undefined || host === '' ? {} : { host }),
    labels,
    startsAt: changedAt,
    ...(resolved ? { endsAt: changedAt } : {}),
    ...(link === undefined ? {} : { link }),
    raw: msg,
  };
}

/** Any other notification: Subject as title (else the topic name), Message as summary, severity warning. */
function plainSnsAlert(msg: SnsNotification): Alert {
  const topicName = msg.TopicArn.split(':').at(-1) ?? msg.TopicArn;
  return {
    source: 'sns',
    // Same topic, subject and text: the same problem repeated (SNS itself gives every delivery a new MessageId).
    fingerprint: stableFingerprint('sns', {
      kind: 'message',
      topic: msg.TopicArn,
      subject: msg.Subject,
      message: msg.Message,
    }),
    status: 'firing',
    severity: 'warning',
    title: msg.Subject !== undefined && msg.Subject !== '' ? msg.Subject : `SNS message on ${topicName}`,
    summary: msg.Message,
    labels: { kind: 'message', topic: msg.TopicArn },
    startsAt: toIsoTime('sns', 'Timestamp', msg.Timestamp),
    raw: msg,
  };
}

/**
 * The alerts in a Notification's Message: a GuardDuty finding (an EventBridge event with detail-type
 * "GuardDuty Finding"), a CloudWatch alarm (AlarmName + NewStateValue), else the message itself. A Message that
 * claims to be one of the first two but lacks their fields is a PayloadError (`Message.detail.severity: …`).
 */
export function snsNotificationAlerts(msg: SnsNotification): Alert[] {
  let inner: unknown;
  try {
    inner = JSON.parse(msg.Message);
  } catch {
    return [plainSnsAlert(msg)];
  }
  if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) {
    const record = inner as Record<string, unknown>;
    if (record['detail-type'] === 'GuardDuty Finding') return [guardDutyAlert(msg, inner)];
    if ('AlarmName' in record && 'NewStateValue' in record) return [cloudWatchAlert(msg, inner)];
  }
  return [plainSnsAlert(msg)];
}

/**
 * Parses an SNS HTTP body into alerts: a Notification's alerts, none for the subscription handshakes (the relay
 * confirms those itself). Does not verify the signature: call `verifySnsSignature` first.
 */
export function parseSns(body: unknown): Alert[] {
  const msg = parseSnsEnvelope(body);
  if (msg.Type !== 'Notification') return [];
  return snsNotificationAlerts(msg);
}

/** The `sns` alert source (src/alerts/sources/source.ts). */
export const sns = defineAlertSource({
  name: 'sns',
  title: 'Amazon SNS (GuardDuty findings, CloudWatch alarms, plain messages)',
  env: {
    WARD_ALERT_SNS_TOPICS: {
      schema: optionalString,
      doc: 'Comma-separated SNS topic ARNs accepted on /alerts/sns (unset: SNS disabled).',
      secret: false,
    },
  },
  auth: { kind: 'sns-signature', topics: 'WARD_ALERT_SNS_TOPICS' },
  parse: parseSns,
});
