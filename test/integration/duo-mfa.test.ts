import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DuoMfa } from '../../src/adapters/duo/duo-mfa.js';
import { MfaUnavailableError } from '../../src/errors.js';
import { type FakeDuo, startFakeDuo } from '../fakes/fake-duo.js';
import {
  approvalMessage,
  auditEvents,
  click,
  countAudit,
  newChannel,
  responses,
  type Shared,
  slash,
  startShared,
  startTestWard,
  storedRequest,
  textOf,
  USERS,
  type Ward,
  waitFor,
  waitForApproval,
  waitForResponse,
  waitForStatus,
} from '../helpers/approval-harness.js';

let duo: FakeDuo;
beforeAll(async () => {
  duo = await startFakeDuo();
});
afterAll(async () => {
  await duo?.close();
});

function provider(overrides: { skey?: string; timeoutMs?: number } = {}) {
  return new DuoMfa({
    apiHost: duo.apiHost,
    ikey: duo.ikey,
    skey: overrides.skey ?? duo.skey,
    baseUrl: duo.url,
    ...(overrides.timeoutMs ? { timeoutMs: overrides.timeoutMs } : {}),
  });
}

describe('DuoMfa against a fake Duo Auth API', () => {
  it('a push the person approves passes, with a correctly signed request', async () => {
    duo.behave('U0DUOALLOW', 'allow');
    expect(await provider().verify('U0DUOALLOW', { context: 'lockdown r-abc123' })).toEqual({ ok: true });
    const sent = duo.requests.at(-1)!;
    expect(sent).toMatchObject({ method: 'POST', path: '/auth/v2/auth', signatureOk: true });
    expect(sent.params).toMatchObject({ username: 'U0DUOALLOW', factor: 'push', device: 'auto' });
  });

  it('a denied push fails as denied', async () => {
    duo.behave('U0DUODENY1', 'deny');
    expect(await provider().verify('U0DUODENY1', { context: 'x' })).toMatchObject({
      ok: false,
      reason: 'denied',
    });
  });

  it('a push Duo reports as timed out fails as timeout', async () => {
    duo.behave('U0DUOTIME1', 'timeout');
    expect(await provider().verify('U0DUOTIME1', { context: 'x' })).toMatchObject({
      ok: false,
      reason: 'timeout',
    });
  });

  it('a push that is never answered fails as timeout after the configured wait', async () => {
    duo.behave('U0DUOHANG1', 'hang');
    expect(await provider({ timeoutMs: 300 }).verify('U0DUOHANG1', { context: 'x' })).toMatchObject({
      ok: false,
      reason: 'timeout',
    });
  });

  it('a wrong secret key is refused by Duo and reported as MFA unavailable, not as a denial', async () => {
    duo.behave('U0DUOALLOW', 'allow');
    await expect(
      provider({ skey: 'wrong-secret-key' }).verify('U0DUOALLOW', { context: 'x' }),
    ).rejects.toBeInstanceOf(MfaUnavailableError);
    expect(duo.requests.at(-1)!.signatureOk).toBe(false);
  });
});

