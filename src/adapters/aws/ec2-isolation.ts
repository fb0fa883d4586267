import { isIP } from 'node:net';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type Instance,
  type IpPermission,
  ModifyNetworkInterfaceAttributeCommand,
  RevokeSecurityGroupEgressCommand,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { CloudApiError, CloudStateError } from '../../cloud/errors.js';
import { normalizeCidr, REQUEST_TAG_KEY } from '../../cloud/model.js';
import type { Config } from '../../config/env.js';
import type {
  CloudIsolation,
  InstanceState,
  IsolationGroupResult,
  VolumeSnapshot,
} from '../../ports/cloud-isolation.js';
import { isolationGroupName } from './ec2-names.js';

/**
 * CloudIsolation on EC2: the few calls quarantine needs, each converting SDK errors into CloudApiError. One
 * EC2Client per region; credentials come from the SDK's default provider chain (environment, shared profile,
 * instance or task role); `AWS_ENDPOINT_URL` points every client at an EC2-compatible endpoint (tests use a fake on
 * loopback). The only module that imports the AWS SDK; ec2-provider.ts loads it on first use.
 */
export class Ec2Isolation implements CloudIsolation {
  private readonly clients = new Map<string, EC2Client>();

  constructor(private readonly options: { endpoint?: string | undefined } = {}) {}

