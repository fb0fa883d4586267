/** A Block Kit block, as Slack defines it; built by the pure functions in src/render/. */
export type Block = Record<string, unknown> & { type: string };

/** What ward says: a plain-text fallback (notifications, screen readers) and optional blocks. */
export interface ChatMessage {
  text: string;
  blocks?: Block[] | undefined;
}

/**
 * Slack's Web API as ward uses it. The adapter (src/adapters/slack/slack-chat.ts) wraps @slack/web-api, which
 * retries 429 (honouring Retry-After) and 5xx answers with backoff.
 */
export interface ChatClient {
  postMessage(
    channel: string,
    message: ChatMessage,
    options?: { threadTs?: string },
  ): Promise<{ channel: string; ts: string }>;
  update(channel: string, ts: string, message: ChatMessage): Promise<void>;
  postEphemeral(
    channel: string,
    user: string,
    message: ChatMessage,
    options?: { threadTs?: string },
  ): Promise<void>;
  /** Replies through an interaction's response_url (valid 30 minutes, 5 uses). */
  respond(
    responseUrl: string,
    message: ChatMessage & { responseType?: 'ephemeral' | 'in_channel'; replaceOriginal?: boolean },
  ): Promise<void>;
  /** Opens a modal; trigger ids are valid for 3 seconds after the click. Returns the view id. */
  openView(triggerId: string, view: Record<string, unknown>): Promise<string>;
  /** Deletes one of ward's messages (chat.delete). A message already gone counts as deleted. */
  deleteMessage(channel: string, ts: string): Promise<void>;
  /** Deletes a file ward uploaded (files.delete). A file already gone counts as deleted. */
  deleteFile(fileId: string): Promise<void>;
  /** Opens (or finds) the direct message channel with a user. */
  openDm(user: string): Promise<string>;
  /** Members of a user group (S…). */
  usergroupMembers(usergroup: string): Promise<string[]>;
  /** files.uploadV2: getUploadURLExternal → upload → completeUploadExternal. */
  uploadFile(options: {
    channel: string;
    threadTs?: string | undefined;
    filename: string;
    title?: string;
    content: Buffer | string;
    initialComment?: string;
  }): Promise<{ fileId: string }>;
  /**
   * Creates a channel (conversations.create; the bot becomes its first member). Throws ChatPlatformError with
   * Slack's code (`name_taken`, `restricted_action`, `invalid_name_specials`…).
   */
  createChannel(name: string, options: { isPrivate: boolean }): Promise<{ id: string; name: string }>;
  /** Invites users (conversations.invite). Users already in the channel are not an error. */
  invite(channel: string, users: string[]): Promise<void>;
  /** Pins a message (pins.add); a message already pinned is not an error. */
  pin(channel: string, ts: string): Promise<void>;
  /** Adds a link bookmark to the channel (bookmarks.add). */
  addBookmark(channel: string, title: string, link: string): Promise<void>;
  /** A message's permalink (chat.getPermalink). */
  permalink(channel: string, ts: string): Promise<string>;
  /** Archives a channel (conversations.archive); an already archived channel is not an error. */
  archive(channel: string): Promise<void>;
  /**
   * A channel's name (conversations.info), cached for a few minutes; undefined when Slack does not say (no such
   * channel, a private one ward is not in, a missing `channels:read`/`groups:read` scope). Never throws.
   */
  channelName(channel: string): Promise<string | undefined>;
}

/**
 * Slack refused a Web API call with a platform error (`{ ok: false, error }`): `slackError` is Slack's code. The
 * adapter raises it for the channel methods above, whose callers report per step what was done and what was not.
 */
export class ChatPlatformError extends Error {
  constructor(
    readonly method: string,
    readonly slackError: string,
    options?: { cause?: unknown },
  ) {
    super(`${method}: ${slackError}`, options);
    this.name = 'ChatPlatformError';
  }
}
