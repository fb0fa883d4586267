import type { CommandServices } from '../command.js';

/**
 * The enrolment DM and its QR code carry the TOTP secret: whoever reads them later (a shared screen, a taken-over
 * Slack account, a workspace export) can generate codes. ward deletes both once the enrolment is confirmed, or
 * DM_LIFETIME_MS after they were sent if it is not. Where they are is kept in the store, not in memory, so that a
 * restart or another replica still deletes them.
 */
export const DM_LIFETIME_MS = 15 * 60_000;

const PREFIX = 'ward:mfa:enrol-dm:';

interface EnrolmentMessages {
  channel: string;
  ts: string;
  fileId?: string | undefined;
  sentAt: number;
}

type Deps = Pick<CommandServices, 'store' | 'chat' | 'clock' | 'log'>;

/**
 * Records where the enrolment DM is (the caller deletes an earlier enrolment's DM first). Returns the record as
 * stored, for addEnrolmentFile.
 */
export async function rememberEnrolmentMessages(
  services: Deps,
  user: string,
  messages: Omit<EnrolmentMessages, 'sentAt'>,
): Promise<string> {
  const record: EnrolmentMessages = { ...messages, sentAt: services.clock.now() };
  const raw = JSON.stringify(record);
  await services.store.set(PREFIX + user, raw);
  return raw;
}

/**
 * Adds the QR code to the record `recorded` (rememberEnrolmentMessages' result), only if that record is still the
 * stored one. False when it is not: meanwhile the enrolment was confirmed (its DM deleted without this file) or a
 * newer enrolment replaced it, and the caller must delete the file itself. Writing it back regardless would leave
 * the QR code, which shows the secret, in Slack.
 */
export async function addEnrolmentFile(
  services: Deps,
  user: string,
  recorded: string,
  fileId: string,
): Promise<boolean> {
  const record: EnrolmentMessages = { ...(JSON.parse(recorded) as EnrolmentMessages), fileId };
  return services.store.compareAndSet(PREFIX + user, recorded, JSON.stringify(record));
}

/**
 * Deletes the user's enrolment DM and QR code now; false when there were none, another caller is deleting them,
 * or Slack refused (then they are kept for the next sweep).
 */
export async function deleteEnrolmentMessages(services: Deps, user: string): Promise<boolean> {
  const raw = await services.store.get(PREFIX + user);
  if (raw === null) return false;
  // Claimed before deleting: a confirmation and the enroll command still finishing may both get here, and only one
  // deletes. Only the record read is claimed: a newer enrolment written meanwhile keeps its own.
  if (!(await services.store.compareAndSet(PREFIX + user, raw, null))) return false;
  const record = JSON.parse(raw) as EnrolmentMessages;
  try {
    if (record.fileId) await services.chat.deleteFile(record.fileId);
    await services.chat.deleteMessage(record.channel, record.ts);
  } catch (err) {
    services.log.warn({ err, user }, 'could not delete the MFA enrolment DM yet: retrying at the next sweep');
    // Back for the sweep, unless a newer enrolment has recorded its own DM meanwhile.
    await services.store.setIfAbsent(PREFIX + user, raw);
    return false;
  }
  return true;
}

/** Deletes every enrolment DM older than DM_LIFETIME_MS; returns how many were deleted. */
export async function sweepEnrolmentMessages(services: Deps): Promise<number> {
  let deleted = 0;
  for (const key of await services.store.keys(PREFIX)) {
    const raw = await services.store.get(key);
    if (raw === null) continue;
    const { sentAt } = JSON.parse(raw) as EnrolmentMessages;
    if (services.clock.now() - sentAt < DM_LIFETIME_MS) continue;
    if (await deleteEnrolmentMessages(services, key.slice(PREFIX.length))) deleted++;
  }
  return deleted;
}
