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
}
