import type { SlackChat } from '../adapters/slack/slack-chat.js';

/**
 * ward's own Slack user id (auth.test), asked once and again only after a failure: the requester of what a rule or
 * a watcher asks for.
 */
export function wardUserIdOf(chat: SlackChat): () => Promise<string> {
  let asked: Promise<string> | undefined;
  return () =>
    (asked ??= chat.web.auth.test().then(
      (r) => {
        if (!r.user_id) throw new Error('auth.test returned no user id');
        return r.user_id;
      },
      (err: unknown) => {
        asked = undefined;
        throw err;
      },
    ));
}