  /** A client for the region; `undefined` lets the SDK resolve the region itself (AWS_REGION, profile). */
  client(region: string | undefined): EC2Client {
    const key = region ?? '(default)';
    let client = this.clients.get(key);
    if (!client) {
      client = new EC2Client({
        ...(region !== undefined ? { region } : {}),
        ...(this.options.endpoint !== undefined ? { endpoint: this.options.endpoint } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** The region the SDK resolved for the default client (AWS_REGION or the profile's region). */
  async defaultRegion(): Promise<string | undefined> {
    try {
      return await this.client(undefined).config.region();
    } catch {
      return undefined;
    }
  }

  private async call<T>(action: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const e = err as { name?: string; Code?: string; message?: string };
      throw new CloudApiError('EC2', action, e.Code ?? e.name ?? 'Error', e.message ?? String(err), err);
    }
  }

  async describeInstance(region: string, instanceId: string): Promise<InstanceState> {
    const out = await this.call('DescribeInstances', () =>
      this.client(region).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
    );
    const instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find(
      (i) => i.InstanceId === instanceId,
    );
    if (!instance) {
      throw new CloudStateError(
        `EC2 does not know instance ${instanceId} in ${region}: check the id and the region.`,
        'ward_cloud_not_found',
      );
    }
    return toState(instance, region);
  }

  /** Instances carrying the tag key=value (not terminated), following NextToken. */
  async listTagged(
    wanted: string | undefined,
    { key, value }: { key: string; value: string },
  ): Promise<{ region: string | undefined; instances: InstanceState[] }> {
    const region = wanted ?? (await this.defaultRegion());
    if (region === undefined) return { region, instances: [] };
    const client = this.client(region);
    const found: InstanceState[] = [];
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const out = await this.call('DescribeInstances', () =>
        client.send(
          new DescribeInstancesCommand({
            Filters: [
              { Name: `tag:${key}`, Values: [value] },
              { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
            ],
            ...(token !== undefined ? { NextToken: token } : {}),
          }),
        ),
      );
      for (const r of out.Reservations ?? [])
        for (const i of r.Instances ?? []) found.push(toState(i, region));
      nextToken = out.NextToken || undefined;
    } while (nextToken !== undefined);
    return { region, instances: found };
  }

  async tag(region: string, resourceId: string, tags: Record<string, string>): Promise<void> {
    await this.call('CreateTags', () =>
      this.client(region).send(
        new CreateTagsCommand({
          Resources: [resourceId],
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    );
  }

  /** Removes tags by key, whatever their value. */
  async untag(region: string, resourceId: string, keys: string[]): Promise<void> {
    await this.call('DeleteTags', () =>
      this.client(region).send(
        new DeleteTagsCommand({ Resources: [resourceId], Tags: keys.map((Key) => ({ Key })) }),
      ),
    );
  }

  /**
   * Finds or creates `ward-isolation-<vpc-id>` and brings it to exactly: inbound tcp/22 from each management CIDR,
   * no outbound rule. A reused group with any other rule is refused (someone widened it; isolating into it would
   * not isolate), and nothing is moved into it.
   */
  async prepareIsolation(
    region: string,
    vpcId: string,
    { managementCidrs, requestId }: { managementCidrs: string[]; requestId: string },
  ): Promise<IsolationGroupResult> {
    const client = this.client(region);
    const name = isolationGroupName(vpcId);
    const found = await this.call('DescribeSecurityGroups', () =>
      client.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'group-name', Values: [name] },
            { Name: 'vpc-id', Values: [vpcId] },
          ],
        }),
      ),
    );
    let group: SecurityGroup | undefined = found.SecurityGroups?.[0];
    const changes: string[] = [];
    let created = false;
    if (!group) {
      const out = await this.call('CreateSecurityGroup', () =>
        client.send(
          new CreateSecurityGroupCommand({
            GroupName: name,
            VpcId: vpcId,
            Description: 'ward isolation: inbound SSH from management only, no outbound',
            TagSpecifications: [
              {
                ResourceType: 'security-group',
                Tags: [
                  { Key: 'ward:managed', Value: 'isolation' },
                  { Key: REQUEST_TAG_KEY, Value: requestId },
                ],
              },
            ],
          }),
        ),
      );
      if (!out.GroupId)
        throw new CloudApiError('EC2', 'CreateSecurityGroup', 'NoGroupId', 'no group id returned');
      created = true;
      changes.push(`created ${name} (${out.GroupId})`);
      // A new VPC group starts with the default egress rule (all traffic to 0.0.0.0/0) and no ingress.
      group = {
        GroupId: out.GroupId,
        GroupName: name,
        VpcId: vpcId,
        IpPermissions: [],
        IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      };
    }
    const groupId = group.GroupId!;

    const wanted = managementCidrs.map(normalizeCidr);
    const unexpected: string[] = [];
    const present = new Set<string>();
    for (const p of group.IpPermissions ?? []) {
      const ssh = p.IpProtocol === 'tcp' && p.FromPort === 22 && p.ToPort === 22;
      for (const cidr of cidrsOf(p)) {
        if (ssh && wanted.includes(cidr)) present.add(cidr);
        else unexpected.push(`inbound ${describePermission(p)} from ${cidr}`);
      }
      if ((p.UserIdGroupPairs?.length ?? 0) > 0 || (p.PrefixListIds?.length ?? 0) > 0) {
        unexpected.push(`inbound ${describePermission(p)} from other groups or prefix lists`);
      }
    }
    const revokeEgress: IpPermission[] = [];
    for (const p of group.IpPermissionsEgress ?? []) {
      const everything = p.IpProtocol === '-1';
      const v4 = (p.IpRanges ?? []).filter((r) => r.CidrIp === '0.0.0.0/0');
      const v6 = (p.Ipv6Ranges ?? []).filter((r) => r.CidrIpv6 === '::/0');
      const others = cidrsOf(p).filter((c) => c !== '0.0.0.0/0' && c !== '::/0');
      if (everything && (v4.length > 0 || v6.length > 0)) {
        revokeEgress.push({
          IpProtocol: '-1',
          ...(v4.length > 0 ? { IpRanges: [{ CidrIp: '0.0.0.0/0' }] } : {}),
          ...(v6.length > 0 ? { Ipv6Ranges: [{ CidrIpv6: '::/0' }] } : {}),
        });
      }
      if (!everything || others.length > 0 || (p.UserIdGroupPairs?.length ?? 0) > 0) {
        unexpected.push(`outbound ${describePermission(p)}`);
      }
    }
    if (unexpected.length > 0) {
      throw new CloudStateError(
        `The isolation group ${name} (${groupId}) has rules ward did not put there: ${unexpected.join('; ')}. ` +
          'Nothing was moved into it. A human must check who changed it, remove those rules (or the group) and run quarantine again.',
        'ward_cloud_isolation_group_modified',
      );
    }

    const missing = wanted.filter((c) => !present.has(c));
    if (missing.length > 0) {
      const v4 = missing.filter((c) => isIP(c.split('/')[0]!) === 4);
      const v6 = missing.filter((c) => isIP(c.split('/')[0]!) === 6);
      await this.call('AuthorizeSecurityGroupIngress', () =>
        client.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: [
              {
                IpProtocol: 'tcp',
                FromPort: 22,
                ToPort: 22,
                ...(v4.length > 0
                  ? { IpRanges: v4.map((CidrIp) => ({ CidrIp, Description: 'ward management SSH' })) }
                  : {}),
                ...(v6.length > 0
                  ? { Ipv6Ranges: v6.map((CidrIpv6) => ({ CidrIpv6, Description: 'ward management SSH' })) }
                  : {}),
              },
            ],
          }),
        ),
      );
      changes.push(`allowed inbound tcp/22 from ${missing.join(', ')}`);
    }
    if (revokeEgress.length > 0) {
      await this.call('RevokeSecurityGroupEgress', () =>
        client.send(new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: revokeEgress })),
      );
      changes.push(`revoked outbound all traffic to ${revokeEgress.flatMap(cidrsOf).join(', ')}`);
    }
    return { groupId, created, changes };
  }

  isolate(region: string, networkInterfaceId: string, isolationGroupId: string): Promise<void> {
    return this.setNetworkInterfaceGroups(region, networkInterfaceId, [isolationGroupId]);
  }

  restore(region: string, networkInterfaceId: string, groupIds: string[]): Promise<void> {
    return this.setNetworkInterfaceGroups(region, networkInterfaceId, groupIds);
  }

  /** Replaces the security groups of one network interface (EC2 sets the whole list at once). */
  private async setNetworkInterfaceGroups(
    region: string,
    networkInterfaceId: string,
    groupIds: string[],
  ): Promise<void> {
    await this.call('ModifyNetworkInterfaceAttribute', () =>
      this.client(region).send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: networkInterfaceId,
          Groups: groupIds,
        }),
      ),
    );
  }

  /** Starts an EBS snapshot, tagged at creation so that it is never untagged evidence. */
  async snapshotVolume(
    region: string,
    volumeId: string,
    { description, tags }: { description: string; tags: Record<string, string> },
  ): Promise<VolumeSnapshot> {
    const out = await this.call('CreateSnapshot', () =>
      this.client(region).send(
        new CreateSnapshotCommand({
          VolumeId: volumeId,
          Description: description,
          TagSpecifications: [
            { ResourceType: 'snapshot', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
          ],
        }),
      ),
    );
    if (!out.SnapshotId)
      throw new CloudApiError('EC2', 'CreateSnapshot', 'NoSnapshotId', 'no snapshot id returned');
    return { snapshotId: out.SnapshotId, state: out.State ?? 'pending' };
  }

  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}

