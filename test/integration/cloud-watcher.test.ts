/**
 * Tag-driven quarantine: ward runs with WARD_AWS_WATCH=1 and finds instances tagged SecurityStatus=IR in the fake
 * EC2. The policy says approvals: 0 for quarantine, so each request the watcher opens runs at once
 * through the approval gate.
 * Passes are awaited through ward's own log line ("cloud watcher pass done"), never by sleeping a fixed time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEntries, BOT_USER, type CloudEnv, said, startCloudEnv } from '../helpers/cloud-env.js';

const VPC = 'vpc-0feedfeedfeedfeed';
const TAGGED_UNLISTED = 'i-0111111111111111a';
const ALREADY_ISOLATED = 'i-0222222222222222b';
const WEB1 = 'i-0333333333333333c';
const FLAKY = 'i-0444444444444444d';
const WATCH_CHANNEL = 'C0WATCH';

let env: CloudEnv;

beforeAll(async () => {
  env = await startCloudEnv({
    seed(ec2) {
      ec2.addGroup({ groupId: 'sg-00000000000000app', groupName: 'app', vpcId: VPC });
      const iso = ec2.addGroup({
        groupId: 'sg-0000000000000iso1',
        groupName: `ward-isolation-${VPC}`,
        vpcId: VPC,
        ingress: [
          { protocol: 'tcp', fromPort: 22, toPort: 22, cidrs: ['198.51.100.0/28', '2001:db8:100::/48'] },
        ],
        egress: [],
      });
      ec2.addInstance({
        instanceId: TAGGED_UNLISTED,
        vpcId: VPC,
        interfaces: [{ networkInterfaceId: 'eni-0w1', groupIds: ['sg-00000000000000app'] }],
        tags: { SecurityStatus: 'IR' },
      });
      ec2.addInstance({
        instanceId: ALREADY_ISOLATED,
        vpcId: VPC,
        interfaces: [{ networkInterfaceId: 'eni-0w2', groupIds: [iso.groupId] }],
        tags: { SecurityStatus: 'IR' },
      });
      ec2.addInstance({
        instanceId: WEB1,
        vpcId: VPC,
        interfaces: [{ networkInterfaceId: 'eni-0w3', groupIds: ['sg-00000000000000app'] }],
      });
      ec2.addInstance({
        instanceId: FLAKY,
        vpcId: VPC,
        interfaces: [{ networkInterfaceId: 'eni-0w4', groupIds: ['sg-00000000000000app'] }],
      });
    },
    inventoryHosts: { web1: { address: '198.51.100.21', instanceId: WEB1 } },
    policyCommands: '  quarantine: { approvals: 0, mfa: none, allowUnlisted: true, auto: true }',
    env: {
      WARD_AWS_WATCH: '1',
      WARD_AWS_WATCH_INTERVAL_SECONDS: '10',
      WARD_AWS_WATCH_CHANNEL: WATCH_CHANNEL,
    },
  });
}, 90_000);

afterAll(async () => {
  await env?.close();
});

/** Resolves once ward has logged `n` finished watcher passes; returns the n-th. */
async function pass(n: number): Promise<Record<string, unknown>> {
  for (;;) {
    const done = env.ward.logs.filter((l) => l['msg'] === 'cloud watcher pass done');
    if (done.length >= n) return done[n - 1]!;
    if (env.ward.child.exitCode !== null) throw new Error(`ward exited:\n${env.ward.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function openedFor(): Promise<string[]> {
  return (await auditEntries(env))
    .filter((e) => e.type === 'cloud.watch.opened')
    .map((e) => String(e.details?.['instanceId']))
    .sort();
}

describe('tag-driven quarantine (WARD_AWS_WATCH=1)', () => {
  it('opens one quarantine request per newly tagged instance that is not isolated, and none twice', async () => {
    // Pass 1: the tagged, unisolated instance gets a request; the one already in its isolation group does not.
    expect(await pass(1)).toMatchObject({ seen: 2, opened: 1 });
    expect(await openedFor()).toEqual([TAGGED_UNLISTED]);
    const iso = env.ec2.groupByName(`ward-isolation-${VPC}`)!;
    expect(env.ec2.groupsOf(TAGGED_UNLISTED)).toEqual({ 'eni-0w1': [iso.groupId] });
    expect(env.ec2.groupsOf(ALREADY_ISOLATED)).toEqual({ 'eni-0w2': [iso.groupId] });

    const opened = (await auditEntries(env)).find((e) => e.type === 'cloud.watch.opened')!;
    expect(opened.actor).toBe(BOT_USER);
    const requested = (await auditEntries(env)).find(
      (e) =>
        e.type === 'approval.requested' && e.details?.['slackRequestId'] === opened.details?.['invocationId'],
    );
    expect(requested).toMatchObject({ actor: BOT_USER, command: 'quarantine' });
    const run = (await auditEntries(env)).find(
      (e) => e.type === 'execution.finished' && e.requestId === requested?.requestId,
    );
    expect(run).toMatchObject({ outcome: 'succeeded', actor: BOT_USER, command: 'quarantine' });
    const posted = env.slack.callsTo('chat.postMessage').filter((c) => c.args['channel'] === WATCH_CHANNEL);
    const requestText = posted.map(said).join('\n');
    expect(requestText).toContain('tagged SecurityStatus=IR by someone outside ward');
    expect(requestText).toContain(`Quarantine of ${TAGGED_UNLISTED}: succeeded`);

    // Someone tags two more instances; the quarantine of one of them fails at its tag step.
    env.ec2.failOn('CreateTags', 'UnauthorizedOperation', { when: (p) => p['ResourceId.1'] === FLAKY });
    env.ec2.instances.get(WEB1)!.tags['SecurityStatus'] = 'IR';
    env.ec2.instances.get(FLAKY)!.tags['SecurityStatus'] = 'IR';

    // Pass 2: a request for each new one (the inventory host by its name), none again for the first.
    const second = await pass(2);
    expect(second).toMatchObject({ opened: 2 });
    expect(await openedFor()).toEqual([TAGGED_UNLISTED, WEB1, FLAKY].sort());
    expect(env.ec2.groupsOf(WEB1)).toEqual({ 'eni-0w3': [iso.groupId] });
    expect(env.ec2.groupsOf(FLAKY)).toEqual({ 'eni-0w4': ['sg-00000000000000app'] });
    const failedReport = env.slack
      .callsTo('chat.postMessage')
      .find(
        (c) =>
          c.args['channel'] === WATCH_CHANNEL && String(c.args['text']).startsWith(`Quarantine of ${FLAKY}`),
      );
    expect(said(failedReport!)).toContain('EC2 CreateTags failed: UnauthorizedOperation');

    // Pass 3: FLAKY is still tagged and not isolated, but its tagging already had its request: nothing new.
    expect(await pass(3)).toMatchObject({ seen: 4, opened: 0 });
    expect(await openedFor()).toEqual([TAGGED_UNLISTED, WEB1, FLAKY].sort());
  }, 120_000);
});
