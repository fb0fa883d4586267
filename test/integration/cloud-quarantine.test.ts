/**
 * quarantine / unquarantine end to end: ward as a process, signed slash commands on its real HTTP endpoint, the
 * fake Slack, a real redis-server, and the fake EC2 Query API driven by the real AWS SDK (SigV4, XML).
 *
 * The policy sets approvals: 0 and mfa: none for both commands (a legitimate configuration), so the approval gate
 * approves each request as it is made and runs it at once; the plan, the steps, the summary and the audit are
 * those of an approved request. test/integration/cloud-approvals.test.ts drives one through an approver's click.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeEc2 } from '../fakes/fake-ec2.js';
import type { RecordedCall } from '../fakes/fake-slack.js';
import {
  auditEntries,
  CHANNEL,
  type CloudEnv,
  MANAGEMENT_CIDRS,
  replyTo,
  said,
  slash,
  startCloudEnv,
} from '../helpers/cloud-env.js';

// Each test acts on instances of its own (tests run in any order): web1 is quarantined with snapshots, web2
// quarantined then restored, web3 meets rotated credentials, web4 is only planned and never quarantined, db1 fails
// half-way, db2 fails half-way and is then refused a restore.
const WEB1 = 'i-0aaaaaaaaaaaaaaa1';
const WEB2 = 'i-0aaaaaaaaaaaaaaa2';
const WEB3 = 'i-0aaaaaaaaaaaaaaa3';
const WEB4 = 'i-0aaaaaaaaaaaaaaa4';
const DB1 = 'i-0bbbbbbbbbbbbbbb2';
const DB2 = 'i-0bbbbbbbbbbbbbbb3';
const UNLISTED = 'i-0ddddddddddddddd4';
const VPC = 'vpc-0123456789abcdef0';

/** A web server like web1: two interfaces (web + ssh-admin, web), tagged Name and team. */
function addWebInstance(ec2: FakeEc2, instanceId: string, name: string, n: string): void {
  ec2.addInstance({
    instanceId,
    vpcId: VPC,
    interfaces: [
      { networkInterfaceId: `eni-0${n}1`, groupIds: ['sg-0000000000000web1', 'sg-00000000000000ssh'] },
      { networkInterfaceId: `eni-0${n}2`, groupIds: ['sg-0000000000000web1'] },
    ],
    volumes: [{ volumeId: `vol-0${n}1`, deviceName: '/dev/xvda' }],
    tags: { Name: name, team: 'shop' },
  });
}

/** A database server like db1: two interfaces (db, db + ssh-admin). */
function addDbInstance(ec2: FakeEc2, instanceId: string, name: string, n: string): void {
  ec2.addInstance({
    instanceId,
    vpcId: VPC,
    interfaces: [
      { networkInterfaceId: `eni-0${n}1`, groupIds: ['sg-000000000000000db'] },
      { networkInterfaceId: `eni-0${n}2`, groupIds: ['sg-000000000000000db', 'sg-00000000000000ssh'] },
    ],
    volumes: [{ volumeId: `vol-0${n}1`, deviceName: '/dev/xvda' }],
    tags: { Name: name },
  });
}

let env: CloudEnv;

beforeAll(async () => {
  env = await startCloudEnv({
    seed(ec2) {
      ec2.addGroup({ groupId: 'sg-0000000000000web1', groupName: 'web', vpcId: VPC });
      ec2.addGroup({ groupId: 'sg-00000000000000ssh', groupName: 'ssh-admin', vpcId: VPC });
      ec2.addGroup({ groupId: 'sg-000000000000000db', groupName: 'db', vpcId: VPC });
      ec2.addInstance({
        instanceId: WEB1,
        vpcId: VPC,
        interfaces: [
          { networkInterfaceId: 'eni-0a1', groupIds: ['sg-0000000000000web1', 'sg-00000000000000ssh'] },
          { networkInterfaceId: 'eni-0a2', groupIds: ['sg-0000000000000web1'] },
        ],
        volumes: [
          { volumeId: 'vol-0a1', deviceName: '/dev/xvda' },
          { volumeId: 'vol-0a2', deviceName: '/dev/xvdb' },
        ],
        tags: { Name: 'web1', team: 'shop' },
      });
      addWebInstance(ec2, WEB2, 'web2', 'c');
      addWebInstance(ec2, WEB3, 'web3', 'd');
      addWebInstance(ec2, WEB4, 'web4', 'e');
      addDbInstance(ec2, DB1, 'db1', 'b');
      addDbInstance(ec2, DB2, 'db2', 'f');
    },
    inventoryHosts: {
      web1: { address: '198.51.100.11', instanceId: WEB1 },
      web2: { address: '198.51.100.13', instanceId: WEB2 },
      web3: { address: '198.51.100.14', instanceId: WEB3 },
      web4: { address: '198.51.100.15', instanceId: WEB4 },
      db1: { address: '198.51.100.12', instanceId: DB1 },
      db2: { address: '198.51.100.16', instanceId: DB2 },
    },
    policyCommands: [
      '  quarantine: { approvals: 0, mfa: none, allowUnlisted: true }',
      '  unquarantine: { allow: [responder, admin], approvals: 0, mfa: none }',
    ].join('\n'),
  });
}, 90_000);

