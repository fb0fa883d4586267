import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alertFieldCaps, alertSchema, capAlertFields, truncationMarker } from '../../src/alerts/alert.js';
import { PayloadError } from '../../src/alerts/payload-error.js';
import { parseAlertmanager } from '../../src/alerts/sources/alertmanager.js';
import { parseFalco } from '../../src/alerts/sources/falco.js';
import { parseGeneric } from '../../src/alerts/sources/generic.js';
import { parseGrafana } from '../../src/alerts/sources/grafana.js';
import { parseSns, parseSnsEnvelope } from '../../src/alerts/sources/sns.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
}

/** A deep copy to mutate for bad-payload cases. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

function payloadError(fn: () => unknown): PayloadError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PayloadError);
    return err as PayloadError;
  }
  throw new Error('expected a PayloadError');
}

/**
 * An HTTP-endpoint SNS notification (the docs' example envelope) carrying the inner Message of a Lambda SNS event
 * fixture (see test/fixtures/SOURCE.txt).
 */
function snsNotificationFromLambdaFixture(name: string): Record<string, unknown> {
  const lambda = fixture(name) as { Records: { Sns: { Message: string; Subject: string } }[] };
  const sns = lambda.Records[0]!.Sns;
  return {
    ...(fixture('aws_sns_http_notification_body.json') as object),
    Message: sns.Message,
    Subject: sns.Subject,
  };
}

describe('Alertmanager', () => {
  it('normalizes the captured 2019 webhook (no fingerprint field): one alert per entry, host without port', () => {
    const alerts = parseAlertmanager(fixture('alertmanager_webhook_v4_firing_captured.json'));
    expect(alerts.map((a) => a.host)).toEqual(['172.29.254.30', '172.29.254.50', '172.29.254.66']);
    const [first] = alerts;
    expect(first).toMatchObject({
      source: 'alertmanager',
      status: 'firing',
      severity: 'error', // "major"
      title: 'ICMP ping failed',
      summary: 'No physical connection to 172.29.254.30\n172.29.254.30 does not reply to ICMP pings',
      startsAt: '2019-09-27T16:27:56.612Z',
      link: 'http://9ed35ff90bf8:9090/graph?g0.expr=probe_success%7Bjob%3D%22blackbox-icmp%22%7D+%3D%3D+0&g0.tab=1',
    });
    expect(first?.endsAt).toBeUndefined(); // Go's zero time is "no end", not year 1
    expect(first?.labels['job']).toBe('blackbox-icmp');
    for (const a of alerts) expect(alertSchema.safeParse(a).success).toBe(true);
  });

  it('derives a stable fingerprint from the label set when the sender has none', () => {
    const body = fixture('alertmanager_webhook_v4_firing_captured.json');
    const once = parseAlertmanager(body).map((a) => a.fingerprint);
    const again = parseAlertmanager(fixture('alertmanager_webhook_v4_firing_captured.json')).map(
      (a) => a.fingerprint,
    );
    expect(again).toEqual(once);
    expect(new Set(once).size).toBe(3); // three instances, three problems
    expect(once[0]).toMatch(/^[0-9a-f]{32}$/);
    // Label order in the JSON does not matter.
    const reordered = copy(body) as { alerts: { labels: Record<string, string> }[] };
    const labels = reordered.alerts[0]!.labels;
    reordered.alerts[0]!.labels = Object.fromEntries(Object.entries(labels).reverse());
    expect(parseAlertmanager(reordered)[0]?.fingerprint).toBe(once[0]);
  });

  it("keeps Alertmanager's own fingerprint and applies a per-alert resolve", () => {
    const body = copy(fixture('alertmanager_webhook_v4_prometheus_msteams_fixture.json')) as {
      alerts: Record<string, unknown>[];
    };
    expect(parseAlertmanager(body)[0]).toMatchObject({
      status: 'firing', // the alert has no status of its own: the group's applies
      severity: 'warning',
      title: 'high_memory_load',
      summary: 'Server High Memory usage\n10.80.40.11 reported high memory usage with 23.28%.',
      host: 'instance-with-hyphen_and_underscore',
      startsAt: '2018-03-07T11:33:21.873Z',
    });
    body.alerts[0]!['fingerprint'] = '7c7d1b3a9f0e2d11';
    body.alerts[0]!['status'] = 'resolved';
    body.alerts[0]!['endsAt'] = '2018-03-07T07:00:00Z';
    expect(parseAlertmanager(body)[0]).toMatchObject({
      fingerprint: '7c7d1b3a9f0e2d11',
      status: 'resolved',
      endsAt: '2018-03-07T07:00:00.000Z',
    });
  });

  it('refuses bad payloads naming the failing field', () => {
    const body = fixture('alertmanager_webhook_v4_prometheus_msteams_fixture.json') as Record<
      string,
      unknown
    >;
    const labelsNotObject = copy(body) as { alerts: Record<string, unknown>[] };
    labelsNotObject.alerts[0]!['labels'] = 'alertname=x';
    expect(payloadError(() => parseAlertmanager(labelsNotObject)).userMessage).toBe(
      'alertmanager payload: alerts[0].labels: expected object, received string',
    );
    expect(payloadError(() => parseAlertmanager({ ...body, version: '3' })).field).toBe('version');
    expect(payloadError(() => parseAlertmanager({ ...body, alerts: undefined })).userMessage).toContain(
      'alerts: missing (expected array)',
    );
    const badTime = copy(body) as { alerts: Record<string, unknown>[] };
    badTime.alerts[0]!['startsAt'] = 'yesterday';
    expect(payloadError(() => parseAlertmanager(badTime)).field).toBe('alerts[0].startsAt');
    expect(payloadError(() => parseAlertmanager('not json object')).userMessage).toContain('expected object');
  });
});

