import { z } from 'zod';
import { CLOUD_PROVIDERS, cloudProvider, providerForInstanceId } from '../adapters/cloud-providers.js';
import { HOST_NAME_PATTERN, type Inventory, type InventoryHost } from '../config/inventory.js';
import type { CommandPolicy } from '../config/policy.js';
import { UserInputError } from '../errors.js';
import type { CloudProvider } from '../ports/cloud-isolation.js';

/** The cloud instance a cloud command acts on. */
export interface CloudTarget {
  /** How people name it: the inventory host name, or the instance id when it is not in the inventory. */
  name: string;
  instanceId: string;
  region: string;
  /** The cloud it is in: the inventory host's `cloud.provider`, or the one whose ids look like `instanceId`. */
  provider: CloudProvider;
  /** The inventory host carrying this instance, when there is one. */
  host: InventoryHost | undefined;
}

const providers = Object.values(CLOUD_PROVIDERS);

/** Whether `v` is a well-formed instance id of some provider. */
export function isInstanceId(v: string): boolean {
  return providerForInstanceId(v)?.instanceIdPattern.test(v) ?? false;
}

/**
 * `<host|instance-id>`: an inventory host name or an instance id. Anything starting like a provider's ids (`i-`)
 * must be a well-formed instance id, so that a typo is refused here, before any API call.
 */
export const cloudTargetArg = z
  .string()
  .refine(
    (v) => (providerForInstanceId(v) ? isInstanceId(v) : HOST_NAME_PATTERN.test(v)),
    `must be an inventory host name (e.g. web1) or ${providers.map((p) => p.instanceIdHint).join(' or ')}`,
  );

export const regionArg = z
  .string()
  .refine(
    (v) => providers.some((p) => p.regionPattern.test(v)),
    `must be ${providers.map((p) => p.regionHint).join(' or ')}`,
  );

/**
 * Resolves a target against the inventory. An instance id no host carries is accepted only when the command's
 * policy says `allowUnlisted: true`, and then needs a region (`--region`, or `fallbackRegion` such as the one
 * recorded at quarantine).
 */
export function resolveCloudTarget(
  inventory: Inventory,
  policy: Pick<CommandPolicy, 'allowUnlisted'>,
  command: string,
  target: string,
  region: string | undefined,
  fallbackRegion?: string,
): CloudTarget {
  if (isInstanceId(target)) {
    const host = [...inventory.hosts.values()].find((h) => h.cloud?.instanceId === target);
    if (host?.cloud) {
      if (region !== undefined && region !== host.cloud.region) {
        throw new UserInputError(
          `--region ${region} contradicts the inventory: ${target} (${host.name}) is in ${host.cloud.region}.`,
        );
      }
      return {
        name: host.name,
        instanceId: target,
        region: host.cloud.region,
        provider: cloudProvider(host.cloud.provider),
        host,
      };
    }
    if (!policy.allowUnlisted) {
      throw new UserInputError(
        `Instance \`${target}\` is not in the inventory, and the policy does not let \`${command}\` act on unlisted instances. ` +
          `Add it to the inventory (\`cloud: { provider: aws, region: …, instanceId: ${target} }\`) or set \`allowUnlisted: true\` for ${command} in the policy file.`,
      );
    }
    const resolved = region ?? fallbackRegion;
    if (resolved === undefined) {
      throw new UserInputError(
        `Instance \`${target}\` is not in the inventory, so ward does not know its region: add --region (e.g. --region eu-west-1).`,
      );
    }
    return {
      name: target,
      instanceId: target,
      region: resolved,
      provider: providerForInstanceId(target)!,
      host: undefined,
    };
  }
  const host = inventory.hosts.get(target);
  if (!host) {
    const known = [...inventory.hosts.values()]
      .filter((h) => h.cloud)
      .map((h) => h.name)
      .sort();
    throw new UserInputError(
      `Unknown host \`${target}\`.${known.length > 0 ? ` Hosts with a cloud instance: ${known.slice(0, 20).join(', ')}.` : ' No inventory host has a `cloud:` section.'} You can also name an instance id (i-…).`,
    );
  }
  if (!host.cloud) {
    throw new UserInputError(
      `Host \`${target}\` has no \`cloud:\` section in the inventory, so ward does not know its cloud instance. Add \`cloud: { provider: aws, region: …, instanceId: i-… }\` to it, or use \`lockdown\` for the host firewall.`,
    );
  }
  if (region !== undefined && region !== host.cloud.region) {
    throw new UserInputError(
      `--region ${region} contradicts the inventory: ${target} is in ${host.cloud.region}.`,
    );
  }
  return {
    name: host.name,
    instanceId: host.cloud.instanceId,
    region: host.cloud.region,
    provider: cloudProvider(host.cloud.provider),
    host,
  };
}

/** The plan's host entry for a cloud target (no SSH: the address says where the API call goes). */
export function planHost(t: CloudTarget): { name: string; address: string; hostKey: string } {
  return {
    name: t.name,
    address: t.host ? `${t.host.address} (${t.instanceId}, ${t.region})` : `${t.instanceId} (${t.region})`,
    hostKey: t.host?.hostKey ?? `n/a (${t.provider.label} API)`,
  };
}
