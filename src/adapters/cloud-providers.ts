import type { CloudProvider } from '../ports/cloud-isolation.js';
import { awsEc2Provider } from './aws/ec2-provider.js';

/**
 * The clouds ward can quarantine in, one line each, keyed by the inventory's `cloud.provider`. Each entry is the
 * SDK-free half of an adapter; its `load()` brings in the vendor SDK when a cloud command first runs.
 */
export const CLOUD_PROVIDERS = {
  aws: awsEc2Provider,
} as const satisfies Record<string, CloudProvider>;

export type CloudProviderName = keyof typeof CLOUD_PROVIDERS;

/** Provider names, for the inventory schema. */
export const CLOUD_PROVIDER_NAMES = Object.keys(CLOUD_PROVIDERS) as [
  CloudProviderName,
  ...CloudProviderName[],
];

/** The provider an inventory host or an instance id names. */
export function cloudProvider(name: CloudProviderName): CloudProvider {
  return CLOUD_PROVIDERS[name];
}

/** The provider whose instance ids start like `id` (`i-…` is EC2), if any. */
export function providerForInstanceId(id: string): CloudProvider | undefined {
  return Object.values(CLOUD_PROVIDERS).find((p) => id.startsWith(p.instanceIdPrefix));
}