describe('Grafana', () => {
  it('normalizes the docs example: Grafana fingerprints, summary, link, default severity', () => {
    const alerts = parseGrafana(fixture('grafana_alerting_webhook_docs_example.json'));
    expect(alerts).toHaveLength(2);
    expect(alerts[0]).toMatchObject({
      source: 'grafana',
      fingerprint: 'c6eadffa33fcdf37',
      status: 'firing',
      severity: 'warning', // no severity label
      title: 'High memory usage',
      summary: 'This alert was triggered for zone us-1\nThe system has high memory usage',
      startsAt: '2021-10-12T07:51:03.157Z',
      // dashboardURL and panelURL are empty strings: the rule's page is the link.
      link: 'https://play.grafana.org/alerting/1afz29v7z/edit',
      labels: { alertname: 'High memory usage', team: 'blue', zone: 'us-1' },
    });
    expect(alerts[0]?.host).toBeUndefined();
    expect(alerts[1]?.fingerprint).toBe('bc97ff14869b13e3');
  });

  it('reads the severity label and prefers the panel link', () => {
    const body = copy(fixture('grafana_alerting_webhook_docs_example.json')) as {
      alerts: { labels: Record<string, string>; panelURL: string }[];
    };
    body.alerts[0]!.labels['severity'] = 'critical';
    body.alerts[0]!.labels['instance'] = 'web1:9100';
    body.alerts[0]!.panelURL = 'https://play.grafana.org/d/abc?viewPanel=2';
    expect(parseGrafana(body)[0]).toMatchObject({
      severity: 'critical',
      host: 'web1',
      link: 'https://play.grafana.org/d/abc?viewPanel=2',
    });
  });

  it('refuses bad payloads naming the failing field', () => {
    const body = copy(fixture('grafana_alerting_webhook_docs_example.json')) as {
      alerts: Record<string, unknown>[];
    };
    body.alerts[1]!['status'] = 'burning';
    expect(payloadError(() => parseGrafana(body)).field).toBe('alerts[1].status');
    // An Alertmanager body sent to the Grafana endpoint is refused on its version.
    expect(
      payloadError(() => parseGrafana(fixture('alertmanager_webhook_v4_firing_captured.json'))).field,
    ).toBe('version');
  });
});

