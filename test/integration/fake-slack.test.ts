import { readFileSync } from 'node:fs';
import { App, LogLevel } from '@slack/bolt';
import { WebClient, WebClientEvent } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { freePort } from '../helpers/free-port.js';
import {
  postToSlackEndpoint,
  sendBlockAction,
  sendSlashCommand,
  sendViewSubmission,
  slashCommandBody,
} from '../helpers/slack-requests.js';

const BOT_TOKEN = 'xoxb-test-token';
const APP_TOKEN = 'xapp-test-token';
const SIGNING_SECRET = 'test-signing-secret';

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
}

let fake: FakeSlack;
let client: WebClient;

beforeEach(async () => {
  fake = await startFakeSlack({ botUserId: 'U0WARDBOT' });
  client = new WebClient(BOT_TOKEN, { slackApiUrl: fake.apiUrl, logLevel: LogLevel.ERROR });
});

afterEach(async () => {
  await fake.close();
});

describe('fake Slack Web API, driven by the real WebClient', () => {
  it('answers auth.test with the bot identity and its own loopback URL', async () => {
    const res = await client.auth.test();
    expect(res).toMatchObject({ ok: true, user_id: 'U0WARDBOT', bot_id: fake.botId, team_id: fake.teamId });
    expect(res.url).toBe(fake.url);
    expect(fake.callsTo('auth.test')[0]?.token).toBe(BOT_TOKEN);
  });

  it('posts, threads and updates messages, decoding blocks sent as form JSON', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Lockdown* requested' } }];
    const root = await client.chat.postMessage({ channel: 'C1', text: 'Lockdown requested', blocks });
    const reply = await client.chat.postMessage({
      channel: 'C1',
      thread_ts: root.ts!,
      text: 'approved by <@U2>',
    });
    expect(root.channel).toBe('C1');
    expect(Number(reply.ts)).toBeGreaterThan(Number(root.ts));

    await client.chat.update({ channel: 'C1', ts: root.ts!, text: 'Lockdown done', blocks: [] });

    const call = fake.callsTo('chat.postMessage')[0];
    expect(call?.args['blocks']).toEqual(blocks);
    const [first, second] = fake.messages('C1');
    expect(first).toMatchObject({ ts: root.ts, text: 'Lockdown done', user: 'U0WARDBOT' });
    expect(first?.updatedAt).toBeTypeOf('number');
    expect(second).toMatchObject({ ts: reply.ts, thread_ts: root.ts, text: 'approved by <@U2>' });
  });

  it('refuses to update a message that does not exist', async () => {
    await expect(client.chat.update({ channel: 'C1', ts: '1.000100', text: 'x' })).rejects.toMatchObject({
      data: { ok: false, error: 'message_not_found' },
    });
  });

  it('keeps ephemeral messages apart, flagged with their only reader', async () => {
    const res = await client.chat.postEphemeral({ channel: 'C1', user: 'U7', text: 'only you can see this' });
    expect(res.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(fake.messages('C1')).toEqual([
      expect.objectContaining({ ts: res.message_ts, ephemeralFor: 'U7', text: 'only you can see this' }),
    ]);
  });

  it('deletes messages', async () => {
    const { ts } = await client.chat.postMessage({ channel: 'C1', text: 'oops' });
    await client.chat.delete({ channel: 'C1', ts: ts! });
    expect(fake.messages('C1')).toEqual([]);
  });

  it('opens, updates and pushes views', async () => {
    const view = {
      type: 'modal' as const,
      callback_id: 'mfa.code',
      private_metadata: 'req-1',
      title: { type: 'plain_text' as const, text: 'MFA' },
      blocks: [],
    };
    const opened = await client.views.open({ trigger_id: '1.2.abc', view });
    const viewId = opened.view?.id;
    expect(viewId).toMatch(/^V/);
    await client.views.update({ view_id: viewId!, view: { ...view, private_metadata: 'req-2' } });
    await client.views.push({ trigger_id: '1.2.def', view });
    const views = fake.views();
    expect(views).toHaveLength(2);
    expect(views[0]).toMatchObject({
      view_id: viewId,
      trigger_id: '1.2.abc',
      view: { private_metadata: 'req-2' },
    });
  });

  it('opens one stable DM channel per user and posts to a user id in that DM', async () => {
    const a = await client.conversations.open({ users: 'U5' });
    const b = await client.conversations.open({ users: 'U5' });
    const c = await client.conversations.open({ users: 'U6' });
    expect(a.channel?.id).toMatch(/^D/);
    expect(b.channel?.id).toBe(a.channel?.id);
    expect(c.channel?.id).not.toBe(a.channel?.id);
    const posted = await client.chat.postMessage({ channel: 'U5', text: 'hi' });
    expect(posted.channel).toBe(a.channel?.id);
  });

  it('lists user group members, and refuses an unknown group', async () => {
    fake.setUsergroup('S1', ['U1', 'U2']);
    expect((await client.usergroups.users.list({ usergroup: 'S1' })).users).toEqual(['U1', 'U2']);
    await expect(client.usergroups.users.list({ usergroup: 'S404' })).rejects.toMatchObject({
      data: { error: 'no_such_subteam' },
    });
  });

  it('answers users.info with a minimal profile', async () => {
    const res = await client.users.info({ user: 'U123' });
    expect(res.user).toMatchObject({ id: 'U123', deleted: false, profile: { email: 'u123@example.com' } });
  });

  it('answers unknown methods and bad tokens as Slack does, and records them', async () => {
    await expect(client.apiCall('nope.nothing')).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    const stranger = new WebClient('xoxp-user-token', { slackApiUrl: fake.apiUrl, logLevel: LogLevel.ERROR });
    await expect(stranger.auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    expect(fake.callsTo('nope.nothing')[0]?.error).toBe('unknown_method');
    expect(fake.callsTo('auth.test')[0]).toMatchObject({ token: 'xoxp-user-token', error: 'invalid_auth' });
  });

  it('accepts only the configured bot token when one is given', async () => {
    const strict = await startFakeSlack({ botToken: 'xoxb-right' });
    try {
      const wrong = new WebClient('xoxb-wrong', { slackApiUrl: strict.apiUrl, logLevel: LogLevel.ERROR });
      const right = new WebClient('xoxb-right', { slackApiUrl: strict.apiUrl, logLevel: LogLevel.ERROR });
      await expect(wrong.auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
      await expect(right.auth.test()).resolves.toMatchObject({ ok: true });
    } finally {
      await strict.close();
    }
  });

  it('round-trips filesUploadV2 into a thread with the bytes intact', async () => {
    const root = await client.chat.postMessage({ channel: 'C9', text: 'forensics for web-1' });
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13, ...Buffer.from('ps auxww output\n')]);
    const res = await client.filesUploadV2({
      channel_id: 'C9',
      thread_ts: root.ts!,
      initial_comment: 'evidence bundle',
      file: bytes,
      filename: 'web-1.tar.gz',
      title: 'web-1 evidence',
    });
    expect(res.ok).toBe(true);

    const [file] = fake.files();
    expect(file).toMatchObject({
      name: 'web-1.tar.gz',
      title: 'web-1 evidence',
      channel: 'C9',
      thread_ts: root.ts,
    });
    expect(file?.bytes.equals(bytes)).toBe(true);
    const message = fake.messages('C9').find((m) => m.files);
    expect(message).toMatchObject({ thread_ts: root.ts, text: 'evidence bundle' });
    expect(message?.files?.[0]?.id).toBe(file?.id);
    expect(fake.callsTo('upload_url')[0]?.args).toEqual({ file_id: file?.id, bytes: bytes.length });
  });

  it('answers 429 with Retry-After, which the client waits out before succeeding', async () => {
    fake.rateLimit('chat.postMessage', 1, 1);
    const rateLimited: number[] = [];
    client.on(WebClientEvent.RATE_LIMITED, (seconds: number) => rateLimited.push(seconds));

    const res = await client.chat.postMessage({ channel: 'C1', text: 'after the pause' });

    expect(res.ok).toBe(true);
    expect(rateLimited).toEqual([1]);
    const calls = fake.callsTo('chat.postMessage');
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[0]).toMatchObject({ rateLimited: true, error: 'ratelimited' });
    expect(fake.messages('C1').map((m) => m.text)).toEqual(['after the pause']);
  });

  it('answers an injected 5xx, which the client retries until it succeeds', async () => {
    fake.failNext('chat.postMessage', 503);
    const res = await client.chat.postMessage({ channel: 'C1', text: 'second time lucky' });
    expect(res.ok).toBe(true);
    expect(fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([503, 200]);
    expect(fake.messages('C1')).toHaveLength(1);
  });

  it('waitForCall resolves on a future call and explains a timeout', async () => {
    const waiting = fake.waitForCall('chat.postMessage', (c) => c.args['text'] === 'later');
    await client.chat.postMessage({ channel: 'C1', text: 'sooner' });
    await client.chat.postMessage({ channel: 'C1', text: 'later' });
    expect((await waiting).args['channel']).toBe('C1');

    await expect(fake.waitForCall('views.open', undefined, 50)).rejects.toThrow(
      /no call to views\.open .*chat\.postMessage x2/,
    );
  });

  it('records response_url posts and applies them to the conversation', async () => {
    const { ts } = await client.chat.postMessage({ channel: 'C1', text: 'Approve?' });
    const url = fake.newResponseUrl({ channel: 'C1', user: 'U3', messageTs: ts! });
    const replace = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replace_original: true, text: 'Approved by <@U3>' }),
    });
    const ephemeral = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'You approved it' }),
    });
    expect([replace.status, ephemeral.status]).toEqual([200, 200]);
    const call = await fake.waitForCall('response_url', (c) => c.args['text'] === 'You approved it');
    expect(call.args['response_url']).toBe(url);
    expect(fake.messages('C1')).toEqual([
      expect.objectContaining({ ts, text: 'Approved by <@U3>' }),
      expect.objectContaining({ text: 'You approved it', ephemeralFor: 'U3' }),
    ]);
  });
});

