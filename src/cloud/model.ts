import { isIP } from 'node:net';
import type { CloudProvider, InstanceState } from '../ports/cloud-isolation.js';

/**
 * What quarantine means whatever the cloud: the tags ward sets and the isolation test. Provider-specific knowledge
 * (ids, group names, API calls) lives behind CloudProvider in adapters/.
 */
/** The tag that marks an instance under incident response; the IAM tag-deny policy in docs/aws.md keys on it. */
export const IR_TAG = { key: 'SecurityStatus', value: 'IR' } as const;
/** The tag that ties an instance (and its evidence snapshots) to the ward request that acted on it. */
export const REQUEST_TAG_KEY = 'ward:request';
export const INSTANCE_TAG_KEY = 'ward:instance';

/** Whether every network interface of the instance is in exactly its network's isolation group (and nothing else). */
export function isIsolated(
  provider: Pick<CloudProvider, 'isolationGroupName'>,
  instance: InstanceState,
): boolean {
  return (
    instance.networkInterfaces.length > 0 &&
    instance.networkInterfaces.every(
      (eni) => eni.groups.length === 1 && eni.groups[0]!.groupName === provider.isolationGroupName(eni.vpcId),
    )
  );
}

/** `10.0.0.5` → `10.0.0.5/32`: firewall rules take CIDRs. */
export function normalizeCidr(value: string): string {
  if (value.includes('/')) return value;
  return `${value}/${isIP(value) === 6 ? 128 : 32}`;
}