describe('Falco', () => {
  it('normalizes the Falco documentation event', () => {
    const [alert, ...rest] = parseFalco(fixture('falco_alert_write_below_binary_dir.json'));
    expect(rest).toHaveLength(0);
    expect(alert).toMatchObject({
      source: 'falco',
      status: 'firing',
      severity: 'error',
      title: 'Write below binary dir',
      summary:
        'File below a known binary directory opened for writing (user=root command=touch /bin/hack file=/bin/hack)',
      host: 'localhost',
      startsAt: '2019-05-17T15:31:56.746Z',
    });
    expect(alert?.labels).toMatchObject({
      'fd.name': '/bin/hack',
      'user.name': 'root',
      rule: 'Write below binary dir',
    });
  });

  it('normalizes the falcosidekick test event (Debug → info, tags, numbers as label text)', () => {
    const [alert] = parseFalco(fixture('falco_alert_falcosidekick_test_input.json'));
    expect(alert).toMatchObject({
      severity: 'info',
      title: 'Test rule',
      summary: 'This is a test from falcosidekick',
      host: 'test-host',
      startsAt: '2001-01-01T01:10:00.000Z',
      labels: { 'proc.name': 'falcosidekick', 'proc.tty': '1234', tags: 'test,example', source: 'syscalls' },
    });
  });

  it('gives the same rule on the same host one fingerprint whatever file it names, another host another', () => {
    const body = fixture('falco_alert_write_below_binary_dir.json') as Record<string, unknown>;
    const base = parseFalco(body)[0]!.fingerprint;
    const otherFile = copy(body) as { output_fields: Record<string, unknown> };
    otherFile.output_fields['fd.name'] = '/bin/other';
    expect(parseFalco(otherFile)[0]?.fingerprint).toBe(base);
    expect(parseFalco({ ...body, hostname: 'web2' })[0]?.fingerprint).not.toBe(base);
    expect(parseFalco({ ...body, rule: 'Other rule' })[0]?.fingerprint).not.toBe(base);
  });

  it('maps every Falco priority, case-insensitively', () => {
    const body = fixture('falco_alert_falcosidekick_test_input.json') as Record<string, unknown>;
    const severityOf = (priority: string) => parseFalco({ ...body, priority })[0]?.severity;
    expect(
      ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'].map(
        severityOf,
      ),
    ).toEqual(['critical', 'critical', 'critical', 'error', 'warning', 'info', 'info', 'info']);
    expect(severityOf('CRITICAL')).toBe('critical');
  });

  it('refuses bad payloads naming the failing field', () => {
    const body = fixture('falco_alert_falcosidekick_test_input.json') as Record<string, unknown>;
    expect(payloadError(() => parseFalco({ ...body, priority: 'Severe' })).userMessage).toContain(
      'priority: expected a Falco priority',
    );
    expect(payloadError(() => parseFalco({ ...body, rule: 42 })).field).toBe('rule');
    expect(payloadError(() => parseFalco({ ...body, time: 'soon' })).field).toBe('time');
  });
});

