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
});
