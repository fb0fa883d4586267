import type { Inventory } from '../config/inventory.js';

/**
 * The inventory host an alert's host hint names: by host name, by address, or by EC2 instance id against a host's
 * `cloud.instanceId`. Exact matches only (case-insensitive): a suggested button may lead to a lockdown, so a
 * near miss must not land on another machine. A hint that matches several hosts (two hosts sharing an address)
 * matches none.
 */
export function matchInventoryHost(inventory: Inventory, hint: string): string | undefined {
  const wanted = hint.trim().toLowerCase();
  if (wanted === '') return undefined;
  if (inventory.hosts.has(wanted)) return wanted;
  const found = new Set<string>();
  for (const host of inventory.hosts.values()) {
    if (host.address.toLowerCase() === wanted || host.cloud?.instanceId.toLowerCase() === wanted) {
      found.add(host.name);
    }
  }
  return found.size === 1 ? [...found][0] : undefined;
}
