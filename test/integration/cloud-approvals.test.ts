/**
 * quarantine through the approval flow: the request waits, calling no EC2 API, until an approver clicks Approve on
 * the approval message; then the approved plan runs and the instance ends up isolated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMessage } from '../fakes/fake-slack.js';
import {
  auditEntries,
  CHANNEL,
  type CloudEnv,
  RESPONDER,
  SIGNING_SECRET,
  slash,
  startCloudEnv,
} from '../helpers/cloud-env.js';
import { sendBlockAction } from '../helpers/slack-requests.js';

const APP1 = 'i-0eeeeeeeeeeeeeee5';
const VPC = 'vpc-0aaaabbbbccccdddd';
const APPROVER = 'U0APPROVER';

let env: CloudEnv;

beforeAll(async () => {
  env = await startCloudEnv({
    seed(ec2) {
      ec2.addGroup({ groupId: 'sg-00000000000000app', groupName: 'app', vpcId: VPC });
      ec2.addInstance({
        instanceId: APP1,
        vpcId: VPC,
        interfaces: [{ networkInterfaceId: 'eni-0e1', groupIds: ['sg-00000000000000app'] }],
        volumes: [{ volumeId: 'vol-0e1', deviceName: '/dev/xvda' }],
      });
    },
    inventoryHosts: { app1: { address: '198.51.100.31', instanceId: APP1 } },
    policyCommands: '  quarantine: { approvals: 1, mfa: none }',
  });
}, 90_000);

afterAll(async () => {
  await env?.close();
});

async function waitFor<T>(what: string, probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function approvalMessage(): FakeMessage | undefined {
  return env.slack
    .messages(CHANNEL)
    .find((m) => !m.thread_ts && !m.ephemeralFor && /\(request r-[0-9a-f]+\)/.test(m.text ?? ''));
}

describe('quarantine through approvals', () => {
  it('waits for an approver without touching EC2, then runs the approved plan', async () => {
    await slash(env, 'quarantine app1 --reason "INC-50 crypto miner" --snapshot');
    const message = await waitFor('the approval message', approvalMessage);
    const shown = JSON.stringify(message.blocks);
    expect(shown).toContain('approval.approve');
    const requestId = /\(request (r-[0-9a-f]+)\)/.exec(message.text ?? '')![1]!;
    // The exact API calls are one click away, behind "Show exact plan" (a modal with the hashed plan).
    const opened = env.slack.callsTo('views.open').length;
    const show = await sendBlockAction(`${env.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: APPROVER,
      action_id: 'plan.show',
      value: requestId,
      channel_id: CHANNEL,
      message_ts: message.ts,
      response_url: env.slack.newResponseUrl({ channel: CHANNEL, user: APPROVER, messageTs: message.ts }),
    });
    expect(show.status).toBe(200);
    const modal = await waitFor('the exact plan window', () => env.slack.callsTo('views.open')[opened]);
    const exact = JSON.stringify(modal.args['view']);
    expect(exact).toContain('ec2:ModifyNetworkInterfaceAttribute');
    expect(exact).toContain('ec2:CreateSnapshot');
    expect(env.ec2.calls).toEqual([]);

    const res = await sendBlockAction(`${env.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: APPROVER,
      action_id: 'approval.approve',
      value: requestId,
      channel_id: CHANNEL,
      message_ts: message.ts,
      response_url: env.slack.newResponseUrl({ channel: CHANNEL, user: APPROVER, messageTs: message.ts }),
    });
    expect(res.status).toBe(200);

    const finished = await waitFor('the end of the execution', () =>
      env.slack
        .messages(CHANNEL)
        .find((m) => m.thread_ts === message.ts && (m.text ?? '').startsWith('Quarantine of app1')),
    );
    expect(finished.text).toContain('all 6 steps done');
    const iso = env.ec2.groupByName(`ward-isolation-${VPC}`)!;
    expect(env.ec2.groupsOf(APP1)).toEqual({ 'eni-0e1': [iso.groupId] });
    expect(env.ec2.instances.get(APP1)!.tags).toEqual({ SecurityStatus: 'IR', 'ward:request': requestId });
    expect([...env.ec2.snapshots.values()].map((s) => s.tags['ward:request'])).toEqual([requestId]);

    // execution.finished is recorded just after the result is posted: poll the audit log for it.
    let entries = await auditEntries(env);
    for (
      let i = 0;
      i < 100 && !entries.some((e) => e.type === 'execution.finished' && e.requestId === requestId);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
      entries = await auditEntries(env);
    }
    entries = entries.filter((e) => e.requestId === requestId);
    expect(entries.find((e) => e.type === 'execution.finished')?.outcome).toBe('succeeded');
    const types = entries.map((e) => e.type);
    expect(types[0]).toBe('approval.requested');
    expect(types).toContain('approval.vote');
    expect(entries.find((e) => e.type === 'approval.vote')?.actor).toBe(APPROVER);
    expect(entries.find((e) => e.type === 'execution.started')?.actor).toBe(RESPONDER);
  });
});
