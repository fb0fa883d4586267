import { clip } from './blocks.js';

/** Every kind of line break Slack (or a reader) could show as one: \r\n, \n, \r, \v, \f, NEL, LS, PS. */
const LINE_BREAKS = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/g;
/** Other control characters (and the zero-width and bidi ones that can hide or reorder text), shown as nothing. */
const INVISIBLE =
  /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Shown where a line break was: the reader sees that the text had one, but it starts no line of its own. */
export const LINE_BREAK_MARK = ' ⏎ ';

/**
 * Text a person or an alert supplied (a reason, an alert title or summary, a host's process name, a command line),
 * made inert for a mrkdwn message: one line of inline code. Inside a code span Slack formats nothing (`*`, `_`,
 * `~`, `>`, emoji, links), and with every line break shown as ⏎ the text cannot start a line of its own, so
 * `INC-7\n*Plan*\n1. nothing` can never pose as a bold "Plan" heading or an "Approvals:" line of ward's. Backticks
 * (which would end the span) become ʼ; &, < and > are escaped as Slack requires, so `<!channel>` stays text.
 *
 * Use it wherever such text is shown; ward's own words around it stay mrkdwn.
 */
export function userText(text: string, maxChars = 500): string {
  const flat = text.replace(LINE_BREAKS, LINE_BREAK_MARK).replace(INVISIBLE, '').replace(/\t/g, ' ').trim();
  const shown = clip(flat, maxChars)
    .replace(/`/g, 'ʼ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
  // An empty span (``) would show the backticks themselves.
  return shown === '' ? '_(empty)_' : `\`${shown}\``;
}

/** The same text for a plain-text field (a notification's fallback text, an email): one line, no markup parsed. */
export function userTextPlain(text: string, maxChars = 500): string {
  return clip(
    text.replace(LINE_BREAKS, LINE_BREAK_MARK).replace(INVISIBLE, '').replace(/\t/g, ' ').trim(),
    maxChars,
  );
}