describe('fake Slack Socket Mode, driven by a real Bolt app', () => {
  it('delivers a slash command envelope and returns what the app acked', async () => {
    const app = new App({
      token: BOT_TOKEN,
      appToken: APP_TOKEN,
      socketMode: true,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl },
      installerOptions: { clientOptions: { slackApiUrl: fake.apiUrl } },
    });
    const seen: Array<{ text: string; retryNum: number | undefined }> = [];
    app.command('/ward', async ({ command, ack, context }) => {
      seen.push({ text: command.text, retryNum: context.retryNum });
      await ack({ text: `ward got: ${command.text}` });
    });
    await app.start();
    try {
      await fake.socketConnected();
      expect(fake.callsTo('apps.connections.open')[0]?.token).toBe(APP_TOKEN);

      const ack = await fake.sendEnvelope('slash_commands', {
        token: 'fixed-value',
        team_id: 'T111',
        channel_id: 'C111',
        user_id: 'U111',
        user_name: 'responder',
        command: '/ward',
        text: 'lockdown web-1',
        api_app_id: 'A111',
        response_url: fake.newResponseUrl({ channel: 'C111', user: 'U111' }),
        trigger_id: '111.222.xxx',
      });

      expect(ack.payload).toEqual({ text: 'ward got: lockdown web-1' });
      expect(seen).toEqual([{ text: 'lockdown web-1', retryNum: 0 }]);
    } finally {
      await app.stop();
    }
  });

  it('answers apps.connections.open only for an app-level token', async () => {
    await expect(client.apps.connections.open()).rejects.toMatchObject({
      data: { error: 'not_allowed_token_type' },
    });
    const appClient = new WebClient(APP_TOKEN, { slackApiUrl: fake.apiUrl, logLevel: LogLevel.ERROR });
    const res = await appClient.apps.connections.open();
    expect(res.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/socket\?/);

    const ticketless = new WebSocket(fake.url.replace('http:', 'ws:') + 'socket');
    const refusal = await new Promise<string>((resolve) =>
      ticketless.once('error', (err) => resolve(err.message)),
    );
    expect(refusal).toMatch(/401/);
  });
});

