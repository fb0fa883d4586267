import { describe, expect, it } from 'vitest';
import { inventorySchema, LOCAL_HOST_KEY, resolveHosts, toInventory } from '../../src/config/inventory.js';
import { policyFileSchema } from '../../src/config/policy.js';
import { parseYaml } from '../../src/config/yaml-file.js';
import { type ConfigError, UserInputError } from '../../src/errors.js';

const KEY = 'SHA256:uJ4bX2aBQn7zZk0PqzP8l8z1J6m3bH0l2cJv0sYp9aE';

describe('policy file', () => {
  it('accepts roles of people and user groups, and per-command overrides', () => {
    const p = parseYaml(
      `roles:
  responder: [U0RESP1, U0RESP2]
  approver: [U0APPR1, U0APPR2, "S0SECLEADS"]   # S… = a Slack user group
  admin: [U0ADMIN1]
commands:
  forensics: { allow: [responder, approver, admin] }
  lockdown:  { allow: [responder, admin] }
  release:   { allow: [admin] }
`,
      policyFileSchema,
      'policy file',
    );
    expect(p.roles['approver']).toContain('S0SECLEADS');
    expect(p.commands['release']?.allow).toEqual(['admin']);
  });

  it('names the line and field of each problem', () => {
    let err: ConfigError | undefined;
    try {
      parseYaml(
        'roles:\n  admin: [U0ADMIN1]\ncommands:\n  lockdown:\n    approvals: many\n    mfa: sometimes\n',
        policyFileSchema,
        'policy file',
      );
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.problems).toEqual([
      expect.stringMatching(/^line 5: commands\.lockdown\.approvals: /),
      expect.stringMatching(/^line 6: commands\.lockdown\.mfa: /),
    ]);
  });

  it('refuses an id that is not a Slack user or group', () => {
    expect(() => parseYaml('roles:\n  admin: [alice]\n', policyFileSchema, 'policy file')).toThrow(
      /line 2: roles\.admin\.0: must be a Slack user id/,
    );
  });
});

describe('inventory file', () => {
  const text = `management:
  cidrs: [198.51.100.1/32]          # who keeps SSH access during a lockdown
defaults: { user: root, port: 22, key: /etc/ward/id_ed25519 }
hosts:
  web1:
    address: 198.51.100.11
    hostKey: "${KEY}"
    tags: [web, prod]
  db1: { address: 198.51.100.12, hostKey: "${KEY}", tags: [db, prod] }
`;

  it('accepts the example and resolves names and tags', () => {
    const inv = toInventory(parseYaml(text, inventorySchema, 'inventory'));
    expect(resolveHosts(inv, 'web1').map((h) => h.address)).toEqual(['198.51.100.11']);
    expect(resolveHosts(inv, 'tag:prod').map((h) => h.name)).toEqual(['db1', 'web1']);
    expect(inv.hosts.get('db1')).toMatchObject({ user: 'root', port: 22, keyPath: '/etc/ward/id_ed25519' });
  });

  it('tells an unknown host from a known one', () => {
    const inv = toInventory(parseYaml(text, inventorySchema, 'inventory'));
    expect(() => resolveHosts(inv, 'web9')).toThrow(UserInputError);
    expect(() => resolveHosts(inv, 'web9')).toThrow(/Known hosts: db1, web1/);
  });

  it('refuses a host key that is not a pinned SHA256 fingerprint', () => {
    expect(() =>
      parseYaml(text.replace(`"${KEY}"`, 'ssh-ed25519 AAAA'), inventorySchema, 'inventory'),
    ).toThrow(/line 7: hosts\.web1\.hostKey: must be a pinned fingerprint/);
  });

  it('takes a transport: local host without a host key, and still demands one of SSH hosts', () => {
    const local = `${text}  localhost: { address: 127.0.0.1, transport: local, tags: [demo] }\n`;
    const inv = toInventory(parseYaml(local, inventorySchema, 'inventory'));
    expect(inv.hosts.get('localhost')).toMatchObject({ transport: 'local', hostKey: LOCAL_HOST_KEY });
    expect(inv.hosts.get('web1')).toMatchObject({ transport: 'ssh', hostKey: KEY });
    const noKey = text.replace(`    hostKey: "${KEY}"\n`, '');
    expect(() => parseYaml(noKey, inventorySchema, 'inventory')).toThrow(
      /hosts\.web1\.hostKey: is required for SSH hosts/,
    );
    const localWithKey = `${text}  me: { address: 127.0.0.1, transport: local, hostKey: "${KEY}" }\n`;
    expect(() => parseYaml(localWithKey, inventorySchema, 'inventory')).toThrow(
      /hosts\.me\.transport: local hosts are not reached over SSH/,
    );
  });
});
