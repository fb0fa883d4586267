/**
 * Containment that holds, for a quarantined EC2 instance (fake EC2 API, real AWS SDK, real redis-server, ward as a
 * process): the periodic check describes the instance through the CloudIsolation port and reports an instance moved
 * back to its old security group as drift, with the audit entry, the metric and a Re-apply button.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEntries, CHANNEL, type CloudEnv, slash, startCloudEnv } from '../helpers/cloud-env.js';
import { waitUntil } from '../helpers/remediation-harness.js';

const WEB1 = 'i-0aaaaaaaaaaaaaaa1';
const VPC = 'vpc-0123456789abcdef0';
const WEB_SG = 'sg-0000000000000web1';

let env: CloudEnv;

beforeAll(async () => {
  env = await startCloudEnv({
    seed(ec2) {
      ec2.addGroup({ groupId: WEB_SG, groupName: 'web', vpcId: VPC });
      ec2.addInstance({
        instanceId: WEB1,
        vpcId: VPC,
        interfaces: [{ networkInterfaceId: 'eni-0a1', groupIds: [WEB_SG] }],
        tags: { Name: 'web1' },
      });
    },
    inventoryHosts: { web1: { address: '198.51.100.11', instanceId: WEB1 } },
    policyCommands: '  quarantine: { approvals: 0, mfa: none }',
    env: { WARD_CONTAINMENT_CHECK_SECONDS: '1' },
  });
}, 90_000);

afterAll(async () => {
  await env?.close();
});

describe('quarantined instance drift', () => {
  it('an instance moved back to its old security group is reported as drift, once, with a Re-apply button', async () => {
    await slash(env, 'quarantine web1 --reason "INC-17 beaconing"');
    await env.slack.waitForCall(
      'chat.postMessage',
      (c) => c.args['channel'] === CHANNEL && String(c.args['text']).startsWith('Quarantine of web1'),
      60_000,
    );
    expect(env.ec2.groupsOf(WEB1)['eni-0a1']).not.toEqual([WEB_SG]);
    const isolated = env.ec2.groupsOf(WEB1)['eni-0a1'];

    // Someone with console access puts the old group back.
    env.ec2.networkInterfaces.get('eni-0a1')!.groupIds = [WEB_SG];
    const drift = await env.slack.waitForCall(
      'chat.postMessage',
      (c) =>
        c.args['thread_ts'] === undefined && String(c.args['text']).includes('Containment drift on *web1*'),
      30_000,
    );
    expect(String(drift.args['text'])).toContain('not only in the isolation group any more');
    expect(String(drift.args['text'])).toContain(WEB_SG);
    expect(JSON.stringify(drift.args['blocks'])).toContain('containment.reapply');
    const entry = await waitUntil(
      async () => (await auditEntries(env)).find((e) => e.type === 'containment.drift'),
      'the containment.drift audit entry',
    );
    expect(entry.details).toMatchObject({ kind: 'quarantine' });
    const metrics = await (await fetch(`${env.ward.url}/metrics`)).text();
    expect(metrics).toMatch(/^ward_containment_drift_total\{[^}]*kind="quarantine"[^}]*\} 1$/m);
    expect(metrics).toMatch(
      /^ward_containment_last_verified_timestamp_seconds\{[^}]*host="web1"[^}]*\} \d+/m,
    );

    // The isolation comes back (here by hand, as a re-apply would): ward says the drift is over.
    env.ec2.networkInterfaces.get('eni-0a1')!.groupIds = [...isolated!];
    await env.slack.waitForCall(
      'chat.postMessage',
      (c) => String(c.args['text']).includes('Containment restored on *web1*'),
      30_000,
    );
    const reports = env.slack.calls.filter(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args['thread_ts'] === undefined &&
        String(c.args['text']).includes('Containment drift on *web1*'),
    );
    expect(reports).toHaveLength(1);
  }, 120_000);
});
