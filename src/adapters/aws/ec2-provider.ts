import type { Config } from '../../config/env.js';
import type {
  CloudCallTemplate,
  CloudIsolation,
  CloudProvider,
  Placeholder,
} from '../../ports/cloud-isolation.js';

/**
 * What ward knows about EC2 without the AWS SDK: id patterns, the isolation group's name and how each port call
 * reads as EC2 API calls. Kept apart from ec2-isolation.ts so that plans, commands and the inventory can use it
 * without loading the SDK (about 90 MiB), which ward loads only when a cloud command runs or the watcher starts.
 */

/** EC2 instance ids: `i-` and 8 (old) or 17 hex digits. Checked before any API call. */
export const INSTANCE_ID_PATTERN = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

// Its own module: ec2-isolation.ts (loaded lazily, with the SDK) needs it too, without importing this one.
import { isolationGroupName } from './ec2-names.js';

export { isolationGroupName };

const text = (v: string | Placeholder): string => (typeof v === 'string' ? v : v.placeholder);
const list = (values: ReadonlyArray<string | Placeholder>): string => `[${values.map(text).join(', ')}]`;
const tagList = (tags: Record<string, string | Placeholder>): string =>
  `[${Object.entries(tags)
    .map(([k, v]) => `${k}=${text(v)}`)
    .join(', ')}]`;

/**
 * The EC2 calls Ec2Isolation makes for each port call, in its order, with the parameters it sends: what approvers
 * read in a plan. Kept next to ec2-isolation.ts's methods: a change to one is a change to the other.
 */
export function showEc2Call(call: CloudCallTemplate): string[] {
  switch (call.op) {
    case 'describeInstance':
      return [`ec2:DescribeInstances InstanceIds=[${text(call.instanceId)}]`];
    case 'tag':
      return [`ec2:CreateTags Resources=[${text(call.instanceId)}] Tags=${tagList(call.tags)}`];
    case 'untag':
      return [`ec2:DeleteTags Resources=[${text(call.instanceId)}] Tags=${list(call.keys)}`];
    case 'prepareIsolation': {
      const vpc = text(call.vpcId);
      const name = isolationGroupName(vpc);
      return [
        `ec2:DescribeSecurityGroups Filters=[group-name=${name}, vpc-id=${vpc}]`,
        `ec2:CreateSecurityGroup GroupName=${name} VpcId=${vpc} TagSpecifications=[security-group: ward:managed=isolation, ward:request=${text(call.requestId)}] (only when absent)`,
        ...(call.managementCidrs.length > 0
          ? [
              `ec2:AuthorizeSecurityGroupIngress IpProtocol=tcp FromPort=22 ToPort=22 Cidrs=${list(call.managementCidrs)} (those missing)`,
            ]
          : []),
        'ec2:RevokeSecurityGroupEgress IpProtocol=-1 Cidrs=[0.0.0.0/0, ::/0] (the default egress rule, when present)',
      ];
    }
    case 'isolate':
      return [
        `ec2:ModifyNetworkInterfaceAttribute NetworkInterfaceId=${text(call.networkInterfaceId)} Groups=[${text(call.isolationGroupId)}]`,
      ];
    case 'snapshotVolume':
      return [
        `ec2:CreateSnapshot VolumeId=${text(call.volumeId)} Description="${text(call.description)}" TagSpecifications=[snapshot: ${tagList(call.tags).slice(1, -1)}]`,
      ];
    case 'restore':
      return [
        `ec2:ModifyNetworkInterfaceAttribute NetworkInterfaceId=${text(call.networkInterfaceId)} Groups=${list(call.groupIds)}`,
      ];
  }
}

/** AWS EC2 as the cloud registry lists it (adapters/cloud-providers.ts). */
export const awsEc2Provider: CloudProvider = {
  name: 'aws',
  label: 'EC2',
  instanceIdPattern: INSTANCE_ID_PATTERN,
  instanceIdPrefix: 'i-',
  instanceIdHint: 'an EC2 instance id (i- and 8 or 17 hex digits, e.g. i-0abc12345def67890)',
  regionPattern: REGION_PATTERN,
  regionHint: 'an AWS region such as eu-west-1',
  isolationGroupName,
  showCall: showEc2Call,
  async load(config: Config): Promise<CloudIsolation> {
    // The SDK is imported here, on the first cloud command or watcher pass, never at start-up.
    const { ec2IsolationFor } = await import('./ec2-isolation.js');
    return ec2IsolationFor(config);
  },
};
