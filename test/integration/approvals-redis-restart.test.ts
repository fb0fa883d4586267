import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  click,
  countAudit,
  newChannel,
  type Shared,
  slash,
  startShared,
  startTestWard,
  storedRequest,
  USERS,
  type Ward,
  waitFor,
  waitForApproval,
  waitForStatus,
} from '../helpers/approval-harness.js';

describe('Redis restart with persistence on', () => {
  let shared: Shared;
  let ward: Ward;
  beforeAll(async () => {
    shared = await startShared({ appendonly: true });
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'none' } });
  });
  afterAll(async () => {
    await ward?.stop();
    await shared?.close();
  });

  it('a pending request survives Redis being killed and restarted, and then runs once', async () => {
    const channel = newChannel();
    await slash(shared, ward.url, USERS.requester, channel, 'forensics web1 --reason "redis restart"');
    const { message, id } = await waitForApproval(shared, channel);
    await shared.redis.kill();
    await shared.redis.start();
    await waitFor('ward to reconnect to Redis', async () => {
      const res = await fetch(`${ward.handle.url}/readyz`);
      return ((await res.json()) as { store: string }).store === 'ok' ? true : undefined;
    });
    expect((await storedRequest(shared, id)).status).toBe('pending');
    await click(shared, ward.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, ['succeeded', 'failed', 'partial']);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
  });
});
