import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { matchInventoryHost } from '../../src/alerts/host-match.js';
import { renderAlertMessage } from '../../src/alerts/render.js';
import { loadRules } from '../../src/alerts/rules.js';
import { builtinRuleSet, summarizeRules } from '../../src/alerts/rules-holder.js';
import { alertReason } from '../../src/alerts/suggest.js';
import { toInventory } from '../../src/config/inventory.js';
import { tokenize } from '../../src/core/tokenize.js';

const KEY = `SHA256:${'A'.repeat(43)}`;
const inventory = toInventory({
  management: { cidrs: ['198.51.100.0/24'] },
  defaults: {},
  hunt: {},
  forensics: {},
  hosts: {
    web1: {
      address: '198.51.100.11',
      hostKey: KEY,
      tags: [],
      cloud: { provider: 'aws', region: 'us-east-1', instanceId: 'i-0abc12345def67890' },
    },
    web2: { address: '198.51.100.12', hostKey: KEY, tags: [] },
    twin1: { address: '198.51.100.99', hostKey: KEY, tags: [] },
    twin2: { address: '198.51.100.99', hostKey: KEY, tags: [] },
  },
});

describe('matching an alert host hint to the inventory', () => {
  it('matches by name, address or EC2 instance id, case-insensitively', () => {
    expect(matchInventoryHost(inventory, 'web1')).toBe('web1');
    expect(matchInventoryHost(inventory, 'WEB2')).toBe('web2');
    expect(matchInventoryHost(inventory, '198.51.100.12')).toBe('web2');
    expect(matchInventoryHost(inventory, 'i-0abc12345def67890')).toBe('web1');
  });

  it('matches nothing for unknown hosts, near misses and ambiguous addresses', () => {
    expect(matchInventoryHost(inventory, 'web3')).toBeUndefined();
    expect(matchInventoryHost(inventory, 'web1.example.com')).toBeUndefined();
    expect(matchInventoryHost(inventory, '198.51.100.1')).toBeUndefined();
    expect(matchInventoryHost(inventory, '198.51.100.99')).toBeUndefined();
  });
});

describe('the reason a suggested button puts on the request', () => {
  it('cannot break out of the quoted --reason, whatever the alert title says', () => {
    const hostile = 'x" --break-glass "\\" \u201cquoted\u201d\u0007';
    const text = `lockdown web1 --reason "${alertReason(hostile, 'fp"1')}"`;
    const tokens = tokenize(text);
    expect(tokens).toHaveLength(4);
    expect(tokens.slice(0, 3)).toEqual(['lockdown', 'web1', '--reason']);
    expect(tokens[3]).toMatch(/^alert x --break-glass .* \(fp 1\)$/);
  });

  it('stays under the 500-character reason limit', () => {
    expect(alertReason('t'.repeat(2000), 'f'.repeat(300)).length).toBeLessThan(500);
  });
});

const alert: Alert = {
  source: 'falco',
  fingerprint: 'abc123',
  status: 'firing',
  severity: 'warning',
  title: 'SSH brute force',
  summary: '',
  host: 'i-0abc12345def67890',
  labels: {},
  startsAt: '2024-05-01T12:00:00.000Z',
  raw: {},
};
const state = { count: 1, firstSeen: 't', lastSeen: 't', status: 'firing' as const };
const route = { rule: 'ssh', suggest: ['forensics', 'lockdown'] };

describe('alert message buttons', () => {
  it('carry the inventory host name, not the raw hint, and a reference to the stored alert', () => {
    const ref = '0b7c4a3e-9d1f-4c55-8a2b-7e6f5d4c3b2a';
    const long = { ...alert, fingerprint: 'f'.repeat(3000), title: 't'.repeat(3000) };
    const blocks = renderAlertMessage(long, { ...state, inventoryHost: 'web1' }, route, ref).blocks!;
    const buttons = blocks.find((b) => b.type === 'actions')?.['elements'] as Array<{ value: string }>;
    expect(buttons.map((b) => JSON.parse(b.value))).toEqual([
      { command: 'forensics', host: 'web1', ref },
      { command: 'lockdown', host: 'web1', ref },
      // Open incident: every firing alert has it (test/integration/incidents.test.ts).
      { ref },
    ]);
  });

  it('are left out for a host ward does not know, and the message says so', () => {
    const message = renderAlertMessage(alert, state, route);
    expect(message.blocks!.some((b) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(message.blocks)).toContain("host `i-0abc12345def67890` is not in ward's inventory");
  });
});

describe('rules summary', () => {
  it('describes each rule on one line', () => {
    const set = loadRules(
      `rules:\n  - name: ssh\n    match: { source: falco, title: { icontains: ssh }, severity: { gte: warning } }\n    route: { channel: C0SECOPS, mention: S0ONCALL }\n    suggest: [forensics]\n    auto: [forensics]\n`,
      'rules.yaml',
    );
    expect(summarizeRules(set)).toEqual([
      '1. ssh: source equals "falco" and title icontains "ssh" and severity gte "warning"; → C0SECOPS (mention S0ONCALL); suggest forensics; auto forensics; dedupe 30m, storm over 20/min',
    ]);
    expect(summarizeRules(builtinRuleSet('C0ALERTS'))).toEqual([
      '1. default: every alert; → C0ALERTS; dedupe 30m, storm over 20/min',
    ]);
  });
});
