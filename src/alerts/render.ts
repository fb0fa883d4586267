import type { ChatMessage } from '../ports/chat.js';
import { actions, type ButtonSpec, context, esc, fields, header, section } from '../render/blocks.js';
import type { Alert, Severity } from './alert.js';

/** What ward remembers about one alert's Slack message (stored under `ward:alert:msg:<channel>:<fingerprint>`). */
export interface AlertMessageState {
  ts: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  status: 'firing' | 'resolved';
}

const severityEmoji: Record<Severity, string> = {
  info: ':information_source:',
  warning: ':warning:',
  error: ':red_circle:',
  critical: ':rotating_light:',
};

/** `<!subteam^S…>` for a user group, `<@U…>` for a user: the only Slack markup ward writes around alert text. */
export function mentionMarkup(principal: string): string {
  return principal.startsWith('S') ? `<!subteam^${principal}>` : `<@${principal}>`;
}

/**
 * One alert's message. Every payload-supplied string is escaped: an alert title such as `<!channel>` must not
 * become a mention. Suggested commands become buttons (`alert.suggest.<command>`) whose value carries the command
 * and the host hint; the click opens a ward request through the approvals flow, it never runs anything itself.
 */
export function renderAlertMessage(
  alert: Alert,
  state: Pick<AlertMessageState, 'count' | 'firstSeen' | 'lastSeen' | 'status'>,
  route: { rule: string; mention?: string | undefined; suggest: readonly string[] },
): ChatMessage {
  const resolved = state.status === 'resolved';
  const icon = resolved ? ':white_check_mark:' : severityEmoji[alert.severity];
  const title = `${resolved ? 'Resolved: ' : ''}${alert.title}`;
  const blocks = [
    header(title),
    section(`${icon} ${esc(alert.summary || alert.title)}`),
    fields([
      ['Severity', alert.severity],
      ['Status', resolved ? 'resolved' : 'firing'],
      ['Source', alert.source],
      ['Host', alert.host === undefined ? '(none)' : esc(alert.host)],
      ['Seen', state.count === 1 ? 'once' : `${state.count} times`],
      ['Last seen', state.lastSeen],
    ]),
  ];
  const buttons: ButtonSpec[] = resolved
    ? []
    : route.suggest.map((command) => ({
        text: alert.host === undefined ? command : `${command} ${alert.host}`,
        actionId: `alert.suggest.${command}`,
        value: JSON.stringify({ command, host: alert.host ?? null, fingerprint: alert.fingerprint }),
      }));
  if (alert.link !== undefined && /^https?:\/\//.test(alert.link)) {
    blocks.push(section(`<${alert.link.replace(/[<>|]/g, encodeURIComponent)}|Open in ${alert.source}>`));
  }
  if (buttons.length > 0) blocks.push(actions(`alert.${alert.fingerprint}`.slice(0, 255), buttons));
  const mention = route.mention !== undefined && !resolved ? `${mentionMarkup(route.mention)} ` : '';
  blocks.push(context(`${mention}rule ${esc(route.rule)} · first seen ${state.firstSeen}`));
  return { text: `${mention}${icon} ${esc(title)}`, blocks };
}

/** What ward remembers about a storm roll-up message (`ward:alert:rollup:<rule>:<channel>:<minute>`). */
export interface RollupState {
  ts: string;
  count: number;
  resolved: number;
  /** The first few titles, for a hint of what the storm is about. */
  titles: string[];
}

export const rollupTitleLimit = 10;

/** The summary a storm is rolled into, updated in place as more alerts arrive. */
export function renderRollup(rule: string, minuteStart: string, state: Omit<RollupState, 'ts'>): ChatMessage {
  const text = `:cyclone: Alert storm on rule ${esc(rule)}: ${state.count} more alerts since ${minuteStart}`;
  const list = state.titles.map((t) => `• ${esc(t)}`).join('\n');
  const more = state.count > state.titles.length ? `\n… and ${state.count - state.titles.length} more` : '';
  return {
    text,
    blocks: [
      section(text),
      ...(list === '' ? [] : [section(`${list}${more}`)]),
      context(
        `Rolled up because the rule saw more new alerts than its storm limit in one minute. ${state.resolved} resolved since.`,
      ),
    ],
  };
}
