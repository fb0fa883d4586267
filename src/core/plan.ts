import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { Plan } from './command.js';

/**
 * The sha256 of what a human approves: command, arguments, hosts with their addresses and pinned keys, and every
 * step with its exact commands. Rebuilt and compared just before execution: what is approved is what runs.
 */
export function planHash(plan: Plan): string {
  return createHash('sha256').update(canonicalJson(plan)).digest('hex');
}
