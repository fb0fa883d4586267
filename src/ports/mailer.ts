/** A file sent with an email. */
export interface MailAttachment {
  filename: string;
  data: Buffer;
}

/** One email ward sends (to admins: forensic summaries, lockdowns). Plain text; never secrets. */
export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  attachments?: MailAttachment[] | undefined;
}

/**
 * How ward sends email. The adapter (src/adapters/mailgun/mailgun-mailer.ts) uses mailgun.js; without Mailgun
 * configured, `DisabledMailer` says so instead of pretending to have sent anything.
 */
export interface Mailer {
  /** False when no mail transport is configured: callers say "email not configured" rather than "sent". */
  readonly enabled: boolean;
  /** Sends one message; resolves with the provider's message id, rejects with a MailError on any failure. */
  send(message: MailMessage): Promise<{ id: string }>;
}
