import { App, HTTPReceiver } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import { newCorrelationId } from '../core/ids.js';
import { openRequest } from '../core/requests/open-request.js';
import { replierFor } from '../core/requests/replier.js';
import { answerError } from '../core/requests/report-failure.js';
import type { Services } from '../core/services.js';
import type { WorkTracker } from '../core/work-tracker.js';
import { withIncident } from '../incidents/incident-audit.js';
import { toSlackLogger, withRequestId } from '../log.js';
import type { ChatMessage } from '../ports/chat.js';
import { isFirstDelivery } from './dedupe.js';
import type { InteractionRouter } from './interactions.js';

export interface SlackApp {
  app: App;
  /** HTTP mode: Bolt's request listener for /slack/events (signature verification included). */
  receiver?: HTTPReceiver;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The Bolt app: one `/ward` command listener, one listener for every button and one for every modal, each acking
 * at once and continuing the work after the ack, so that Slack's 3-second limit always holds.
 */
export function createSlackApp(
  config: Config,
  services: Services,
  work: WorkTracker,
  interactions: InteractionRouter,
  pinoLogger: Logger,
): SlackApp {
  const logger = toSlackLogger(pinoLogger, 'bolt');
  const clientOptions = config.SLACK_API_URL ? { slackApiUrl: config.SLACK_API_URL } : {};
  let app: App;
  let receiver: HTTPReceiver | undefined;
  if (config.socketMode) {
    app = new App({
      token: config.SLACK_BOT_TOKEN,
      appToken: config.SLACK_APP_TOKEN!,
      socketMode: true,
      logger,
      clientOptions,
      installerOptions: { clientOptions },
    });
  } else {
    receiver = new HTTPReceiver({
      signingSecret: config.SLACK_SIGNING_SECRET,
      endpoints: '/slack/events',
      logger,
      processBeforeResponse: false,
    });
    app = new App({ token: config.SLACK_BOT_TOKEN, receiver, logger, clientOptions });
  }

  const refuseWhileStopping = async (respond: (m: ChatMessage) => Promise<unknown>) => {
    await respond({
      text: ':hourglass: ward is restarting and takes no new work right now. Try again in a minute.',
    }).catch(() => {});
  };

  /** The incident whose channel this is, if any: whatever happens there is attached to it. */
  const incidentOf = (channel: string | undefined): Promise<string | undefined> =>
    channel === undefined
      ? Promise.resolve(undefined)
      : services.incidents.store.byChannel(channel).catch(() => undefined);

  app.command(/^\/ward/, async ({ command, ack, respond }) => {
    await ack();
    const correlationId = newCorrelationId();
    if (!work.accepting) {
      await refuseWhileStopping((m) => respond({ ...m, response_type: 'ephemeral' }));
      return;
    }
    void work.track(
      withRequestId(correlationId, async () => {
        const log = services.log.child({ requestId: correlationId, user: command.user_id });
        // Slack redelivers a command (same trigger_id) that was not acked in time.
        const first = await isFirstDelivery(services.store, command.trigger_id).catch(() => undefined);
        // Without the store a retry cannot be recognised; change commands will refuse anyway (approvals need it).
        if (first === undefined) log.warn('store unavailable: cannot deduplicate this invocation');
        if (first === false) {
          log.info('duplicate delivery of a slash command (Slack retry): ignored');
          services.metrics.commandFinished('unknown', 'duplicate');
          return;
        }
        // Whatever happens in an incident's channel is attached to that incident (audit tagging by channel).
        await withIncident(await incidentOf(command.channel_id), () =>
          openRequest(services, {
            origin: { kind: 'person', user: command.user_id },
            ask: { text: command.text ?? '' },
            replyTo: {
              channel: command.channel_id,
              responseUrl: command.response_url,
              triggerId: command.trigger_id,
            },
            correlationId,
          }),
        );
      }),
    );
  });

  app.action(/.*/, async ({ ack, body, action }) => {
    await ack();
    if (body.type !== 'block_actions' || !('action_id' in action)) return;
    const requestId = newCorrelationId();
    const value = 'value' in action && typeof action.value === 'string' ? action.value : '';
    // The button's value (an approval request id, for approval buttons) names what the click was about, so that a
    // refusal logged for it can be found by that id.
    const log = services.log.child({
      requestId,
      user: body.user.id,
      actionId: action.action_id,
      actionValue: value.slice(0, 64),
    });
    const channel = body.channel?.id;
    const message = body.message as { ts?: string; thread_ts?: string } | undefined;
    const responseUrl = body.response_url;
    const reply = replierFor(services.chat, {
      person: body.user.id,
      channel: channel ?? '',
      responseUrl,
      threadTs: message?.thread_ts,
    });
    if (!work.accepting) {
      await refuseWhileStopping((m) => reply.ephemeral(m));
      return;
    }
    const handler = interactions.actionHandler(action.action_id);
    if (!handler) {
      log.warn('click on an unknown action');
      await reply
        .ephemeral({ text: 'That button is no longer handled by this version of ward.' })
        .catch(() => {});
      return;
    }
    void work.track(
      withRequestId(requestId, async () => {
        try {
          // Slack redelivers the same click (same trigger_id) when the first delivery was not acked in time.
          if ((await isFirstDelivery(services.store, body.trigger_id)) === false) return;
          const incident = await incidentOf(channel);
          await withIncident(incident, () =>
            handler({
              user: body.user.id,
              actionId: action.action_id,
              value,
              channel,
              messageTs: message?.ts,
              threadTs: message?.thread_ts,
              triggerId: body.trigger_id,
              responseUrl,
              requestId,
            }),
          );
        } catch (err) {
          await answerError(services, log, reply, err, { command: action.action_id, user: body.user.id });
        }
      }),
    );
  });

  app.view(/.*/, async ({ ack, body, view }) => {
    const requestId = newCorrelationId();
    const handler = interactions.viewHandler(view.callback_id);
    if (!handler || !work.accepting) {
      await ack();
      return;
    }
    const values: Record<string, Record<string, string | undefined>> = {};
    for (const [blockId, inputs] of Object.entries(view.state.values)) {
      values[blockId] = {};
      for (const [actionId, input] of Object.entries(inputs)) {
        values[blockId][actionId] = (input as { value?: string | null }).value ?? undefined;
      }
    }
    try {
      const result = await withRequestId(requestId, () =>
        handler({
          user: body.user.id,
          callbackId: view.callback_id,
          privateMetadata: view.private_metadata,
          values,
          viewId: view.id,
          requestId,
        }),
      );
      await ack(result ? { response_action: 'errors', errors: result.errors } : undefined);
    } catch (err) {
      const first = Object.keys(values)[0];
      services.log.error({ err, requestId }, 'modal submission failed');
      const text =
        err && typeof err === 'object' && 'userMessage' in err
          ? String(err.userMessage)
          : `Internal error (ref ${requestId}).`;
      await ack(first ? { response_action: 'errors', errors: { [first]: text.slice(0, 150) } } : undefined);
    }
  });

  // Message shortcut "Add to incident timeline": the message's author, time, text and permalink become a note.
  app.shortcut(
    { callback_id: 'incident.add_to_timeline', type: 'message_action' },
    async ({ ack, shortcut }) => {
      await ack();
      if (shortcut.type !== 'message_action') return;
      const requestId = newCorrelationId();
      const log = services.log.child({ requestId, user: shortcut.user.id, shortcut: shortcut.callback_id });
      const channel = shortcut.channel.id;
      const reply = replierFor(services.chat, {
        person: shortcut.user.id,
        channel,
        responseUrl: shortcut.response_url,
      });
      if (!work.accepting) {
        await refuseWhileStopping((m) => reply.ephemeral(m));
        return;
      }
      void work.track(
        withRequestId(requestId, async () => {
          try {
            if ((await isFirstDelivery(services.store, shortcut.trigger_id)) === false) return;
            const incident = await services.incidents.ofChannel(channel);
            await withIncident(incident.id, async () => {
              await services.policy.authorize(shortcut.user.id, services.commands.get('incident'));
              const message = shortcut.message as { ts: string; text?: string; user?: string };
              const permalink = await services.chat.permalink(channel, message.ts).catch(() => undefined);
              await services.incidents.note(incident, shortcut.user.id, message.text ?? '', {
                author: message.user,
                permalink,
                messageTs: message.ts,
              });
              await reply.ephemeral({ text: `:memo: Added to the ${incident.id} timeline.` });
            });
          } catch (err) {
            await answerError(services, log, reply, err, { command: 'incident', user: shortcut.user.id });
          }
        }),
      );
    },
  );

  // ward works through /ward; a mention gets a pointer rather than silence.
  app.event('app_mention', async ({ event }) => {
    await services.chat
      .postMessage(
        event.channel,
        { text: 'I work through the `/ward` command: try `/ward help` to see what you may run.' },
        { threadTs: event.thread_ts ?? event.ts },
      )
      .catch((err) => services.log.warn({ err }, 'could not answer a mention'));
  });

  app.error(async (err) => {
    services.log.error({ err }, 'unhandled error in a Slack listener');
  });

  return {
    app,
    ...(receiver ? { receiver } : {}),
    async start() {
      if (config.socketMode) await app.start();
    },
    async stop() {
      if (config.socketMode) await app.stop();
    },
  };
}