describe('ward with WARD_MFA_PROVIDER=duo', () => {
  let shared: Shared;
  let ward: Ward | undefined;
  beforeAll(async () => {
    shared = await startShared();
  });
  afterAll(async () => {
    await shared?.close();
  });
  afterEach(async () => {
    await ward?.stop();
    ward = undefined;
  });
  const duoEnv = () => ({
    WARD_MFA_PROVIDER: 'duo',
    DUO_API_HOST: duo.apiHost,
    DUO_IKEY: duo.ikey,
    DUO_SKEY: duo.skey,
    DUO_API_URL: duo.url,
  });

  it("the requester's Duo push approved → the request proceeds to approval and runs once", async () => {
    duo.behave(USERS.requester, 'allow');
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'requester' } }, duoEnv());
    const channel = newChannel();
    const { responseUrl } = await slash(
      shared,
      ward.url,
      USERS.requester,
      channel,
      'forensics web1 --reason "duo"',
    );
    expect(await waitForResponse(shared, responseUrl)).toContain('Duo push');
    const { message, id } = await waitForApproval(shared, channel);
    await waitFor(
      'the requester factor',
      () => textOf(approvalMessage(shared, channel)!).includes('confirmed with MFA') || undefined,
    );
    await click(shared, ward.url, USERS.approver1, message, 'approval.approve', id);
    await waitForStatus(shared, id, ['succeeded', 'failed', 'partial']);
    expect(await countAudit(shared, 'execution.started', id)).toBe(1);
    expect((await auditEvents(shared, id)).find((e) => e.type === 'mfa.attempt')?.outcome).toBe('success');
  });

  it('a denied Duo push leaves the request waiting and tells the requester', async () => {
    duo.behave('U0BREAKGL1', 'deny');
    ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'requester' } }, duoEnv());
    const channel = newChannel();
    await slash(shared, ward.url, USERS.breakGlass, channel, 'forensics web1 --reason "duo deny"');
    const { message, id } = await waitForApproval(shared, channel);
    await waitFor(
      'the denied push audited',
      async () =>
        (await auditEvents(shared, id)).some((e) => e.type === 'mfa.attempt' && e.outcome === 'denied') ||
        undefined,
    );
    await click(shared, ward.url, USERS.approver1, message, 'approval.approve', id);
    await waitFor('the vote', async () =>
      (await storedRequest(shared, id)).approvals.length === 1 ? true : undefined,
    );
    expect((await storedRequest(shared, id)).status).toBe('pending');
    expect(await countAudit(shared, 'execution.started', id)).toBe(0);
  });

  describe('push fatigue', () => {
    const authCalls = (user: string) =>
      duo.requests.filter((r) => r.path === '/auth/v2/auth' && r.params['username'] === user).length;
    /** `/ward forensics` as `user`; resolves with the replies on its response_url once `expected` is among them. */
    async function request(user: string, expected: string): Promise<string[]> {
      const channel = newChannel();
      const { responseUrl } = await slash(shared, ward!.url, user, channel, 'forensics web1 --reason "duo"');
      return waitFor(`"${expected}" for ${user}`, () => {
        const got = responses(shared, responseUrl);
        return got.some((t) => t.includes(expected)) ? got : undefined;
      });
    }

    it('while one push waits for an answer, further pushes to that person are refused and not sent', async () => {
      await shared.client.flushall();
      duo.behave(USERS.admin, 'hang');
      const before = authCalls(USERS.admin);
      ward = await startTestWard(shared, { forensics: { approvals: 1, mfa: 'requester' } }, duoEnv());
      await request(USERS.admin, 'Check your phone');
      await waitFor('the first push', () => authCalls(USERS.admin) === before + 1 || undefined);
      for (let i = 0; i < 2; i++) {
        const replies = await request(USERS.admin, 'already waiting for your answer');
        expect(replies.join('\n')).toContain('Nothing was approved');
      }
      expect(authCalls(USERS.admin)).toBe(before + 1);
      const outcomes = (await auditEvents(shared))
        .filter((e) => e.type === 'mfa.attempt')
        .map((e) => e.outcome);
      expect(outcomes).toEqual(['push_pending', 'push_pending']);
      duo.releaseHanging();
    });

    it('pushes beyond WARD_DUO_MAX_PUSHES_PER_HOUR are refused with a clear message, and not sent', async () => {
      await shared.client.flushall();
      duo.behave(USERS.admin, 'deny');
      const before = authCalls(USERS.admin);
      ward = await startTestWard(
        shared,
        { forensics: { approvals: 1, mfa: 'requester' } },
        {
          ...duoEnv(),
          WARD_DUO_MAX_PUSHES_PER_HOUR: '2',
        },
      );
      for (let i = 0; i < 2; i++) await request(USERS.admin, 'The Duo push was denied');
      const replies = await request(USERS.admin, 'already sent you 2 Duo pushes this hour');
      expect(replies.join('\n')).toMatch(/try again in \d+ min/);
      expect(authCalls(USERS.admin)).toBe(before + 2);
    });
  });
});
