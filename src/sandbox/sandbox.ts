/**
 * `npm run sandbox`: the real ward (startWard, the same composition root as `npm start`) behind an embedded fake
 * Slack, plus a web page on loopback that plays the Slack client. The page talks only to this module's HTTP
 * server; this module talks to ward only the way Slack does: signed requests to /slack/events, the fake Web API
 * ward calls, and alert webhooks with their bearer tokens. ward's code path knows nothing of the sandbox, except
 * that its SLACK_API_URL points at the fake.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOTP, URI } from 'otpauth';
import { totpUsedKey } from '../adapters/totp/totp-mfa.js';
import {
  type FakeMessage,
  type RecordedCall,
  startWorkspaceSlack,
  type WorkspaceSlack,
} from '../fake-slack/fake-slack.js';
import { newTriggerId, postSignedToSlackEndpoint } from '../fake-slack/slack-signing.js';
import { startWard, type WardHandle } from '../main.js';
import type { MfaProvider } from '../ports/mfa.js';
import { ALERT_SAMPLES, DEMO_CHANNEL, DEMO_USERS, type DemoUser, demoUser } from './demo.js';
import { blockActionsForm, slashCommandForm, viewSubmissionForm, type Workspace } from './slack-payloads.js';

export interface SandboxOptions {
  /** The page's port on 127.0.0.1; default a free one. */
  port?: number;
  /** Passed on to ward: the in-process store is used unless this is set. */
  redisUrl?: string | undefined;
  /** ward's log level; default `warn` (the page is where the sandbox speaks). */
  logLevel?: string | undefined;
  /** The repository root holding sandbox/; default the one this file belongs to. */
  repoDir?: string;
}

export interface SandboxHandle {
  /** The page, with this run's token: `http://127.0.0.1:PORT/?token=…`. */
  url: string;
  /** This run's token: every API call and file download must carry it (header x-ward-sandbox-token or ?token=). */
  token: string;
  ward: WardHandle;
  slack: WorkspaceSlack;
  stop(): Promise<void>;
}

const MAX_API_BODY_BYTES = 64 * 1024;
const SSE_KEEPALIVE_MS = 15_000;
const STATIC_FILE = /^[a-z][a-z0-9-]*\.(html|js|css|svg)$/;
const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

