import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { TotpMfa } from '../../src/adapters/totp/totp-mfa.js';
import { SecretBox } from '../../src/core/mfa/secret-box.js';
import { MfaUnavailableError } from '../../src/errors.js';

const KEY = 'ab'.repeat(32);

function setup() {
  let now = 1_760_000_000_000;
  const clock = { now: () => now };
  const store = new MemoryStore(clock);
  const mfa = new TotpMfa(store, clock, KEY);
  return { store, mfa, clock, advance: (ms: number) => (now += ms) };
}

async function enrolled(s: ReturnType<typeof setup>, user = 'U0ALICE001') {
  const { uri } = await s.mfa.enroll(user, 'ward:alice');
  const totp = new TOTP({ secret: Secret.fromBase32(new URL(uri).searchParams.get('secret')!) });
  expect(await s.mfa.confirm(user, totp.generate({ timestamp: s.clock.now() }))).toEqual({ ok: true });
  s.advance(30_000);
  return totp;
}

describe('TOTP MFA', () => {
  it('stores the secret encrypted, bound to its owner', async () => {
    const s = setup();
    const { uri } = await s.mfa.enroll('U0ALICE001', 'ward:alice');
    const secret = new URL(uri).searchParams.get('secret')!;
    const raw = (await s.store.get('ward:mfa:user:U0ALICE001'))!;
    expect(raw).not.toContain(secret);
    const sealed = (JSON.parse(raw) as { secret: string }).secret;
    expect(SecretBox.fromConfig(KEY).open(sealed, 'U0ALICE001')).toBe(secret);
    expect(() => SecretBox.fromConfig(KEY).open(sealed, 'U0MALLORY1')).toThrow();
  });

  it('accepts a code once, refuses its replay, accepts the next step', async () => {
    const s = setup();
    const totp = await enrolled(s);
    const code = totp.generate({ timestamp: s.clock.now() });
    expect(await s.mfa.verify('U0ALICE001', { code })).toEqual({ ok: true });
    expect(await s.mfa.verify('U0ALICE001', { code })).toMatchObject({ ok: false, reason: 'replayed' });
    s.advance(30_000);
    expect(await s.mfa.verify('U0ALICE001', { code: totp.generate({ timestamp: s.clock.now() }) })).toEqual({
      ok: true,
    });
  });

  it('locks after five wrong codes and unlocks after fifteen minutes', async () => {
    const s = setup();
    const totp = await enrolled(s);
    for (let i = 0; i < 4; i++) expect((await s.mfa.verify('U0ALICE001', { code: 'abcdef' })).ok).toBe(false);
    expect(
      await s.mfa.verify('U0ALICE001', {
        code: '000000' === totp.generate({ timestamp: s.clock.now() }) ? '111111' : '000000',
      }),
    ).toMatchObject({ reason: 'locked' });
    expect(
      await s.mfa.verify('U0ALICE001', { code: totp.generate({ timestamp: s.clock.now() }) }),
    ).toMatchObject({
      reason: 'locked',
    });
    expect((await s.mfa.status('U0ALICE001')).lockedUntil).toBeDefined();
    s.advance(15 * 60_000);
    expect(await s.mfa.verify('U0ALICE001', { code: totp.generate({ timestamp: s.clock.now() }) })).toEqual({
      ok: true,
    });
  });

  it('100 concurrent wrong codes and the right one: at most 5 are checked, the right one is locked out', async () => {
    const s = setup();
    const totp = await enrolled(s);
    const right = totp.generate({ timestamp: s.clock.now() });
    const wrong = right === '000000' ? '111111' : '000000';
    const outcomes = await Promise.all([
      ...Array.from({ length: 100 }, () => s.mfa.verify('U0ALICE001', { code: wrong })),
      s.mfa.verify('U0ALICE001', { code: right }),
    ]);
    // Only 'invalid' (and the fifth failure's 'locked') come from a check; every other answer is 'locked' unchecked.
    expect(outcomes.filter((o) => !o.ok && o.reason === 'invalid')).toHaveLength(4);
    expect(outcomes.at(-1)).toMatchObject({ ok: false, reason: 'locked' });
    expect(await s.mfa.verify('U0ALICE001', { code: right })).toMatchObject({ reason: 'locked' });
  });

  it('confirming an enrolment that is already confirmed is refused, not answered ok', async () => {
    const s = setup();
    await enrolled(s);
    await expect(s.mfa.confirm('U0ALICE001', '000000')).rejects.toThrow(/already enrolled/);
  });

  it('refuses to work without WARD_ENCRYPTION_KEY', async () => {
    const s = setup();
    const noKey = new TotpMfa(s.store, s.clock, undefined);
    expect(() => noKey.assertUsable()).toThrow(MfaUnavailableError);
    await expect(noKey.enroll('U0ALICE001', 'x')).rejects.toThrow(/WARD_ENCRYPTION_KEY/);
  });

  it('a user who never enrolled is told how to enrol', async () => {
    const s = setup();
    expect(await s.mfa.verify('U0NOBODY01', { code: '123456' })).toMatchObject({ reason: 'not_enrolled' });
  });
});
