import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alertSchema } from '../../src/alerts/alert.js';
import { PayloadError } from '../../src/alerts/payload-error.js';
import { parseWazuh, wazuhSeverity } from '../../src/alerts/sources/wazuh.js';

/** A real Wazuh alert (test/fixtures/SOURCE.txt): rule 5720, level 10, agent 004 "Centos". */
const sample = () =>
  JSON.parse(
    readFileSync(
      new URL('../fixtures/wazuh_alert_sshd_multiple_authentication_failures.json', import.meta.url),
      'utf8',
    ),
  ) as Record<string, unknown> & { rule: Record<string, unknown>; agent: Record<string, unknown> };

function payloadError(fn: () => unknown): PayloadError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PayloadError);
    return err as PayloadError;
  }
  throw new Error('expected a PayloadError');
}

describe('Wazuh alerts', () => {
  it('the real sample becomes one firing warning: rule description, agent host, the log line', () => {
    const [alert, ...rest] = parseWazuh(sample());
    expect(rest).toEqual([]);
    expect(alertSchema.safeParse(alert).success).toBe(true);
    expect(alert).toMatchObject({
      source: 'wazuh',
      status: 'firing',
      severity: 'warning',
      title: 'sshd: Multiple authentication failures.',
      summary:
        'Apr 17 00:25:12 ip-10-0-1-132 sshd[29981]: Failed password for root from 49.88.112.76 port 10848 ssh2',
      host: 'Centos',
      startsAt: '2020-04-17T00:25:13.117Z',
      labels: {
        rule_id: '5720',
        rule_level: '10',
        rule_groups: 'syslog,sshd,authentication_failures',
        agent_id: '004',
        agent_ip: '10.0.1.132',
        manager: 'ip-10-0-0-219.us-west-1.compute.internal',
        decoder: 'sshd',
        location: '/var/log/secure',
        'data.srcip': '49.88.112.76',
        'data.dstuser': 'root',
      },
    });
  });

  it('the same rule on the same agent and log source is one problem, whatever the log line', () => {
    const base = parseWazuh(sample())[0]!.fingerprint;
    const again = {
      ...sample(),
      id: '1587083200.1',
      full_log: 'another line',
      timestamp: '2020-04-17T01:00:00.000+0000',
    };
    expect(parseWazuh(again)[0]!.fingerprint).toBe(base);
    const otherAgent = sample();
    otherAgent.agent = { ...otherAgent.agent, id: '005' };
    expect(parseWazuh(otherAgent)[0]!.fingerprint).not.toBe(base);
    const otherRule = sample();
    otherRule.rule = { ...otherRule.rule, id: '5712' };
    expect(parseWazuh(otherRule)[0]!.fingerprint).not.toBe(base);
    expect(parseWazuh({ ...sample(), location: '/var/log/auth.log' })[0]!.fingerprint).not.toBe(base);
  });

  it('maps rule levels: 12 and above critical, 7 to 11 warning, below 7 info', () => {
    expect([0, 3, 6, 7, 10, 11, 12, 15].map(wazuhSeverity)).toEqual([
      'info',
      'info',
      'info',
      'warning',
      'warning',
      'warning',
      'critical',
      'critical',
    ]);
    const critical = sample();
    critical.rule = { ...critical.rule, level: 13 };
    expect(parseWazuh(critical)[0]!.severity).toBe('critical');
  });

  it('refuses an alert without its rule or agent, naming the field', () => {
    const noLevel = sample();
    noLevel.rule = { ...noLevel.rule, level: 'high' };
    expect(payloadError(() => parseWazuh(noLevel)).field).toBe('rule.level');
    const { agent: _agent, ...noAgent } = sample();
    expect(payloadError(() => parseWazuh(noAgent)).field).toBe('agent');
    expect(payloadError(() => parseWazuh({ ...sample(), timestamp: 'yesterday' })).field).toBe('timestamp');
  });
});
