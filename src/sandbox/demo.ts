/**
 * The sandbox's demo world: the people of the bundled demo policy (sandbox/policy.yaml), the one channel, and the
 * sample alerts of sandbox/alerts/. Ids are Slack-shaped but belong to no workspace.
 */

export interface DemoUser {
  id: string;
  name: string;
  role: 'responder' | 'approver' | 'admin';
  /** What the user switcher says about them. */
  label: string;
}

export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'U0DEMORESP', name: 'riley', role: 'responder', label: 'riley (responder)' },
  { id: 'U0DEMOAPPR', name: 'alex', role: 'approver', label: 'alex (approver)' },
  { id: 'U0DEMOAPP2', name: 'sam', role: 'approver', label: 'sam (second approver)' },
  { id: 'U0DEMOADMN', name: 'jordan', role: 'admin', label: 'jordan (admin)' },
];

export const DEMO_CHANNEL = { id: 'C0INCIDENT', name: 'incident' } as const;

export function demoUser(id: unknown): DemoUser | undefined {
  return DEMO_USERS.find((u) => u.id === id);
}

export interface AlertSample {
  id: string;
  label: string;
  /** The webhook path ward serves: /alerts/<source>. */
  source: 'alertmanager' | 'grafana' | 'falco' | 'sns';
  /** File under sandbox/alerts/. */
  file: string;
  /** Shown under the menu entry. */
  note: string;
}

export const ALERT_SAMPLES: readonly AlertSample[] = [
  {
    id: 'falco',
    label: 'Falco: write below binary dir on localhost',
    source: 'falco',
    file: 'falco_alert_write_below_binary_dir.json',
    note: 'Routed to #incident with forensics and lockdown buttons.',
  },
  {
    id: 'alertmanager',
    label: 'Alertmanager: ICMP ping failed (3 alerts)',
    source: 'alertmanager',
    file: 'alertmanager_webhook_v4_firing_captured.json',
    note: 'Prometheus Alertmanager webhook, version 4.',
  },
  {
    id: 'grafana',
    label: 'Grafana: managed alert (docs example)',
    source: 'grafana',
    file: 'grafana_alerting_webhook_docs_example.json',
    note: 'Grafana-managed alerting webhook.',
  },
  {
    id: 'sns',
    label: 'AWS SNS: CloudWatch notification (AWS-signed)',
    source: 'sns',
    file: 'aws_sns_http_notification_body.json',
    note: "Its topic is configured, so ward checks the signature: AWS's documentation example, which ward refuses.",
  },
];