afterAll(async () => {
  await env?.close();
});

/** The Block Kit result a cloud command posts in the request's thread, and the gate's final summary after it. */
async function resultOf(title: string): Promise<{ report: RecordedCall; summary: RecordedCall }> {
  const report = await env.slack.waitForCall(
    'chat.postMessage',
    (c) => c.args['channel'] === CHANNEL && String(c.args['text']).startsWith(title),
    30_000,
  );
  const summary = await env.slack.waitForCall(
    'chat.postMessage',
    (c) =>
      c.args['thread_ts'] === report.args['thread_ts'] &&
      JSON.stringify(c.args['blocks'] ?? []).includes('Outcome:'),
    30_000,
  );
  return { report, summary };
}

describe('quarantine and unquarantine against the fake EC2 API', () => {
  it('--dry-run shows every EC2 call of the plan and makes none', async () => {
    const callsBefore = env.ec2.calls.length;
    const url = await slash(env, 'quarantine web4 --reason "INC-42 beaconing" --snapshot --dry-run');
    const reply = said(await replyTo(env, url));
    for (const action of [
      'ec2:DescribeInstances',
      'ec2:CreateTags',
      'ec2:DescribeSecurityGroups',
      'ec2:CreateSecurityGroup',
      'ec2:AuthorizeSecurityGroupIngress',
      'ec2:RevokeSecurityGroupEgress',
      'ec2:ModifyNetworkInterfaceAttribute',
      'ec2:CreateSnapshot',
    ]) {
      expect(reply).toContain(action);
    }
    expect(reply).toContain(`SecurityStatus=IR, ward:request=&lt;this request&gt;`);
    expect(reply).toContain(MANAGEMENT_CIDRS[0]!);
    expect(reply).toContain('nothing was run');
    expect(env.ec2.calls.slice(callsBefore)).toEqual([]);
  });

  it('refuses a malformed or unusable instance id before any EC2 call', async () => {
    const callsBefore = env.ec2.calls.length;
    const malformed = said(await replyTo(env, await slash(env, 'quarantine i-12zz --reason "typo"')));
    expect(malformed).toContain('`target`: must be an inventory host name');
    expect(malformed).toContain('EC2 instance id');

    const noRegion = said(await replyTo(env, await slash(env, `quarantine ${UNLISTED} --reason "unlisted"`)));
    expect(noRegion).toContain('not in the inventory');
    expect(noRegion).toContain('--region');

    const notAllowed = said(await replyTo(env, await slash(env, `unquarantine ${UNLISTED} --reason "x"`)));
    expect(notAllowed).toContain('does not let `unquarantine` act on unlisted instances');

    const noCloud = said(await replyTo(env, await slash(env, 'quarantine nosuchhost --reason "x"')));
    expect(noCloud).toContain('Unknown host `nosuchhost`');

    expect(env.ec2.calls.slice(callsBefore)).toEqual([]);
  });

  it('quarantine --snapshot leaves the instance in the isolation group, tagged, with tagged snapshots', async () => {
    const snapshotsBefore = new Set(env.ec2.snapshots.keys());
    await slash(env, 'quarantine web1 --reason "INC-42 beaconing" --snapshot');
    const { report, summary } = await resultOf('Quarantine of web1');

    const iso = env.ec2.groupByName(`ward-isolation-${VPC}`);
    expect(iso).toBeDefined();
    expect(env.ec2.groupsOf(WEB1)).toEqual({ 'eni-0a1': [iso!.groupId], 'eni-0a2': [iso!.groupId] });
    expect(iso!.ingress).toEqual([{ protocol: 'tcp', fromPort: 22, toPort: 22, cidrs: MANAGEMENT_CIDRS }]);
    expect(iso!.egress).toEqual([]);

    const tags = env.ec2.instances.get(WEB1)!.tags;
    expect(tags['SecurityStatus']).toBe('IR');
    const quarantineRequest = tags['ward:request']!;
    expect(quarantineRequest).toMatch(/^r-[a-z0-9]+$/);
    expect(tags['Name']).toBe('web1');

    const snaps = [...env.ec2.snapshots.values()].filter((s) => !snapshotsBefore.has(s.snapshotId));
    expect(snaps.map((s) => s.volumeId).sort()).toEqual(['vol-0a1', 'vol-0a2']);
    for (const s of snaps) {
      expect(s.tags).toMatchObject({
        'ward:request': quarantineRequest,
        'ward:instance': WEB1,
        SecurityStatus: 'IR',
      });
    }

    // The thread shows each step done and the snapshot ids; the gate's summary names them too.
    const text = said(report);
    expect(text).toContain('succeeded');
    for (const s of snaps) expect(text).toContain(s.snapshotId);
    expect(text).toContain('eni-0a1: sg-0000000000000web1, sg-00000000000000ssh');
    expect(String(summary.args['text'])).toContain('all 6 steps done');

    // The original state is in the store (for unquarantine) and in an evidence file.
    const record = JSON.parse((await env.redisClient.get(`ward:cloud:quarantine:${WEB1}`)) ?? '{}');
    expect(
      record.original.networkInterfaces.map((n: { groups: Array<{ groupId: string }> }) =>
        n.groups.map((g) => g.groupId),
      ),
    ).toEqual([['sg-0000000000000web1', 'sg-00000000000000ssh'], ['sg-0000000000000web1']]);
    const evidence = join(env.evidenceDir, 'cloud', `${WEB1}-${quarantineRequest}-quarantine.json`);
    expect(existsSync(evidence)).toBe(true);
    expect(JSON.parse(readFileSync(evidence, 'utf8')).record.original.tags).toEqual({
      Name: 'web1',
      team: 'shop',
    });

    // The auditor sees the run start, each step with what it changed, and the end.
    const audit = (await auditEntries(env)).filter((e) => e.requestId === quarantineRequest);
    expect(audit.map((e) => e.type)).toEqual([
      'approval.requested',
      'execution.started',
      'cloud.step',
      'cloud.step',
      'cloud.step',
      'cloud.step',
      'cloud.step',
      'cloud.step',
      'execution.finished',
    ]);
    expect(audit.filter((e) => e.type === 'cloud.step').map((e) => e.details?.['step'])).toEqual([
      'record',
      'tag',
      'isolation-group',
      'replace-groups',
      'snapshot',
      'verify',
    ]);
    expect(audit.at(-1)).toMatchObject({ outcome: 'succeeded', actor: 'U0RESPONDER', command: 'quarantine' });
  });

  it('unquarantine restores exactly the recorded groups and removes the two tags', async () => {
    await slash(env, 'quarantine web2 --reason "INC-42 beaconing"');
    expect(said((await resultOf('Quarantine of web2')).report)).toContain('succeeded');
    const iso = env.ec2.groupByName(`ward-isolation-${VPC}`)!;
    expect(env.ec2.groupsOf(WEB2)).toEqual({ 'eni-0c1': [iso.groupId], 'eni-0c2': [iso.groupId] });

    const before = env.ec2.calls.length;
    const dry = said(
      await replyTo(env, await slash(env, 'unquarantine web2 --reason "INC-42 closed" --dry-run')),
    );
    expect(dry).toContain('NetworkInterfaceId=eni-0c1 Groups=[sg-0000000000000web1, sg-00000000000000ssh]');
    expect(dry).toContain('NetworkInterfaceId=eni-0c2 Groups=[sg-0000000000000web1]');
    expect(env.ec2.calls.length).toBe(before);

    await slash(env, 'unquarantine web2 --reason "INC-42 closed"');
    const { report } = await resultOf('Unquarantine of web2');
    expect(said(report)).toContain('succeeded');
    expect(env.ec2.groupsOf(WEB2)).toEqual({
      'eni-0c1': ['sg-0000000000000web1', 'sg-00000000000000ssh'],
      'eni-0c2': ['sg-0000000000000web1'],
    });
    expect(env.ec2.instances.get(WEB2)!.tags).toEqual({ Name: 'web2', team: 'shop' });
    expect(await env.redisClient.get(`ward:cloud:quarantine:${WEB2}`)).toBeNull();
  });

  it('credentials EC2 refuses (secret rotated under ward): the reply names SignatureDoesNotMatch and nothing changes', async () => {
    const before = JSON.stringify(env.ec2.groupsOf(WEB3));
    env.ec2.credentials = { ...env.ec2.credentials, secretAccessKey: 'rotated-secret' };
    try {
      await slash(env, 'quarantine web3 --reason "INC-44"');
      // ward's report in the request's thread names the refused call and EC2's own error code.
      const report = await env.slack.waitForCall(
        'chat.postMessage',
        (c) => c.args['channel'] === CHANNEL && JSON.stringify(c.args).includes('SignatureDoesNotMatch'),
        30_000,
      );
      expect(JSON.stringify(report.args)).toContain('EC2 DescribeInstances failed: SignatureDoesNotMatch');
      expect(env.ec2.calls.at(-1)?.error).toBe('SignatureDoesNotMatch');
    } finally {
      env.ec2.credentials = { ...env.ec2.credentials, secretAccessKey: 'ward-cloud-test-secret-key' };
    }
    expect(JSON.stringify(env.ec2.groupsOf(WEB3))).toBe(before);
  });

  it('unquarantine without a recorded state refuses, says what a human must check, and calls nothing', async () => {
    const before = env.ec2.calls.length;
    const reply = said(await replyTo(env, await slash(env, 'unquarantine web4 --reason "again"')));
    expect(reply).toContain('no recorded state');
    expect(reply).toContain('A human must check');
    expect(env.ec2.calls.length).toBe(before);
  });

  it('a failure mid-plan stops there and the summary lists the steps done, failed and not reached', async () => {
    env.ec2.failOn('ModifyNetworkInterfaceAttribute', 'UnauthorizedOperation', {
      when: (p) => p['NetworkInterfaceId'] === 'eni-0b2',
    });
    await slash(env, 'quarantine db1 --reason "INC-43"');
    const { report, summary } = await resultOf('Quarantine of db1');

    const text = said(report);
    expect(text).toContain('partial');
    expect(text).toContain('3 done, 1 failed, 1 not reached');
    expect(text).toContain('EC2 ModifyNetworkInterfaceAttribute failed: UnauthorizedOperation');
    expect(text).toContain('already done in this step: eni-0b1');
    expect(String(summary.args['text'])).toContain('stopped at step 4 of 5');

    // Exactly what the report says: the first interface moved, the second untouched, no verification call.
    const iso = env.ec2.groupByName(`ward-isolation-${VPC}`)!;
    expect(env.ec2.groupsOf(DB1)).toEqual({
      'eni-0b1': [iso.groupId],
      'eni-0b2': ['sg-000000000000000db', 'sg-00000000000000ssh'],
    });
    const request = env.ec2.instances.get(DB1)!.tags['ward:request']!;
    const finished = (await auditEntries(env)).find(
      (e) => e.requestId === request && e.type === 'execution.finished',
    );
    expect(finished?.outcome).toBe('partial');
    expect(finished?.details?.['steps']).toEqual([
      expect.objectContaining({ id: 'record', status: 'succeeded' }),
      expect.objectContaining({ id: 'tag', status: 'succeeded' }),
      expect.objectContaining({ id: 'isolation-group', status: 'succeeded' }),
      expect.objectContaining({ id: 'replace-groups', status: 'failed' }),
      expect.objectContaining({ id: 'verify', status: 'skipped', detail: 'not reached' }),
    ]);
  });

  it('unquarantine refuses to restore over an instance that is not as quarantine left it', async () => {
    // Left half-way as in the test above: the first interface moved, the second not.
    env.ec2.failOn('ModifyNetworkInterfaceAttribute', 'UnauthorizedOperation', {
      when: (p) => p['NetworkInterfaceId'] === 'eni-0f2',
    });
    await slash(env, 'quarantine db2 --reason "INC-45"');
    expect(said((await resultOf('Quarantine of db2')).report)).toContain('partial');

    const callsBefore = env.ec2.callsTo('ModifyNetworkInterfaceAttribute').length;
    await slash(env, 'unquarantine db2 --reason "rollback"');
    const { report } = await resultOf('Unquarantine of db2');
    const text = said(report);
    expect(text).toContain('changed since it was quarantined');
    expect(text).toContain('eni-0f2 is in sg-000000000000000db (db), sg-00000000000000ssh (ssh-admin)');
    expect(text).toContain('A human must check');
    expect(env.ec2.callsTo('ModifyNetworkInterfaceAttribute').length).toBe(callsBefore);
    expect(await env.redisClient.get(`ward:cloud:quarantine:${DB2}`)).not.toBeNull();
  });
});
