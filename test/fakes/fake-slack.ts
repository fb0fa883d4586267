/**
 * The fake Slack as tests use it: the sandbox's workspace fake (src/fake-slack/fake-slack.ts) plus what only tests
 * need, kept out of the production build: every request recorded (callsTo, waitForCall), injected faults (429,
 * 5xx, platform errors) and a Socket Mode server (apps.connections.open, envelopes, acks) on the same port.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type FakeChannel,
  type FakeFile,
  type FakeMessage,
  type FakeSlackOptions,
  type FakeView,
  type RecordedCall,
  type ResponseUrlContext,
  SlackApiError,
  sendJson,
  sendText,
  WorkspaceSlack,
} from '../../src/fake-slack/fake-slack.js';

export type {
  FakeChannel,
  FakeFile,
  FakeMessage,
  FakeSlackOptions,
  FakeView,
  RecordedCall,
  ResponseUrlContext,
} from '../../src/fake-slack/fake-slack.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface SendEnvelopeOptions {
  /** Slack's retry counter for redeliveries (0 on the first delivery). */
  retryAttempt?: number;
  /** Why Slack redelivered (`timeout`, `http_error`…), sent alongside retryAttempt. */
  retryReason?: string;
  /** How long to wait for a connected client and then for its ack. Default 10 s. */
  timeoutMs?: number;
}

