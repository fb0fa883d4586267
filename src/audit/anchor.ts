import type { Logger } from 'pino';
import type { ChatClient } from '../ports/chat.js';
import type { Store } from '../ports/store.js';
import { type ChainHead, formatAnchor } from './chain.js';

/**
 * Publishes the audit chain's head (`<seq>:<mac>`) outside Redis, so that a chain cut short or deleted altogether
 * (which no MAC can show: the remaining entries still verify) fails `npm run audit -- verify --anchor <seq>:<mac>`.
 * Always to ward's log (shipped elsewhere by the log pipeline); also to a Slack channel when one is configured.
 */
export interface AnchorPublisherOptions {
  head(): Promise<ChainHead | null>;
  log: Pick<Logger, 'info' | 'warn'>;
  chat: Pick<ChatClient, 'postMessage'>;
  store: Pick<Store, 'setIfAbsent'>;
  /** Slack channel id for anchors, or undefined for the log only. */
  channel: string | undefined;
}

/** How long replicas remember that an anchor was posted, so that two replicas post each head once. */
const POSTED_TTL_MS = 24 * 3600_000;

export class AnchorPublisher {
  private last: string | undefined;

  constructor(private readonly options: AnchorPublisherOptions) {}

  /** Publishes the current head unless it is the one this process published last. Returns it (null: empty log). */
  async publish(): Promise<string | null> {
    const head = await this.options.head();
    if (head === null) return null;
    const anchor = formatAnchor(head);
    if (anchor === this.last) return anchor;
    this.last = anchor;
    this.options.log.info(
      { auditAnchor: anchor, keyed: head.keyed },
      `audit anchor ${anchor}: keep it; \`npm run audit -- verify --anchor ${anchor}\` proves no entry up to it was removed or changed`,
    );
    if (!head.keyed) {
      this.options.log.warn(
        'the audit chain is unkeyed (no WARD_ENCRYPTION_KEY): anyone who can write Redis can rebuild it, anchors included',
      );
    }
    const channel = this.options.channel;
    // The marker only saves duplicate posts between replicas; losing it (Redis rewritten) costs a repeated post.
    if (
      channel !== undefined &&
      (await this.options.store.setIfAbsent(`ward:audit:anchor:${anchor}`, '1', POSTED_TTL_MS))
    ) {
      await this.options.chat.postMessage(channel, {
        text: `ward audit anchor: ${anchor}`,
        blocks: [
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: `*ward audit anchor* \`${anchor}\`\nEntry ${head.seq} of the audit chain. To prove no entry up to it was removed or changed: \`npm run audit -- verify --anchor ${anchor}\``,
            },
          },
        ],
      });
    }
    return anchor;
  }

  /** Publishes now and then every `intervalMs`; returns a stop function. Failures are logged, never thrown. */
  start(intervalMs: number): () => void {
    const tick = () => {
      this.publish().catch((err: unknown) =>
        this.options.log.warn({ err }, 'could not publish the audit anchor'),
      );
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
