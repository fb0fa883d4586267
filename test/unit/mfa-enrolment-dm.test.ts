import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import mfaCommand from '../../commands/mfa.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { TotpMfa } from '../../src/adapters/totp/totp-mfa.js';
import type { CommandContext } from '../../src/core/command.js';
import type { Services } from '../../src/core/services.js';

/*
 * The enrolment DM and QR code hold the TOTP secret, and the secret is readable as soon as the DM is posted: a user
 * (or a script) can confirm while `mfa enroll` is still recording the DM and uploading the QR code. Whenever the
 * confirmation lands, neither may stay in Slack once both commands are done.
 */

const USER = 'U0ALICE001';

function setup() {
  const clock = { now: () => 1_760_000_000_000 };
  const store = new MemoryStore(clock);
  const mfa = new TotpMfa(store, clock, 'ab'.repeat(32));
  /** What Slack shows now: message ts and file ids. */
  const inSlack = new Set<string>();
  /** Every chat.delete and files.delete, by ts or file id. */
  const deletes: string[] = [];
  const hooks: { afterPost?: () => Promise<void>; duringUpload?: () => Promise<void> } = {};
  let uri = '';
  let n = 0;
  const chat = {
    openDm: async () => 'D0ALICE',
    postMessage: async (channel: string, message: unknown) => {
      const ts = `1760000000.${String(++n).padStart(6, '0')}`;
      inSlack.add(ts);
      uri = /otpauth:\/\/[^\s`"\\]+/.exec(JSON.stringify(message).replaceAll('&amp;', '&'))?.[0] ?? uri;
      await hooks.afterPost?.();
      return { channel, ts };
    },
    uploadFile: async () => {
      const fileId = `F0${++n}`;
      inSlack.add(fileId);
      await hooks.duringUpload?.();
      return { fileId };
    },
    deleteMessage: async (_channel: string, ts: string) => {
      deletes.push(ts);
      inSlack.delete(ts);
    },
    deleteFile: async (fileId: string) => {
      deletes.push(fileId);
      inSlack.delete(fileId);
    },
  };
  const services = {
    mfa,
    store,
    clock,
    chat,
    log: { warn() {}, info() {}, debug() {}, error() {} },
    audit: { record: async () => {} },
  } as unknown as Services;
  const run = (action: 'enroll' | 'confirm', value?: string) =>
    mfaCommand.run!({
      args: { action, value },
      flags: {},
      invocation: { user: USER, channel: 'C0TEST', text: `mfa ${action}`, requestId: 'q-test' },
      reply: { ephemeral: async () => {}, inChannel: async () => ({ ts: '1.1', channel: 'C0TEST' }) },
      services,
    } as unknown as CommandContext<{ action: typeof action; value: string | undefined }>);
  const confirmNow = async () => {
    const secret = new URL(uri).searchParams.get('secret')!;
    await run(
      'confirm',
      new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: clock.now() }),
    );
  };
  return { inSlack, deletes, hooks, run, confirmNow, mfa };
}

describe('mfa enroll and a confirmation that overtakes it', () => {
  it('confirmed after the DM is posted, before it is recorded: DM and QR code are deleted', async () => {
    const s = setup();
    s.hooks.afterPost = async () => {
      s.hooks.afterPost = undefined;
      await s.confirmNow();
    };
    await s.run('enroll');
    expect((await s.mfa.status(USER)).enrolled).toBe(true);
    expect([...s.inSlack]).toEqual([]);
    // Each deleted once: the confirmation and the enroll command do not both delete.
    expect(s.deletes).toHaveLength(2);
  });

  it('confirmed while the QR code is uploading: DM and QR code are deleted', async () => {
    const s = setup();
    s.hooks.duringUpload = async () => {
      s.hooks.duringUpload = undefined;
      await s.confirmNow();
    };
    await s.run('enroll');
    expect((await s.mfa.status(USER)).enrolled).toBe(true);
    expect([...s.inSlack]).toEqual([]);
    // Each deleted once: the confirmation and the enroll command do not both delete.
    expect(s.deletes).toHaveLength(2);
  });

  it('a second enroll while the first uploads its QR code: only the second enrolment is left in Slack', async () => {
    const s = setup();
    const second: string[] = [];
    s.hooks.duringUpload = async () => {
      s.hooks.duringUpload = undefined;
      const before = new Set(s.inSlack);
      await s.run('enroll');
      second.push(...[...s.inSlack].filter((x) => !before.has(x)));
    };
    await s.run('enroll');
    expect(second).toHaveLength(2);
    expect([...s.inSlack].sort()).toEqual(second.sort());
  });

  it('confirmed after enroll finished: both are deleted by the confirmation', async () => {
    const s = setup();
    await s.run('enroll');
    expect(s.inSlack.size).toBe(2);
    await s.confirmNow();
    expect([...s.inSlack]).toEqual([]);
    // Each deleted once: the confirmation and the enroll command do not both delete.
    expect(s.deletes).toHaveLength(2);
  });
});
