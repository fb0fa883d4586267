import { Secret, TOTP } from 'otpauth';
import { SecretBox } from '../../core/mfa/secret-box.js';
import { MfaUnavailableError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { MfaOutcome, MfaProvider, MfaStatus } from '../../ports/mfa.js';
import type { Store } from '../../ports/store.js';

/** Wrong codes in a row that lock a user's MFA, and for how long. */
export const MAX_FAILURES = 5;
export const LOCK_MS = 15 * 60_000;
const PERIOD_SECONDS = 30;
/** One step either side of now is accepted (clock drift of the phone). */
const WINDOW = 1;
/** A used step is remembered a little longer than it can be valid. */
const USED_TTL_MS = (2 * WINDOW + 2) * PERIOD_SECONDS * 1000;
const CODE_PATTERN = /^\d{6}$/;

interface Enrolment {
  /** The base32 secret, sealed with AES-256-GCM (associated data: the user id). */
  secret: string;
  confirmed: boolean;
  createdAt: number;
}

const key = {
  enrolment: (user: string) => `ward:mfa:user:${user}`,
  used: (user: string, step: number) => `ward:mfa:used:${user}:${step}`,
  failures: (user: string) => `ward:mfa:failures:${user}`,
  lock: (user: string) => `ward:mfa:lock:${user}`,
};

/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s) with secrets sealed at rest, replay protection (a time step once used is
 * refused, atomically, even across replicas) and a lock after five wrong codes. Codes are never stored or logged.
 */
export class TotpMfa implements MfaProvider {
  readonly name = 'totp' as const;
  readonly kind = 'code' as const;
  private readonly box: SecretBox | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    encryptionKey: string | undefined,
    private readonly issuer = 'ward',
  ) {
    this.box = encryptionKey === undefined ? undefined : SecretBox.fromConfig(encryptionKey);
  }

  assertUsable(): void {
    this.requireBox();
  }

  private requireBox(): SecretBox {
    if (!this.box) {
      throw new MfaUnavailableError(
        'MFA is not available: WARD_ENCRYPTION_KEY is not set, and ward refuses to keep MFA secrets unencrypted. An admin can generate one with `openssl rand -hex 32`. Nothing was run.',
      );
    }
    return this.box;
  }

  private async load(user: string): Promise<Enrolment | undefined> {
    const raw = await this.store.get(key.enrolment(user));
    return raw === null ? undefined : (JSON.parse(raw) as Enrolment);
  }

  private totp(box: SecretBox, user: string, e: Enrolment): TOTP {
    return new TOTP({
      issuer: this.issuer,
      label: user,
      algorithm: 'SHA1',
      digits: 6,
      period: PERIOD_SECONDS,
      secret: Secret.fromBase32(box.open(e.secret, user)),
    });
  }

  async enroll(user: string, label: string): Promise<{ uri: string }> {
    const box = this.requireBox();
    const existing = await this.load(user);
    if (existing?.confirmed) {
      throw new MfaUnavailableError(
        'You are already enrolled. To enrol a new device, ask an admin to run `/ward mfa reset` for you first.',
      );
    }
    const secret = new Secret({ size: 20 });
    const record: Enrolment = {
      secret: box.seal(secret.base32, user),
      confirmed: false,
      createdAt: this.clock.now(),
    };
    await this.store.set(key.enrolment(user), JSON.stringify(record));
    const totp = new TOTP({
      issuer: this.issuer,
      label,
      algorithm: 'SHA1',
      digits: 6,
      period: PERIOD_SECONDS,
      secret,
    });
    return { uri: totp.toString() };
  }

  async confirm(user: string, code: string): Promise<MfaOutcome> {
    const box = this.requireBox();
    const e = await this.load(user);
    if (!e) return { ok: false, reason: 'not_enrolled', message: 'Start with `/ward mfa enroll`.' };
    if (e.confirmed) return { ok: true };
    const outcome = await this.check(box, user, e, code);
    if (outcome.ok) {
      const raw = JSON.stringify(e);
      await this.store.compareAndSet(key.enrolment(user), raw, JSON.stringify({ ...e, confirmed: true }));
    }
    return outcome;
  }

  async verify(user: string, proof: { code?: string | undefined }): Promise<MfaOutcome> {
    const box = this.requireBox();
    const e = await this.load(user);
    if (!e?.confirmed) {
      return {
        ok: false,
        reason: 'not_enrolled',
        message: e
          ? 'Your MFA enrolment is not confirmed yet: run `/ward mfa confirm <code>` with a code from your app.'
          : 'You have no MFA enrolled: run `/ward mfa enroll` and follow the direct message.',
      };
    }
    return this.check(box, user, e, proof.code ?? '');
  }

  private async check(box: SecretBox, user: string, e: Enrolment, code: string): Promise<MfaOutcome> {
    const now = this.clock.now();
    const lockedUntil = await this.lockedUntil(user);
    if (lockedUntil !== undefined) return locked(lockedUntil);
    const token = code.replace(/\s+/g, '');
    const totp = this.totp(box, user, e);
    const delta = CODE_PATTERN.test(token) ? totp.validate({ token, timestamp: now, window: WINDOW }) : null;
    if (delta === null) {
      const failures = await this.store.incr(key.failures(user), LOCK_MS);
      if (failures >= MAX_FAILURES) {
        const until = now + LOCK_MS;
        await this.store.set(key.lock(user), JSON.stringify({ until }), LOCK_MS);
        await this.store.del(key.failures(user));
        return locked(until);
      }
      const left = MAX_FAILURES - failures;
      return {
        ok: false,
        reason: 'invalid',
        message: `That code is not valid. ${left} attempt${left === 1 ? '' : 's'} left before your MFA is locked for 15 minutes.`,
      };
    }
    // A code is good for one use: the first to claim its time step wins, even when two replicas check at once.
    const step = totp.counter({ timestamp: now }) + delta;
    const first = await this.store.setIfAbsent(key.used(user, step), '1', USED_TTL_MS);
    if (!first) {
      return {
        ok: false,
        reason: 'replayed',
        message: 'That code was already used. Wait for the next code in your app.',
      };
    }
    await this.store.del(key.failures(user));
    return { ok: true };
  }

  private async lockedUntil(user: string): Promise<number | undefined> {
    const raw = await this.store.get(key.lock(user));
    if (raw === null) return undefined;
    const { until } = JSON.parse(raw) as { until: number };
    // The injectable clock decides, not only Redis's TTL, so that a lock's end is testable without sleeping.
    return until > this.clock.now() ? until : undefined;
  }

  async status(user: string): Promise<MfaStatus> {
    const e = await this.load(user);
    return {
      enrolled: e?.confirmed ?? false,
      pendingConfirmation: e !== undefined && !e.confirmed,
      lockedUntil: await this.lockedUntil(user),
    };
  }

  async reset(user: string): Promise<boolean> {
    const had = await this.store.del(key.enrolment(user));
    await this.store.del(key.lock(user));
    await this.store.del(key.failures(user));
    return had;
  }
}

function locked(until: number): MfaOutcome {
  return {
    ok: false,
    reason: 'locked',
    message: `Too many wrong codes: your MFA is locked until ${new Date(until).toISOString().slice(11, 16)} UTC. Nothing was approved.`,
  };
}
