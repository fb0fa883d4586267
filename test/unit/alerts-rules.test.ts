import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { loadRules, matchRules, type RuleSet } from '../../src/alerts/rules.js';
import { parseFalco } from '../../src/alerts/sources/falco.js';
import { parseGrafana } from '../../src/alerts/sources/grafana.js';
import { ConfigError } from '../../src/errors.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
}

const issueExample = `rules:
  - name: ssh-bruteforce
    match: { source: falco, title: { icontains: "ssh" }, severity: { gte: warning } }
    route: { channel: C0SECOPS, mention: S0ONCALL }
    suggest: [forensics, lockdown]
    auto: [forensics]
  - name: everything-else
    match: {}
    route: { channel: C0ALERTS }
`;

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    source: 'falco',
    fingerprint: 'f1',
    status: 'firing',
    severity: 'warning',
    title: 'Possible SSH brute force',
    summary: 'Many failed logins from 198.51.100.7',
    host: 'web1',
    labels: { team: 'secops', 'proc.name': 'sshd' },
    startsAt: '2024-05-01T12:00:00.000Z',
    raw: {},
    ...overrides,
  };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** Rule names that match `a`, with a one-rule file per criterion. */
function matches(match: string, a: Alert): boolean {
  const set = loadRules(`rules:\n  - name: r\n    match: ${match}\n    route: { channel: C0X }\n`, 'test');
  return matchRules(set, a).length === 1;
}

describe('the issue example', () => {
  const ruleSet = loadRules(issueExample, 'rules.yaml');

  it('routes an SSH-related Falco alert of warning or worse to secops with its buttons and auto-run', () => {
    expect(matchRules(ruleSet, alert())).toEqual([
      {
        rule: 'ssh-bruteforce',
        channels: ['C0SECOPS'],
        mention: 'S0ONCALL',
        suggest: ['forensics', 'lockdown'],
        auto: ['forensics'],
        dedupeWindowMs: 30 * 60_000,
        stormPerMinute: 20,
      },
    ]);
  });

  it('sends everything else to the alerts channel, first match only', () => {
    const elsewhere = (a: Alert) => matchRules(ruleSet, a).map((r) => `${r.rule}:${r.channels.join(',')}`);
    expect(elsewhere(alert({ severity: 'info' }))).toEqual(['everything-else:C0ALERTS']);
    expect(elsewhere(alert({ source: 'grafana' }))).toEqual(['everything-else:C0ALERTS']);
    expect(elsewhere(alert({ title: 'Write below binary dir' }))).toEqual(['everything-else:C0ALERTS']);
  });

  it('routes the real fixtures: Falco error on /bin to alerts, Grafana memory alert to alerts', () => {
    const [falco] = parseFalco(fixture('falco_alert_write_below_binary_dir.json'));
    const [grafana] = parseGrafana(fixture('grafana_alerting_webhook_docs_example.json'));
    expect(matchRules(ruleSet, falco!).map((r) => r.rule)).toEqual(['everything-else']);
    expect(matchRules(ruleSet, grafana!).map((r) => r.rule)).toEqual(['everything-else']);
    const sshFalco = { ...falco!, title: 'Disallowed SSH Connection' };
    expect(matchRules(ruleSet, sshFalco).map((r) => r.rule)).toEqual(['ssh-bruteforce']);
  });
});

