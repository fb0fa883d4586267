/**
 * A fake Slack that runs in its own HTTP server on 127.0.0.1 and is driven by the real Slack client libraries
 * (`@slack/web-api`'s WebClient, Bolt). It keeps a small workspace state (messages, files, views, user groups) so
 * that what an app did can be seen the way a person would see it: the sandbox's Slack. Tests extend it
 * (test/fakes/fake-slack.ts) with call recording, fault injection and the Socket Mode server, which ship only there.
 *
 * Endpoints:
 *   POST|GET /api/<method>     the Web API (form, JSON or multipart bodies; token in `Authorization: Bearer`)
 *   POST /upload/<file id>     the `upload_url` handed out by files.getUploadURLExternal
 *   POST /response/<id>        a `response_url` handed out by newResponseUrl()
 *   GET  /socket (upgrade)     the Socket Mode WebSocket (tests only: test/fakes/fake-slack.ts)
 *
 * Nothing here reaches beyond loopback: even the workspace URL that auth.test reports is this server's own.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedCall {
  /** Web API method (`chat.postMessage`), or `upload_url` / `response_url` for those two kinds of URL. */
  method: string;
  /** Request arguments (query, then body), with JSON-encoded form values decoded and the token removed. */
  args: Record<string, unknown>;
  token: string | undefined;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  /** HTTP status the fake answered with: 200 for every Web API answer, ok or not, as Slack does. */
  status: number;
  /** Set when the fake answered 429 because of rateLimit(). */
  rateLimited?: boolean;
  /** The `error` of an `ok: false` answer (`ratelimited`, `channel_not_found`…), or `http_<status>` for failNext. */
  error?: string;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  user: string;
  text?: string;
  blocks?: unknown[];
  /** The user who alone sees this message (chat.postEphemeral, or an ephemeral response_url reply). */
  ephemeralFor?: string;
  /** Epoch milliseconds of the last chat.update (or replace_original). */
  updatedAt?: number;
  files?: FakeFile[];
}

export interface FakeFile {
  id: string;
  name: string;
  title?: string;
  bytes: Buffer;
  channel?: string;
  thread_ts?: string;
  initial_comment?: string;
}

export interface FakeChannel {
  id: string;
  name: string;
  is_private: boolean;
  creator: string;
  members: string[];
  /** Timestamps of pinned messages. */
  pins: string[];
  bookmarks: Array<{ id: string; title: string; link: string }>;
  is_archived: boolean;
}

export interface FakeView {
  view_id: string;
  trigger_id: string;
  view: unknown;
}

/** Where a response_url's replies land (Slack knows this from the interaction that minted the URL). */
export interface ResponseUrlContext {
  channel?: string;
  /** The person who interacted: ephemeral replies are shown to them. */
  user?: string;
  /** The message the interaction came from: replace_original / delete_original act on it. */
  messageTs?: string;
}

export interface FakeSlackOptions {
  /** Default: a free port chosen by the OS. */
  port?: number;
  /** The bot's user id, reported by auth.test and used as the author of its messages. */
  botUserId?: string;
  /** When set, the only bot token accepted; otherwise any `xoxb-` token is. */
  botToken?: string;
  /**
   * The bot token's scopes. Slack reports them in an `x-oauth-scopes` header (comma-separated) on Web API
   * answers; `ward doctor` compares them with the manifest. Unset: no header.
   */
  scopes?: readonly string[];
}

/** Far above anything Slack accepts in one request; a guard for the sandbox, not a Slack limit. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Form values Slack clients JSON-encode; decoded so tests can look inside them. */
const JSON_FORM_FIELDS = new Set(['blocks', 'attachments', 'files', 'view', 'metadata', 'options']);

/** A Web API error answered as `{ ok: false, error }` with HTTP 200, as Slack does. */
export class SlackApiError extends Error {
  constructor(readonly error: string) {
    super(error);
  }
}

type ApiArgs = Record<string, unknown>;
type ApiResult = Record<string, unknown>;
type ApiHandler = (args: ApiArgs) => ApiResult;

interface PendingUpload {
  id: string;
  filename: string;
  length: number;
  bytes?: Buffer;
}

