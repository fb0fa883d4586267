import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvalMessage,
  auditEvents,
  click,
  countAudit,
  GROUP_MEMBERS,
  newChannel,
  runningMessages,
  type Shared,
  SIGNING_SECRET,
  slash,
  startShared,
  storedRequest,
  waitFor,
  waitForApproval,
  waitForStatus,
  writeInventory,
  writePolicy,
} from '../helpers/approval-harness.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

/** Two ward processes (separate OS processes, as two replicas would be) sharing one redis-server. */
describe('two ward replicas on one Redis', () => {
  let shared: Shared;
  const wards: WardProcess[] = [];

  beforeAll(async () => {
    shared = await startShared();
    const policy = join(shared.dir, 'policy.yaml');
    const inventory = join(shared.dir, 'inventory.yaml');
    writePolicy(policy, { forensics: { approvals: 2, mfa: 'none', approvers: ['approver'] } });
    writeInventory(inventory);
    const env = {
      SLACK_BOT_TOKEN: 'xoxb-test-replicas',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: shared.slack.apiUrl,
      REDIS_URL: shared.redis.url,
      WARD_POLICY: policy,
      WARD_INVENTORY: inventory,
    };
    wards.push(...(await Promise.all([startWardProcess(env), startWardProcess(env)])));
  });

  afterAll(async () => {
    await Promise.all(wards.map((w) => w.stop()));
    await shared?.close();
  });

  it('votes split between the replicas, clicked all at once → exactly one execution', async () => {
    const [a, b] = wards.map((w) => `${w.url}/slack/events`) as [string, string];
    const channel = newChannel();
    await slash(shared, a, 'U0REQUEST1', channel, 'forensics web1 --reason "replicas"');
    const { message, id } = await waitForApproval(shared, channel);
    const voters = GROUP_MEMBERS.slice(0, 20);
    await Promise.all(
      voters.map((u, i) => click(shared, i % 2 === 0 ? a : b, u, message, 'approval.approve', id)),
    );
    await waitForStatus(shared, id, ['succeeded', 'failed', 'partial']);
    await waitFor('all 20 votes audited', async () =>
      (await countAudit(shared, 'approval.vote', id)) === 20 ? true : undefined,
    );
    const approved = (await auditEvents(shared, id)).filter(
      (e) => e.type === 'approval.vote' && e.outcome === 'approved',
    );
    expect(approved).toHaveLength(2);
    expect((await storedRequest(shared, id)).approvals).toHaveLength(2);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    expect(runningMessages(shared, message)).toHaveLength(1);
    await waitFor('the final message', () =>
      (approvalMessage(shared, channel)?.text ?? '').match(/^(Done|Failed|Partly done)/) ? true : undefined,
    );
  });
});
