import { WebClient, WebClientEvent } from '@slack/web-api';
import type { Logger } from 'pino';
import { toSlackLogger } from '../../log.js';
import { slackApiCallsTotal, slackHttpRequestsTotal, slackRateLimitedTotal } from '../../metrics.js';
import { type ChatClient, type ChatMessage, ChatPlatformError } from '../../ports/chat.js';

/**
 * ChatClient on @slack/web-api. The WebClient queues calls, waits out 429 Retry-After and retries 5xx with
 * backoff (its default retry policy), so a rate limit delays a message instead of losing it.
 */
export class SlackChat implements ChatClient {
  readonly web: WebClient;
  private readonly channelNames = new Map<string, { name: string | undefined; until: number }>();

  constructor(token: string, options: { slackApiUrl?: string | undefined; logger?: Logger } = {}) {
    this.web = new CountingWebClient(token, {
      ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
      fetch: countingFetch,
      ...(options.logger ? { logger: toSlackLogger(options.logger, 'slack-web-api') } : {}),
    });
    this.web.on(WebClientEvent.RATE_LIMITED, (_retryAfterSeconds: number, request: { url: string }) => {
      slackRateLimitedTotal.inc({ method: methodOf(request.url) });
    });
  }

  async postMessage(channel: string, message: ChatMessage, options: { threadTs?: string } = {}) {
    const r = await this.web.chat.postMessage({
      channel,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks as never } : {}),
      ...(options.threadTs ? { thread_ts: options.threadTs } : {}),
      unfurl_links: false,
      unfurl_media: false,
    });
    return { channel: r.channel ?? channel, ts: r.ts ?? '' };
  }

  async update(channel: string, ts: string, message: ChatMessage) {
    await this.web.chat.update({
      channel,
      ts,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks as never } : {}),
    });
  }

  async postEphemeral(
    channel: string,
    user: string,
    message: ChatMessage,
    options: { threadTs?: string } = {},
  ) {
    await this.web.chat.postEphemeral({
      channel,
      user,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks as never } : {}),
      ...(options.threadTs ? { thread_ts: options.threadTs } : {}),
    });
  }

  async respond(
    responseUrl: string,
    message: ChatMessage & { responseType?: 'ephemeral' | 'in_channel'; replaceOriginal?: boolean },
  ) {
    const body = JSON.stringify({
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      response_type: message.responseType ?? 'ephemeral',
      ...(message.replaceOriginal !== undefined ? { replace_original: message.replaceOriginal } : {}),
    });
    // The WebClient retries Web API calls; response_url is plain HTTP, so retry 429 (after Retry-After), 5xx and
    // network errors here, a few times with backoff, rather than lose the answer.
    for (let attempt = 1; ; attempt++) {
      let status: number | 'network';
      let retryAfterMs: number | undefined;
      try {
        const res = await fetch(responseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => {});
        if (res.status === 429) {
          slackRateLimitedTotal.inc({ method: 'response_url' });
          const seconds = Number(res.headers.get('retry-after'));
          retryAfterMs = Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 30) * 1000 : undefined;
        }
      } catch (err) {
        status = 'network';
        if (attempt >= RESPOND_ATTEMPTS) {
          slackHttpRequestsTotal.inc({ method: 'response_url', status });
          slackApiCallsTotal.inc({ method: 'response_url', outcome: 'error' });
          throw err;
        }
      }
      slackHttpRequestsTotal.inc({ method: 'response_url', status: String(status) });
      const retryable = status === 'network' || status === 429 || status >= 500;
      if (!retryable || attempt >= RESPOND_ATTEMPTS) {
        const ok = typeof status === 'number' && status >= 200 && status < 300;
        slackApiCallsTotal.inc({ method: 'response_url', outcome: ok ? 'ok' : 'error' });
        if (!ok) throw new Error(`response_url answered HTTP ${status}`);
        return;
      }
      await new Promise((r) => setTimeout(r, retryAfterMs ?? 500 * 2 ** (attempt - 1)));
    }
  }

  async openView(triggerId: string, view: Record<string, unknown>) {
    const r = await this.web.views.open({ trigger_id: triggerId, view: view as never });
    return r.view?.id ?? '';
  }

  async deleteMessage(channel: string, ts: string) {
    await this.web.chat.delete({ channel, ts }).catch((err: unknown) => {
      if (slackErrorCode(err) !== 'message_not_found') throw err;
    });
  }

  async deleteFile(fileId: string) {
    await this.web.files.delete({ file: fileId }).catch((err: unknown) => {
      if (slackErrorCode(err) !== 'file_not_found' && slackErrorCode(err) !== 'file_deleted') throw err;
    });
  }

  async openDm(user: string) {
    const r = await this.web.conversations.open({ users: user });
    const id = r.channel?.id;
    if (!id) throw new Error('conversations.open returned no channel');
    return id;
  }

  async usergroupMembers(usergroup: string) {
    const r = await this.web.usergroups.users.list({ usergroup });
    return r.users ?? [];
  }

  async uploadFile(options: {
    channel: string;
    threadTs?: string | undefined;
    filename: string;
    title?: string;
    content: Buffer | string;
    initialComment?: string;
  }) {
    const content = typeof options.content === 'string' ? Buffer.from(options.content) : options.content;
    const r = (await this.web.filesUploadV2({
      channel_id: options.channel,
      ...(options.threadTs ? { thread_ts: options.threadTs } : {}),
      filename: options.filename,
      title: options.title ?? options.filename,
      file: content,
      ...(options.initialComment ? { initial_comment: options.initialComment } : {}),
    } as never)) as { files?: Array<{ files?: Array<{ id?: string }> }> };
    return { fileId: r.files?.[0]?.files?.[0]?.id ?? '' };
  }

  async createChannel(name: string, options: { isPrivate: boolean }) {
    const r = await platformCall('conversations.create', () =>
      this.web.conversations.create({ name, is_private: options.isPrivate }),
    );
    const id = r.channel?.id;
    if (!id) throw new ChatPlatformError('conversations.create', 'no_channel_returned');
    return { id, name: r.channel?.name ?? name };
  }

  async invite(channel: string, users: string[]) {
    if (users.length === 0) return;
    await platformCall(
      'conversations.invite',
      () => this.web.conversations.invite({ channel, users: users.join(',') }),
      ['already_in_channel'],
    );
  }

  async pin(channel: string, ts: string) {
    await platformCall('pins.add', () => this.web.pins.add({ channel, timestamp: ts }), ['already_pinned']);
  }

  async addBookmark(channel: string, title: string, link: string) {
    await platformCall('bookmarks.add', () =>
      this.web.bookmarks.add({ channel_id: channel, title, type: 'link', link }),
    );
  }

  async permalink(channel: string, ts: string) {
    const r = await platformCall('chat.getPermalink', () =>
      this.web.chat.getPermalink({ channel, message_ts: ts }),
    );
    return r.permalink ?? '';
  }

  async channelName(channel: string): Promise<string | undefined> {
    const now = Date.now();
    const cached = this.channelNames.get(channel);
    if (cached && cached.until > now) return cached.name;
    let name: string | undefined;
    try {
      const r = await this.web.conversations.info({ channel });
      name = typeof r.channel?.name === 'string' && r.channel.name !== '' ? r.channel.name : undefined;
    } catch {
      name = undefined;
    }
    // A name is kept a few minutes (a rename shows up soon); a miss only one, so a fixed scope is seen quickly.
    if (this.channelNames.size >= CHANNEL_NAME_CACHE_MAX) this.channelNames.clear();
    this.channelNames.set(channel, { name, until: now + (name ? CHANNEL_NAME_TTL_MS : 60_000) });
    return name;
  }

  async archive(channel: string) {
    await platformCall('conversations.archive', () => this.web.conversations.archive({ channel }), [
      'already_archived',
    ]);
  }
}