/** The workspace fake on a port of its own (the sandbox's Slack). */
export async function startWorkspaceSlack(opts: FakeSlackOptions = {}): Promise<WorkspaceSlack> {
  const fake = new WorkspaceSlack(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}

/**
 * The Web API and its workspace state: what the sandbox needs. Tests extend it (test/fakes/fake-slack.ts) with call
 * recording, fault injection and a Socket Mode server, through the protected hooks below.
 */
export class WorkspaceSlack extends EventEmitter {
  readonly botUserId: string;
  readonly botId = 'B0FAKEBOT1';
  readonly teamId = 'T0FAKETEAM';
  readonly appId = 'A0FAKEAPP1';

  private readonly botToken: string | undefined;
  private readonly scopes: readonly string[] | undefined;
  protected readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly handlers: Record<string, ApiHandler>;

  private readonly state = {
    messages: [] as FakeMessage[],
    usergroups: new Map<string, string[]>(),
    dmChannels: new Map<string, string>(),
    uploads: new Map<string, PendingUpload>(),
    files: [] as FakeFile[],
    views: new Map<string, FakeView>(),
    responseUrls: new Map<string, ResponseUrlContext>(),
    channels: new Map<string, FakeChannel>(),
  };

  protected port = 0;
  private lastTsMicros = 0;
  private idCounter = 0;

  constructor(opts: FakeSlackOptions) {
    super();
    this.botUserId = opts.botUserId ?? 'U0FAKEBOT1';
    this.botToken = opts.botToken;
    this.scopes = opts.scopes;
    this.handlers = this.buildHandlers();
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'fatal_error', detail: String(err) });
        else res.destroy();
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get apiUrl(): string {
    return `${this.url}api/`;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  // ---- inspection and control -------------------------------------------------------------------------------

  newResponseUrl(context: ResponseUrlContext = {}): string {
    const id = randomBytes(12).toString('hex');
    this.state.responseUrls.set(id, { ...context });
    return `${this.url}response/${id}`;
  }

  channels(): FakeChannel[] {
    return [...this.state.channels.values()].map((c) => ({
      ...c,
      members: [...c.members],
      pins: [...c.pins],
      bookmarks: [...c.bookmarks],
    }));
  }

  addChannel(c: { id: string; name: string; isPrivate?: boolean; members?: string[] }): void {
    if (this.state.channels.has(c.id) || [...this.state.channels.values()].some((x) => x.name === c.name))
      throw new Error(`fake Slack: channel ${c.id} / ${c.name} exists already`);
    this.state.channels.set(c.id, {
      id: c.id,
      name: c.name,
      is_private: c.isPrivate ?? false,
      creator: this.botUserId,
      members: [...new Set([this.botUserId, ...(c.members ?? [])])],
      pins: [],
      bookmarks: [],
      is_archived: false,
    });
  }

  setUsergroup(id: string, userIds: string[]): void {
    this.state.usergroups.set(id, [...userIds]);
  }

  dmChannelFor(user: string): string {
    return this.dmChannel([user]);
  }

  messages(channel?: string): FakeMessage[] {
    // Copies: a test holding a message keeps what it saw; the fake's own state changes only through Slack calls.
    return this.state.messages
      .filter((m) => channel === undefined || m.channel === channel)
      .map((m) => ({ ...m }));
  }

  files(): FakeFile[] {
    return [...this.state.files];
  }

  views(): FakeView[] {
    return [...this.state.views.values()];
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  // ---- HTTP routing -----------------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const [, kind, id, extra] = url.pathname.split('/');
    if (kind === 'api' && id && extra === undefined) return this.handleApi(id, req, res, url);
    if (kind === 'upload' && id && extra === undefined && req.method === 'POST') {
      return this.handleUpload(id, req, res);
    }
    if (kind === 'response' && id && extra === undefined && req.method === 'POST') {
      return this.handleResponseUrl(id, req, res);
    }
    sendJson(res, 404, { ok: false, error: 'not_found' });
  }

  private async handleApi(
    method: string,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
  ): Promise<void> {
    const args: ApiArgs = Object.fromEntries(url.searchParams);
    let bodyError: SlackApiError | undefined;
    try {
      Object.assign(args, await parseBody(req));
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      bodyError = err;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof args['token'] === 'string' ? args['token'] : undefined);
    delete args['token'];
    const call: RecordedCall = { method, args, token, at: Date.now(), status: 200 };

    if (this.answerFault(call, res)) return;

    let body: ApiResult;
    try {
      if (bodyError) throw bodyError;
      this.authorize(method, token);
      const handler = this.handlers[method];
      if (!handler) throw new SlackApiError('unknown_method');
      this.injectedError(method);
      body = { ok: true, ...handler(args) };
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      call.error = err.error;
      body = {
        ok: false,
        error: err.error,
        ...(err.error === 'unknown_method' ? { req_method: method } : {}),
      };
    }
    this.record(call);
    const scopes =
      this.scopes !== undefined && token?.startsWith('xoxb-') ? this.scopes.join(',') : undefined;
    sendJson(res, 200, body, scopes === undefined ? {} : { 'x-oauth-scopes': scopes });
  }

  /** Slack's token rules, reduced to prefixes: bot tokens for the Web API, the app token for Socket Mode only. */
  private authorize(method: string, token: string | undefined): void {
    if (token === undefined || token === '') throw new SlackApiError('not_authed');
    const isBot = token.startsWith('xoxb-');
    const isApp = token.startsWith('xapp-');
    if (!isBot && !isApp) throw new SlackApiError('invalid_auth');
    if (isBot && this.botToken !== undefined && token !== this.botToken)
      throw new SlackApiError('invalid_auth');
    if (isApp !== (method === 'apps.connections.open')) throw new SlackApiError('not_allowed_token_type');
  }

  private async handleUpload(fileId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const call: RecordedCall = {
      method: 'upload_url',
      args: { file_id: fileId },
      token: undefined,
      at: Date.now(),
      status: 200,
    };
    if (this.answerFault(call, res)) return;
    const upload = this.state.uploads.get(fileId);
    if (!upload) {
      call.status = 404;
      call.error = 'file_not_found';
      this.record(call);
      sendText(res, 404, 'file_not_found');
      return;
    }
    // filesUploadV2 posts multipart with the bytes in field `body`; curl-style clients post the bytes raw.
    let bytes = raw;
    if (isMultipart(req)) {
      const field = (await parseMultipart(req, raw))['body'];
      bytes = Buffer.isBuffer(field) ? field : Buffer.from(String(field ?? ''));
    }
    upload.bytes = bytes;
    call.args['bytes'] = bytes.length;
    this.record(call);
    sendText(res, 200, `OK - ${bytes.length}`);
  }

  private async handleResponseUrl(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: ApiArgs;
    try {
      body = await parseBody(req);
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      sendJson(res, 400, { ok: false, error: err.error });
      return;
    }
    const responseUrl = `${this.url}response/${id}`;
    const call: RecordedCall = {
      method: 'response_url',
      args: { ...body, response_url: responseUrl },
      token: undefined,
      at: Date.now(),
      status: 200,
    };
    if (this.answerFault(call, res)) return;
    const context = this.state.responseUrls.get(id);
    if (!context) {
      call.status = 404;
      call.error = 'no_such_url';
      this.record(call);
      sendJson(res, 404, { ok: false, error: 'no_such_url' });
      return;
    }
    this.applyResponse(context, body);
    this.record(call);
    sendJson(res, 200, { ok: true });
  }

  /** What Slack does with a response_url body, when it knows where the interaction happened. */
  private applyResponse(context: ResponseUrlContext, body: ApiArgs): void {
    const { channel, user, messageTs } = context;
    if (channel === undefined) return;
    const original =
      messageTs === undefined
        ? undefined
        : this.state.messages.find((m) => m.channel === channel && m.ts === messageTs);
    if (body['delete_original'] === true && original) {
      this.state.messages.splice(this.state.messages.indexOf(original), 1);
      return;
    }
    if (body['replace_original'] === true && original) {
      applyContent(original, body);
      original.updatedAt = Date.now();
      this.emit('message', original);
      return;
    }
    const message: FakeMessage = { channel, ts: this.nextTs(), user: this.botUserId };
    applyContent(message, body);
    if (typeof body['thread_ts'] === 'string') message.thread_ts = body['thread_ts'];
    if (body['response_type'] !== 'in_channel' && user !== undefined) message.ephemeralFor = user;
    this.addMessage(message);
  }

  // ---- hooks for tests (test/fakes/fake-slack.ts) -----------------------------------------------------------

  /** Throws a platform error a test queued for this method; none in the sandbox. */
  protected injectedError(_method: string): void {}

  /** Answers with an HTTP fault a test queued for this method (true: answered); none in the sandbox. */
  protected answerFault(_call: RecordedCall, _res: ServerResponse): boolean {
    return false;
  }

  /** Every request the fake answered, as it answered it. */
  protected record(call: RecordedCall): void {
    this.emit('call', call);
  }

  /** The Socket Mode URL apps.connections.open hands out; the sandbox's app uses HTTP, so there is none. */
  protected socketModeUrl(): string {
    throw new SlackApiError('socket_mode_not_available');
  }

  /** A WebSocket upgrade; the sandbox serves none. */
  protected upgrade(_req: IncomingMessage, socket: Socket, _head: Buffer): void {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  }

  // ---- Web API methods --------------------------------------------------------------------------------------

  private buildHandlers(): Record<string, ApiHandler> {
    return {
      'auth.test': () => ({
        url: this.url,
        team: 'Fake Workspace',
        user: 'ward',
        team_id: this.teamId,
        user_id: this.botUserId,
        bot_id: this.botId,
        is_enterprise_install: false,
      }),

      'chat.postMessage': (args) => {
        const channel = this.resolveChannel(requireString(args, 'channel', 'channel_not_found'));
        requireContent(args);
        const message: FakeMessage = { channel, ts: this.nextTs(), user: this.botUserId };
        applyContent(message, args);
        if (typeof args['thread_ts'] === 'string' && args['thread_ts'] !== '')
          message.thread_ts = args['thread_ts'];
        this.addMessage(message);
        return { channel, ts: message.ts, message: this.messageJson(message) };
      },

      'chat.update': (args) => {
        const message = this.findMessage(args);
        if (message.ephemeralFor !== undefined) throw new SlackApiError('cant_update_message');
        requireContent(args);
        applyContent(message, args);
        message.updatedAt = Date.now();
        this.emit('message', message);
        return {
          channel: message.channel,
          ts: message.ts,
          text: message.text ?? '',
          message: this.messageJson(message),
        };
      },

      'chat.postEphemeral': (args) => {
        const channel = this.resolveChannel(requireString(args, 'channel', 'channel_not_found'));
        const user = requireString(args, 'user', 'user_not_in_channel');
        requireContent(args);
        const message: FakeMessage = { channel, ts: this.nextTs(), user: this.botUserId, ephemeralFor: user };
        applyContent(message, args);
        if (typeof args['thread_ts'] === 'string' && args['thread_ts'] !== '')
          message.thread_ts = args['thread_ts'];
        this.addMessage(message);
        return { message_ts: message.ts };
      },

      'chat.delete': (args) => {
        const message = this.findMessage(args);
        this.state.messages.splice(this.state.messages.indexOf(message), 1);
        return { channel: message.channel, ts: message.ts };
      },

      'views.open': (args) => this.openView(args),
      'views.push': (args) => this.openView(args),

      'views.update': (args) => {
        const viewId = typeof args['view_id'] === 'string' ? args['view_id'] : undefined;
        const externalId = typeof args['external_id'] === 'string' ? args['external_id'] : undefined;
        const existing = [...this.state.views.values()].find(
          (v) =>
            (viewId !== undefined && v.view_id === viewId) ||
            (externalId !== undefined && (v.view as ApiArgs)['external_id'] === externalId),
        );
        if (!existing) throw new SlackApiError('not_found');
        const view = this.viewJson(requireObject(args, 'view'), existing.view_id);
        existing.view = view;
        return { view };
      },

      'conversations.open': (args) => {
        const users = requireString(args, 'users', 'users_list_not_supplied')
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u !== '')
          .sort();
        if (users.length === 0) throw new SlackApiError('users_list_not_supplied');
        return { no_op: false, already_open: false, channel: { id: this.dmChannel(users) } };
      },

      'usergroups.users.list': (args) => {
        const id = requireString(args, 'usergroup', 'no_such_subteam');
        const users = this.state.usergroups.get(id);
        if (!users) throw new SlackApiError('no_such_subteam');
        return { users: [...users] };
      },

      'users.info': (args) => {
        const id = requireString(args, 'user', 'user_not_found');
        if (!/^[UW][A-Z0-9]+$/.test(id)) throw new SlackApiError('user_not_found');
        const name = id.toLowerCase();
        const isBot = id === this.botUserId;
        return {
          user: {
            id,
            team_id: this.teamId,
            name,
            real_name: `User ${id}`,
            deleted: false,
            is_bot: isBot,
            is_admin: false,
            tz: 'UTC',
            tz_offset: 0,
            profile: {
              real_name: `User ${id}`,
              display_name: name,
              email: `${name}@example.com`,
              ...(isBot ? { bot_id: this.botId } : {}),
            },
          },
        };
      },

      // Channels, as an incident needs them. Errors are Slack's own: name_taken, invalid_name_specials,
      // already_in_channel (per user, in `errors`), not_in_channel, already_archived, no_pin…
      'conversations.create': (args) => {
        const name = requireString(args, 'name', 'invalid_name_required');
        if (name.length > 80) throw new SlackApiError('invalid_name_maxlength');
        if (!/^[a-z0-9_-]+$/.test(name)) throw new SlackApiError('invalid_name_specials');
        if ([...this.state.channels.values()].some((c) => c.name === name))
          throw new SlackApiError('name_taken');
        const isPrivate = args['is_private'] === true || args['is_private'] === 'true';
        const channel: FakeChannel = {
          id: this.newId(isPrivate ? 'G' : 'C'),
          name,
          is_private: isPrivate,
          creator: this.botUserId,
          members: [this.botUserId],
          pins: [],
          bookmarks: [],
          is_archived: false,
        };
        this.state.channels.set(channel.id, channel);
        return { channel: this.channelJson(channel) };
      },

      'conversations.invite': (args) => {
        const channel = this.memberChannel(args);
        const users = requireString(args, 'users', 'no_user')
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u !== '');
        if (users.length === 0) throw new SlackApiError('no_user');
        if (users.includes(this.botUserId)) throw new SlackApiError('cant_invite_self');
        const already = users.filter((u) => channel.members.includes(u));
        // Slack answers already_in_channel when nobody new was invited; the others join.
        if (already.length === users.length) throw new SlackApiError('already_in_channel');
        for (const u of users) if (!channel.members.includes(u)) channel.members.push(u);
        return { channel: this.channelJson(channel) };
      },

      'conversations.archive': (args) => {
        const channel = this.memberChannel(args);
        if (channel.is_archived) throw new SlackApiError('already_archived');
        channel.is_archived = true;
        return {};
      },

      'conversations.info': (args) => {
        const id = requireString(args, 'channel', 'channel_not_found');
        const channel = this.state.channels.get(id);
        if (!channel) throw new SlackApiError('channel_not_found');
        return { channel: this.channelJson(channel) };
      },

      'pins.add': (args) => {
        const channel = this.memberChannel(args);
        const ts = requireString(args, 'timestamp', 'no_item_specified');
        if (!this.state.messages.some((m) => m.channel === channel.id && m.ts === ts))
          throw new SlackApiError('message_not_found');
        if (channel.pins.includes(ts)) throw new SlackApiError('already_pinned');
        channel.pins.push(ts);
        return {};
      },

      'bookmarks.add': (args) => {
        const channel = this.memberChannel(args, 'channel_id');
        const title = requireString(args, 'title', 'invalid_title');
        const link = requireString(args, 'link', 'invalid_link');
        const bookmark = { id: this.newId('Bk'), title, link };
        channel.bookmarks.push(bookmark);
        return { bookmark: { ...bookmark, channel_id: channel.id, type: 'link' } };
      },

      'chat.getPermalink': (args) => {
        const channel = requireString(args, 'channel', 'channel_not_found');
        const ts = requireString(args, 'message_ts', 'message_not_found');
        if (!this.state.messages.some((m) => m.channel === channel && m.ts === ts))
          throw new SlackApiError('message_not_found');
        return {
          channel,
          permalink: `${this.url}archives/${channel}/p${ts.replace('.', '')}`,
        };
      },

      'files.getUploadURLExternal': (args) => {
        const filename = requireString(args, 'filename', 'invalid_arguments');
        const length = Number(args['length']);
        if (!Number.isInteger(length) || length < 0) throw new SlackApiError('invalid_arguments');
        const id = this.newId('F');
        this.state.uploads.set(id, { id, filename, length });
        return { upload_url: `${this.url}upload/${id}`, file_id: id };
      },

      'files.completeUploadExternal': (args) => this.completeUpload(args),

      // As Slack: the file disappears, and with it from the messages that shared it.
      'files.delete': (args) => {
        const id = requireString(args, 'file', 'file_not_found');
        const index = this.state.files.findIndex((f) => f.id === id);
        if (index === -1) throw new SlackApiError('file_not_found');
        this.state.files.splice(index, 1);
        for (const m of [...this.state.messages]) {
          if (!m.files?.some((f) => f.id === id)) continue;
          m.files = m.files.filter((f) => f.id !== id);
          if (m.files.length === 0 && !m.text) this.state.messages.splice(this.state.messages.indexOf(m), 1);
        }
        return {};
      },

      'apps.connections.open': () => ({ url: this.socketModeUrl() }),
    };
  }

  private openView(args: ApiArgs): ApiResult {
    const triggerId = requireString(args, 'trigger_id', 'invalid_trigger_id');
    const id = this.newId('V');
    const view = this.viewJson(requireObject(args, 'view'), id);
    this.state.views.set(id, { view_id: id, trigger_id: triggerId, view });
    return { view };
  }

  /** The view as Slack echoes it: the app's fields plus ids, an empty state and a hash. */
  private viewJson(view: ApiArgs, id: string): ApiArgs {
    return {
      id,
      team_id: this.teamId,
      type: 'modal',
      private_metadata: '',
      callback_id: '',
      external_id: '',
      ...view,
      state: { values: {} },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      previous_view_id: null,
      root_view_id: id,
      app_id: this.appId,
      bot_id: this.botId,
    };
  }

  private completeUpload(args: ApiArgs): ApiResult {
    const requested = args['files'];
    if (!Array.isArray(requested) || requested.length === 0) throw new SlackApiError('invalid_arguments');
    const channel =
      typeof args['channel_id'] === 'string' && args['channel_id'] !== ''
        ? this.resolveChannel(args['channel_id'])
        : undefined;
    const threadTs =
      typeof args['thread_ts'] === 'string' && args['thread_ts'] !== '' ? args['thread_ts'] : undefined;
    const comment = typeof args['initial_comment'] === 'string' ? args['initial_comment'] : undefined;

    const completed: FakeFile[] = [];
    for (const entry of requested as Array<{ id?: unknown; title?: unknown }>) {
      const upload = typeof entry?.id === 'string' ? this.state.uploads.get(entry.id) : undefined;
      if (!upload?.bytes) throw new SlackApiError('file_not_found');
      const file: FakeFile = { id: upload.id, name: upload.filename, bytes: upload.bytes };
      if (typeof entry.title === 'string') file.title = entry.title;
      if (channel !== undefined) file.channel = channel;
      if (threadTs !== undefined) file.thread_ts = threadTs;
      if (comment !== undefined) file.initial_comment = comment;
      completed.push(file);
    }
    for (const file of completed) this.state.uploads.delete(file.id);
    this.state.files.push(...completed);

    if (channel !== undefined) {
      const message: FakeMessage = { channel, ts: this.nextTs(), user: this.botUserId, files: completed };
      if (comment !== undefined) message.text = comment;
      if (threadTs !== undefined) message.thread_ts = threadTs;
      this.addMessage(message);
    }
    return {
      files: completed.map((f) => ({
        id: f.id,
        name: f.name,
        title: f.title ?? f.name,
        size: f.bytes.length,
        user: this.botUserId,
        ...(channel !== undefined ? { channels: [channel] } : {}),
      })),
    };
  }

  // ---- workspace state helpers ------------------------------------------------------------------------------

  private addMessage(message: FakeMessage): void {
    this.state.messages.push(message);
    this.emit('message', message);
  }

  private findMessage(args: ApiArgs): FakeMessage {
    const channel = this.resolveChannel(requireString(args, 'channel', 'channel_not_found'));
    const ts = requireString(args, 'ts', 'message_not_found');
    const message = this.state.messages.find((m) => m.channel === channel && m.ts === ts);
    if (!message) throw new SlackApiError('message_not_found');
    return message;
  }

  /** A created channel the bot is a member of (Slack answers not_in_channel otherwise). */
  private memberChannel(args: ApiArgs, key = 'channel'): FakeChannel {
    const id = requireString(args, key, 'channel_not_found');
    const channel = this.state.channels.get(id);
    if (!channel) throw new SlackApiError('channel_not_found');
    if (channel.is_archived) throw new SlackApiError('is_archived');
    if (!channel.members.includes(this.botUserId)) throw new SlackApiError('not_in_channel');
    return channel;
  }

  private channelJson(channel: FakeChannel): ApiArgs {
    return {
      id: channel.id,
      name: channel.name,
      is_channel: !channel.is_private,
      is_group: channel.is_private,
      is_private: channel.is_private,
      is_archived: channel.is_archived,
      creator: channel.creator,
      created: Math.floor(Date.now() / 1000),
      is_member: channel.members.includes(this.botUserId),
      num_members: channel.members.length,
    };
  }

  private messageJson(message: FakeMessage): ApiArgs {
    return {
      type: 'message',
      user: message.user,
      bot_id: this.botId,
      app_id: this.appId,
      team: this.teamId,
      ts: message.ts,
      text: message.text ?? '',
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
      ...(message.updatedAt ? { edited: { user: message.user, ts: this.nextTs() } } : {}),
    };
  }

  /** Posting to a user id posts to the bot's DM with that user, as Slack does. */
  private resolveChannel(channel: string): string {
    return /^[UW][A-Z0-9]+$/.test(channel) ? this.dmChannel([channel]) : channel;
  }

  private dmChannel(sortedUsers: string[]): string {
    const key = sortedUsers.join(',');
    let id = this.state.dmChannels.get(key);
    if (id === undefined) {
      id = this.newId(sortedUsers.length === 1 ? 'D' : 'G');
      this.state.dmChannels.set(key, id);
    }
    return id;
  }

  /** Message timestamps: wall-clock microseconds, strictly increasing, formatted as Slack does ("1700000000.000100"). */
  private nextTs(): string {
    this.lastTsMicros = Math.max(Date.now() * 1000, this.lastTsMicros + 100);
    const seconds = Math.floor(this.lastTsMicros / 1_000_000);
    const micros = this.lastTsMicros % 1_000_000;
    return `${seconds}.${String(micros).padStart(6, '0')}`;
  }

  private newId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}0FAKE${String(this.idCounter).padStart(5, '0')}`;
  }
}

// ---- request parsing and answering (module-private) ---------------------------------------------------------

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isMultipart(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data');
}

/** Parses a form, JSON or multipart body into arguments the way Slack reads them. */
async function parseBody(req: IncomingMessage): Promise<ApiArgs> {
  const raw = await readBody(req);
  if (raw.length === 0) return {};
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new SlackApiError('invalid_json');
    }
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as ApiArgs) : {};
  }
  if (contentType.startsWith('multipart/form-data')) {
    try {
      return decodeJsonFields(await parseMultipart(req, raw));
    } catch {
      throw new SlackApiError('invalid_form_data');
    }
  }
  return decodeJsonFields(Object.fromEntries(new URLSearchParams(raw.toString('utf8'))));
}

/** Multipart parsing borrowed from the platform's fetch implementation: files become Buffers. */
async function parseMultipart(req: IncomingMessage, raw: Buffer): Promise<ApiArgs> {
  const form = await new Response(raw, {
    headers: { 'content-type': req.headers['content-type'] ?? '' },
  }).formData();
  const args: ApiArgs = {};
  for (const [key, value] of form) {
    args[key] = typeof value === 'string' ? value : Buffer.from(await value.arrayBuffer());
  }
  return args;
}

/** Slack clients send nested values (blocks, view, files…) as JSON strings inside the form; decode those. */
function decodeJsonFields(args: ApiArgs): ApiArgs {
  for (const [key, value] of Object.entries(args)) {
    if (!JSON_FORM_FIELDS.has(key) || typeof value !== 'string') continue;
    try {
      args[key] = JSON.parse(value);
    } catch {
      // Left as sent: the handler then answers as Slack would for a malformed value.
    }
  }
  return args;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function requireString(args: ApiArgs, key: string, error: string): string {
  const value = args[key];
  if (typeof value !== 'string' || value === '') throw new SlackApiError(error);
  return value;
}

function requireObject(args: ApiArgs, key: string): ApiArgs {
  const value = args[key];
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new SlackApiError('invalid_arguments');
  return value as ApiArgs;
}

/** Slack refuses a message with neither text, blocks nor attachments. */
function requireContent(args: ApiArgs): void {
  const has = (key: string): boolean => {
    const value = args[key];
    return Array.isArray(value) ? value.length > 0 : typeof value === 'string' && value !== '';
  };
  if (!has('text') && !has('blocks') && !has('attachments')) throw new SlackApiError('no_text');
}

function applyContent(message: FakeMessage, args: ApiArgs): void {
  if (typeof args['text'] === 'string') message.text = args['text'];
  if (Array.isArray(args['blocks'])) message.blocks = args['blocks'];
}
