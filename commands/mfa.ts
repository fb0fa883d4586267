import { z } from 'zod';
import { EVERYONE } from '../src/config/policy.js';
import { defineCommand } from '../src/core/command.js';
import {
  addEnrolmentFile,
  deleteEnrolmentMessages,
  rememberEnrolmentMessages,
} from '../src/core/mfa/enrolment-messages.js';
import { PermissionDeniedError, UserInputError } from '../src/errors.js';
import { code, section } from '../src/render/blocks.js';
import { clockTime } from '../src/render/time.js';

const USER_PATTERN = /^(?:<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>|@?([UW][A-Z0-9]{2,}))$/;
/** Roles whose holders may reset someone else's MFA. */
const RESET_ROLES = ['admin'];

/**
 * `/ward mfa enroll|confirm <code>|status|reset <@user>`: the second factor. Enrolment sends, in a direct message,
 * the otpauth:// URI and a QR code for an authenticator app; it counts once confirmed with a first valid code.
 * That DM carries the secret, so ward deletes it when the enrolment is confirmed, or after 15 minutes
 * (src/core/mfa/enrolment-messages.ts). Codes are never echoed back or logged.
 */
export default defineCommand({
  name: 'mfa',
  summary: 'Set up your second factor (enroll, confirm, status); admins can reset a user',
  usage: 'mfa enroll | mfa confirm <code> | mfa status | mfa reset <@user>',
  examples: ['mfa enroll', 'mfa confirm 123456', 'mfa status', 'mfa reset @alice'],
  kind: 'read',
  args: z.object({
    action: z.enum(['enroll', 'confirm', 'status', 'reset'], {
      error: 'must be one of enroll, confirm, status, reset',
    }),
    value: z.string().max(80, 'is too long').optional(),
  }),
  positionals: ['action', 'value'],
  policy: { allow: [EVERYONE] },
  async run({ args, invocation, reply, services }) {
    const mfa = services.mfa;
    const user = invocation.user;
    if (args.action === 'status') {
      const st = await mfa.status(user);
      const state = st.enrolled
        ? 'enrolled'
        : st.pendingConfirmation
          ? 'enrolment started, waiting for `/ward mfa confirm <code>`'
          : 'not enrolled (`/ward mfa enroll`)';
      const lock =
        st.lockedUntil !== undefined
          ? ` Locked after too many wrong codes until ${clockTime(st.lockedUntil, services.clock.now())}.`
          : '';
      await reply.ephemeral({ text: `Your MFA (${mfa.name}): ${state}.${lock}` });
      return;
    }
    if (args.action === 'reset') {
      const m = USER_PATTERN.exec(args.value ?? '');
      const target = m?.[1] ?? m?.[2];
      if (!target)
        throw new UserInputError(
          'Usage: `/ward mfa reset <@user>` (mention the person or give their U… id).',
        );
      if (!(await services.policy.holdsAny(user, RESET_ROLES, { fresh: true }))) {
        throw new PermissionDeniedError('Only an *admin* may reset someone’s MFA.');
      }
      if (!mfa.reset) throw new UserInputError(`MFA is provided by ${mfa.name}: reset the user there.`);
      mfa.assertUsable();
      const had = await mfa.reset(target);
      await services.audit.record({
        type: 'mfa.reset',
        actor: user,
        outcome: had ? 'reset' : 'not_enrolled',
        details: { target },
      });
      await reply.ephemeral({
        text: had
          ? `MFA of <@${target}> is reset: they can enrol again with \`/ward mfa enroll\`.`
          : `<@${target}> had no MFA enrolled.`,
      });
      return;
    }
    if (!mfa.enroll || !mfa.confirm) {
      throw new UserInputError(
        `MFA is Duo push: enrolment happens in Duo, not in ward. \`/ward mfa status\` shows yours.`,
      );
    }
    mfa.assertUsable();
    if (args.action === 'enroll') {
      const { uri } = await mfa.enroll(user, `ward:${user}`);
      // A new enrolment's secret replaces the old one: its DM goes now.
      await deleteEnrolmentMessages(services, user);
      const dm = await services.chat.openDm(user);
      const posted = await services.chat.postMessage(dm, {
        text: 'ward MFA enrolment: add this to your authenticator app, then run /ward mfa confirm <code>.',
        blocks: [
          section(
            `*ward MFA enrolment*\nScan the QR code below with your authenticator app, or add this URI by hand:\n${code(uri)}\nThen run \`/ward mfa confirm <code>\` with the 6-digit code it shows. ward deletes this message and the QR code once you are enrolled, or in 15 minutes.`,
          ),
        ],
      });
      // qrcode is loaded on the first enrolment only: ward should not carry it in memory for a rare command.
      const QRCode = (await import('qrcode')).default;
      const png = await QRCode.toBuffer(uri, { type: 'png', margin: 2, width: 256 });
      // Recorded before the upload too, so that the DM is deleted even when the upload fails half-way.
      const recorded = await rememberEnrolmentMessages(services, user, {
        channel: posted.channel,
        ts: posted.ts,
      });
      const { fileId } = await services.chat.uploadFile({
        channel: dm,
        filename: 'ward-mfa.png',
        title: 'ward MFA QR code',
        content: png,
      });
      // The secret is readable from the DM as soon as it is posted, so `mfa confirm` can run while this command is
      // still here. If it (or a newer enrolment) already took the record, the QR code is not in it: delete it now.
      if (!(await addEnrolmentFile(services, user, recorded, fileId))) await services.chat.deleteFile(fileId);
      // If the confirmation ran before the DM was recorded, it found nothing to delete: delete it now.
      if ((await mfa.status(user)).enrolled) await deleteEnrolmentMessages(services, user);
      await services.audit.record({ type: 'mfa.enroll', actor: user, outcome: 'started' });
      await reply.ephemeral({
        text: 'I sent you a direct message with your MFA setup. Confirm it with `/ward mfa confirm <code>`.',
      });
      return;
    }
    // confirm
    const given = (args.value ?? '').trim();
    if (!/^\d{6}$/.test(given))
      throw new UserInputError('Usage: `/ward mfa confirm <code>` with the 6-digit code from your app.');
    if ((await mfa.status(user)).enrolled) {
      // Nothing is checked, so nothing is audited: this answer proves nothing about the code.
      await reply.ephemeral({
        text: 'You are already enrolled: nothing to confirm. To enrol a new device, ask an admin to run `/ward mfa reset` for you first.',
      });
      return;
    }
    const outcome = await mfa.confirm(user, given);
    await services.audit.record({
      type: 'mfa.attempt',
      actor: user,
      outcome: outcome.ok ? 'success' : outcome.reason,
      details: { factor: 'enrolment' },
    });
    if (!outcome.ok) throw new UserInputError(outcome.message);
    await services.audit.record({ type: 'mfa.enroll', actor: user, outcome: 'confirmed' });
    await deleteEnrolmentMessages(services, user);
    await reply.ephemeral({
      text: ':closed_lock_with_key: MFA enrolled. ward will ask for a code when a request needs it.',
    });
  },
});
