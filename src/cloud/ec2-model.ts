import { isIP } from 'node:net';
/**
 * What ward knows about EC2 without the AWS SDK: tag names, id patterns, the shapes it records. Kept apart from
 * ec2.ts so that commands and the inventory can use them without loading the SDK (about 90 MiB), which ward loads
 * only when a cloud command runs or the watcher starts.
 */
/** The tag that marks an instance under incident response; the IAM tag-deny policy in the README keys on it. */
export const IR_TAG = { key: 'SecurityStatus', value: 'IR' } as const;
/** The tag that ties an instance (and its evidence snapshots) to the ward request that acted on it. */
export const REQUEST_TAG_KEY = 'ward:request';
export const INSTANCE_TAG_KEY = 'ward:instance';
/** EC2 instance ids: `i-` and 8 (old) or 17 hex digits. Checked before any API call. */
export const INSTANCE_ID_PATTERN = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** The isolation security group ward creates (or reuses) in each VPC. */
export function isolationGroupName(vpcId: string): string {
  return `ward-isolation-${vpcId}`;
}

export interface GroupRef {
  groupId: string;
  groupName: string;
}

export interface NetworkInterfaceState {
  networkInterfaceId: string;
  vpcId: string;
  groups: GroupRef[];
}

/** What ward needs to know about an instance, read from DescribeInstances. */
export interface InstanceSnapshot {
  instanceId: string;
  region: string;
  state: string;
  vpcId: string | undefined;
  networkInterfaces: NetworkInterfaceState[];
  tags: Record<string, string>;
  volumes: Array<{ volumeId: string; deviceName: string }>;
}

/** Whether every network interface of the instance is in exactly its VPC's isolation group (and nothing else). */
export function isIsolated(instance: InstanceSnapshot): boolean {
  return (
    instance.networkInterfaces.length > 0 &&
    instance.networkInterfaces.every(
      (eni) => eni.groups.length === 1 && eni.groups[0]!.groupName === isolationGroupName(eni.vpcId),
    )
  );
}

export interface IsolationGroupResult {
  groupId: string;
  created: boolean;
  /** One line per change made (rule added, rule revoked); empty when the group was already right. */
  changes: string[];
}

/** `10.0.0.5` → `10.0.0.5/32`; EC2 only takes CIDRs. */
export function normalizeCidr(value: string): string {
  if (value.includes('/')) return value;
  return `${value}/${isIP(value) === 6 ? 128 : 32}`;
}
