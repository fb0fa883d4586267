import type { ChatClient, ChatMessage } from '../../ports/chat.js';
import type { Replier } from '../command.js';

/** Where answers to a request go. */
export interface ReplyTarget {
  channel: string;
  /** Thread to answer in (a button under an alert, a request's thread). */
  threadTs?: string | undefined;
  /** Slack's response_url of the slash command or click: private answers go there first. */
  responseUrl?: string | undefined;
  /** The person private answers are for; without one (ward's own requests) they go to the channel or thread. */
  person?: string | undefined;
}

/**
 * The one way ward answers whoever asked: private answers through response_url when there is one, else ephemerally
 * to the person, else (no person: a rule or a watcher asked) in the channel or thread for everyone; public answers
 * in the channel, in the thread when there is one.
 */
export function replierFor(chat: ChatClient, target: ReplyTarget): Replier {
  const thread = (threadTs: string | undefined) => (threadTs ? { threadTs } : {});
  return {
    async ephemeral(message: ChatMessage) {
      if (target.responseUrl) {
        await chat.respond(target.responseUrl, { ...message, responseType: 'ephemeral' });
      } else if (target.person !== undefined) {
        await chat.postEphemeral(target.channel, target.person, message, thread(target.threadTs));
      } else {
        await chat.postMessage(target.channel, message, thread(target.threadTs));
      }
    },
    inChannel(message: ChatMessage, options: { threadTs?: string } = {}) {
      return chat.postMessage(target.channel, message, thread(options.threadTs ?? target.threadTs));
    },
  };
}