describe('fake Slack Socket Mode envelopes', () => {
  it('have the fields of the real envelopes, and hand back what the client acks', async () => {
    const { url } = await new WebClient(APP_TOKEN, { slackApiUrl: fake.apiUrl }).apps.connections.open();
    const ws = new WebSocket(url!);
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      frames.push(frame);
      if (typeof frame['envelope_id'] === 'string') {
        ws.send(JSON.stringify({ envelope_id: frame['envelope_id'], payload: { echoed: frame['type'] } }));
      }
    });
    try {
      await fake.socketConnected();
      const cases = [
        ['slash_commands', 'slack_socket_mode_slash_commands_envelope.json'],
        ['interactive', 'slack_socket_mode_interactive_block_actions_envelope.json'],
        ['events_api', 'slack_socket_mode_events_api_app_mention_envelope.json'],
      ] as const;
      for (const [type, file] of cases) {
        const real = fixture(file);
        const ack = await fake.sendEnvelope(type, real['payload'] as object);
        const sent = frames.at(-1)!;
        expect(Object.keys(sent)).toEqual(expect.arrayContaining(Object.keys(real)));
        expect(sent).toMatchObject({
          type: real['type'],
          accepts_response_payload: real['accepts_response_payload'],
          payload: real['payload'],
        });
        expect(ack).toEqual({ envelope_id: sent['envelope_id'], payload: { echoed: type } });
      }
      expect(frames[0]).toMatchObject({ type: 'hello' });
    } finally {
      ws.close();
    }
  });
});

