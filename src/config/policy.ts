import { z } from 'zod';
import { parseDurationMs } from './yaml-file.js';

/** A Slack user (U…/W…) or user group (S…) id. */
export const slackPrincipal = z
  .string()
  .regex(/^[UWS][A-Z0-9]{2,}$/, 'must be a Slack user id (U…/W…) or user group id (S…)');

const roleName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'role names are lowercase letters, digits, - and _');

export const mfaModes = ['none', 'requester', 'approvers', 'both'] as const;
export const enforcementLevels = ['advisory', 'soft', 'hard'] as const;

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDurationMs(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 90s, 15m or 2h' });
    return z.NEVER;
  }
  return ms;
});

/** One command's policy as written in the policy file: every field optional, overriding the command's default. */
export const commandPolicyOverride = z
  .object({
    allow: z.array(roleName).min(1).optional(),
    approvals: z.number().int().min(0).max(10).optional(),
    approvers: z.array(roleName).optional(),
    mfa: z.enum(mfaModes).optional(),
    /** How long a request waits for approval, e.g. `15m`. */
    expires: duration.optional(),
    enforcement: z.enum(enforcementLevels).optional(),
    reason: z.enum(['required', 'optional']).optional(),
    /** Roles that may override a `soft` policy (with a mandatory reason). */
    breakGlass: z.array(roleName).optional(),
    /** Alert rules may run this command automatically (only sensible for read-only commands such as forensics). */
    auto: z.boolean().optional(),
    /** Cloud commands: accept an instance id that no inventory host carries (needs `--region` or AWS_REGION). */
    allowUnlisted: z.boolean().optional(),
    /**
     * Per sub-action roles, for commands with actions (`incident close`, `incident role`): who may do that action,
     * on top of `allow`. The pseudo-role `commander` is the incident's commander.
     */
    actions: z.record(z.string().regex(/^[a-z]+$/), z.array(roleName).min(1)).optional(),
  })
  .strict();

export type CommandPolicyOverride = z.infer<typeof commandPolicyOverride>;

export const policyFileSchema = z
  .object({
    roles: z.record(roleName, z.array(slackPrincipal)).default({}),
    commands: z.record(z.string(), commandPolicyOverride).default({}),
  })
  .strict();

export type PolicyFile = z.infer<typeof policyFileSchema>;

/** The effective policy of one command: the command's declared defaults with the policy file's overrides. */
export interface CommandPolicy {
  allow: string[];
  approvals: number;
  approvers: string[];
  mfa: (typeof mfaModes)[number];
  expiresMs: number;
  enforcement: (typeof enforcementLevels)[number];
  reason: 'required' | 'optional';
  breakGlass: string[];
  auto: boolean;
  /** Cloud commands may act on instances outside the inventory (off by default). */
  allowUnlisted: boolean;
  /** Roles per sub-action (`close: [commander, admin]`); an action not listed needs only `allow`. */
  actions: Record<string, string[]>;
}

/** Pseudo-roles the policy engine does not resolve itself: the command checks them (the incident's commander). */
export const CONTEXT_ROLES: ReadonlySet<string> = new Set(['commander']);

/** Pseudo-role every user holds. */
export const EVERYONE = 'everyone';