/**
 * Runs one Web API call, turning Slack's `{ ok: false, error }` into ChatPlatformError (the code is what callers
 * need) and treating the listed codes as success: they say the wanted state already holds.
 */
async function platformCall<T>(
  method: string,
  call: () => Promise<T>,
  fineErrors: readonly string[] = [],
): Promise<T | Partial<T>> {
  try {
    return await call();
  } catch (err) {
    const e = err as { code?: unknown; data?: { error?: unknown } };
    if (e.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string') {
      if (fineErrors.includes(e.data.error)) return {};
      throw new ChatPlatformError(method, e.data.error, { cause: err });
    }
    throw err;
  }
}

/** The `error` of a WebAPIPlatformError (`ok: false` answers), else undefined. */
function slackErrorCode(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

const CHANNEL_NAME_TTL_MS = 10 * 60_000;
const CHANNEL_NAME_CACHE_MAX = 1000;

/** Tries at a response_url (429, 5xx and network errors are retried): about 7.5 s of backoff in all. */
const RESPOND_ATTEMPTS = 5;

/** A Web API method name from a request URL; uploads to Slack's file upload URLs count as `file_upload`. */
function methodOf(url: string): string {
  const m = /\/api\/([a-zA-Z]+(?:\.[a-zA-Z]+)+)$/.exec(url);
  return m ? m[1]! : 'file_upload';
}

/** Counts every HTTP attempt (the WebClient retries 429 and 5xx through this same function). */
const countingFetch: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  try {
    const res = await fetch(input, init);
    slackHttpRequestsTotal.inc({ method: methodOf(url), status: String(res.status) });
    return res;
  } catch (err) {
    slackHttpRequestsTotal.inc({ method: methodOf(url), status: 'network' });
    throw err;
  }
};

/** Counts each Web API call once, with its final outcome after the client's own retries. */
class CountingWebClient extends WebClient {
  override async apiCall(method: string, options?: Record<string, unknown>) {
    try {
      const result = await super.apiCall(method, options);
      slackApiCallsTotal.inc({ method, outcome: 'ok' });
      return result;
    } catch (err) {
      slackApiCallsTotal.inc({ method, outcome: 'error' });
      throw err;
    }
  }
}