describe('SNS', () => {
  it('parses the docs notification envelope into a plain alert (Subject, Message)', () => {
    const body = fixture('aws_sns_http_notification_body.json');
    const [alert] = parseSns(body);
    expect(alert).toMatchObject({
      source: 'sns',
      status: 'firing',
      severity: 'warning',
      title: 'My First Message',
      summary: 'Hello world!',
      startsAt: '2012-05-02T00:54:06.655Z',
      labels: { kind: 'message', topic: 'arn:aws:sns:us-east-1:123456789012:MyTopic' },
    });
    // A redelivery (new MessageId) of the same text is the same problem.
    expect(parseSns({ ...(body as object), MessageId: 'another' })[0]?.fingerprint).toBe(alert?.fingerprint);
  });

  it('turns a CloudWatch alarm (single metric) into an alert on the instance', () => {
    const body = snsNotificationFromLambdaFixture('aws_sns_lambda_event_cloudwatch_alarm_single_metric.json');
    const [alert] = parseSns(body);
    expect(alert).toMatchObject({
      status: 'firing',
      severity: 'error',
      title: 'EXAMPLE',
      host: 'TestInstance',
      startsAt: '2015-06-03T17:43:27.123Z',
      labels: { kind: 'cloudwatch', alarm: 'EXAMPLE', account: '123456789012', metric: 'NetworkOut' },
    });
    expect(alert?.summary).toContain('Threshold Crossed: 1 out of the last 1 datapoints');
    expect(alert?.link).toBeUndefined(); // the sample's AlarmArn has a placeholder region
  });

  it('finds the instance in a multiple-metric alarm, and the OK state resolves the same fingerprint', () => {
    const body = snsNotificationFromLambdaFixture(
      'aws_sns_lambda_event_cloudwatch_alarm_multiple_metrics.json',
    );
    const [firing] = parseSns(body);
    expect(firing).toMatchObject({
      host: 'TestInstance',
      status: 'firing',
      labels: { namespace: 'AWS/EC2' },
    });
    const inner = JSON.parse(body['Message'] as string) as Record<string, unknown>;
    const ok = {
      ...body,
      Message: JSON.stringify({ ...inner, NewStateValue: 'OK', OldStateValue: 'ALARM' }),
    };
    const [resolved] = parseSns(ok);
    expect(resolved).toMatchObject({ status: 'resolved', endsAt: '2015-06-03T17:43:27.123Z' });
    expect(resolved?.fingerprint).toBe(firing?.fingerprint);
    const withRegion = {
      ...body,
      Message: JSON.stringify({
        ...inner,
        AlarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:EXAMPLE',
      }),
    };
    expect(parseSns(withRegion)[0]?.link).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/EXAMPLE',
    );
  });

  it('turns a GuardDuty finding into an alert on the instance, with its console link', () => {
    // Built inline from the documented EventBridge field names: no real GuardDuty sample is in the fixture set.
    const finding = {
      version: '0',
      id: 'c8c4daa7-a20c-2f03-0070-b7393dd542ad',
      'detail-type': 'GuardDuty Finding',
      source: 'aws.guardduty',
      account: '123456789012',
      time: '2024-05-01T12:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: {
        schemaVersion: '2.0',
        accountId: '123456789012',
        region: 'us-east-1',
        id: '16afba5c5c43e07c9e3e5e2e544e95df',
        type: 'UnauthorizedAccess:EC2/SSHBruteForce',
        resource: { resourceType: 'Instance', instanceDetails: { instanceId: 'i-99999999' } },
        service: { count: 4, archived: false },
        severity: 8,
        createdAt: '2024-05-01T11:58:00.000Z',
        updatedAt: '2024-05-01T12:00:00.000Z',
        title: '198.51.100.7 is performing SSH brute force attacks against i-99999999.',
        description: '198.51.100.7 is performing SSH brute force attacks against i-99999999.',
      },
    };
    const body = {
      ...(fixture('aws_sns_http_notification_body.json') as object),
      Message: JSON.stringify(finding),
    };
    const [alert] = parseSns(body);
    expect(alert).toMatchObject({
      status: 'firing',
      severity: 'critical', // High (7.0–8.9)
      title: '198.51.100.7 is performing SSH brute force attacks against i-99999999.',
      host: 'i-99999999',
      startsAt: '2024-05-01T11:58:00.000Z',
      link: 'https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=16afba5c5c43e07c9e3e5e2e544e95df',
      labels: { kind: 'guardduty', type: 'UnauthorizedAccess:EC2/SSHBruteForce', guardduty_severity: 'high' },
    });
    const severityOf = (severity: number) =>
      parseSns({
        ...body,
        Message: JSON.stringify({ ...finding, detail: { ...finding.detail, severity } }),
      })[0]?.severity;
    expect([2, 5.5, 7, 9.5].map(severityOf)).toEqual(['info', 'warning', 'critical', 'critical']);
    const broken = { ...finding, detail: { ...finding.detail, severity: 'HIGH' } };
    expect(payloadError(() => parseSns({ ...body, Message: JSON.stringify(broken) })).field).toBe(
      'Message.detail.severity',
    );
  });

  it('yields no alert for the subscription handshake, and refuses a malformed envelope', () => {
    const confirmation = {
      Type: 'SubscriptionConfirmation',
      MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
      Token: '2336412f37f',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:MyTopic',
      Message: 'You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:MyTopic.',
      SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37f',
      Timestamp: '2012-04-26T20:45:04.751Z',
      SignatureVersion: '1',
      Signature: 'EXAMPLE',
      SigningCertURL:
        'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    };
    expect(parseSns(confirmation)).toEqual([]);
    expect(parseSnsEnvelope(confirmation).Type).toBe('SubscriptionConfirmation');
    const { Token: _token, ...noToken } = confirmation;
    expect(payloadError(() => parseSns(noToken)).field).toBe('Token');
    const body = fixture('aws_sns_http_notification_body.json') as Record<string, unknown>;
    expect(payloadError(() => parseSns({ ...body, SignatureVersion: '3' })).field).toBe('SignatureVersion');
    // The Lambda event shape is not what SNS posts to an HTTP endpoint.
    expect(() => parseSns(fixture('aws_sns_lambda_event_cloudwatch_alarm_single_metric.json'))).toThrow(
      PayloadError,
    );
  });
});