describe('operators', () => {
  const a = alert();

  it('equals (also as a bare value) and nequals', () => {
    expect(matches('{ host: web1 }', a)).toBe(true);
    expect(matches('{ host: { equals: web1 } }', a)).toBe(true);
    expect(matches('{ host: Web1 }', a)).toBe(false);
    expect(matches('{ host: { nequals: web1 } }', a)).toBe(false);
    expect(matches('{ host: { nequals: web2 } }', a)).toBe(true);
    // A number in YAML compares as its text.
    expect(matches('{ labels.port: 22 }', alert({ labels: { port: '22' } }))).toBe(true);
  });

  it('contains (case-sensitive), icontains and startswith', () => {
    expect(matches('{ summary: { contains: "198.51.100.7" } }', a)).toBe(true);
    expect(matches('{ title: { contains: ssh } }', a)).toBe(false);
    expect(matches('{ title: { icontains: ssh } }', a)).toBe(true);
    expect(matches('{ title: { startswith: Possible } }', a)).toBe(true);
    expect(matches('{ title: { startswith: SSH } }', a)).toBe(false);
  });

  it('regex, and in', () => {
    expect(matches('{ host: { regex: "^web[0-9]+$" } }', a)).toBe(true);
    expect(matches('{ host: { regex: "^db" } }', a)).toBe(false);
    expect(matches('{ host: { in: [db1, web1] } }', a)).toBe(true);
    expect(matches('{ host: { in: [db1, db2] } }', a)).toBe(false);
    expect(matches('{ source: { in: [falco, grafana] } }', a)).toBe(true);
  });

  it('exists, on fields and labels; an absent field fails every other operator but nequals', () => {
    const noHost = alert({ host: undefined });
    expect(matches('{ host: { exists: true } }', a)).toBe(true);
    expect(matches('{ host: { exists: false } }', noHost)).toBe(true);
    expect(matches('{ labels.team: { exists: true } }', a)).toBe(true);
    expect(matches('{ labels.owner: { exists: true } }', a)).toBe(false);
    expect(matches('{ labels.proc.name: sshd }', a)).toBe(true);
    expect(matches('{ host: { regex: ".*" } }', noHost)).toBe(false);
    expect(matches('{ host: { nequals: web1 } }', noHost)).toBe(true);
  });

  it('compares severities by info < warning < error < critical', () => {
    const at = (severity: Alert['severity'], cond: string) =>
      matches(`{ severity: ${cond} }`, alert({ severity }));
    expect(
      ['info', 'warning', 'error', 'critical'].map((s) => at(s as Alert['severity'], '{ gte: error }')),
    ).toEqual([false, false, true, true]);
    expect(at('error', '{ gt: error }')).toBe(false);
    expect(at('critical', '{ gt: error }')).toBe(true);
    expect(at('warning', '{ lt: error }')).toBe(true);
    expect(at('error', '{ lt: error }')).toBe(false);
    expect(at('error', '{ lte: error }')).toBe(true);
    expect(at('warning', '{ gte: warning, lte: error }')).toBe(true);
    expect(at('critical', '{ gte: warning, lte: error }')).toBe(false);
  });

  it('requires every criterion of a rule to hold', () => {
    expect(matches('{ source: falco, host: web1 }', a)).toBe(true);
    expect(matches('{ source: falco, host: web2 }', a)).toBe(false);
  });
});

describe('first match and continue', () => {
  const yaml = `defaults: { dedupeWindow: 10m, storm: { perMinute: 5 } }
rules:
  - name: audit-copy
    match: { severity: { gte: error } }
    route: { channel: [C0AUDIT, C0SOC] }
    continue: true
  - name: web
    match: { host: { startswith: web } }
    route: { channel: C0WEB }
    dedupeWindow: 2h
    storm: { perMinute: 50 }
  - name: fallback
    route: { channel: C0ALERTS }
`;
  const set: RuleSet = loadRules(yaml, 'rules.yaml');

  it('stops at the first match unless that rule says continue', () => {
    expect(matchRules(set, alert({ severity: 'critical' })).map((r) => r.rule)).toEqual([
      'audit-copy',
      'web',
    ]);
    expect(matchRules(set, alert({ severity: 'info' })).map((r) => r.rule)).toEqual(['web']);
    expect(matchRules(set, alert({ severity: 'critical', host: 'db1' })).map((r) => r.rule)).toEqual([
      'audit-copy',
      'fallback',
    ]);
  });

  it('routes to every listed channel and applies per-rule and default windows', () => {
    const [audit, web] = matchRules(set, alert({ severity: 'critical' }));
    expect(audit).toMatchObject({
      channels: ['C0AUDIT', 'C0SOC'],
      dedupeWindowMs: 600_000,
      stormPerMinute: 5,
    });
    expect(web).toMatchObject({ channels: ['C0WEB'], dedupeWindowMs: 7_200_000, stormPerMinute: 50 });
  });

  it('matches nothing when no rule applies (the relay decides the fallback)', () => {
    const only = loadRules(
      'rules:\n  - name: x\n    match: { source: sns }\n    route: { channel: C0X }\n',
      't',
    );
    expect(matchRules(only, alert())).toEqual([]);
  });
});

describe('rule regexes run in linear time (RE2)', () => {
  const hostile = `${'a'.repeat(31)}!`; // 32 characters: minutes of backtracking for JavaScript's RegExp

  it('loads a catastrophic-backtracking pattern and matches a hostile 32-character title at once', () => {
    const ruleSet = loadRules(
      "rules:\n  - name: words\n    match: { title: { regex: '^(\\w+\\s?)*$' } }\n    route: { channel: C0X }\n",
      'rules.yaml',
    );
    expect(hostile).toHaveLength(32);
    const startedAt = performance.now();
    expect(matchRules(ruleSet, alert({ title: hostile }))).toEqual([]);
    expect(matchRules(ruleSet, alert({ title: 'two words' }))).toHaveLength(1);
    // A deadline, not a benchmark: the backtracking engine takes minutes here, RE2 a few milliseconds.
    expect(performance.now() - startedAt).toBeLessThan(1000);
  });

  it('accepts RE2 syntax such as inline flags', () => {
    expect(matches('{ title: { regex: "(?i)^possible ssh" } }', alert())).toBe(true);
  });

  it('refuses lookahead, lookbehind and backreferences at load, with the line', () => {
    const err = configError(() =>
      loadRules(
        [
          'rules:',
          '  - name: ahead',
          '    match:',
          '      title: { regex: "^(?=.*ssh).*$" }',
          '    route: { channel: C0X }',
          '  - name: behind',
          '    match: { host: { regex: "(?<=web)1" } }',
          '    route: { channel: C0X }',
          '  - name: backref',
          '    match:',
          "      summary: { regex: '(a+)\\1' }",
          '    route: { channel: C0X }',
          '',
        ].join('\n'),
        'rules.yaml',
      ),
    );
    expect(err.problems).toHaveLength(3);
    expect(err.problems[0]).toMatch(
      /^line 4: rules\.0\.match\.title\.regex: rule "ahead": invalid regex "\^\(\?=\.\*ssh\)\.\*\$": .*RE2 syntax: no lookahead/,
    );
    expect(err.problems[1]).toMatch(/^line 7: rules\.1\.match\.host\.regex: rule "behind": invalid regex/);
    expect(err.problems[2]).toMatch(
      /^line 11: rules\.2\.match\.summary\.regex: rule "backref": invalid regex/,
    );
  });
});