/** An error the page shows as it is (bad input to the sandbox's own API). */
class PageError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Response headers (Allow on a 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxHandle> {
  const repoDir = options.repoDir ?? fileURLToPath(new URL('../../', import.meta.url));
  const sandboxDir = join(repoDir, 'sandbox');
  const publicDir = fileURLToPath(new URL('./public/', import.meta.url));
  const evidenceDir = mkdtempSync(join(tmpdir(), 'ward-sandbox-evidence-'));

  const botToken = `xoxb-sandbox-${randomBytes(12).toString('hex')}`;
  // 127.0.0.1 keeps other machines out, not other users of this one: without this token they could drive ward's
  // demo (and, with the sandbox run as root, read forensics of this machine's root processes).
  const pageToken = randomBytes(24).toString('base64url');
  const signingSecret = randomBytes(32).toString('hex');
  const alertTokens = {
    alertmanager: randomBytes(24).toString('hex'),
    grafana: randomBytes(24).toString('hex'),
    falco: randomBytes(24).toString('hex'),
    generic: randomBytes(24).toString('hex'),
  };

  const slack = await startWorkspaceSlack({ botToken, botUserId: 'U0WARDBOT0' });
  // #incident exists in the demo workspace before ward does: conversations.info names it, everyone is in it.
  slack.addChannel({ id: DEMO_CHANNEL.id, name: DEMO_CHANNEL.name, members: DEMO_USERS.map((u) => u.id) });
  let ward: WardHandle;
  try {
    ward = await startWard({
      env: {
        SLACK_BOT_TOKEN: botToken,
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_API_URL: slack.apiUrl,
        PORT: '0',
        WARD_BIND: '127.0.0.1',
        REDIS_URL: options.redisUrl,
        LOG_LEVEL: options.logLevel ?? 'warn',
        WARD_POLICY: join(sandboxDir, 'policy.yaml'),
        WARD_INVENTORY: join(sandboxDir, 'inventory.yaml'),
        WARD_RULES: join(sandboxDir, 'rules.yaml'),
        WARD_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        WARD_EVIDENCE_DIR: evidenceDir,
        WARD_DRY_RUN: '1',
        WARD_ALERT_DEFAULT_CHANNEL: DEMO_CHANNEL.id,
        WARD_ALERT_TOKEN_ALERTMANAGER: alertTokens.alertmanager,
        WARD_ALERT_TOKEN_GRAFANA: alertTokens.grafana,
        WARD_ALERT_TOKEN_FALCO: alertTokens.falco,
        WARD_ALERT_TOKEN_GENERIC: alertTokens.generic,
        // The SNS sample's topic: ward accepts the topic, then checks AWS's signature and refuses it (the sample's
        // signature is AWS's documentation example), which is what the sample is there to show.
        WARD_ALERT_SNS_TOPICS: SNS_SAMPLE_TOPIC,
        // Every demo user is invited to each incident channel (private, as by default).
        WARD_INCIDENT_RESPONDERS: DEMO_USERS.map((u) => u.id).join(','),
      },
    });
  } catch (err) {
    await slack.close();
    rmSync(evidenceDir, { recursive: true, force: true });
    throw err;
  }

  let demoMfa: Map<string, TOTP>;
  try {
    demoMfa = await enrolDemoUsers(ward.services.mfa);
  } catch (err) {
    await ward.stop();
    await slack.close();
    rmSync(evidenceDir, { recursive: true, force: true });
    throw err;
  }

  const ws: Workspace = {
    teamId: slack.teamId,
    teamDomain: 'ward-sandbox',
    appId: 'A0FAKEAPP1',
    botId: slack.botId,
  };
  const slackEndpoint = `${ward.url}/slack/events`;
  const dryRun = ward.services.config.WARD_DRY_RUN === '1';

  /** Which person each trigger_id was handed to: views.open names only the trigger. */
  const triggerUsers = new Map<string, string>();
  /** Modals open on someone's screen: view id → user. */
  const openViews = new Map<string, string>();
  const streams = new Set<{ user: string; res: ServerResponse }>();

  const dmOf = (user: string) => slack.dmChannelFor(user);
  /** The channels a person sees in the sidebar: #incident, and every channel ward created that they are in. */
  const channelsOf = (user: string) =>
    slack
      .channels()
      .filter((c) => c.members.includes(user) || (!c.is_private && !c.is_archived))
      .map((c) => ({ id: c.id, name: c.name, isPrivate: c.is_private, archived: c.is_archived }));
  const canSee = (channel: string, user: string): boolean =>
    channel === dmOf(user) || channelsOf(user).some((c) => c.id === channel);
  const visibleTo = (m: FakeMessage, user: string): boolean =>
    canSee(m.channel, user) && (m.ephemeralFor === undefined || m.ephemeralFor === user);

  const push = (user: string | undefined, event: string, data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of streams) if (user === undefined || s.user === user) s.res.write(frame);
  };

  const onMessage = (m: FakeMessage): void => {
    for (const s of streams) {
      if (visibleTo(m, s.user)) s.res.write(`event: message\ndata: ${JSON.stringify(toPage(m))}\n\n`);
    }
  };
  const onCall = (c: RecordedCall): void => {
    if (c.error !== undefined) return;
    if (
      c.method === 'chat.delete' ||
      (c.method === 'response_url' && c.args['delete_original'] === true) ||
      CHANNEL_METHODS.has(c.method)
    ) {
      // A message gone, or a channel created, joined or archived: each page fetches what it now sees.
      push(undefined, 'resync', {});
    } else if (c.method === 'views.open' || c.method === 'views.push') {
      const user = triggerUsers.get(String(c.args['trigger_id']));
      const fv = slack.views().find((v) => v.trigger_id === c.args['trigger_id']);
      if (user && fv) {
        openViews.set(fv.view_id, user);
        push(user, 'view', fv.view);
      }
    } else if (c.method === 'views.update') {
      for (const fv of slack.views()) {
        const user = openViews.get(fv.view_id);
        if (user) push(user, 'view', fv.view);
      }
    }
  };
  slack.on('message', onMessage);
  slack.on('call', onCall);

  const person = (id: unknown): DemoUser => {
    const u = demoUser(id);
    if (!u) throw new PageError(400, 'user: not one of the demo users');
    return u;
  };
  const newTrigger = (user: string): string => {
    const id = newTriggerId();
    triggerUsers.set(id, user);
    return id;
  };

  async function sendToWard(form: string): Promise<{ status: number; json?: unknown; text: string }> {
    const r = await postSignedToSlackEndpoint(slackEndpoint, signingSecret, form, 'form');
    if (r.status !== 200) {
      throw new PageError(
        502,
        `ward answered HTTP ${r.status} to the signed request: ${r.text.slice(0, 200)}`,
      );
    }
    return r;
  }

  const api: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    async command(body) {
      const who = person(body['user']);
      const text = typeof body['text'] === 'string' ? body['text'].trim() : '';
      if (text.length > 4000) throw new PageError(400, 'text: at most 4000 characters');
      const channelId = body['channel'] === undefined ? DEMO_CHANNEL.id : String(body['channel']);
      const channel = channelsOf(who.id).find((c) => c.id === channelId);
      if (!channel) throw new PageError(404, 'channel: no such channel for this user');
      if (channel.archived) throw new PageError(409, `channel: #${channel.name} is archived`);
      const responseUrl = slack.newResponseUrl({ channel: channel.id, user: who.id });
      await sendToWard(slashCommandForm(ws, who, channel, text, responseUrl, newTrigger(who.id)));
      return { sent: `/ward ${text}` };
    },

    async action(body) {
      const who = person(body['user']);
      const message = slack
        .messages()
        .find((m) => m.channel === body['channel'] && m.ts === body['ts'] && visibleTo(m, who.id));
      if (!message) throw new PageError(404, 'message: no such message visible to this user');
      const button = findButton(message, String(body['actionId'] ?? ''), String(body['value'] ?? ''));
      if (!button) throw new PageError(404, 'actionId: no such button in that message');
      const responseUrl = slack.newResponseUrl({
        channel: message.channel,
        user: who.id,
        messageTs: message.ts,
      });
      const channel = channelsOf(who.id).find((c) => c.id === message.channel) ?? {
        id: message.channel,
        name: 'directmessage',
      };
      await sendToWard(blockActionsForm(ws, who, channel, message, button, responseUrl, newTrigger(who.id)));
      return { clicked: button.text };
    },

    async view(body) {
      const who = person(body['user']);
      const viewId = String(body['viewId'] ?? '');
      const fv = slack.views().find((v) => v.view_id === viewId);
      if (!fv || openViews.get(viewId) !== who.id) throw new PageError(404, 'viewId: no such open modal');
      const values = parseValues(body['values']);
      const r = await sendToWard(viewSubmissionForm(ws, who, fv.view as Record<string, unknown>, values));
      const answer = (r.json ?? {}) as { response_action?: string; errors?: Record<string, string> };
      if (answer.response_action === 'errors' && answer.errors) return { errors: answer.errors };
      openViews.delete(viewId);
      return { closed: true };
    },

    async 'view-close'(body) {
      const who = person(body['user']);
      const viewId = String(body['viewId'] ?? '');
      if (openViews.get(viewId) === who.id) openViews.delete(viewId);
      return { closed: true };
    },

    async alert(body) {
      const sample = ALERT_SAMPLES.find((s) => s.id === body['sample']);
      if (!sample) throw new PageError(400, 'sample: unknown sample alert');
      const payload = readFileSync(join(sandboxDir, 'alerts', sample.file));
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (sample.source !== 'sns') headers['authorization'] = `Bearer ${alertTokens[sample.source]}`;
      else headers['x-amz-sns-message-type'] = 'Notification';
      const r = await fetch(`${ward.url}/alerts/${sample.source}`, {
        method: 'POST',
        headers,
        body: payload,
      });
      const text = await r.text();
      return { status: r.status, answer: text.slice(0, 500) };
    },
  };

  /**
   * What one person's page shows. `fresh`: a page (re)loading, which is a new Slack client: modals left open on the
   * page before are gone, as in Slack, and none reopens.
   */
  async function state(user: DemoUser, fresh: boolean) {
    if (fresh) for (const [viewId, owner] of openViews) if (owner === user.id) openViews.delete(viewId);
    return {
      me: user.id,
      users: DEMO_USERS,
      bot: { id: slack.botUserId, name: 'ward' },
      channel: DEMO_CHANNEL,
      channels: channelsOf(user.id),
      dm: dmOf(user.id),
      dryRun,
      samples: ALERT_SAMPLES.map(({ id, label, note }) => ({ id, label, note })),
      messages: slack
        .messages()
        .filter((m) => visibleTo(m, user.id))
        .map(toPage),
      mfa: await mfaCodes(),
    };
  }

  /**
   * The demo users' current TOTP codes, as their authenticator apps would show them, each marked `used` once ward
   * has accepted it (ward refuses a code twice). A user whose MFA was reset (`/ward mfa reset`) has no demo code any
   * more, even after enrolling again: that enrolment's secret went to their direct messages, not to the sandbox.
   */
  async function mfaCodes(): Promise<MfaCode[]> {
    const now = Date.now();
    const out: MfaCode[] = [];
    for (const user of DEMO_USERS) {
      const totp = demoMfa.get(user.id);
      if (totp && !(await ward.services.mfa.status(user.id)).enrolled) demoMfa.delete(user.id);
      const current = demoMfa.get(user.id);
      if (!current) {
        if (totp !== undefined || resetUsers.has(user.id)) {
          resetUsers.add(user.id);
          out.push({ user: user.id, reset: true });
        }
        continue;
      }
      const step = current.counter({ timestamp: now });
      out.push({
        user: user.id,
        code: current.generate({ timestamp: now }),
        used: (await ward.services.store.get(totpUsedKey(user.id, step))) !== null,
        validForSeconds: current.period - (Math.floor(now / 1000) % current.period),
      });
    }
    return out;
  }
  const resetUsers = new Set<string>();

  const staticFiles = new Set(readdirSync(publicDir).filter((f) => STATIC_FILE.test(f)));

  let pagePort = 0;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof PageError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof PageError) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      sendJson(res, status, { error: message });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // A request node cannot parse is answered 400 here; its error carries the raw request bytes and is not logged.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && err.code !== 'ECONNRESET' && err.code !== 'EPIPE') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    } else {
      socket.destroy();
    }
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS rebinding: a page from elsewhere that resolves its own name to 127.0.0.1 arrives with its own Host.
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${pagePort}` && host !== `localhost:${pagePort}`) {
      throw new PageError(421, 'the sandbox answers only on 127.0.0.1');
    }
    const target = req.url ?? '/';
    if (!target.startsWith('/') || target.startsWith('//'))
      throw new PageError(400, 'malformed request path');
    let url: URL;
    try {
      url = new URL(target, `http://${host}`);
    } catch {
      throw new PageError(400, 'malformed request path');
    }
    const path = url.pathname;
    // The page itself and its scripts hold nothing of this run; everything else needs the token.
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/') return sendStatic(res, publicDir, 'index.html');
      const name = path.slice(1);
      if (staticFiles.has(name)) return sendStatic(res, publicDir, name);
    }
    const given = req.headers['x-ward-sandbox-token'] ?? url.searchParams.get('token') ?? '';
    if (!sameToken(String(given), pageToken)) {
      throw new PageError(401, 'open the address `npm run sandbox` printed: the sandbox needs its ?token=…');
    }
    if (req.method === 'GET') {
      if (path === '/api/state') {
        const who = person(url.searchParams.get('user'));
        return sendJson(res, 200, await state(who, url.searchParams.get('fresh') === '1'));
      }
      if (path === '/api/mfa') return sendJson(res, 200, await mfaCodes());
      if (path === '/api/events') return openStream(person(url.searchParams.get('user')), res);
      const file = /^\/files\/([A-Z0-9]+)$/.exec(path);
      if (file) return sendFile(res, slack, file[1]!);
      throw new PageError(404, 'not found');
    }
    if (req.method === 'POST' && path.startsWith('/api/')) {
      // A cross-site form cannot send JSON with a custom header without a CORS preflight, which is never granted.
      if (
        req.headers['x-ward-sandbox'] !== '1' ||
        !req.headers['content-type']?.startsWith('application/json')
      ) {
        throw new PageError(403, 'the sandbox API takes JSON from its own page only');
      }
      const handler = api[path.slice('/api/'.length)];
      if (!handler) throw new PageError(404, 'not found');
      const body = await readJson(req);
      return sendJson(res, 200, await handler(body));
    }
    throw new PageError(405, 'method not allowed', {
      allow:
        path.startsWith('/api/') && path !== '/api/state' && path !== '/api/mfa' && path !== '/api/events'
          ? 'POST'
          : 'GET, HEAD',
    });
  }

  function openStream(user: DemoUser, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    const entry = { user: user.id, res };
    streams.add(entry);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    res.on('close', () => {
      clearInterval(keepalive);
      streams.delete(entry);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  pagePort = (server.address() as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${pagePort}/?token=${pageToken}`,
    token: pageToken,
    ward,
    slack,
    stop() {
      stopping ??= (async () => {
        for (const s of streams) s.res.end();
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
        await closed;
        await ward.stop();
        slack.off('message', onMessage);
        slack.off('call', onCall);
        await slack.close();
        rmSync(evidenceDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/**
 * Enrols every demo user in ward's TOTP MFA through ward's own API (enroll, then confirm with a code), exactly as
 * `/ward mfa enroll` and `/ward mfa confirm` do for a person, and keeps the secrets so the page can show the
 * codes. Confirmation uses the previous time step's code (inside the one-step window ward accepts), so that the
 * code on screen now has not been used yet: ward refuses a code twice.
 */
async function enrolDemoUsers(mfa: MfaProvider): Promise<Map<string, TOTP>> {
  const out = new Map<string, TOTP>();
  if (mfa.name !== 'totp' || !mfa.enroll || !mfa.confirm) return out;
  for (const user of DEMO_USERS) {
    // A shared Redis (REDIS_URL) may hold last run's enrolment, sealed with last run's key: start afresh.
    await mfa.reset?.(user.id);
    const { uri } = await mfa.enroll(user.id, `${user.name}@ward-sandbox`);
    const totp = URI.parse(uri);
    if (!(totp instanceof TOTP)) throw new Error('ward enrolled a demo user with something other than TOTP');
    const previousStep = totp.generate({ timestamp: Date.now() - totp.period * 1000 });
    const confirmed = await mfa.confirm(user.id, previousStep);
    if (!confirmed.ok)
      throw new Error(`could not confirm the demo MFA of ${user.name}: ${confirmed.message}`);
    out.set(user.id, totp);
  }
  return out;
}

/** The SNS sample's TopicArn (sandbox/alerts/aws_sns_http_notification_body.json), configured as accepted. */
const SNS_SAMPLE_TOPIC = 'arn:aws:sns:us-east-1:123456789012:MyTopic';

/** Web API calls after which the pages' channel lists change. */
const CHANNEL_METHODS = new Set(['conversations.create', 'conversations.invite', 'conversations.archive']);

/** A sidebar entry: the current code (and whether ward already took it), or a user whose MFA was reset. */
type MfaCode =
  | { user: string; code: string; used: boolean; validForSeconds: number; reset?: undefined }
  | { user: string; reset: true };

/** Compares a presented token with this run's in constant time. */
function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A message as the page renders it: no raw file bytes, files as download links. */
function toPage(m: FakeMessage) {
  return {
    channel: m.channel,
    ts: m.ts,
    threadTs: m.thread_ts,
    user: m.user,
    text: m.text ?? '',
    blocks: m.blocks ?? [],
    ephemeral: m.ephemeralFor !== undefined,
    edited: m.updatedAt !== undefined,
    files: (m.files ?? []).map((f) => ({
      id: f.id,
      name: f.name,
      title: f.title ?? f.name,
      size: f.bytes.length,
      url: `/files/${f.id}`,
    })),
  };
}

function findButton(
  message: FakeMessage,
  actionId: string,
  value: string,
): { actionId: string; blockId: string; value: string; text: string } | undefined {
  for (const block of (message.blocks ?? []) as Array<Record<string, unknown>>) {
    const elements =
      block['type'] === 'actions'
        ? (block['elements'] as Array<Record<string, unknown>> | undefined)
        : block['accessory']
          ? [block['accessory'] as Record<string, unknown>]
          : [];
    for (const el of elements ?? []) {
      if (el['type'] !== 'button' || el['action_id'] !== actionId) continue;
      if ((el['value'] ?? '') !== value) continue;
      const text = (el['text'] as { text?: string } | undefined)?.text ?? '';
      return { actionId, blockId: String(block['block_id'] ?? ''), value, text };
    }
  }
  return undefined;
}

function parseValues(raw: unknown): Record<string, Record<string, string>> {
  if (raw === null || typeof raw !== 'object') throw new PageError(400, 'values: expected an object');
  const out: Record<string, Record<string, string>> = {};
  for (const [blockId, inputs] of Object.entries(raw as Record<string, unknown>)) {
    if (inputs === null || typeof inputs !== 'object')
      throw new PageError(400, `values.${blockId}: expected an object`);
    out[blockId] = {};
    for (const [actionId, value] of Object.entries(inputs as Record<string, unknown>)) {
      if (typeof value !== 'string') throw new PageError(400, `values.${blockId}.${actionId}: expected text`);
      out[blockId][actionId] = value;
    }
  }
  return out;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_API_BODY_BYTES) throw new PageError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new PageError(400, 'body: expected a JSON object');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function sendStatic(res: ServerResponse, dir: string, name: string): void {
  const bytes = readFileSync(join(dir, name));
  const ext = name.slice(name.lastIndexOf('.') + 1);
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
    'content-length': bytes.length,
    'cache-control': 'no-store',
    // The page's own scripts and styles only; nothing inline, nothing from elsewhere.
    'content-security-policy':
      "default-src 'self'; img-src 'self' data: http: https:; style-src 'self'; script-src 'self'; connect-src 'self'",
    'x-content-type-options': 'nosniff',
  });
  res.end(bytes);
}

function sendFile(res: ServerResponse, slack: WorkspaceSlack, id: string): void {
  const file = slack.files().find((f) => f.id === id);
  if (!file) throw new PageError(404, 'no such file');
  const safeName = file.name.replace(/[^A-Za-z0-9._-]/g, '_');
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': file.bytes.length,
    'content-disposition': `attachment; filename="${safeName}"`,
    'x-content-type-options': 'nosniff',
  });
  res.end(file.bytes);
}
