import type { TOTP } from 'otpauth';
import { SecretBox } from '../../core/mfa/secret-box.js';
import { MfaUnavailableError, UserInputError } from '../../errors.js';
import { mfaCodeChecksTotal } from '../../metrics.js';
import type { Clock } from '../../ports/clock.js';
import type { MfaOutcome, MfaProvider, MfaStatus } from '../../ports/mfa.js';
import type { Store } from '../../ports/store.js';

/** otpauth is loaded when a code is first checked or a device enrolled, not at start (ward may never need it). */
let otpauth: Promise<typeof import('otpauth')> | undefined;
const loadOtpauth = () => (otpauth ??= import('otpauth'));

/** Attempts (counted before the code is checked) that lock a user's MFA when none succeeds, and for how long. */
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

/** The store key saying a time step's code was used (ward refuses it again); the sandbox's sidebar reads it too. */
export const totpUsedKey = (user: string, step: number): string => `ward:mfa:used:${user}:${step}`;

const key = {
  enrolment: (user: string) => `ward:mfa:user:${user}`,
  used: totpUsedKey,
  attempts: (user: string) => `ward:mfa:attempts:${user}`,
  lock: (user: string) => `ward:mfa:lock:${user}`,
};

/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s) with secrets sealed at rest, replay protection (a time step once used is
 * refused, atomically, even across replicas) and a lock after five wrong codes. Codes are never stored or logged.
 *
 * The lock holds under concurrency: every submission first increments the user's attempt counter (one atomic
 * INCR in the store, shared by all replicas) and only the first MAX_FAILURES of a window are ever checked. Checking
 * first and counting afterwards let 200 concurrent guesses all be checked before the first lock was written.
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

  private async totp(box: SecretBox, user: string, e: Enrolment): Promise<TOTP> {
    const { Secret, TOTP } = await loadOtpauth();
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
    const { Secret, TOTP } = await loadOtpauth();
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
    if (e.confirmed) {
      // Answering ok here let `/ward mfa confirm <anything>` look like a successful second factor.
      throw new UserInputError('You are already enrolled: nothing to confirm.');
    }
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
    // Counted before anything else: the INCR's result alone decides whether this code is checked at all.
    let attempt = await this.store.incr(key.attempts(user), LOCK_MS);
    if (attempt > MAX_FAILURES) attempt = await this.nextWindowAttempt(user, now);
    if (attempt > MAX_FAILURES) {
      mfaCodeChecksTotal.inc({ outcome: 'locked' });
      return locked((await this.lockedUntil(user)) ?? now + LOCK_MS);
    }
    const token = code.replace(/\s+/g, '');
    const totp = await this.totp(box, user, e);
    const delta = CODE_PATTERN.test(token) ? totp.validate({ token, timestamp: now, window: WINDOW }) : null;
    if (delta === null) {
      mfaCodeChecksTotal.inc({ outcome: 'invalid' });
      if (attempt >= MAX_FAILURES) {
        const until = now + LOCK_MS;
        await this.store.set(key.lock(user), JSON.stringify({ until }), LOCK_MS);
        // The lock lasts LOCK_MS from now, not from the first attempt: restart the counter's window at the limit,
        // so every attempt until then is still past it (concurrent INCRs in between only add to it).
        await this.store.set(key.attempts(user), String(MAX_FAILURES), LOCK_MS);
        return locked(until);
      }
      const left = MAX_FAILURES - attempt;
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
      mfaCodeChecksTotal.inc({ outcome: 'replayed' });
      return {
        ok: false,
        reason: 'replayed',
        message: 'That code was already used. Wait for the next code in your app.',
      };
    }
    mfaCodeChecksTotal.inc({ outcome: 'valid' });
    await this.store.del(key.attempts(user));
    return { ok: true };
  }

  /**
   * Past the limit: still locked (returns a count past the limit) unless the lock has ended by ward's clock, which
   * may run ahead of Redis's TTLs (tests inject one). Then exactly one caller, the one whose compare-and-set removes
   * the lock, restarts the count; concurrent callers stay refused, so a new window still checks at most five.
   */
  private async nextWindowAttempt(user: string, now: number): Promise<number> {
    const raw = await this.store.get(key.lock(user));
    if (raw === null || (JSON.parse(raw) as { until: number }).until > now) return MAX_FAILURES + 1;
    if (!(await this.store.compareAndSet(key.lock(user), raw, null))) return MAX_FAILURES + 1;
    await this.store.set(key.attempts(user), '0', LOCK_MS);
    return this.store.incr(key.attempts(user), LOCK_MS);
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
    await this.store.del(key.attempts(user));
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