describe('generic', () => {
  const now = () => new Date('2024-05-01T12:00:00Z');

  it('applies the documented defaults to a minimal alert', () => {
    expect(parseGeneric({ title: 'Disk full on web1', host: 'web1' }, now)).toEqual([
      {
        source: 'generic',
        fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/),
        status: 'firing',
        severity: 'warning',
        title: 'Disk full on web1',
        summary: '',
        host: 'web1',
        labels: {},
        startsAt: '2024-05-01T12:00:00.000Z',
        raw: { title: 'Disk full on web1', host: 'web1' },
      },
    ]);
  });

  it('accepts a batch, keeps given fingerprints and makes the same title+host the same problem', () => {
    const alerts = parseGeneric(
      {
        alerts: [
          { title: 'sshd brute force', host: 'web1', severity: 'critical', fingerprint: 'ssh-web1' },
          {
            title: 'Disk full',
            host: 'web1',
            labels: { team: 'ops' },
            startsAt: '2024-05-01T11:00:00+01:00',
          },
          { title: 'Disk full', host: 'web1', labels: { team: 'ops' }, status: 'resolved' },
          { title: 'Disk full', host: 'web2', labels: { team: 'ops' } },
        ],
      },
      now,
    );
    expect(alerts[0]?.fingerprint).toBe('ssh-web1');
    expect(alerts[1]?.startsAt).toBe('2024-05-01T10:00:00.000Z');
    expect(alerts[2]?.fingerprint).toBe(alerts[1]?.fingerprint);
    expect(alerts[2]?.status).toBe('resolved');
    expect(alerts[3]?.fingerprint).not.toBe(alerts[1]?.fingerprint);
  });

  it('refuses bad payloads naming the failing field', () => {
    expect(payloadError(() => parseGeneric({ summary: 'no title' })).userMessage).toBe(
      'generic payload: title: missing (expected string)',
    );
    expect(payloadError(() => parseGeneric({ title: 'x', severity: 'urgent' })).field).toBe('severity');
    expect(
      payloadError(() => parseGeneric({ alerts: [{ title: 'ok' }, { title: 'x', labels: { a: 1 } }] })).field,
    ).toBe('alerts[1].labels.a');
    expect(payloadError(() => parseGeneric({ title: 'x', colour: 'red' })).userMessage).toContain('colour');
    expect(payloadError(() => parseGeneric({ title: 'x', link: 'javascript:alert(1)' })).field).toBe('link');
    expect(payloadError(() => parseGeneric({ alerts: [{ title: 'x', startsAt: 'noon' }] })).field).toBe(
      'alerts[0].startsAt',
    );
  });
});

describe('field caps (one place, every source)', () => {
  it('accepts a generic alert with a 100 KB title and cuts every field to its cap with a visible marker', () => {
    const big = 'x'.repeat(100_000);
    const labels = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`l${i}`, big]));
    const [parsed] = parseGeneric({ title: big, summary: big, host: big, fingerprint: big, labels });
    const alert = capAlertFields(parsed!);
    expect(alert.title).toHaveLength(alertFieldCaps.title);
    expect(alert.title.endsWith(truncationMarker)).toBe(true);
    expect(alert.summary).toHaveLength(alertFieldCaps.summary);
    expect(alert.summary.endsWith(truncationMarker)).toBe(true);
    expect(alert.host).toHaveLength(alertFieldCaps.host);
    expect(alert.fingerprint.length).toBeLessThanOrEqual(alertFieldCaps.fingerprint);
    expect(Object.keys(alert.labels)).toHaveLength(alertFieldCaps.labels + 1);
    expect(alert.labels['ward_labels_dropped']).toBe('50');
    expect(alert.labels['l0']).toHaveLength(alertFieldCaps.labelValue);
    expect(alertSchema.safeParse(alert).success).toBe(true);
  });

  it('keeps two long fingerprints with the same start apart, and leaves short fields untouched', () => {
    const [a] = parseGeneric({ title: 't', fingerprint: `${'p'.repeat(300)}a` });
    const [b] = parseGeneric({ title: 't', fingerprint: `${'p'.repeat(300)}b` });
    expect(capAlertFields(a!).fingerprint).not.toBe(capAlertFields(b!).fingerprint);
    const [short] = parseGeneric({ title: 'Disk full', host: 'web1', labels: { team: 'ops' } });
    expect(capAlertFields(short!)).toEqual(short);
  });

  it('drops a link too long to be a working link rather than cutting it', () => {
    const [long] = parseGeneric({ title: 't', link: `https://example.com/${'a'.repeat(3000)}` });
    expect(capAlertFields(long!).link).toBeUndefined();
  });
});
