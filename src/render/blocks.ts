import { escapeText } from '../core/escape-text.js';
import type { Block } from '../ports/chat.js';

/** Escapes text for Slack mrkdwn (&, < and >; see src/core/escape-text.ts). */
export const esc = escapeText;

/** Inline code that survives backticks in the content. */
export function code(text: string): string {
  return `\`${esc(text).replace(/`/g, "'")}\``;
}

// Slack's limits: section text 3000 chars, header 150, fields 10 × 2000, context elements 10.
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function header(text: string): Block {
  return { type: 'header', text: { type: 'plain_text', text: clip(text, 150), emoji: true } };
}

export function section(mrkdwn: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(mrkdwn, 3000) } };
}

export function fields(pairs: Array<[string, string]>): Block {
  return {
    type: 'section',
    fields: pairs.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${v}`, 2000) })),
  };
}

export function context(...mrkdwn: string[]): Block {
  return {
    type: 'context',
    elements: mrkdwn.slice(0, 10).map((t) => ({ type: 'mrkdwn', text: clip(t, 3000) })),
  };
}

export function divider(): Block {
  return { type: 'divider' };
}

/** Slack's limit on a button's value. */
export const MAX_BUTTON_VALUE = 2000;

export interface ButtonSpec {
  text: string;
  actionId: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string; deny: string };
}

export function actions(blockId: string, buttons: ButtonSpec[]): Block {
  for (const b of buttons) {
    // A clipped value is a dead button (half a JSON object, a cut id): callers store long values and pass a reference.
    if (b.value.length > MAX_BUTTON_VALUE) {
      throw new Error(
        `button ${b.actionId}: value of ${b.value.length} characters (Slack allows ${MAX_BUTTON_VALUE})`,
      );
    }
  }
  return {
    type: 'actions',
    block_id: blockId,
    elements: buttons.map((b) => ({
      type: 'button',
      text: { type: 'plain_text', text: clip(b.text, 75), emoji: true },
      action_id: b.actionId,
      value: b.value,
      ...(b.style ? { style: b.style } : {}),
      ...(b.confirm
        ? {
            confirm: {
              title: { type: 'plain_text', text: b.confirm.title },
              text: { type: 'mrkdwn', text: b.confirm.text },
              confirm: { type: 'plain_text', text: b.confirm.confirm },
              deny: { type: 'plain_text', text: b.confirm.deny },
            },
          }
        : {}),
    })),
  };
}

export function mention(user: string): string {
  return /^[UW][A-Z0-9]+$/.test(user) ? `<@${user}>` : esc(user);
}
