import { describe, expect, it } from 'vitest';
import { awsEc2Provider } from '../../src/adapters/aws/ec2-provider.js';
import { matchesTemplate } from '../../src/cloud/calls.js';
import { isIsolated } from '../../src/cloud/model.js';
import { buildQuarantinePlan, quarantineSteps } from '../../src/cloud/quarantine.js';
import type { QuarantineRecord } from '../../src/cloud/record.js';
import { resolveCloudTarget } from '../../src/cloud/target.js';
import { buildUnquarantinePlan } from '../../src/cloud/unquarantine.js';
import type { Inventory } from '../../src/config/inventory.js';
import { planHash } from '../../src/core/plan.js';
import { UserInputError } from '../../src/errors.js';

const inventory: Inventory = {
  managementCidrs: ['198.51.100.0/28', '198.51.100.7'],
  forensicsHashPaths: [],
  huntPaths: [],
  hosts: new Map([
    [
      'web1',
      {
        name: 'web1',
        address: '198.51.100.11',
        port: 22,
        user: 'root',
        keyPath: '/k',
        hostKey: `SHA256:${'A'.repeat(43)}`,
        tags: [],
        cloud: { provider: 'aws', region: 'eu-west-1', instanceId: 'i-0aaaaaaaaaaaaaaa1' },
      },
    ],
    [
      'bare',
      {
        name: 'bare',
        address: '198.51.100.12',
        port: 22,
        user: 'root',
        keyPath: '/k',
        hostKey: `SHA256:${'B'.repeat(43)}`,
        tags: [],
      },
    ],
  ]),
};

describe('cloud targets', () => {
  it('finds an inventory host by name or by its instance id, with the inventory region', () => {
    const byName = resolveCloudTarget(inventory, { allowUnlisted: false }, 'quarantine', 'web1', undefined);
    const byId = resolveCloudTarget(
      inventory,
      { allowUnlisted: false },
      'quarantine',
      'i-0aaaaaaaaaaaaaaa1',
      undefined,
    );
    expect(byName).toMatchObject({ name: 'web1', instanceId: 'i-0aaaaaaaaaaaaaaa1', region: 'eu-west-1' });
    expect(byId).toMatchObject({ name: 'web1', instanceId: 'i-0aaaaaaaaaaaaaaa1', region: 'eu-west-1' });
  });

  it('refuses an unlisted instance unless policy allows it, and then needs a region', () => {
    const id = 'i-0ddddddddddddddd4';
    expect(() =>
      resolveCloudTarget(inventory, { allowUnlisted: false }, 'quarantine', id, 'eu-west-1'),
    ).toThrow(/allowUnlisted: true/);
    expect(() => resolveCloudTarget(inventory, { allowUnlisted: true }, 'quarantine', id, undefined)).toThrow(
      /--region/,
    );
    expect(
      resolveCloudTarget(inventory, { allowUnlisted: true }, 'quarantine', id, 'us-east-2'),
    ).toMatchObject({
      name: id,
      region: 'us-east-2',
      host: undefined,
    });
  });

  it('refuses a host without a cloud section and a region that contradicts the inventory', () => {
    expect(() =>
      resolveCloudTarget(inventory, { allowUnlisted: true }, 'quarantine', 'bare', undefined),
    ).toThrow(UserInputError);
    expect(() =>
      resolveCloudTarget(inventory, { allowUnlisted: true }, 'quarantine', 'web1', 'us-east-1'),
    ).toThrow(/contradicts the inventory/);
  });
});

describe('quarantine plan', () => {
  const target = resolveCloudTarget(inventory, { allowUnlisted: false }, 'quarantine', 'web1', undefined);

  it('hashes the same every time it is built: the request id is a placeholder, not a value', () => {
    const a = buildQuarantinePlan('quarantine', target, inventory.managementCidrs, { snapshot: true });
    const b = buildQuarantinePlan('quarantine', target, inventory.managementCidrs, { snapshot: true });
    expect(planHash(a)).toBe(planHash(b));
    expect(JSON.stringify(a)).toContain('ward:request=<this request>');
  });

  it('lists snapshots only with --snapshot, and management CIDRs as EC2 takes them', () => {
    const without = buildQuarantinePlan('quarantine', target, inventory.managementCidrs, { snapshot: false });
    expect(without.steps.map((s) => s.id)).toEqual([
      'record',
      'tag',
      'isolation-group',
      'replace-groups',
      'verify',
    ]);
    expect(without.steps.find((s) => s.id === 'isolation-group')!.commands.join('\n')).toContain(
      'Cidrs=[198.51.100.0/28, 198.51.100.7/32]',
    );
  });
});