export interface FakeSlack extends EventEmitter {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/api/`: pass as WebClient/Bolt `slackApiUrl`. */
  readonly apiUrl: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  /** Every request received, in arrival order, including rate-limited and failed ones. */
  readonly calls: readonly RecordedCall[];
  callsTo(method: string): RecordedCall[];
  /** Resolves with the first recorded call (past or future) to `method` that satisfies `predicate`. */
  waitForCall(
    method: string,
    predicate?: (c: RecordedCall) => boolean,
    timeoutMs?: number,
  ): Promise<RecordedCall>;
  /** A fresh response_url; POSTs to it are recorded as calls to `response_url`, args `{ response_url, ...body }`. */
  newResponseUrl(context?: ResponseUrlContext): string;
  /** The next `times` calls to `method` answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(method: string, times: number, retryAfterSeconds: number): void;
  /** The next `times` (default 1) calls to `method` answer with HTTP `status` (a 5xx, say). */
  failNext(method: string, status: number, times?: number): void;
  /** Drops every 429/5xx still queued for `method` by rateLimit/failNext: Slack has recovered. */
  clearFaults(method: string): void;
  /**
   * The next `times` (default 1) calls to `method` answer `{ ok: false, error }` with HTTP 200, as Slack does for a
   * platform error (`name_taken`, `restricted_action`…): the request is recorded and has no effect.
   */
  errorNext(method: string, error: string, times?: number): void;
  /** Channels created by conversations.create, with their members, pins, bookmarks and archived flag. */
  channels(): FakeChannel[];
  /**
   * A channel that exists in the workspace before the test (conversations.info knows it; the bot is a member).
   * Throws when the id or the name is taken.
   */
  addChannel(channel: { id: string; name: string; isPrivate?: boolean; members?: string[] }): void;
  setUsergroup(id: string, userIds: string[]): void;
  /** The id of the bot's direct-message channel with `user` (the one chat.postMessage to a user id posts to). */
  dmChannelFor(user: string): string;
  /** Current messages (posted, then updated or deleted), oldest first; ephemeral ones carry `ephemeralFor`. */
  messages(channel?: string): FakeMessage[];
  /** Files whose upload was completed (files.completeUploadExternal). */
  files(): FakeFile[];
  /** Views opened or pushed, with their latest content after views.update. */
  views(): FakeView[];
  /** Resolves once `count` (default 1) Socket Mode connections are open (immediately if they are). */
  socketConnected(timeoutMs?: number, count?: number): Promise<void>;
  /**
   * Delivers an envelope to one open Socket Mode connection, as Slack does when an app holds several (one per
   * replica): each envelope to exactly one of them, taken in turn. Resolves with that connection's ack.
   */
  sendEnvelope(
    type: EnvelopeType,
    payload: object,
    options?: SendEnvelopeOptions,
  ): Promise<{ envelope_id: string; payload?: unknown }>;
  close(): Promise<void>;
}

const DEFAULT_WAIT_MS = 10_000;
/** Slack pings Socket Mode clients; Bolt's client then expects pings to keep coming (30 s timeout). */
const SERVER_PING_INTERVAL_MS = 10_000;
/** How long close() waits for a Socket Mode client to answer the close frame before cutting the connection. */
const SOCKET_CLOSE_GRACE_MS = 1_000;

interface Fault {
  status: number;
  retryAfterSeconds?: number;
  remaining: number;
}

interface PendingAck {
  resolve: (ack: { envelope_id: string; payload?: unknown }) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new TestSlack(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}

class TestSlack extends WorkspaceSlack implements FakeSlack {
  private readonly recorded: RecordedCall[] = [];
  private readonly faults = new Map<string, Fault[]>();
  private readonly platformErrors = new Map<string, Array<{ error: string; remaining: number }>>();
  private readonly wss = new WebSocketServer({ noServer: true });
  /** Open Socket Mode connections, in the order they connected; each envelope goes to one, in turn. */
  private readonly socketModeClients: WebSocket[] = [];
  private nextSocketModeClient = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly pendingAcks = new Map<string, PendingAck>();
  /** Tickets handed out by apps.connections.open; a WebSocket URL without a valid one is refused, as by Slack. */
  private readonly socketTickets = new Set<string>();

  constructor(opts: FakeSlackOptions) {
    super(opts);
    this.wss.on('connection', (ws) => this.onSocketModeConnection(ws));
  }

  get calls(): readonly RecordedCall[] {
    return this.recorded;
  }

  callsTo(method: string): RecordedCall[] {
    return this.recorded.filter((c) => c.method === method);
  }

  waitForCall(
    method: string,
    predicate: (c: RecordedCall) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<RecordedCall> {
    const matches = (c: RecordedCall): boolean => {
      if (c.method !== method) return false;
      try {
        return predicate(c);
      } catch {
        // A predicate that trips over an unexpected shape simply does not match; the timeout message shows it.
        return false;
      }
    };
    const existing = this.recorded.find(matches);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const onCall = (c: RecordedCall): void => {
        if (!matches(c)) return;
        clearTimeout(timer);
        this.off('call', onCall);
        resolve(c);
      };
      const timer = setTimeout(() => {
        this.off('call', onCall);
        reject(new Error(this.describeMissingCall(method, timeoutMs)));
      }, timeoutMs);
      this.on('call', onCall);
    });
  }

  rateLimit(method: string, times: number, retryAfterSeconds: number): void {
    this.addFault(method, { status: 429, retryAfterSeconds, remaining: times });
  }

  failNext(method: string, status: number, times = 1): void {
    this.addFault(method, { status, remaining: times });
  }

  clearFaults(method: string): void {
    this.faults.delete(method);
    this.platformErrors.delete(method);
  }

  errorNext(method: string, error: string, times = 1): void {
    const queue = this.platformErrors.get(method) ?? [];
    queue.push({ error, remaining: times });
    this.platformErrors.set(method, queue);
  }

  override async close(): Promise<void> {
    clearInterval(this.pingTimer);
    for (const pending of this.pendingAcks.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error('fake Slack closed before the envelope was acknowledged'));
    }
    this.pendingAcks.clear();
    // Bolt's SocketModeReceiver.stop() resolves before its close handshake completes; closing politely (and only
    // then cutting the connection) spares the app a spurious "WebSocket error" after it was stopped.
    await Promise.all([...this.wss.clients].map((ws) => closeWebSocket(ws, SOCKET_CLOSE_GRACE_MS)));
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await super.close();
  }

  /** Throws the platform error queued by errorNext() for this method, if any. */
  protected override injectedError(method: string): void {
    const queue = this.platformErrors.get(method);
    const next = queue?.[0];
    if (!queue || !next) return;
    next.remaining -= 1;
    if (next.remaining <= 0) queue.shift();
    throw new SlackApiError(next.error);
  }

  private addFault(method: string, fault: Fault): void {
    const queue = this.faults.get(method) ?? [];
    queue.push(fault);
    this.faults.set(method, queue);
  }

  /** Answers with an injected 429/5xx if one is queued for this method; records the call either way it answers. */
  protected override answerFault(call: RecordedCall, res: ServerResponse): boolean {
    const queue = this.faults.get(call.method);
    const fault = queue?.[0];
    if (!queue || !fault) return false;
    fault.remaining -= 1;
    if (fault.remaining <= 0) queue.shift();
    call.status = fault.status;
    if (fault.retryAfterSeconds !== undefined) {
      call.rateLimited = true;
      call.error = 'ratelimited';
      this.record(call);
      res.setHeader('Retry-After', String(fault.retryAfterSeconds));
      sendJson(res, 429, { ok: false, error: 'ratelimited' });
    } else {
      call.error = `http_${fault.status}`;
      this.record(call);
      sendText(res, fault.status, 'fake Slack: injected failure');
    }
    return true;
  }

  protected override record(call: RecordedCall): void {
    this.recorded.push(call);
    super.record(call);
  }

  private describeMissingCall(method: string, timeoutMs: number): string {
    const counts = new Map<string, number>();
    for (const c of this.recorded) counts.set(c.method, (counts.get(c.method) ?? 0) + 1);
    const summary = [...counts].map(([m, n]) => `${m} x${n}`).join(', ') || 'none';
    const sameMethod = this.callsTo(method)
      .slice(-5)
      .map((c) => `\n  ${method} ${truncate(JSON.stringify(c.args), 300)}${c.error ? ` -> ${c.error}` : ''}`)
      .join('');
    return `fake Slack: no call to ${method} matched within ${timeoutMs} ms. Recorded calls: ${summary}.${sameMethod}`;
  }

  protected override socketModeUrl(): string {
    const ticket = randomUUID();
    this.socketTickets.add(ticket);
    return `ws://127.0.0.1:${this.port}/socket?ticket=${ticket}&app_id=${this.appId}`;
  }

  // ---- Socket Mode ------------------------------------------------------------------------------------------

  protected override upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname !== '/socket') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    const ticket = url.searchParams.get('ticket') ?? '';
    if (!this.socketTickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  private onSocketModeConnection(ws: WebSocket): void {
    this.socketModeClients.push(ws);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onSocketModeMessage(data.toString());
    });
    ws.on('close', () => {
      const at = this.socketModeClients.indexOf(ws);
      if (at !== -1) this.socketModeClients.splice(at, 1);
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.wss.clients.size,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    if (!this.pingTimer) {
      this.pingTimer = setInterval(() => {
        for (const client of this.wss.clients) client.ping();
      }, SERVER_PING_INTERVAL_MS);
      this.pingTimer.unref();
    }
    this.emit('socket_connected');
  }

  private onSocketModeMessage(text: string): void {
    let message: { envelope_id?: unknown; payload?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return; // Slack ignores frames it cannot parse; so does the fake.
    }
    if (typeof message.envelope_id !== 'string') return;
    const pending = this.pendingAcks.get(message.envelope_id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pendingAcks.delete(message.envelope_id);
    pending.resolve(
      message.payload === undefined
        ? { envelope_id: message.envelope_id }
        : { envelope_id: message.envelope_id, payload: message.payload },
    );
  }

  private openSocketModeClients(): WebSocket[] {
    return this.socketModeClients.filter((ws) => ws.readyState === 1);
  }

  socketConnected(timeoutMs = DEFAULT_WAIT_MS, count = 1): Promise<void> {
    if (this.openSocketModeClients().length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onConnected = (): void => {
        if (this.openSocketModeClients().length < count) return;
        clearTimeout(timer);
        this.off('socket_connected', onConnected);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('socket_connected', onConnected);
        const opened = this.callsTo('apps.connections.open').length;
        reject(
          new Error(
            `fake Slack: ${this.openSocketModeClients().length} of ${count} Socket Mode clients connected within ${timeoutMs} ms (apps.connections.open was called ${opened} times)`,
          ),
        );
      }, timeoutMs);
      this.on('socket_connected', onConnected);
    });
  }

  async sendEnvelope(
    type: EnvelopeType,
    payload: object,
    options: SendEnvelopeOptions = {},
  ): Promise<{ envelope_id: string; payload?: unknown }> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    await this.socketConnected(timeoutMs);
    const open = this.openSocketModeClients();
    const ws = open[this.nextSocketModeClient++ % open.length];
    if (!ws) throw new Error('fake Slack: the Socket Mode client disconnected');
    const envelopeId = randomUUID();
    // As in Slack's envelopes: only commands and modal submissions/option requests can carry a response payload.
    const payloadType = (payload as { type?: unknown }).type;
    const acceptsResponsePayload =
      type === 'slash_commands' ||
      (type === 'interactive' && (payloadType === 'view_submission' || payloadType === 'block_suggestion'));
    const envelope = {
      envelope_id: envelopeId,
      type,
      accepts_response_payload: acceptsResponsePayload,
      payload,
      retry_attempt: options.retryAttempt ?? 0,
      retry_reason: options.retryReason ?? '',
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAcks.delete(envelopeId);
        reject(
          new Error(
            `fake Slack: the ${type} envelope ${envelopeId} was not acknowledged within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pendingAcks.set(envelopeId, { resolve, reject, timer });
      ws.send(JSON.stringify(envelope), (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pendingAcks.delete(envelopeId);
        reject(err);
      });
    });
  }
}

function closeWebSocket(ws: WebSocket, graceMs: number): Promise<void> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), graceMs);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === ws.OPEN) ws.close(1001, 'fake Slack is shutting down');
  });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
