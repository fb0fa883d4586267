/**
 * What Slack sends an app when a person types a slash command, clicks a button or submits a modal, shaped like
 * the real payloads (test/fixtures holds captured ones; test/helpers/slack-requests.ts builds tests' requests on
 * them). Only the fields ward and Bolt read are filled with meaning; the rest carry the sandbox's fake workspace.
 */
import type { FakeMessage } from '../fake-slack/fake-slack.js';
import { interactionBody, newTriggerId } from '../fake-slack/slack-signing.js';

export interface Workspace {
  teamId: string;
  teamDomain: string;
  appId: string;
  botId: string;
}

export interface Person {
  id: string;
  name: string;
}

/** The x-www-form-urlencoded body of `/ward <text>`. */
export function slashCommandForm(
  ws: Workspace,
  who: Person,
  channel: { id: string; name: string },
  text: string,
  responseUrl: string,
  triggerId = newTriggerId(),
): string {
  return new URLSearchParams({
    token: 'sandbox-verification-token',
    team_id: ws.teamId,
    team_domain: ws.teamDomain,
    channel_id: channel.id,
    channel_name: channel.name,
    user_id: who.id,
    user_name: who.name,
    command: '/ward',
    text,
    api_app_id: ws.appId,
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: triggerId,
  }).toString();
}

export interface ButtonClick {
  actionId: string;
  blockId: string;
  value: string;
  text: string;
}

/** A block_actions interaction for a button in a channel message (ephemeral or not). */
export function blockActionsForm(
  ws: Workspace,
  who: Person,
  channel: { id: string; name: string },
  message: FakeMessage,
  click: ButtonClick,
  responseUrl: string,
  triggerId = newTriggerId(),
): string {
  const isEphemeral = message.ephemeralFor !== undefined;
  const payload: Record<string, unknown> = {
    type: 'block_actions',
    user: { id: who.id, username: who.name, name: who.name, team_id: ws.teamId },
    api_app_id: ws.appId,
    token: 'sandbox-verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: channel.id, is_ephemeral: isEphemeral },
    trigger_id: triggerId,
    team: { id: ws.teamId, domain: ws.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel.id, name: channel.name },
    response_url: responseUrl,
    state: { values: {} },
    actions: [
      {
        action_id: click.actionId,
        block_id: click.blockId,
        text: { type: 'plain_text', text: click.text, emoji: true },
        value: click.value,
        type: 'button',
        action_ts: (Date.now() / 1000).toFixed(6),
      },
    ],
  };
  // Slack includes the message for clicks in ordinary messages, not in ephemeral ones.
  if (!isEphemeral) {
    payload['message'] = {
      type: 'message',
      user: message.user,
      bot_id: ws.botId,
      app_id: ws.appId,
      ts: message.ts,
      text: message.text ?? '',
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
    };
  }
  return interactionBody(payload);
}

/** A view_submission of a modal with its text inputs filled in (`values`: block_id → action_id → text). */
export function viewSubmissionForm(
  ws: Workspace,
  who: Person,
  view: Record<string, unknown>,
  values: Record<string, Record<string, string>>,
): string {
  const stateValues: Record<string, Record<string, { type: string; value: string }>> = {};
  for (const [blockId, inputs] of Object.entries(values)) {
    stateValues[blockId] = {};
    for (const [actionId, value] of Object.entries(inputs)) {
      stateValues[blockId][actionId] = { type: inputType(view, blockId), value };
    }
  }
  return interactionBody({
    type: 'view_submission',
    team: { id: ws.teamId, domain: ws.teamDomain },
    user: { id: who.id, username: who.name, name: who.name, team_id: ws.teamId },
    api_app_id: ws.appId,
    token: 'sandbox-verification-token',
    trigger_id: newTriggerId(),
    view: { ...view, state: { values: stateValues } },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  });
}

function inputType(view: Record<string, unknown>, blockId: string): string {
  const blocks = Array.isArray(view['blocks']) ? (view['blocks'] as Array<Record<string, unknown>>) : [];
  const block = blocks.find((b) => b['block_id'] === blockId);
  const element = block?.['element'] as { type?: unknown } | undefined;
  return typeof element?.type === 'string' ? element.type : 'plain_text_input';
}