describe('unquarantine plan', () => {
  it('names the exact groups each interface gets back', () => {
    const target = resolveCloudTarget(inventory, { allowUnlisted: false }, 'unquarantine', 'web1', undefined);
    const record: QuarantineRecord = {
      version: 1,
      instanceId: target.instanceId,
      region: 'eu-west-1',
      requestId: 'abc123abc123',
      recordedAt: '2026-01-01T00:00:00.000Z',
      original: {
        instanceId: target.instanceId,
        region: 'eu-west-1',
        state: 'running',
        vpcId: 'vpc-1',
        networkInterfaces: [
          {
            networkInterfaceId: 'eni-1',
            vpcId: 'vpc-1',
            groups: [
              { groupId: 'sg-a', groupName: 'a' },
              { groupId: 'sg-b', groupName: 'b' },
            ],
          },
        ],
        tags: {},
        volumes: [],
      },
      isolationGroups: { 'vpc-1': 'sg-iso' },
      snapshots: [],
    };
    const plan = buildUnquarantinePlan('unquarantine', target, record);
    expect(plan.steps.find((s) => s.id === 'restore-groups')!.commands).toEqual([
      'ec2:ModifyNetworkInterfaceAttribute NetworkInterfaceId=eni-1 Groups=[sg-a, sg-b]',
    ]);
  });
});

describe('isIsolated', () => {
  const base = {
    instanceId: 'i-0aaaaaaaaaaaaaaa1',
    region: 'eu-west-1',
    state: 'running',
    vpcId: 'vpc-1',
    tags: {},
    volumes: [],
  };
  it('is true only when every interface is in its own VPC isolation group and nothing else', () => {
    const iso = { groupId: 'sg-i', groupName: 'ward-isolation-vpc-1' };
    const other = { groupId: 'sg-o', groupName: 'web' };
    expect(
      isIsolated(awsEc2Provider, {
        ...base,
        networkInterfaces: [{ networkInterfaceId: 'e1', vpcId: 'vpc-1', groups: [iso] }],
      }),
    ).toBe(true);
    expect(
      isIsolated(awsEc2Provider, {
        ...base,
        networkInterfaces: [{ networkInterfaceId: 'e1', vpcId: 'vpc-1', groups: [iso, other] }],
      }),
    ).toBe(false);
    expect(
      isIsolated(awsEc2Provider, {
        ...base,
        networkInterfaces: [
          { networkInterfaceId: 'e1', vpcId: 'vpc-1', groups: [iso] },
          { networkInterfaceId: 'e2', vpcId: 'vpc-1', groups: [other] },
        ],
      }),
    ).toBe(false);
    expect(isIsolated(awsEc2Provider, { ...base, networkInterfaces: [] })).toBe(false);
  });
});

describe('cloud steps show what they run', () => {
  const target = resolveCloudTarget(inventory, { allowUnlisted: false }, 'quarantine', 'web1', undefined);

  it('each plan line is the provider showing one of the calls the step makes', () => {
    const steps = quarantineSteps(target, inventory.managementCidrs, { snapshot: true });
    const plan = buildQuarantinePlan('quarantine', target, inventory.managementCidrs, { snapshot: true });
    for (const [i, step] of steps.entries()) {
      const shown = step.calls.flatMap((c) => awsEc2Provider.showCall(c));
      expect(plan.steps[i]!.commands.slice(0, shown.length)).toEqual(shown);
    }
    expect(plan.steps.find((s) => s.id === 'tag')!.commands).toEqual([
      'ec2:CreateTags Resources=[i-0aaaaaaaaaaaaaaa1] Tags=[SecurityStatus=IR, ward:request=<this request>]',
    ]);
  });

  it('a call matches a step only where the step shows a placeholder', () => {
    const [tag] = quarantineSteps(target, [], { snapshot: false }).filter((s) => s.id === 'tag');
    const template = tag!.calls[0]!;
    const call = (request: string, instanceId = 'i-0aaaaaaaaaaaaaaa1') =>
      ({ op: 'tag', instanceId, tags: { SecurityStatus: 'IR', 'ward:request': request } }) as const;
    expect(matchesTemplate(template, call('r-abc'))).toBe(true);
    expect(matchesTemplate(template, call('r-abc', 'i-0ddddddddddddddd4'))).toBe(false);
    expect(
      matchesTemplate(template, {
        op: 'tag',
        instanceId: 'i-0aaaaaaaaaaaaaaa1',
        tags: { SecurityStatus: 'IR' },
      }),
    ).toBe(false);
    expect(matchesTemplate(template, { op: 'untag', instanceId: 'i-0aaaaaaaaaaaaaaa1', keys: [] })).toBe(
      false,
    );
  });
});
