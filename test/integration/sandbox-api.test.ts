/**
 * The sandbox's page API as the page uses it (no browser): the channel list an incident adds to, commands typed in
 * that channel, the MFA sidebar (used codes, a reset user), no modal coming back after a reload, the SNS sample
 * meeting the signature check, and hostile input to the new `channel` field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/sandbox.js';

let sandbox: SandboxHandle;
let base: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  base = new URL(sandbox.url).origin;
}, 60_000);

afterAll(async () => {
  await sandbox?.stop();
});

interface PageMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  ephemeral: boolean;
}
interface PageState {
  channels: Array<{ id: string; name: string; isPrivate: boolean; archived: boolean }>;
  messages: PageMessage[];
  views?: unknown;
}
interface MfaEntry {
  user: string;
  code?: string;
  used?: boolean;
  reset?: boolean;
  validForSeconds: number;
}

const RILEY = 'U0DEMORESP';
const ALEX = 'U0DEMOAPPR';
const JORDAN = 'U0DEMOADMN';

async function api(
  path: string,
  body: Record<string, unknown>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-ward-sandbox': '1',
      'x-ward-sandbox-token': sandbox.token,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function state(user: string, fresh = false): Promise<PageState> {
  const res = await fetch(`${base}/api/state?user=${user}${fresh ? '&fresh=1' : ''}`, {
    headers: { 'x-ward-sandbox-token': sandbox.token },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as PageState;
}

async function mfa(): Promise<MfaEntry[]> {
  const res = await fetch(`${base}/api/mfa?token=${sandbox.token}`);
  return (await res.json()) as MfaEntry[];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const text = (m: { text: string; blocks: unknown[] }) => `${m.text}\n${JSON.stringify(m.blocks)}`;

describe('sandbox channels', () => {
  it('an incident opened from #incident appears as a channel for its members; commands typed there run there', async () => {
    const before = await state(RILEY);
    expect(before.channels.map((c) => c.name)).toContain('incident');
    const sent = await api('command', { user: RILEY, text: 'incident open "Web shell on localhost"' });
    expect(sent.status).toBe(200);
    const channel = await until('the incident channel', async () =>
      (await state(RILEY)).channels.find((c) => c.name.includes('web-shell-on-localhost')),
    );
    expect(channel.isPrivate).toBe(true);
    // Every demo user is a responder: alex sees it too, with ward's pinned header.
    const alex = await state(ALEX);
    expect(alex.channels.some((c) => c.id === channel.id)).toBe(true);
    await until('the header in the channel', async () =>
      (await state(ALEX)).messages.find((m) => m.channel === channel.id && /INC-\d+/.test(text(m))),
    );

    const noted = await api('command', {
      user: RILEY,
      text: 'incident note "seen from the page"',
      channel: channel.id,
    });
    expect(noted.status).toBe(200);
    const reply = await until('the note confirmation', async () =>
      (await state(RILEY)).messages.find(
        (m) => m.channel === channel.id && m.ephemeral && text(m).includes('Added to the'),
      ),
    );
    expect(reply).toBeDefined();
  });

  it('refuses a channel the person cannot post in, and malformed ones; nothing reaches ward', async () => {
    const answers = async () => (await state(RILEY)).messages.filter((m) => m.ephemeral).length;
    const before = await answers();
    const dmOfAlex = sandbox.slack.dmChannelFor(ALEX);
    for (const channel of ['C0NOSUCH01', dmOfAlex, '../etc', '', { id: 'C0INCIDENT' }, 12]) {
      const r = await api('command', { user: RILEY, text: 'help', channel });
      expect(r.status, JSON.stringify(channel)).toBe(404);
      expect(r.json.error).toBe('channel: no such channel for this user');
    }
    // A valid command after them is answered: once its answer is there, any answer to the refused ones would be too.
    expect((await api('command', { user: RILEY, text: 'help' })).status).toBe(200);
    await until('the answer to the valid command', async () =>
      (await answers()) > before ? true : undefined,
    );
    expect(await answers()).toBe(before + 1);
  });
});

describe('sandbox MFA sidebar', () => {
  it('marks the code ward took as used, and shows no code for a user whose MFA was reset', async () => {
    await api('command', { user: RILEY, text: 'lockdown localhost --reason "sidebar test"' });
    const request = await until('the lockdown request', async () =>
      sandbox.slack
        .messages('C0INCIDENT')
        .find(
          (m) =>
            !m.thread_ts &&
            /sidebar test/.test(JSON.stringify(m.blocks ?? [])) &&
            /Approve/.test(JSON.stringify(m.blocks)),
        ),
    );
    const approve = JSON.stringify(request.blocks);
    const value = /"action_id":"approval\.approve","value":"([^"]+)"/.exec(approve)?.[1] ?? '';
    const viewsBefore = sandbox.slack.views().length;
    const clicked = await api('action', {
      user: ALEX,
      channel: request.channel,
      ts: request.ts,
      actionId: 'approval.approve',
      value,
    });
    expect(clicked.status).toBe(200);
    const view = await until('the MFA modal', async () => sandbox.slack.views()[viewsBefore]);

    // A reload drops the modal: it is not offered again, and submitting it is refused.
    const reloaded = await state(ALEX, true);
    expect(reloaded.views).toBeUndefined();
    const stale = await api('view', { user: ALEX, viewId: view.view_id, values: {} });
    expect(stale.status).toBe(404);

    // The approval again, this time with the code the sidebar shows.
    const again = await api('action', {
      user: ALEX,
      channel: request.channel,
      ts: request.ts,
      actionId: 'approval.approve',
      value,
    });
    expect(again.status).toBe(200);
    const modal = await until('the second MFA modal', async () => sandbox.slack.views()[viewsBefore + 1]);
    // A code with time left, so that the sidebar is read again within the same 30-s step.
    const alexCode = await until('a code with 8 s left', async () => {
      const c = (await mfa()).find((m) => m.user === ALEX);
      return c && c.validForSeconds >= 8 ? c : undefined;
    });
    expect(alexCode).toMatchObject({ used: false });
    const submitted = await api('view', {
      user: ALEX,
      viewId: modal.view_id,
      values: { mfa_code: { code: alexCode.code } },
    });
    expect(submitted.json).toEqual({ closed: true });
    const after = (await mfa()).find((m) => m.user === ALEX);
    expect(after).toMatchObject({ code: alexCode.code, used: true });

    // jordan resets sam's MFA: sam's code disappears from the sidebar.
    await api('command', { user: JORDAN, text: 'mfa reset <@U0DEMOAPP2>' });
    const sam = await until('sam reset in the sidebar', async () =>
      (await mfa()).find((m) => m.user === 'U0DEMOAPP2' && m.reset === true),
    );
    expect(sam.code).toBeUndefined();
  });
});

describe('sandbox SNS sample', () => {
  it('meets the signature check (its topic is configured), not "source not enabled"', async () => {
    const r = await api('alert', { sample: 'sns' });
    expect(r.json.status).toBe(401);
    expect(r.json.answer).toContain('SNS signature could not be verified');
  }, 30_000);
});