describe('signed requests to a real Bolt HTTP endpoint', () => {
  let app: App;
  let endpoint: string;
  const received: Array<{ kind: string; body: Record<string, unknown>; retryNum?: number }> = [];

  beforeEach(async () => {
    received.length = 0;
    app = new App({
      token: BOT_TOKEN,
      signingSecret: SIGNING_SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl },
    });
    app.command('/ward', async ({ command, ack, context }) => {
      received.push({
        kind: 'command',
        body: { ...command },
        ...(context.retryNum !== undefined ? { retryNum: context.retryNum } : {}),
      });
      await ack({ response_type: 'ephemeral', text: `ward got: ${command.text}` });
    });
    app.action('approval.approve', async ({ body, ack }) => {
      received.push({ kind: 'action', body: body as unknown as Record<string, unknown> });
      await ack();
    });
    app.view('mfa.code', async ({ body, view, ack }) => {
      received.push({ kind: 'view', body: body as unknown as Record<string, unknown> });
      const code = view.state.values['code']?.['code.input']?.value;
      await ack(
        code === '123456' ? undefined : { response_action: 'errors', errors: { code: 'wrong code' } },
      );
    });
    const port = await freePort();
    await app.start({ port, host: '127.0.0.1' });
    endpoint = `http://127.0.0.1:${port}/slack/events`;
  });

  afterEach(async () => {
    await app.stop();
  });

  it('delivers a signed slash command and returns the ack body', async () => {
    const res = await sendSlashCommand(endpoint, SIGNING_SECRET, {
      text: 'lockdown web-1',
      user_id: 'U42',
      channel_id: 'C42',
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ response_type: 'ephemeral', text: 'ward got: lockdown web-1' });
    expect(received[0]?.body).toMatchObject({
      user_id: 'U42',
      channel_id: 'C42',
      command: '/ward',
      team_id: 'T111',
    });
  });

  it('gives every request its own trigger_id and passes retry headers through', async () => {
    await sendSlashCommand(endpoint, SIGNING_SECRET, { text: 'a' });
    await sendSlashCommand(
      endpoint,
      SIGNING_SECRET,
      { text: 'b' },
      { retryNum: 1, retryReason: 'http_timeout' },
    );
    const [first, second] = received;
    expect(first?.body['trigger_id']).not.toBe(second?.body['trigger_id']);
    expect(second?.retryNum).toBe(1);
  });

  it('is refused without the right signature or with a stale timestamp', async () => {
    const body = slashCommandBody({ text: 'whoami' });
    const forged = await postToSlackEndpoint(endpoint, SIGNING_SECRET, body, 'form', { signature: 'v0=00' });
    const wrongSecret = await postToSlackEndpoint(endpoint, SIGNING_SECRET, body, 'form', {
      secret: 'guess',
    });
    const stale = await postToSlackEndpoint(endpoint, SIGNING_SECRET, body, 'form', {
      timestamp: Math.floor(Date.now() / 1000) - 10 * 60,
    });
    expect([forged.status, wrongSecret.status, stale.status]).toEqual([401, 401, 401]);
    expect(received).toEqual([]);
  });

  it('delivers a block action from a message', async () => {
    const res = await sendBlockAction(endpoint, SIGNING_SECRET, {
      user_id: 'U7',
      action_id: 'approval.approve',
      value: 'req-1',
      channel_id: 'C1',
      message_ts: '1700000000.000100',
      response_url: fake.newResponseUrl({ channel: 'C1', user: 'U7' }),
    });
    expect(res.status).toBe(200);
    expect(received[0]?.body).toMatchObject({
      type: 'block_actions',
      user: { id: 'U7' },
      container: { type: 'message', channel_id: 'C1', message_ts: '1700000000.000100' },
      actions: [{ action_id: 'approval.approve', value: 'req-1' }],
    });
  });

  it('delivers a view submission and returns its response_action', async () => {
    const submit = (value: string) =>
      sendViewSubmission(endpoint, SIGNING_SECRET, {
        user_id: 'U7',
        callback_id: 'mfa.code',
        private_metadata: 'req-1',
        values: { code: { 'code.input': { type: 'plain_text_input', value } } },
      });
    const wrong = await submit('000000');
    const right = await submit('123456');
    expect(wrong.json).toEqual({ response_action: 'errors', errors: { code: 'wrong code' } });
    expect(right.status).toBe(200);
    expect(right.json).toBeUndefined();
    expect(received[0]?.body).toMatchObject({ view: { callback_id: 'mfa.code', private_metadata: 'req-1' } });
  });
});
