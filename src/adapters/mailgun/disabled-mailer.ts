import { WardError } from '../../errors.js';
import type { Mailer } from '../../ports/mailer.js';

/** An email could not be sent. The userMessage names the provider's answer, never the API key. */
export class MailError extends WardError {
  constructor(userMessage: string, cause?: unknown) {
    super('ward_mail_failed', userMessage, { cause });
  }
}

/**
 * Used when MAILGUN_API_KEY/MAILGUN_DOMAIN are unset: sends nothing and says so. Kept apart from MailgunMailer so
 * that a ward without email never loads mailgun.js (about 80 ms and 13 MB at start-up).
 */
export class DisabledMailer implements Mailer {
  readonly enabled = false;

  async send(): Promise<{ id: string }> {
    throw new MailError('email is not configured (set MAILGUN_API_KEY and MAILGUN_DOMAIN)');
  }
}
