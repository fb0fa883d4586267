/**
 * Who asks for a command. A person is judged by the roles the policy file gives them; ward itself asks only on
 * behalf of something the operator configured (a rule's `auto`, a watcher), and only for commands whose policy says
 * `auto: true` and does not need the requester's second factor, which ward has none of.
 */
export type Origin =
  | { kind: 'person'; user: string }
  | { kind: 'ward'; on: { rule: string } | { watcher: string } };

/** "rule ssh-brute-force" / "watcher cloud-tags": for logs and audit entries. */
export function describeOrigin(origin: Origin): string {
  if (origin.kind === 'person') return `user ${origin.user}`;
  return 'rule' in origin.on ? `rule ${origin.on.rule}` : `watcher ${origin.on.watcher}`;
}
