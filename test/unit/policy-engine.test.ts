import { describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { policyFileSchema } from '../../src/config/policy.js';
import { parseYaml } from '../../src/config/yaml-file.js';
import { PolicyEngine } from '../../src/core/policy-engine.js';
import { CommandRegistry } from '../../src/core/registry.js';
import { ConfigError, PermissionDeniedError } from '../../src/errors.js';

const registry = new CommandRegistry(commands);
const now = 0;
const clock = { now: () => now };

function engine(yaml: string | undefined, groups: Record<string, string[]> = {}) {
  const lookups: string[] = [];
  const chat = {
    usergroupMembers: async (g: string) => {
      lookups.push(g);
      return groups[g] ?? [];
    },
  };
  const file = yaml === undefined ? undefined : parseYaml(yaml, policyFileSchema, 'policy');
  return { engine: new PolicyEngine(file, registry, chat, clock), lookups, groups };
}

const POLICY = `
roles:
  responder: [U0RESP1]
  approver: [S0SECLEADS]
  admin: [U0ADMIN1]
commands:
  lockdown: { allow: [responder, admin], approvals: 2, expires: 30m }
`;

describe('PolicyEngine', () => {
  it('without a policy file allows only commands everyone may run', async () => {
    const { engine: e } = engine(undefined);
    await expect(e.authorize('U0ANY', registry.get('help'))).resolves.toBeDefined();
    await expect(e.authorize('U0ANY', registry.get('lockdown'))).rejects.toThrow(
      /no policy file is configured/,
    );
  });

  it('overrides the declared policy field by field', () => {
    const { engine: e } = engine(POLICY);
    const p = e.policyFor(registry.get('lockdown'));
    expect(p).toMatchObject({
      allow: ['responder', 'admin'],
      approvals: 2,
      expiresMs: 30 * 60_000,
      mfa: 'requester',
      reason: 'required',
    });
  });

  it('refuses a user outside the allowed roles, naming the roles', async () => {
    const { engine: e } = engine(POLICY);
    const err = await e.authorize('U0STRANGER', registry.get('lockdown')).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as PermissionDeniedError).userMessage).toMatch(/\*responder\*, \*admin\*/);
  });

  it('grants roles through user group membership, cached until a fresh look is asked for', async () => {
    const { engine: e, lookups, groups } = engine(POLICY, { S0SECLEADS: ['U0APPR1'] });
    expect((await e.rolesOf('U0APPR1')).has('approver')).toBe(true);
    groups['S0SECLEADS'] = [];
    expect((await e.rolesOf('U0APPR1')).has('approver')).toBe(true); // cached
    expect((await e.rolesOf('U0APPR1', { fresh: true })).has('approver')).toBe(false);
    expect(lookups.length).toBe(2);
  });

  it('refuses a policy file naming an unknown command or role', () => {
    expect(() => engine('roles: {}\ncommands:\n  lockdwn: { allow: [admin] }\n')).toThrow(ConfigError);
    expect(() => engine('roles: {}\ncommands:\n  lockdown: { allow: [wizard] }\n')).toThrow(
      /role "wizard" is not defined/,
    );
  });
});
