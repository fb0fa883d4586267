import type { CommandPolicy, PolicyFile } from '../config/policy.js';
import { CONTEXT_ROLES, EVERYONE } from '../config/policy.js';
import { ConfigError, PermissionDeniedError } from '../errors.js';
import type { ChatClient } from '../ports/chat.js';
import type { Clock } from '../ports/clock.js';
/** What the policy engine needs to know of a command: its name and the policy it declares. */
export interface PolicySubject {
  name: string;
  policy: Partial<CommandPolicy>;
}

/** The commands the policy file may name. */
export interface KnownCommands {
  find(name: string): PolicySubject | undefined;
  all(): ReadonlyArray<{ name: string }>;
}

const BASE_POLICY: CommandPolicy = {
  allow: ['admin'],
  approvals: 0,
  approvers: ['approver', 'admin'],
  mfa: 'none',
  expiresMs: 15 * 60_000,
  enforcement: 'hard',
  reason: 'optional',
  breakGlass: [],
  auto: false,
  allowUnlisted: false,
  actions: {},
};

/**
 * Who may do what: roles from the policy file (Slack users and user groups), each command's effective policy
 * (its declared defaults overridden by the policy file). Without a policy file only commands that everyone may run
 * by default (help, hosts, status, …) are available.
 */
export class PolicyEngine {
  private readonly groupCache = new Map<string, { members: Set<string>; at: number }>();

  constructor(
    private readonly file: PolicyFile | undefined,
    private readonly commands: KnownCommands,
    private readonly chat: Pick<ChatClient, 'usergroupMembers'>,
    private readonly clock: Clock,
    private readonly groupCacheMs = 60_000,
  ) {
    if (file) this.validate(file);
  }

  get hasPolicyFile(): boolean {
    return this.file !== undefined;
  }

  private validate(file: PolicyFile): void {
    const problems: string[] = [];
    const roles = new Set([...Object.keys(file.roles), EVERYONE]);
    for (const [name, override] of Object.entries(file.commands)) {
      if (!this.commands.find(name)) {
        problems.push(
          `commands.${name}: no such command (known: ${this.commands
            .all()
            .map((c) => c.name)
            .join(', ')})`,
        );
        continue;
      }
      for (const field of ['allow', 'approvers', 'breakGlass'] as const) {
        for (const role of override[field] ?? []) {
          if (!roles.has(role))
            problems.push(`commands.${name}.${field}: role "${role}" is not defined under roles`);
        }
      }
      for (const [action, allowed] of Object.entries(override.actions ?? {})) {
        for (const role of allowed) {
          if (!roles.has(role) && !CONTEXT_ROLES.has(role))
            problems.push(`commands.${name}.actions.${action}: role "${role}" is not defined under roles`);
        }
      }
    }
    if (problems.length > 0) throw new ConfigError('policy file', problems);
  }

  /** The effective policy of a command. */
  policyFor(command: PolicySubject): CommandPolicy {
    const declared = { ...BASE_POLICY, ...command.policy };
    const override = this.file?.commands[command.name];
    if (!override) return declared;
    return {
      allow: override.allow ?? declared.allow,
      approvals: override.approvals ?? declared.approvals,
      approvers: override.approvers ?? declared.approvers,
      mfa: override.mfa ?? declared.mfa,
      expiresMs: override.expires ?? declared.expiresMs,
      enforcement: override.enforcement ?? declared.enforcement,
      reason: override.reason ?? declared.reason,
      breakGlass: override.breakGlass ?? declared.breakGlass,
      auto: override.auto ?? declared.auto,
      allowUnlisted: override.allowUnlisted ?? declared.allowUnlisted,
      actions: { ...declared.actions, ...override.actions },
    };
  }

  /** The roles a command's sub-action needs (policy file over the declaration); undefined when only `allow` applies. */
  actionRoles(commandName: string, action: string): string[] | undefined {
    const command = this.commands.find(commandName);
    return command ? this.policyFor(command).actions[action] : undefined;
  }

  /**
   * The roles a user holds now. `fresh` bypasses the user group cache: approval clicks are judged on membership
   * at the moment of the click, not as it was when the request was made.
   */
  async rolesOf(user: string, options: { fresh?: boolean } = {}): Promise<Set<string>> {
    const roles = new Set<string>([EVERYONE]);
    if (!this.file) return roles;
    for (const [role, principals] of Object.entries(this.file.roles)) {
      for (const p of principals) {
        if (
          p === user ||
          (p.startsWith('S') && (await this.groupMembers(p, options.fresh ?? false)).has(user))
        ) {
          roles.add(role);
          break;
        }
      }
    }
    return roles;
  }

  private async groupMembers(group: string, fresh: boolean): Promise<Set<string>> {
    const cached = this.groupCache.get(group);
    if (!fresh && cached && this.clock.now() - cached.at < this.groupCacheMs) return cached.members;
    const members = new Set(await this.chat.usergroupMembers(group));
    this.groupCache.set(group, { members, at: this.clock.now() });
    return members;
  }

  /** Whether the user holds any of the roles. */
  async holdsAny(
    user: string,
    roles: readonly string[],
    options: { fresh?: boolean } = {},
  ): Promise<boolean> {
    if (roles.includes(EVERYONE)) return true;
    const held = await this.rolesOf(user, options);
    return roles.some((r) => held.has(r));
  }

  /** Throws PermissionDeniedError naming the roles that may run the command. */
  async authorize(user: string, command: PolicySubject): Promise<CommandPolicy> {
    const policy = this.policyFor(command);
    if (!this.file && !policy.allow.includes(EVERYONE)) {
      throw new PermissionDeniedError(
        `\`${command.name}\` is not available: no policy file is configured (WARD_POLICY), so ward only runs read-only commands such as \`help\`.`,
      );
    }
    if (!(await this.holdsAny(user, policy.allow))) {
      throw new PermissionDeniedError(
        `You may not run \`${command.name}\`: it is limited to the role${policy.allow.length > 1 ? 's' : ''} ${policy.allow.map((r) => `*${r}*`).join(', ')}. Ask an admin to add you to the policy file if you need it.`,
      );
    }
    return policy;
  }
}
