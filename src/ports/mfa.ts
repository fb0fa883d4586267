/** Why a second factor was not accepted. */
export type MfaFailure =
  | 'invalid'
  | 'replayed'
  | 'locked'
  | 'not_enrolled'
  | 'denied'
  | 'timeout'
  | 'unavailable'
  /** A push to this person is still waiting for their answer: ward sends one at a time. */
  | 'push_pending'
  /** The person got as many pushes as ward allows per hour (push fatigue). */
  | 'rate_limited';

/** The answer of a second-factor check: `message` is safe to show the person (it never contains the code). */
export type MfaOutcome = { ok: true } | { ok: false; reason: MfaFailure; message: string };

/** Where a person stands with their second factor. */
export interface MfaStatus {
  enrolled: boolean;
  /** Enrolment started but not yet confirmed by a first valid code. */
  pendingConfirmation: boolean;
  /** Epoch ms until which the person's MFA is locked after too many wrong codes. */
  lockedUntil?: number | undefined;
}

/**
 * A second factor. `code` providers (TOTP) are given a code that ward asks for in a modal; `push` providers (Duo)
 * ask the person on their own device and answer when they approve or deny.
 */
export interface MfaProvider {
  readonly name: 'totp' | 'duo';
  readonly kind: 'code' | 'push';
  /** Throws MfaUnavailableError (with the reason, e.g. no WARD_ENCRYPTION_KEY) when this provider cannot work at all. */
  assertUsable(): void;
  /**
   * Checks the person's factor. `context` says what it is for (shown in a push notification). Never throws for a
   * wrong or replayed code: that is an outcome. Throws a WardError when the provider cannot work at all.
   */
  verify(user: string, proof: { code?: string | undefined; context: string }): Promise<MfaOutcome>;
  status(user: string): Promise<MfaStatus>;
  /** `code` providers only: starts enrolment and returns the otpauth:// URI for an authenticator app. */
  enroll?(user: string, label: string): Promise<{ uri: string }>;
  /** `code` providers only: confirms enrolment with a first valid code. */
  confirm?(user: string, code: string): Promise<MfaOutcome>;
  /** Forgets the person's factor (an admin's reset); true when there was one. */
  reset?(user: string): Promise<boolean>;
}
