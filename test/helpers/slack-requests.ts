/**
 * Requests as Slack sends them to an app's HTTP endpoint (Bolt's `/slack/events`): signed with the signing secret,
 * built on real payloads captured from Slack (test/fixtures, origins in test/fixtures/SOURCE.txt).
 */
import { readFileSync } from 'node:fs';
import {
  type EndpointResponse,
  interactionBody,
  newTriggerId,
  postSignedToSlackEndpoint,
  type SignedPostOptions,
} from '../../src/fake-slack/slack-signing.js';

// The signing itself lives in src/ (the sandbox signs the same way); re-exported for the tests that import it here.
export { type EndpointResponse, newTriggerId, slackSignature } from '../../src/fake-slack/slack-signing.js';

export type SendOptions = SignedPostOptions;

export interface SlashCommandFields {
  text: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  response_url?: string;
  trigger_id?: string;
  command?: string;
  team_id?: string;
}

export interface BlockActionOptions {
  user_id: string;
  action_id: string;
  value: string;
  /** With message_ts: the action came from a message in this channel (else from the App Home, as in the sample). */
  channel_id?: string;
  message_ts?: string;
  response_url?: string;
  trigger_id?: string;
  block_id?: string;
  /** The message the button sits in, as Slack echoes it (for instance from FakeSlack.messages()). */
  message?: Record<string, unknown>;
}

export interface ViewSubmissionOptions {
  user_id: string;
  callback_id: string;
  private_metadata: string;
  /** `state.values`: block_id → action_id → { type, value }. */
  values: Record<string, Record<string, { type: string; value: string }>>;
  view_id?: string;
}

/**
 * Where replies go when a test does not pass a response_url: a loopback port nothing listens on (the discard
 * port), so a stray reply fails at once instead of reaching the internet (the samples point at hooks.slack.com).
 */
export const UNSET_RESPONSE_URL = 'http://127.0.0.1:9/response-url-not-set-by-the-test';

/** The x-www-form-urlencoded body of a slash command: the captured sample with the given fields replaced. */
export function slashCommandBody(fields: SlashCommandFields): string {
  const body = new URLSearchParams(readFixture('slack_slash_command_bolt_python_fixture.txt').trim());
  body.set('command', fields.command ?? '/ward');
  body.set('text', fields.text);
  body.set('response_url', fields.response_url ?? UNSET_RESPONSE_URL);
  body.set('trigger_id', fields.trigger_id ?? newTriggerId());
  if (fields.user_id !== undefined) body.set('user_id', fields.user_id);
  if (fields.user_name !== undefined) body.set('user_name', fields.user_name);
  if (fields.channel_id !== undefined) body.set('channel_id', fields.channel_id);
  if (fields.team_id !== undefined) body.set('team_id', fields.team_id);
  return body.toString();
}

/** A block_actions payload: the captured sample with one button click by `user_id`. */
export function blockActionPayload(opts: BlockActionOptions): object {
  const base = readJsonFixture('slack_block_actions.json');
  const baseAction = (base['actions'] as Array<Record<string, unknown>>)[0] ?? {};
  const payload: Record<string, unknown> = {
    ...base,
    user: { ...(base['user'] as object), id: opts.user_id },
    trigger_id: opts.trigger_id ?? newTriggerId(),
    actions: [
      {
        ...baseAction,
        action_id: opts.action_id,
        block_id: opts.block_id ?? baseAction['block_id'],
        value: opts.value,
        action_ts: epochTs(),
      },
    ],
  };
  if (opts.channel_id !== undefined || opts.message_ts !== undefined) {
    // A click in a message rather than the App Home: the container, channel and message are those of the message,
    // and Slack adds a response_url (as in the Socket Mode block_actions sample).
    delete payload['view'];
    payload['container'] = {
      type: 'message',
      message_ts: opts.message_ts,
      channel_id: opts.channel_id,
      is_ephemeral: false,
    };
    payload['channel'] = { id: opts.channel_id, name: 'incident' };
    payload['message'] = opts.message ?? { type: 'message', ts: opts.message_ts, text: '', blocks: [] };
    payload['response_url'] = opts.response_url ?? UNSET_RESPONSE_URL;
  } else if (opts.response_url !== undefined) {
    payload['response_url'] = opts.response_url;
  }
  return payload;
}

/** A view_submission payload: the captured sample with the given modal and one input block per submitted block. */
export function viewSubmissionPayload(opts: ViewSubmissionOptions): object {
  const base = readJsonFixture('slack_view_submission.json');
  const baseView = base['view'] as Record<string, unknown>;
  const viewId = opts.view_id ?? (baseView['id'] as string);
  const blocks = Object.entries(opts.values).map(([blockId, actions]) => {
    const [actionId, action] = Object.entries(actions)[0] ?? ['', { type: 'plain_text_input' }];
    return {
      type: 'input',
      block_id: blockId,
      label: { type: 'plain_text', text: blockId, emoji: true },
      optional: false,
      element: { type: action.type, action_id: actionId },
    };
  });
  return {
    ...base,
    user: { ...(base['user'] as object), id: opts.user_id },
    trigger_id: newTriggerId(),
    view: {
      ...baseView,
      id: viewId,
      root_view_id: viewId,
      blocks,
      callback_id: opts.callback_id,
      private_metadata: opts.private_metadata,
      state: { values: opts.values },
    },
  };
}

/** POSTs a signed body as Slack does. `form` for commands and interactions, `json` for Events API callbacks. */
export function postToSlackEndpoint(
  url: string,
  secret: string,
  body: string,
  contentType: 'form' | 'json',
  opts: SendOptions = {},
): Promise<EndpointResponse> {
  return postSignedToSlackEndpoint(url, secret, body, contentType, opts);
}

export function sendSlashCommand(
  url: string,
  secret: string,
  fields: SlashCommandFields,
  opts?: SendOptions,
): Promise<EndpointResponse> {
  return postToSlackEndpoint(url, secret, slashCommandBody(fields), 'form', opts);
}

export function sendBlockAction(
  url: string,
  secret: string,
  opts: BlockActionOptions,
  sendOpts?: SendOptions,
): Promise<EndpointResponse> {
  return postToSlackEndpoint(url, secret, interactionBody(blockActionPayload(opts)), 'form', sendOpts);
}

export function sendViewSubmission(
  url: string,
  secret: string,
  opts: ViewSubmissionOptions,
  sendOpts?: SendOptions,
): Promise<EndpointResponse> {
  return postToSlackEndpoint(url, secret, interactionBody(viewSubmissionPayload(opts)), 'form', sendOpts);
}

function readFixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

function readJsonFixture(name: string): Record<string, unknown> {
  return JSON.parse(readFixture(name)) as Record<string, unknown>;
}

/** Now as a Slack `action_ts` ("1583635577.758298"). */
function epochTs(): string {
  return (Date.now() / 1000).toFixed(6);
}
