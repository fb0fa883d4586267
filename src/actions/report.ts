import type { CommandServices } from '../core/command.js';
import type { MailAttachment } from '../ports/mailer.js';
import { esc } from '../render/blocks.js';
import { describeError, type RemoteJob } from './host-session.js';

/**
 * Emails WARD_ADMIN_EMAILS. A failure (or email not being configured while admins are listed) is said in the
 * request's thread: an email that silently did not go out is worse than none.
 */
export async function emailAdmins(
  job: RemoteJob,
  message: { subject: string; text: string; attachments?: MailAttachment[] },
): Promise<'sent' | 'failed' | 'not-configured'> {
  const { services } = job;
  const to = services.config.adminEmails;
  if (to.length === 0) return 'not-configured';
  if (!services.mailer.enabled) {
    await postInThread(
      services,
      job,
      `:warning: Not emailed to the admins: email is not configured (set MAILGUN_API_KEY and MAILGUN_DOMAIN).`,
    );
    return 'not-configured';
  }
  try {
    await services.mailer.send({ to, ...message });
    services.log.info({ approvalRequestId: job.requestId, recipients: to.length }, 'admin email sent');
    return 'sent';
  } catch (err) {
    services.log.warn({ err, approvalRequestId: job.requestId }, 'admin email failed');
    await postInThread(
      services,
      job,
      `:warning: The email to the admins (${to.length} recipient${to.length === 1 ? '' : 's'}) failed: ${esc(describeError(err))}. The evidence is still kept on the ward server.`,
    );
    return 'failed';
  }
}

export async function postInThread(services: CommandServices, job: RemoteJob, text: string): Promise<void> {
  await services.chat
    .postMessage(job.thread.channel, { text }, { threadTs: job.thread.ts })
    .catch((err) => services.log.error({ err }, 'could not post in the request thread'));
}
