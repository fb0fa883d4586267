import Mailgun from 'mailgun.js';
import type { Mailer, MailMessage } from '../../ports/mailer.js';
import { MailError } from './disabled-mailer.js';

export interface MailgunOptions {
  apiKey: string;
  domain: string;
  /** https://api.eu.mailgun.net for the EU region, or a test server; default https://api.mailgun.net. */
  url?: string | undefined;
  /** Sender; default `ward <ward@DOMAIN>`. */
  from?: string | undefined;
  timeoutMs?: number | undefined;
}

interface MailgunApiError {
  status?: number;
  details?: string;
  message?: string;
}

/** Mailer on mailgun.js 14, with Node's built-in FormData (no extra multipart dependency). */
export class MailgunMailer implements Mailer {
  readonly enabled = true;
  readonly #client: ReturnType<Mailgun['client']>;
  readonly #domain: string;
  readonly #from: string;

  constructor(options: MailgunOptions) {
    const mailgun = new Mailgun(FormData);
    this.#client = mailgun.client({
      username: 'api',
      key: options.apiKey,
      ...(options.url ? { url: options.url.replace(/\/+$/, '') } : {}),
      timeout: options.timeoutMs ?? 15_000,
    });
    this.#domain = options.domain;
    this.#from = options.from ?? `ward <ward@${options.domain}>`;
  }

  async send(message: MailMessage): Promise<{ id: string }> {
    if (message.to.length === 0) throw new MailError('no recipients (set WARD_ADMIN_EMAILS)');
    try {
      const result = await this.#client.messages.create(this.#domain, {
        from: this.#from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.attachments && message.attachments.length > 0
          ? { attachment: message.attachments.map((a) => ({ filename: a.filename, data: a.data })) }
          : {}),
      });
      return { id: result.id ?? '' };
    } catch (err) {
      const e = err as MailgunApiError;
      const what = e.status
        ? `Mailgun answered HTTP ${e.status}${e.details ? `: ${String(e.details).slice(0, 200)}` : ''}`
        : `Mailgun could not be reached (${(e.message ?? String(err)).slice(0, 200)})`;
      throw new MailError(what, err);
    }
  }
}
