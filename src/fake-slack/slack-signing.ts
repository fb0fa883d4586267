/**
 * How Slack signs the requests it sends to an app (slash commands, interactions, Events API callbacks), for the
 * parts of ward that play Slack towards ward itself: the sandbox page and the tests. ward's own endpoint does not
 * use this: Bolt verifies signatures there.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';

/** `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{raw body}`), as in X-Slack-Signature. */
export function slackSignature(secret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

/**
 * A unique trigger_id shaped like Slack's (`13345224609.738474920.8088930838d88f008e0`). Unique on purpose: ward
 * recognises Slack's redeliveries by it, so two different requests must never share one by accident.
 */
export function newTriggerId(): string {
  return `${randomInt(1e9, 1e10)}.${randomInt(1e8, 1e9)}.${randomBytes(16).toString('hex')}`;
}

/** Interactions (block_actions, view_submission) arrive as a form with a single field, `payload`, holding JSON. */
export function interactionBody(payload: object): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface SignedPostOptions {
  /** X-Slack-Request-Timestamp in epoch seconds; default now. An old one tests replay protection. */
  timestamp?: number;
  /** X-Slack-Retry-Num, as on Slack's redeliveries. */
  retryNum?: number;
  /** X-Slack-Retry-Reason (`http_timeout`, `http_error`…). */
  retryReason?: string;
  /** Sent as X-Slack-Signature instead of the real signature (forgery). */
  signature?: string;
  /** Sign with this secret instead of the endpoint's (a request from someone who does not know the secret). */
  secret?: string;
}

export interface EndpointResponse {
  status: number;
  text: string;
  /** The body parsed as JSON, when it is JSON (Bolt answers an empty ack with an empty body). */
  json?: unknown;
}

/** POSTs a signed body as Slack does. `form` for commands and interactions, `json` for Events API callbacks. */
export async function postSignedToSlackEndpoint(
  url: string,
  secret: string,
  body: string,
  contentType: 'form' | 'json',
  opts: SignedPostOptions = {},
): Promise<EndpointResponse> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': contentType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': opts.signature ?? slackSignature(opts.secret ?? secret, timestamp, body),
  };
  if (opts.retryNum !== undefined) headers['x-slack-retry-num'] = String(opts.retryNum);
  if (opts.retryReason !== undefined) headers['x-slack-retry-reason'] = opts.retryReason;
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  const result: EndpointResponse = { status: res.status, text };
  try {
    if (text !== '') result.json = JSON.parse(text);
  } catch {
    // Not JSON: `text` has it.
  }
  return result;
}
