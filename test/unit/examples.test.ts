/**
 * examples/*.yaml are what a team copies first: each one loads with ward's own loaders, so they cannot rot.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { renderSudoers } from '../../src/actions/sudoers.js';
import { loadRules } from '../../src/alerts/rules.js';
import { inventorySchema, toInventory } from '../../src/config/inventory.js';
import { policyFileSchema } from '../../src/config/policy.js';
import { loadYamlFile } from '../../src/config/yaml-file.js';

const path = (name: string): string => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));
const commandNames = commands.map((c) => c.name);

describe('examples', () => {
  it('policy.yaml loads, names only existing commands, and every role it uses is defined', () => {
    const policy = loadYamlFile(path('policy.yaml'), policyFileSchema, 'policy file', 'WARD_POLICY');
    const roles = new Set(Object.keys(policy.roles));
    expect([...roles].sort()).toEqual(['admin', 'approver', 'responder']);
    // Roles from Slack user groups (S…) as well as people (U…).
    expect(
      Object.values(policy.roles)
        .flat()
        .some((id) => id.startsWith('S')),
    ).toBe(true);
    for (const [name, p] of Object.entries(policy.commands)) {
      expect(commandNames, `command ${name}`).toContain(name);
      for (const role of [...(p.allow ?? []), ...(p.approvers ?? []), ...(p.breakGlass ?? [])]) {
        expect(roles, `${name}: role ${role}`).toContain(role);
      }
    }
    expect(policy.commands['lockdown']).toMatchObject({ enforcement: 'soft', breakGlass: ['admin'] });
  });

  it('inventory.yaml loads with pinned keys, tags, management ranges, a bastion, a cloud host and a non-root account', () => {
    const inventory = toInventory(
      loadYamlFile(path('inventory.yaml'), inventorySchema, 'inventory file', 'WARD_INVENTORY'),
    );
    expect(inventory.managementCidrs.length).toBeGreaterThan(0);
    const hosts = [...inventory.hosts.values()];
    expect(hosts.every((h) => h.hostKey.startsWith('SHA256:'))).toBe(true);
    expect(hosts.filter((h) => h.tags.includes('web')).map((h) => h.name)).toEqual(['web1', 'web2']);
    expect(hosts.some((h) => h.proxyCommand !== undefined)).toBe(true);
    expect(inventory.hosts.get('api-eu-1')?.cloud).toMatchObject({ provider: 'aws', region: 'eu-west-1' });
    // A non-root account through sudo, and its sudoers file renders for every host.
    expect(hosts.every((h) => h.user === 'ward' && h.sudo === true)).toBe(true);
    for (const h of hosts) {
      expect(renderSudoers(h.user, { confirmSeconds: 60, host: h })).toContain(
        'ward ALL=(root) NOPASSWD: /usr/sbin/nft list ruleset\n',
      );
    }
  });

  it('rules.yaml compiles against the real commands, routes by severity and runs nothing automatically', () => {
    const rules = loadRules(readFileSync(path('rules.yaml'), 'utf8'), 'examples/rules.yaml', {
      commands: commandNames,
    });
    expect(rules.rules.length).toBeGreaterThan(3);
    expect(rules.rules.some((r) => r.criteria.some((c) => c.field === 'severity'))).toBe(true);
    expect(rules.rules.some((r) => r.suggest.length > 0)).toBe(true);
    expect(rules.rules.flatMap((r) => r.auto)).toEqual([]);
  });
});