describe('bad rules files', () => {
  it('names the rule and line of an invalid regex', () => {
    const err = configError(() =>
      loadRules(
        'rules:\n  - name: ok\n    route: { channel: C0X }\n  - name: broken\n    match:\n      title: { regex: "(ssh" }\n    route: { channel: C0X }\n',
        'rules.yaml',
      ),
    );
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(
      /^line 6: rules\.1\.match\.title\.regex: rule "broken": invalid regex "\(ssh"/,
    );
    expect(err.userMessage).toContain('Alert rules (rules.yaml) is invalid');
  });

  it('reports YAML syntax errors with their line', () => {
    const err = configError(() =>
      loadRules('rules:\n  - name: a\n    route: { channel: C0X\n', 'rules.yaml'),
    );
    expect(err.problems[0]).toMatch(/^line \d+: /);
  });

  it('lists every problem at once, each with its line and field', () => {
    const err = configError(() =>
      loadRules(
        `rules:
  - name: a
    match:
      colour: red
      labels.env: { gte: warning }
      severity: critcal
      title: { icontain: ssh }
      host: [web1]
    route: { channel: "#secops", mention: oncall }
    suggest: [Forensics]
    dedupeWindow: soon
  - name: b
    route: { channel: C0X }
    surprise: 1
`,
        'rules.yaml',
      ),
    );
    expect(err.problems).toEqual([
      'line 7: rules.0.match.title: unknown operator icontain (use equals, nequals, contains, icontains, startswith, regex, in, exists, gt, gte, lt, lte)',
      'line 8: rules.0.match.host: expected a value (meaning equals) or operators such as { icontains: ssh }',
      'line 9: rules.0.route.channel: must be a Slack channel id (C… or G…)',
      'line 9: rules.0.route.mention: must be a Slack user id (U…/W…) or user group id (S…)',
      'line 10: rules.0.suggest.0: must be a command name such as forensics',
      'line 11: rules.0.dedupeWindow: must be a duration such as 90s, 30m or 2h',
      'line 12: rules.1: Unrecognized key: "surprise"',
    ]);
    // Field-level checks run once the rule's shape is right.
    const err2 = configError(() =>
      loadRules(
        `rules:
  - name: a
    match:
      colour: red
      labels.env: { gte: warning }
      severity: critcal
    route: { channel: C0X }
`,
        'rules.yaml',
      ),
    );
    expect(err2.problems).toEqual([
      'line 4: rules.0.match.colour: rule "a": unknown field (use source, status, severity, title, summary, host, fingerprint or labels.<name>)',
      'line 5: rules.0.match.labels.env.gte: rule "a": gte compares severities and only applies to the severity field',
      'line 6: rules.0.match.severity.equals: rule "a": "critcal" is not a severity (expected info, warning, error, critical)',
    ]);
  });

  it('refuses duplicate rule names, a missing rules list and unknown commands', () => {
    const dup = configError(() =>
      loadRules(
        'rules:\n  - name: a\n    route: { channel: C0X }\n  - name: a\n    route: { channel: C0Y }\n',
        'r',
      ),
    );
    expect(dup.problems).toEqual(['line 4: rules.1.name: duplicate rule name "a" (also rules[0])']);
    expect(configError(() => loadRules('', 'r')).problems[0]).toMatch(/rules: .*expected array/);
    const unknown = configError(() =>
      loadRules(issueExample.replace('lockdown]', 'lockdwn]'), 'r', { commands: ['forensics', 'lockdown'] }),
    );
    expect(unknown.problems).toEqual([
      'line 5: rules.0.suggest.1: unknown command "lockdwn" (known: forensics, lockdown)',
    ]);
    expect(loadRules(issueExample, 'r', { commands: ['forensics', 'lockdown'] }).rules).toHaveLength(2);
  });
});