function toState(i: Instance, region: string): InstanceState {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return {
    instanceId: i.InstanceId ?? '',
    region,
    state: i.State?.Name ?? 'unknown',
    vpcId: i.VpcId,
    networkInterfaces: (i.NetworkInterfaces ?? [])
      .map((n) => ({
        networkInterfaceId: n.NetworkInterfaceId ?? '',
        vpcId: n.VpcId ?? i.VpcId ?? '',
        groups: (n.Groups ?? []).map((g) => ({ groupId: g.GroupId ?? '', groupName: g.GroupName ?? '' })),
      }))
      .sort((a, b) => a.networkInterfaceId.localeCompare(b.networkInterfaceId)),
    tags,
    volumes: (i.BlockDeviceMappings ?? [])
      .filter((m) => m.Ebs?.VolumeId)
      .map((m) => ({ volumeId: m.Ebs!.VolumeId!, deviceName: m.DeviceName ?? '' })),
  };
}

function cidrsOf(p: IpPermission): string[] {
  return [
    ...(p.IpRanges ?? []).map((r) => r.CidrIp ?? ''),
    ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6 ?? ''),
  ].filter((c) => c !== '');
}

function describePermission(p: IpPermission): string {
  if (p.IpProtocol === '-1') return 'all traffic';
  const ports = p.FromPort === p.ToPort ? `${p.FromPort}` : `${p.FromPort}-${p.ToPort}`;
  return `${p.IpProtocol}/${ports}`;
}

const byConfig = new WeakMap<object, Ec2Isolation>();

/** The process's Ec2Isolation for this configuration (built on first use). Loaded by ec2-provider.ts, lazily. */
export function ec2IsolationFor(config: Config): Ec2Isolation {
  let cloud = byConfig.get(config);
  if (!cloud) {
    cloud = new Ec2Isolation({ endpoint: config.AWS_ENDPOINT_URL });
    byConfig.set(config, cloud);
  }
  return cloud;
}
